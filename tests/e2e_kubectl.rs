//! What a user sees with kubectl: bad manifests refused at apply with the field named,
//! printer columns, the `authentik` category, and events in `kubectl describe`.

mod common;

use authentik_operator::kinds::{IdentificationStage, PasswordStage, UserLoginStage};
use authentik_sim::Profile;
use common::{Env, is_ready};
use serde_json::json;

const PW: &str =
    "apiVersion: authentik-operator.io/v1alpha1\nkind: PasswordStage\nmetadata:\n  name: bad\n";
const ID: &str = "apiVersion: authentik-operator.io/v1alpha1\nkind: IdentificationStage\nmetadata:\n  name: bad\n";
const UL: &str =
    "apiVersion: authentik-operator.io/v1alpha1\nkind: UserLoginStage\nmetadata:\n  name: bad\n";

#[tokio::test]
async fn invalid_manifests_are_refused_naming_the_field() {
    let env = Env::new(Profile::Current).await;
    let uuid = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{PW}spec:\n  backends: [authentik.core.auth.NoSuchBackend]\n"),
            "spec.backends[0]",
        ),
        (
            format!("{PW}spec:\n  failedAttemptsBeforeCancel: 3\n"),
            "spec.backends",
        ),
        (format!("{PW}spec:\n  backends: []\n"), "spec.backends"),
        (
            format!(
                "{PW}spec:\n  backends: [authentik.core.auth.InbuiltBackend]\n  failedAttemptsBeforeCancel: 3000000000\n"
            ),
            "spec.failedAttemptsBeforeCancel",
        ),
        (
            format!(
                "{PW}spec:\n  backends: [authentik.core.auth.InbuiltBackend]\n  configureFlow: {{slug: x, pk: {uuid}}}\n"
            ),
            "spec.configureFlow",
        ),
        (
            format!(
                "{PW}spec:\n  backends: [authentik.core.auth.InbuiltBackend]\n  configureFlow: {{pk: not-a-uuid}}\n"
            ),
            "spec.configureFlow.pk",
        ),
        (
            format!(
                "{PW}spec:\n  backends: [authentik.core.auth.InbuiltBackend]\n  deletionPolicy: Keep\n"
            ),
            "spec.deletionPolicy",
        ),
        (
            format!(
                "{PW}spec:\n  backends: [authentik.core.auth.InbuiltBackend]\n  managementPolicy: Watch\n"
            ),
            "spec.managementPolicy",
        ),
        (
            format!("{ID}spec:\n  userFields: [phone]\n"),
            "spec.userFields[0]",
        ),
        (
            format!("{ID}spec:\n  showMatchedUser: true\n"),
            "userFields or sources",
        ),
        (
            format!("{ID}spec:\n  userFields: []\n  sources: []\n"),
            "userFields or sources",
        ),
        (
            format!(
                "{ID}spec:\n  userFields: [email]\n  passwordStage: {{ref: pw, name: other}}\n"
            ),
            "spec.passwordStage",
        ),
        (
            format!("{ID}spec:\n  userFields: [email]\n  passwordStage: {{}}\n"),
            "spec.passwordStage",
        ),
        (
            format!("{ID}spec:\n  sources: [{{slug: \"not a slug\"}}]\n"),
            "spec.sources[0].slug",
        ),
        (
            format!("{UL}spec:\n  sessionDuration: forever\n"),
            "spec.sessionDuration",
        ),
        (
            format!("{UL}spec:\n  rememberMeOffset: \"hours=1;\"\n"),
            "spec.rememberMeOffset",
        ),
        (
            format!("{UL}spec:\n  rememberDevice: \"hours=inf\"\n"),
            "spec.rememberDevice",
        ),
        (
            format!("{UL}spec:\n  networkBinding: bind_everything\n"),
            "spec.networkBinding",
        ),
        (
            format!("{UL}spec:\n  geoipBinding: mars\n"),
            "spec.geoipBinding",
        ),
        (
            format!("{UL}spec:\n  terminateOtherSessions: \"yes\"\n"),
            "spec.terminateOtherSessions",
        ),
        (format!("{UL}spec:\n  name: \"\"\n"), "spec.name"),
    ];
    assert!(cases.len() >= 10);
    for (manifest, field) in &cases {
        let out = env.kubectl(&["apply", "-f", "-"], Some(manifest));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "accepted but should be refused:\n{manifest}"
        );
        assert!(
            stderr.contains(field),
            "the error should name {field}:\n{manifest}\n{stderr}"
        );
    }
    // And the valid forms pass: references by ref, name, pk, slug; durations as authentik has them.
    let good = format!(
        "{ID}spec:\n  userFields: [email]\n  passwordStage: {{ref: pw}}\n  enrollmentFlow: {{slug: default-enrollment}}\n  sources: [{{pk: {uuid}}}, {{slug: github}}]\n---\n{UL}spec:\n  sessionDuration: \"hours=1; minutes=2\"\n  rememberMeOffset: \"days=1.5\"\n  rememberDevice: \"WEEKS=1e1\"\n"
    );
    let out = env.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&good));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn kubectl_get_and_describe() {
    let env = Env::started(Profile::Current).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "pw"}, "spec": {"name": "login-password", "backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    env.create::<IdentificationStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": "id"}, "spec": {"userFields": ["username"], "passwordStage": {"ref": "pw"}}
    }))
    .await;
    env.create::<UserLoginStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": "login"}, "spec": {}
    }))
    .await;
    let pw = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    env.wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    env.wait_for::<UserLoginStage>("login", "Ready", is_ready)
        .await;
    let pk = pw.status.unwrap().pk.unwrap();

    let out = env.kubectl(&["get", "passwordstages"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    let header: Vec<&str> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "SYNCED", "AUTHENTIK NAME", "PK", "AGE"],
        "{text}"
    );
    let row = text.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with("pw")
            && row.contains("True")
            && row.contains("login-password")
            && row.contains(&pk),
        "{text}"
    );

    let out = env.kubectl(&["get", "authentik"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    for kind in [
        "passwordstage.authentik-operator.io/pw",
        "identificationstage.authentik-operator.io/id",
        "userloginstage.authentik-operator.io/login",
    ] {
        assert!(
            text.contains(kind),
            "{kind} in `kubectl get authentik`:\n{text}"
        );
    }
    let out = env.kubectl(&["get", "pwstage,idstage,loginstage"], None);
    assert!(out.status.success(), "short names work");

    let out = env.kubectl(&["describe", "passwordstage", "pw"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Events:") && text.contains("Created"),
        "{text}"
    );
}
