//! `authentik-operator plan`, the binary against the simulator: every outcome, the exit
//! codes, JSON output, agreement with `export`, nothing written, and bad input.

use authentik_sim::{Profile, SimConfig, Simulator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_authentik-operator");
const TOKEN: &str = "plan-test-token-0123456789";

struct Setup {
    sim: Simulator,
    dir: PathBuf,
    token: PathBuf,
}

async fn setup() -> Setup {
    let sim = Simulator::start(SimConfig {
        token: TOKEN.into(),
        profile: Profile::Current,
        seed: true,
    })
    .await
    .expect("simulator");
    let dir = std::env::temp_dir().join(format!(
        "ak-plan-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    Setup { sim, dir, token }
}

impl Setup {
    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.dir.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn plan(&self, args: &[&str], connected: bool) -> Output {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("plan")
            .args(args)
            .env_remove("AUTHENTIK_TOKEN")
            .env_remove("AUTHENTIK_URL");
        if connected {
            cmd.args(["--authentik-url", &self.sim.url(), "--authentik-token-file"])
                .arg(&self.token);
        }
        cmd.output().await.expect("run plan")
    }

    fn writes(&self) -> Vec<String> {
        self.sim
            .control()
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

const HEAD: &str = "apiVersion: authentik-operator.io/v1alpha1";

/// One manifest per outcome (against a fresh install's objects).
fn change_set(dir: &Setup) {
    dir.write(
        "stages.yaml",
        &format!(
            "{HEAD}
kind: PasswordStage
metadata: {{name: new-password}}
spec:
  backends: [authentik.core.auth.InbuiltBackend]
  failedAttemptsBeforeCancel: 3
---
{HEAD}
kind: PasswordStage
metadata: {{name: default-authentication-password}}
spec:
  adoptionPolicy: IfMatch
  backends: [authentik.core.auth.TokenBackend, authentik.core.auth.InbuiltBackend,
             authentik.sources.ldap.auth.LDAPBackend, authentik.sources.kerberos.auth.KerberosBackend]
  failedAttemptsBeforeCancel: 5
---
{HEAD}
kind: UserLoginStage
metadata: {{name: default-authentication-login}}
spec:
  adoptionPolicy: IfMatch
  sessionDuration: hours=8
---
{HEAD}
kind: UserLoginStage
metadata: {{name: source-login}}
spec:
  name: default-source-authentication-login
  sessionDuration: hours=1
---
{HEAD}
kind: UserLoginStage
metadata: {{name: enrollment-login}}
spec:
  name: default-source-enrollment-login
  adoptionPolicy: Always
  sessionDuration: hours=2
---
{HEAD}
kind: UserLoginStage
metadata: {{name: zz-clash}}
spec:
  name: new-password
"
        ),
    );
    dir.write(
        "nested/flows.yaml",
        &format!(
            "{HEAD}
kind: Flow
metadata: {{name: default-authentication-flow}}
spec:
  name: Welcome to authentik!
  title: Welcome to authentik!
  designation: authentication
  managementPolicy: Observe
---
{HEAD}
kind: IdentificationStage
metadata: {{name: new-identification}}
spec:
  userFields: [email]
  passwordStage: {{ref: new-password}}
  enrollmentFlow: {{slug: default-source-enrollment}}
"
        ),
    );
}

#[tokio::test]
async fn every_outcome_with_exit_code_2_and_nothing_written() {
    let s = setup().await;
    change_set(&s);
    s.sim.control().clear_requests();
    let out = s
        .plan(&["-f", s.dir.to_str().unwrap(), "--namespace", "iam"], true)
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    for line in [
        "PasswordStage iam/new-password (stage named \"new-password\"): create",
        "    + failedAttemptsBeforeCancel: 3",
        "PasswordStage iam/default-authentication-password (stage named \"default-authentication-password\", pk ",
        "): adopt\n",
        "UserLoginStage iam/default-authentication-login (stage named \"default-authentication-login\"): refuse to adopt",
        "    ~ sessionDuration: \"seconds=0\" → \"hours=8\"",
        "UserLoginStage iam/source-login (stage named \"default-source-authentication-login\"): refuse to adopt",
        "set adoptionPolicy to IfMatch or Always",
        "UserLoginStage iam/enrollment-login (stage named \"default-source-enrollment-login\", pk ",
        "): adopt and update\n    ~ sessionDuration: \"seconds=0\" → \"hours=2\"",
        "UserLoginStage iam/zz-clash (stage named \"new-password\"): name conflict",
        "already claimed by PasswordStage iam/new-password",
        "Flow iam/default-authentication-flow (flow with slug \"default-authentication-flow\", pk ",
        "): observe",
        "IdentificationStage iam/new-identification (stage named \"new-identification\"): create",
        "    + passwordStage: \"(known after apply)\"  (ref \"new-password\")",
        "    + enrollmentFlow: \"",
        "Plan: 2 to create, 1 to adopt, 1 to adopt and update, 1 to observe, 2 refused adoption, 1 name conflict.",
    ] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}");
    }
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    assert!(s.writes().is_empty(), "plan wrote: {:?}", s.writes());

    let out = s
        .plan(&["-f", s.dir.to_str().unwrap(), "--output", "json"], true)
        .await;
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(report["changes"], true);
    assert_eq!(
        report["summary"],
        json!({"create": 2, "adopt": 1, "adoptAndUpdate": 1, "observe": 1, "refuseToAdopt": 2, "nameConflict": 1})
    );
    let login = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "default-authentication-login")
        .unwrap();
    assert_eq!(login["action"], "refuseToAdopt");
    assert_eq!(
        login["changes"][0],
        json!({"field": "sessionDuration", "current": "\"seconds=0\"", "desired": "\"hours=8\""})
    );
    assert!(s.writes().is_empty());
}

#[tokio::test]
async fn applied_manifests_update_or_are_unchanged_and_an_export_plans_clean() {
    let s = setup().await;
    let exported = tokio::process::Command::new(BIN)
        .args([
            "export",
            "--authentik-url",
            &s.sim.url(),
            "--authentik-token-file",
        ])
        .arg(&s.token)
        .args(["--out", s.dir.join("export").to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(exported.status.success(), "{}", text(&exported).1);
    let folder = s.dir.join("export");
    // The export, as applied before: nothing to do.
    let out = s
        .plan(&["-f", folder.to_str().unwrap(), "--applied"], true)
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("): unchanged\n") && !stdout.contains("to update"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("Plan: ") && l.ends_with(" unchanged.") && !l.contains(',')),
        "{stdout}"
    );
    // The export, applied for the first time: everything adopted, nothing refused.
    let out = s.plan(&["-f", folder.to_str().unwrap()], true).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("Plan: ") && l.ends_with(" to adopt.") && !l.contains(',')),
        "{stdout}"
    );

    // One field changed in git: an update of exactly that field.
    let file = folder.join("passwordstages/default-authentication-password.yaml");
    let changed = std::fs::read_to_string(&file).unwrap().replace(
        "failedAttemptsBeforeCancel: 5",
        "failedAttemptsBeforeCancel: 7",
    );
    std::fs::write(&file, changed).unwrap();
    // (The whole folder: the stage's `ref` to its flow needs the flow's manifest.)
    let out = s
        .plan(&["-f", folder.to_str().unwrap(), "--applied"], true)
        .await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.contains("): update\n    ~ failedAttemptsBeforeCancel: 5 → 7\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nPlan: 1 to update, "), "{stdout}");
    assert_eq!(
        stdout.matches("    ~ ").count(),
        1,
        "only that field: {stdout}"
    );
    let alone = s
        .plan(&["-f", file.to_str().unwrap(), "--applied"], true)
        .await;
    assert_eq!(alone.status.code(), Some(1));
    assert!(text(&alone).1.contains("configureFlow: refers to Flow default/default-password-change, which is not in the manifests"));
    assert!(s.writes().is_empty());
}

#[tokio::test]
async fn without_authentik_it_validates_and_says_what_it_could_not_check() {
    let s = setup().await;
    change_set(&s);
    let ok = s.write(
        "one.yaml",
        &format!("{HEAD}\nkind: PasswordStage\nmetadata: {{name: p}}\nspec:\n  backends: [authentik.core.auth.InbuiltBackend]\n  configureFlow: {{slug: somewhere}}\n"),
    );
    let out = s.plan(&["-f", ok.to_str().unwrap()], false).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("PasswordStage default/p (stage named \"p\"): not compared"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Not checked:") && stdout.contains("no --authentik-url"),
        "{stdout}"
    );
    assert!(
        stdout.contains("slug \"somewhere\" not looked up"),
        "{stdout}"
    );
}

async fn bad(s: &Setup, name: &str, text_in: &str) -> String {
    let path = s.write(name, text_in);
    let out = s.plan(&["-f", path.to_str().unwrap()], true).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{name}: {stdout}{stderr}");
    assert!(stdout.is_empty(), "errors go to stderr: {stdout}");
    assert!(
        stderr.contains(path.to_str().unwrap()),
        "names the file: {stderr}"
    );
    assert!(!stderr.contains(TOKEN));
    stderr
}

#[tokio::test]
async fn bad_input_is_a_clear_message_and_exit_code_1() {
    let s = setup().await;
    let e = bad(
        &s,
        "broken.yaml",
        "kind: PasswordStage\nmetadata: {name: [unclosed\n",
    )
    .await;
    assert!(e.contains("not valid YAML"), "{e}");
    let e = bad(
        &s,
        "unknown.yaml",
        &format!("{HEAD}\nkind: DummyStage\nmetadata: {{name: c}}\nspec: {{}}\n"),
    )
    .await;
    assert!(
        e.contains("unknown kind \"DummyStage\"")
            && e.contains("PasswordStage, IdentificationStage"),
        "{e}"
    );
    let e = bad(
        &s,
        "schema.yaml",
        &format!("{HEAD}\nkind: PasswordStage\nmetadata: {{name: p}}\nspec:\n  backends: [authentik.core.auth.NoSuchBackend]\n  failedAttemps: 3\n"),
    )
    .await;
    assert!(
        e.contains("PasswordStage default/p: spec.backends[0]"),
        "{e}"
    );
    assert!(
        e.contains("failedAttemps"),
        "an unknown field is refused: {e}"
    );
    let e = bad(
        &s,
        "oneof.yaml",
        &format!("{HEAD}\nkind: IdentificationStage\nmetadata: {{name: i}}\nspec:\n  userFields: [email]\n  passwordStage: {{ref: a, name: b}}\n"),
    )
    .await;
    assert!(
        e.contains("spec.passwordStage: exactly one of ref, name or pk must be set"),
        "{e}"
    );
    let e = bad(
        &s,
        "dangling.yaml",
        &format!("{HEAD}\nkind: IdentificationStage\nmetadata: {{name: i}}\nspec:\n  userFields: [email]\n  passwordStage: {{ref: nowhere}}\n"),
    )
    .await;
    assert!(e.contains("spec.passwordStage: refers to PasswordStage default/nowhere, which is not in the manifests"), "{e}");
    let e = bad(
        &s,
        "noslug.yaml",
        &format!("{HEAD}\nkind: PasswordStage\nmetadata: {{name: p}}\nspec:\n  backends: [authentik.core.auth.InbuiltBackend]\n  configureFlow: {{slug: no-such-flow}}\n"),
    )
    .await;
    assert!(
        e.contains("no authentik flow with slug \"no-such-flow\""),
        "{e}"
    );
    // A refused token: exit 1, the token never shown.
    let wrong = s.write("wrong-token", "not-the-token-s3cret");
    let ok = s.write(
        "ok.yaml",
        &format!("{HEAD}\nkind: UserLoginStage\nmetadata: {{name: u}}\nspec: {{}}\n"),
    );
    let out = tokio::process::Command::new(BIN)
        .args([
            "plan",
            "-f",
            ok.to_str().unwrap(),
            "--authentik-url",
            &s.sim.url(),
            "--authentik-token-file",
        ])
        .arg(&wrong)
        .output()
        .await
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot list") && !stderr.contains("s3cret"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test]
async fn a_manifest_that_cannot_be_planned_is_reported_and_the_others_are_planned() {
    let s = setup().await;
    let folder = s.dir.join("mixed");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("a-bad.yaml"),
        format!("{HEAD}\nkind: PasswordStage\nmetadata: {{name: p}}\nspec:\n  backends: [authentik.core.auth.NoSuchBackend]\n"),
    )
    .unwrap();
    std::fs::write(
        folder.join("b-good.yaml"),
        format!("{HEAD}\nkind: UserLoginStage\nmetadata: {{name: u}}\nspec: {{sessionDuration: hours=8}}\n"),
    )
    .unwrap();
    let out = s.plan(&["-f", folder.to_str().unwrap()], true).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("UserLoginStage default/u (stage named \"u\"): create\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nPlan: 1 to create; 1 error (on stderr).\n"),
        "{stdout}"
    );
    assert!(
        stderr.starts_with("error: ")
            && stderr
                .contains("a-bad.yaml (document 1): PasswordStage default/p: spec.backends[0]"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("NoSuchBackend"),
        "errors go to stderr: {stdout}"
    );
    let json = s
        .plan(&["-f", folder.to_str().unwrap(), "--output", "json"], true)
        .await;
    assert_eq!(json.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(doc["summary"]["create"], 1, "{doc}");
    assert_eq!(doc["errors"].as_array().map(Vec::len), Some(1), "{doc}");
    assert!(s.writes().is_empty());
    let _ = std::fs::remove_dir_all(&s.dir);
}
