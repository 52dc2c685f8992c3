use super::*;
use crate::cli::export_options::glob;
use crate::crd::refs::SOURCE_SLUGS;

const FLOW: &str = "0b7a0c51-0000-4000-8000-0000000000f1";
const OTHER_FLOW: &str = "0b7a0c51-0000-4000-8000-0000000000f2";
const PW: &str = "0b7a0c51-0000-4000-8000-0000000000a1";
const MFA: &str = "0b7a0c51-0000-4000-8000-0000000000a2";
const SOURCE: &str = "0b7a0c51-0000-4000-8000-0000000000c1";
const GONE: &str = "0b7a0c51-0000-4000-8000-0000000000ff";

fn inventory() -> Inventory {
    let mut inv = Inventory::default();
    inv.objects.insert(
        "PasswordStage",
        vec![json!({"pk": PW, "name": "Login Password", "component": "x",
            "backends": ["authentik.core.auth.InbuiltBackend"], "configure_flow": OTHER_FLOW,
            "failed_attempts_before_cancel": 5, "brand_new_field": 7})],
    );
    inv.objects.insert(
        "IdentificationStage",
        vec![
            json!({"pk": "0b7a0c51-0000-4000-8000-0000000000a3", "name": "id",
            "user_fields": ["email"], "password_stage": PW, "captcha_stage": GONE,
            "sources": [SOURCE], "enrollment_flow": null}),
        ],
    );
    inv.objects.insert("UserLoginStage", vec![]);
    inv.objects.insert(
        "Flow",
        vec![
            json!({"pk": FLOW, "slug": "login", "name": "Login", "title": "Welcome",
            "designation": "authentication", "stages": [PW]}),
        ],
    );
    inv.objects.insert(
        "FlowStageBinding",
        vec![
            json!({"pk": "b2", "target": FLOW, "stage": MFA, "order": 30, "re_evaluate_policies": true}),
            json!({"pk": "b1", "target": FLOW, "stage": PW, "order": 20}),
        ],
    );
    inv.name(FLOW_SLUGS, FLOW, "login");
    inv.name(FLOW_SLUGS, OTHER_FLOW, "pw-change");
    inv.name(SOURCE_SLUGS, SOURCE, "authentik-built-in");
    inv.name(STAGE_NAMES, PW, "Login Password");
    inv.name(STAGE_NAMES, MFA, "mfa");
    inv
}

fn doc<'a>(docs: &'a [Document], kind: &str) -> Vec<&'a Document> {
    docs.iter().filter(|d| d.kind == kind).collect()
}

#[test]
fn documents_set_what_authentik_holds_adopt_if_matching_and_reference_portably() {
    let docs = render(&kinds(), &inventory(), &Options::default()).docs;
    let pw = doc(&docs, "PasswordStage")[0];
    assert_eq!(pw.name, resource_name("Login Password"));
    assert!(pw.name.starts_with("login-password-"), "{}", pw.name);
    let text = &pw.text;
    assert!(text.contains("  name: Login Password\n"), "{text}");
    assert!(text.contains("adoptionPolicy: IfMatch"), "{text}");
    assert!(text.contains("failedAttemptsBeforeCancel: 5"), "{text}");
    // A flow not exported as a resource (not in the flow list) by slug.
    assert!(
        text.contains("configureFlow:\n    slug: pw-change"),
        "{text}"
    );
    // What the spec cannot hold is kept as a comment, read-only fields are not.
    assert!(text.contains("#   brand_new_field: 7"), "{text}");
    assert!(!text.contains("component"), "{text}");

    let id = &doc(&docs, "IdentificationStage")[0].text;
    assert!(
        id.contains(&format!("passwordStage:\n    ref: {}", pw.name)),
        "{id}"
    );
    // A stage authentik does not list: only its pk identifies it.
    assert!(
        id.contains(&format!("captchaStage:\n    pk: {GONE}")),
        "{id}"
    );
    assert!(
        id.contains("sources:\n  - slug: authentik-built-in"),
        "{id}"
    );
    assert!(id.contains("left out (unmanaged): enrollmentFlow"), "{id}");

    let bindings = doc(&docs, "FlowStageBinding");
    let names: Vec<&str> = bindings.iter().map(|d| d.name.as_str()).collect();
    // Named after the flow's and the stage's resource names and the order, in name order.
    assert_eq!(
        names,
        [format!("login-{}-20", pw.name).as_str(), "login-mfa-30"]
    );
    let b = &bindings[0].text;
    assert!(b.contains("flow:\n    ref: login"), "{b}");
    assert!(
        b.contains(&format!(
            "stage:\n    ref:\n      kind: PasswordStage\n      name: {}",
            pw.name
        )),
        "{b}"
    );
    // A stage of a kind not managed here: by its authentik name.
    assert!(
        bindings[1].text.contains("stage:\n    name: mfa"),
        "{}",
        bindings[1].text
    );
}

#[test]
fn the_order_is_the_registrys_then_by_name_whatever_authentik_listed() {
    let docs = render(&kinds(), &inventory(), &Options::default()).docs;
    let kinds_seen: Vec<&str> = docs.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds_seen,
        [
            "PasswordStage",
            "IdentificationStage",
            "Flow",
            "FlowStageBinding",
            "FlowStageBinding"
        ]
    );
    let mut reversed = inventory();
    for list in reversed.objects.values_mut() {
        list.reverse();
    }
    assert_eq!(
        stream(&render(&kinds(), &reversed, &Options::default()).docs),
        stream(&docs)
    );
}

#[test]
fn filters_by_kind_and_name_and_references_fall_back_when_the_target_is_not_exported() {
    let opts = Options {
        kinds: vec!["identificationstage".into(), "FlowStageBinding".into()],
        namespace: Some("auth".into()),
        ..Options::default()
    };
    let docs = render(&kinds(), &inventory(), &opts).docs;
    let id = &doc(&docs, "IdentificationStage")[0].text;
    // The password stage is not exported: by name.
    assert!(
        id.contains("passwordStage:\n    name: Login Password"),
        "{id}"
    );
    assert!(id.contains("namespace: auth"), "{id}");
    let b = doc(&docs, "FlowStageBinding");
    assert!(
        b[0].text.contains("flow:\n    slug: login"),
        "{}",
        b[0].text
    );
    // Named the same way as when the flow and the stage are exported.
    assert_eq!(
        b[0].name,
        format!("login-{}-20", resource_name("Login Password"))
    );

    let opts = Options {
        name_pattern: Some("m*".into()),
        ..Options::default()
    };
    let docs = render(&kinds(), &inventory(), &opts).docs;
    let names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        ["login-mfa-30"],
        "a binding matches through its stage"
    );
    let opts = Options {
        name_prefix: Some("Login".into()),
        ..Options::default()
    };
    let docs = render(&kinds(), &inventory(), &opts).docs;
    assert_eq!(docs.len(), 2, "{docs:#?}");
}

#[test]
fn unknown_kinds_are_refused_by_name() {
    let opts = Options {
        kinds: vec!["PasswordStag".into()],
        ..Options::default()
    };
    let err = opts.check_kinds(&kinds()).unwrap_err();
    assert!(
        err.contains("PasswordStag") && err.contains("PasswordStage, "),
        "{err}"
    );
}

#[test]
fn a_value_the_crd_refuses_becomes_a_comment() {
    let mut inv = inventory();
    inv.objects.insert(
        "UserLoginStage",
        vec![json!({"pk": "u1", "name": "login", "network_binding": "bind_everything", "terminate_other_sessions": true})],
    );
    let docs = render(&kinds(), &inv, &Options::default()).docs;
    let login = &doc(&docs, "UserLoginStage")[0].text;
    assert!(
        login.contains("# authentik holds a value of networkBinding"),
        "{login}"
    );
    assert!(login.contains("terminateOtherSessions: true"), "{login}");
}

#[test]
fn globs() {
    assert!(glob("a*c", "abbc") && glob("*", "") && glob("a?c", "abc"));
    assert!(!glob("a*c", "abd") && !glob("a?c", "ac"));
}

#[test]
fn a_document_the_api_server_would_refuse_says_so() {
    let mut inv = inventory();
    // authentik holds neither user fields nor sources: the CRD's rule refuses that.
    inv.objects.insert(
        "IdentificationStage",
        vec![
            json!({"pk": "i1", "name": "empty", "user_fields": [], "sources": [],
                    "failed": null, "show_matched_user": true}),
        ],
    );
    // A value the schema refuses: moved into a comment, the rest stays.
    inv.objects.insert(
        "PasswordStage",
        vec![
            json!({"pk": PW, "name": "p", "backends": ["authentik.core.auth.InbuiltBackend"],
                    "configure_flow": "not-a-uuid", "failed_attempts_before_cancel": 5}),
        ],
    );
    let opts = Options {
        deletion_policy: Some("Orphan".into()),
        ..Options::default()
    };
    let docs = render(&kinds(), &inv, &opts).docs;
    let id = doc(&docs, "IdentificationStage")[0];
    assert_eq!(id.problems.len(), 1, "{:?}", id.problems);
    assert!(
        id.problems[0].contains("set userFields or sources"),
        "{:?}",
        id.problems
    );
    assert!(
        id.text
            .contains("# kubectl apply will refuse this document: spec: set userFields"),
        "{}",
        id.text
    );
    let pw = doc(&docs, "PasswordStage")[0];
    assert!(pw.problems.is_empty(), "{:?}", pw.problems);
    assert_eq!(pw.unmanaged.len(), 1, "{:?}", pw.unmanaged);
    assert!(
        pw.text.contains(
            "# authentik holds a value of configureFlow this operator's CRD refuses (left out, unmanaged): {\"pk\":\"not-a-uuid\"} (spec.configureFlow.pk"
        ),
        "{}",
        pw.text
    );
    assert!(!pw.text.contains("not-a-uuid\n"), "{}", pw.text);
    assert!(
        pw.text.contains("failedAttemptsBeforeCancel: 5"),
        "{}",
        pw.text
    );
    assert!(pw.text.contains("deletionPolicy: Orphan"), "{}", pw.text);
}

#[test]
fn an_object_no_resource_can_hold_is_left_out_and_every_other_one_exported() {
    let mut inv = inventory();
    let long = "a".repeat(51);
    let flow = |pk: &str, slug: Option<&str>| {
        let mut f = json!({"pk": pk, "name": "F", "title": "T", "designation": "authentication"});
        if let Some(slug) = slug {
            f["slug"] = json!(slug);
        }
        f
    };
    inv.objects.get_mut("Flow").unwrap().extend([
        // What 2026.2.2 accepts (and 2024.4.4 refuses): a resource holds it.
        flow("0b7a0c51-0000-4000-8000-0000000000f3", Some(&long)),
        // A slug no release accepts (made behind the API's back): none can.
        flow("0b7a0c51-0000-4000-8000-0000000000f4", Some("dotted.slug")),
        flow("0b7a0c51-0000-4000-8000-0000000000f5", None),
    ]);
    // A binding to the flow left out refers to it by pk, and is exported.
    inv.objects.get_mut("FlowStageBinding").unwrap().push(
        json!({"pk": "b3", "target": "0b7a0c51-0000-4000-8000-0000000000f4", "stage": PW, "order": 5}),
    );
    inv.name(
        FLOW_SLUGS,
        "0b7a0c51-0000-4000-8000-0000000000f4",
        "dotted.slug",
    );
    let rendered = render(&kinds(), &inv, &Options::default());
    let flows: Vec<&str> = doc(&rendered.docs, "Flow")
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(flows, [long.as_str(), "login"]);
    let long_doc = doc(&rendered.docs, "Flow")[0];
    assert!(
        long_doc.text.contains(&format!("  slug: {long}\n")),
        "{}",
        long_doc.text
    );
    assert!(long_doc.problems.is_empty() && long_doc.unmanaged.is_empty());
    // Every other object is exported as without the odd ones.
    let plain = render(&kinds(), &inventory(), &Options::default());
    assert!(plain.left_out.is_empty() && plain.warnings().is_empty());
    assert_eq!(rendered.docs.len(), plain.docs.len() + 2);
    let binding = doc(&rendered.docs, "FlowStageBinding")
        .into_iter()
        .find(|d| d.text.contains("order: 5"))
        .expect("the binding to the flow left out");
    assert!(
        binding
            .text
            .contains("flow:\n    pk: 0b7a0c51-0000-4000-8000-0000000000f4\n"),
        "{}",
        binding.text
    );
    assert!(binding.problems.is_empty(), "{:?}", binding.problems);

    let left: Vec<(&str, &str, Option<&str>)> = rendered
        .left_out
        .iter()
        .map(|l| (l.kind, l.object.as_str(), l.file.as_deref()))
        .collect();
    let dotted = format!("flows/{}.yaml", resource_name("dotted.slug"));
    assert_eq!(
        left,
        [
            ("Flow", "pk \"0b7a0c51-0000-4000-8000-0000000000f5\"", None),
            (
                "Flow",
                "flow with slug \"dotted.slug\"",
                Some(dotted.as_str())
            ),
        ]
    );
    // Never exported under another slug (the slug is the flow's identity), nor referred to.
    let all = stream(&rendered.docs);
    assert!(!all.contains("slug: dotted"), "{all}");
    assert!(
        !all.contains(&format!("ref: {}", resource_name("dotted.slug"))),
        "{all}"
    );
    let warnings = rendered.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[1].starts_with("warning: Flow flow with slug \"dotted.slug\": left out")
            && warnings[1].contains("spec.slug"),
        "{warnings:#?}"
    );
    assert!(warnings[0].contains("without slug"), "{warnings:#?}");
}

#[test]
fn documents_refused_and_values_left_out_are_warnings() {
    let mut inv = inventory();
    inv.objects.insert(
        "IdentificationStage",
        vec![json!({"pk": "i1", "name": "empty", "user_fields": [], "sources": []})],
    );
    inv.objects.insert(
        "UserLoginStage",
        vec![json!({"pk": "u1", "name": "login", "network_binding": "bind_everything"})],
    );
    let warnings = render(&kinds(), &inv, &Options::default()).warnings();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].starts_with("warning: IdentificationStage empty: kubectl apply will refuse this document: spec: set userFields"),
        "{warnings:#?}"
    );
    assert!(
        warnings[1].starts_with(
            "warning: UserLoginStage login: authentik holds a value of networkBinding"
        ),
        "{warnings:#?}"
    );
}

#[test]
fn the_file_of_an_object_left_out_is_kept_in_the_folder() {
    let dir = std::env::temp_dir().join(format!(
        "ak-export-keep-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    for f in ["gone.yaml", "odd.yaml"] {
        std::fs::write(flows.join(f), "x").unwrap();
    }
    let docs = render(&kinds(), &inventory(), &Options::default()).docs;
    write_folder(&dir, &docs, &["flows".into()], &["flows/odd.yaml".into()]).unwrap();
    assert!(flows.join("login.yaml").exists());
    assert!(
        !flows.join("gone.yaml").exists(),
        "an object gone from authentik"
    );
    assert!(
        flows.join("odd.yaml").exists(),
        "an object left out this time"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
