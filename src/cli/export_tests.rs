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
    let docs = render(&kinds(), &inventory(), &Options::default()).unwrap();
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
    let docs = render(&kinds(), &inventory(), &Options::default()).unwrap();
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
        stream(&render(&kinds(), &reversed, &Options::default()).unwrap()),
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
    let docs = render(&kinds(), &inventory(), &opts).unwrap();
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
    let docs = render(&kinds(), &inventory(), &opts).unwrap();
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
    let docs = render(&kinds(), &inventory(), &opts).unwrap();
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
    let docs = render(&kinds(), &inv, &Options::default()).unwrap();
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
    let docs = render(&kinds(), &inv, &opts).unwrap();
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
