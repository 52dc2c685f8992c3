use super::*;
use serde_json::json;

const API: &str = "authentik-operator.io/v1alpha1";
const INBUILT: &str = "authentik.core.auth.InbuiltBackend";
const TOKEN_BACKEND: &str = "authentik.core.auth.TokenBackend";

fn password(name: &str, spec: Value) -> (String, Value) {
    let mut spec = spec;
    if spec.get("backends").is_none() {
        spec["backends"] = json!([INBUILT]);
    }
    (
        format!("test.yaml ({name})"),
        json!({"apiVersion": API, "kind": "PasswordStage", "metadata": {"name": name}, "spec": spec}),
    )
}

fn remote_pw(pk: &str, name: &str, attempts: i64) -> Value {
    json!({"pk": pk, "name": name, "backends": [INBUILT, TOKEN_BACKEND],
           "configure_flow": null, "failed_attempts_before_cancel": attempts,
           "allow_show_password": false, "meta_model_name": "authentik_stages_password.passwordstage",
           "verbose_name": "Password Stage"})
}

fn snapshot() -> Snapshot {
    let pws = vec![
        remote_pw("p-same", "same", 5),
        remote_pw("p-differs", "differs", 5),
        remote_pw("p-never", "never", 5),
        remote_pw("p-always", "always", 5),
        remote_pw("p-other", "held-in-authentik", 5),
    ];
    let mut snap = Snapshot::default();
    snap.lists
        .insert("stages/password/".into(), pws[..4].to_vec());
    snap.lists.insert("stages/all/".into(), pws);
    snap.lists.insert("stages/identification/".into(), vec![]);
    snap.lists.insert("stages/user_login/".into(), vec![]);
    snap.lists.insert(
        "flows/instances/".into(),
        vec![
            json!({"pk": "f-login", "slug": "login", "name": "Login", "title": "Hi",
                    "designation": "authentication", "layout": "stacked"}),
        ],
    );
    snap.lists.insert(
        "sources/all/".into(),
        vec![json!({"pk": "s-1", "slug": "corp"})],
    );
    snap
}

fn both_backends() -> Value {
    json!([TOKEN_BACKEND, INBUILT])
}

fn change_set() -> Vec<(String, Value)> {
    vec![
        password("new-pw", json!({"failedAttemptsBeforeCancel": 3})),
        password(
            "same",
            json!({"adoptionPolicy": "IfMatch", "backends": both_backends(), "failedAttemptsBeforeCancel": 5}),
        ),
        password(
            "differs",
            json!({"adoptionPolicy": "IfMatch", "failedAttemptsBeforeCancel": 9}),
        ),
        password("never", json!({"failedAttemptsBeforeCancel": 5})),
        password(
            "always",
            json!({"adoptionPolicy": "Always", "backends": both_backends(), "failedAttemptsBeforeCancel": 2}),
        ),
        // The same authentik name as `new-pw`, claimed later in order.
        password("zz-copy", json!({"name": "new-pw"})),
        (
            "test.yaml (login)".into(),
            json!({"apiVersion": API, "kind": "UserLoginStage", "metadata": {"name": "taken"},
                   "spec": {"name": "held-in-authentik"}}),
        ),
        (
            "test.yaml (id)".into(),
            json!({"apiVersion": API, "kind": "IdentificationStage", "metadata": {"name": "id"},
                   "spec": {"userFields": ["email"], "passwordStage": {"ref": "new-pw"},
                            "enrollmentFlow": {"slug": "login"}, "sources": [{"slug": "corp"}]}}),
        ),
        (
            "test.yaml (flow)".into(),
            json!({"apiVersion": API, "kind": "Flow", "metadata": {"name": "login"},
                   "spec": {"name": "Login", "title": "Hi", "designation": "authentication",
                            "managementPolicy": "Observe"}}),
        ),
    ]
}

fn planned(docs: Vec<(String, Value)>, snap: Option<&Snapshot>, applied: bool) -> Report {
    let loaded = load(&kinds(), docs, "ns");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let report = plan_all(&loaded, snap, applied);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report
}

fn of<'a>(report: &'a Report, name: &str) -> &'a ResourcePlan {
    report.resources.iter().find(|r| r.name == name).unwrap()
}

#[test]
fn every_outcome_of_the_reconcilers_decision() {
    let snap = snapshot();
    let r = planned(change_set(), Some(&snap), false);
    let action = |n| of(&r, n).action;
    assert_eq!(action("new-pw"), Action::Create);
    assert_eq!(action("same"), Action::Adopt, "sets compare as sets");
    assert_eq!(action("differs"), Action::RefuseToAdopt);
    assert_eq!(action("never"), Action::RefuseToAdopt);
    assert_eq!(action("always"), Action::AdoptAndUpdate);
    assert_eq!(action("zz-copy"), Action::NameConflict);
    assert_eq!(action("taken"), Action::Refused);
    assert_eq!(action("id"), Action::Create);
    assert_eq!(action("login"), Action::Observe);
    assert!(r.has_changes());

    let differs = of(&r, "differs");
    assert!(
        differs
            .message
            .as_ref()
            .unwrap()
            .contains("adoptionPolicy IfMatch")
    );
    assert_eq!(differs.changes.len(), 2, "{:?}", differs.changes);
    let attempts = differs
        .changes
        .iter()
        .find(|c| c.field == "failedAttemptsBeforeCancel")
        .unwrap();
    assert_eq!(
        (attempts.current.as_deref(), attempts.desired.as_str()),
        (Some("5"), "9")
    );
    let backends = differs
        .changes
        .iter()
        .find(|c| c.field == "backends")
        .unwrap();
    assert!(backends.set);
    assert!(
        of(&r, "never")
            .message
            .as_ref()
            .unwrap()
            .contains("set adoptionPolicy")
    );
    assert_eq!(of(&r, "always").pk.as_deref(), Some("p-always"));
    assert!(
        of(&r, "zz-copy")
            .message
            .as_ref()
            .unwrap()
            .contains("PasswordStage ns/new-pw")
    );
    assert!(
        of(&r, "taken")
            .message
            .as_ref()
            .unwrap()
            .contains("Password Stage")
    );

    // References: a ref to a resource yet to be created, a slug and a source by slug.
    let id = of(&r, "id");
    let field = |f: &str| id.changes.iter().find(|c| c.field == f).unwrap().clone();
    assert_eq!(field("passwordStage").desired, "\"(known after apply)\"");
    assert_eq!(
        field("passwordStage").reference.as_deref(),
        Some("ref \"new-pw\"")
    );
    assert_eq!(field("enrollmentFlow").desired, "\"f-login\"");
    assert_eq!(field("sources").desired, "[\"s-1\"]");
}

#[test]
fn applied_manifests_update_or_stay_unchanged() {
    let snap = snapshot();
    let docs = vec![
        password(
            "same",
            json!({"backends": both_backends(), "failedAttemptsBeforeCancel": 5}),
        ),
        password(
            "differs",
            json!({"failedAttemptsBeforeCancel": 9, "backends": both_backends()}),
        ),
    ];
    let r = planned(docs.clone(), Some(&snap), true);
    assert_eq!(of(&r, "same").action, Action::Unchanged);
    let d = of(&r, "differs");
    assert_eq!(d.action, Action::Update);
    assert_eq!(
        d.changes.len(),
        1,
        "only the managed field that differs: {:?}",
        d.changes
    );
    assert!(r.has_changes());
    let unchanged = planned(docs[..1].to_vec(), Some(&snap), true);
    assert!(!unchanged.has_changes());
    // A ref to an adopted resource resolves to its pk.
    let mut with_ref = docs[..1].to_vec();
    with_ref.push((
        "x".into(),
        json!({"apiVersion": API, "kind": "IdentificationStage", "metadata": {"name": "id"},
               "spec": {"userFields": ["email"], "passwordStage": {"ref": "same"}}}),
    ));
    let r = planned(with_ref, Some(&snap), true);
    let id = of(&r, "id");
    assert_eq!(
        id.changes
            .iter()
            .find(|c| c.field == "passwordStage")
            .unwrap()
            .desired,
        "\"p-same\""
    );
}

#[test]
fn without_authentik_only_the_set_is_checked_and_it_says_so() {
    let r = planned(change_set(), None, false);
    assert!(r.has_changes(), "the name conflict");
    let without_conflict: Vec<_> = change_set()
        .into_iter()
        .filter(|(s, _)| !s.contains("zz-copy"))
        .collect();
    assert!(!planned(without_conflict, None, false).has_changes());
    assert_eq!(of(&r, "new-pw").action, Action::NotCompared);
    assert_eq!(
        of(&r, "zz-copy").action,
        Action::NameConflict,
        "a clash within the set shows anyway"
    );
    assert!(r.unchecked[0].contains("no --authentik-url"));
    assert!(
        r.unchecked
            .iter()
            .any(|u| u.contains("slug \"login\" not looked up")),
        "{:?}",
        r.unchecked
    );
}

#[test]
fn bad_input_is_refused_with_the_place_and_the_reason() {
    let all = kinds();
    let unknown = load(
        &all,
        vec![(
            "a.yaml (document 1)".into(),
            json!({"apiVersion": API, "kind": "DummyStage", "metadata": {"name": "c"}, "spec": {}}),
        )],
        "ns",
    );
    let e = unknown.errors;
    assert!(
        e[0].contains("a.yaml (document 1): unknown kind \"DummyStage\"")
            && e[0].contains("PasswordStage"),
        "{e:?}"
    );
    let malformed = load(
        &all,
        vec![password(
            "bad",
            json!({"backends": ["nope"], "configureFlow": {"slug": "a", "pk": "b"}}),
        )],
        "ns",
    );
    let e = malformed.errors;
    assert!(
        e.iter()
            .any(|m| m.contains("PasswordStage ns/bad: spec.backends[0]")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("spec.configureFlow: exactly one of ref, slug or pk")),
        "{e:?}"
    );
    let twice = load(
        &all,
        vec![password("a", json!({})), password("a", json!({}))],
        "ns",
    );
    assert!(twice.errors[0].contains("the same resource as"));
    assert_eq!(twice.set.len(), 1, "the first is kept");

    let loaded = load(
        &all,
        vec![(
            "x".into(),
            json!({"apiVersion": API, "kind": "IdentificationStage", "metadata": {"name": "id"},
               "spec": {"userFields": ["email"], "passwordStage": {"ref": "nothing"}}}),
        )],
        "ns",
    );
    let e = plan_all(&loaded, None, false).errors;
    assert!(
        e[0].contains(
            "spec.passwordStage: refers to PasswordStage ns/nothing, which is not in the manifests"
        ),
        "{e:?}"
    );
    let loaded = load(
        &all,
        vec![password("p", json!({"configureFlow": {"slug": "missing"}}))],
        "ns",
    );
    let e = plan_all(&loaded, Some(&snapshot()), false).errors;
    assert!(
        e[0].contains("no authentik flow with slug \"missing\""),
        "{e:?}"
    );
}

#[test]
fn the_text_and_json_outputs() {
    let snap = snapshot();
    let r = planned(change_set(), Some(&snap), false);
    let text = super::super::plan_output::text(&r);
    assert!(text.contains("PasswordStage ns/new-pw (stage named \"new-pw\"): create\n    + backends: [\"authentik.core.auth.InbuiltBackend\"]"), "{text}");
    assert!(
        text.contains("    ~ failedAttemptsBeforeCancel: 5 → 9"),
        "{text}"
    );
    assert!(text.contains("    ~ backends: {\"authentik.core.auth.InbuiltBackend\", \"authentik.core.auth.TokenBackend\"} → {\"authentik.core.auth.InbuiltBackend\"} (removes \"authentik.core.auth.TokenBackend\")"), "{text}");
    assert!(text.contains("  (ref \"new-pw\")"), "{text}");
    assert!(text.contains("Plan: 2 to create, 1 to adopt, 1 to adopt and update, 1 to observe, 2 refused adoption, 1 refused, 1 name conflict."), "{text}");
    let json: Value = serde_json::from_str(&super::super::plan_output::json(&r)).unwrap();
    assert_eq!(json["changes"], true);
    assert_eq!(json["summary"]["create"], 2);
    assert_eq!(json["summary"]["refuseToAdopt"], 2);
    let differs = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "differs")
        .unwrap();
    assert_eq!(differs["action"], "refuseToAdopt");
    assert!(
        differs["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "failedAttemptsBeforeCancel" && c["current"] == "5")
    );
}

#[test]
fn a_guarded_change_and_an_observed_object_that_is_missing_are_refused() {
    let snap = snapshot();
    let flow = |name: &str, designation: &str, extra: Value| {
        let mut spec = json!({"name": "Login", "title": "Hi", "designation": designation});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        (
            format!("f ({name})"),
            json!({"apiVersion": API, "kind": "Flow", "metadata": {"name": name}, "spec": spec}),
        )
    };
    let r = planned(
        vec![
            flow("login", "recovery", json!({})),
            flow("gone", "recovery", json!({"managementPolicy": "Observe"})),
        ],
        Some(&snap),
        true,
    );
    let login = of(&r, "login");
    assert_eq!(login.action, Action::Refused);
    assert!(
        login
            .message
            .as_ref()
            .unwrap()
            .contains("allow-guarded-changes"),
        "{login:?}"
    );
    assert_eq!(login.changes[0].field, "designation");
    let gone = of(&r, "gone");
    assert_eq!(gone.action, Action::Refused);
    assert!(
        gone.message
            .as_ref()
            .unwrap()
            .contains("Observe mode does not create it"),
        "{gone:?}"
    );
}

#[test]
fn a_manifest_that_cannot_be_planned_is_reported_and_the_others_are_planned() {
    let mut docs = change_set();
    // Invalid (the CRD refuses the backend), and a manifest that refers to it.
    docs.push(password("broken", json!({"backends": ["nope"]})));
    docs.push((
        "test.yaml (needs broken)".into(),
        json!({"apiVersion": API, "kind": "IdentificationStage", "metadata": {"name": "needs-broken"},
               "spec": {"userFields": ["email"], "passwordStage": {"ref": "broken"}}}),
    ));
    // A reference to nothing, and one to that manifest.
    docs.push((
        "test.yaml (dangling)".into(),
        json!({"apiVersion": API, "kind": "Flow", "metadata": {"name": "dangling"},
               "spec": {"name": "D", "title": "D", "designation": "authentication"}}),
    ));
    docs.push((
        "test.yaml (dangling binding)".into(),
        json!({"apiVersion": API, "kind": "FlowStageBinding", "metadata": {"name": "b"},
               "spec": {"flow": {"ref": "dangling"}, "stage": {"ref": {"kind": "PasswordStage", "name": "nowhere"}}, "order": 1}}),
    ));
    docs.push((
        "test.yaml (binds needs-broken)".into(),
        json!({"apiVersion": API, "kind": "FlowStageBinding", "metadata": {"name": "c"},
               "spec": {"flow": {"ref": "dangling"}, "stage": {"ref": {"kind": "IdentificationStage", "name": "needs-broken"}}, "order": 2}}),
    ));
    let loaded = load(&kinds(), docs, "ns");
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    let snap = snapshot();
    let r = plan_all(&loaded, Some(&snap), false);
    let planned_alone = planned(change_set(), Some(&snap), false);
    // Everything the change set plans on its own, plus the valid flow.
    assert_eq!(
        r.resources.len(),
        planned_alone.resources.len() + 1,
        "{:?}",
        r.errors
    );
    assert_eq!(of(&r, "dangling").action, Action::Create);
    assert_eq!(r.errors.len(), 4, "{:#?}", r.errors);
    assert!(
        r.errors[0].contains("PasswordStage ns/broken: spec.backends[0]"),
        "{:?}",
        r.errors
    );
    assert!(
        r.errors[1].contains(
            "spec.passwordStage: refers to PasswordStage ns/broken, whose manifest is invalid"
        ),
        "{:?}",
        r.errors
    );
    assert!(
        r.errors[2].contains(
            "spec.stage: refers to PasswordStage ns/nowhere, which is not in the manifests"
        ),
        "{:?}",
        r.errors
    );
    assert!(
        r.errors[3].contains(
            "spec.stage: refers to IdentificationStage ns/needs-broken, which cannot be planned"
        ),
        "{:?}",
        r.errors
    );
    let text = super::super::plan_output::text(&r);
    assert!(text.contains("; 4 errors (on stderr).\n"), "{text}");
    let json: Value = serde_json::from_str(&super::super::plan_output::json(&r)).unwrap();
    assert_eq!(json["errors"].as_array().map(Vec::len), Some(4));
}
