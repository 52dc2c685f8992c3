//! The operator's log at the default level tells a platform engineer what it did: one line
//! per change (created, updated, drift corrected, deleted), with the resource, its authentik
//! name and pk as JSON keys, a failure once when it starts, and nothing while nothing
//! changes. The real binary, with `--log-format json`.

mod common;

use authentik_operator::kinds::PasswordStage;
use authentik_sim::Profile;
use common::{Env, TOKEN, authentik, body, is_ready};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Operator(std::process::Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The log lines about the resource `name`.
fn about(log: &std::path::Path, name: &str) -> Vec<Value> {
    lines(log)
        .into_iter()
        .filter(|l| l["name"] == name)
        .collect()
}

async fn wait_line(log: &std::path::Path, name: &str, reason: &str) -> Value {
    for _ in 0..200 {
        if let Some(l) = about(log, name).into_iter().find(|l| l["reason"] == reason) {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "no {reason} line for {name}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[tokio::test]
async fn the_log_tells_each_change_once_with_its_resource_and_pk() {
    let env = Env::new(Profile::Current).await;
    let dir = std::env::temp_dir().join(format!("logs-{}", env.ns));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let log = dir.join("operator.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authentik-operator"));
    cmd.env_clear()
        .env("KUBECONFIG", testenv::shared().kubeconfig())
        .args(["run", "--authentik-url", &env.sim.url()])
        .args([
            "--authentik-token-file",
            &dir.join("token").display().to_string(),
        ])
        .args(["--namespace", &env.ns, "--resync-interval", "1s"])
        .args(["--backoff-max", "2s", "--metrics-addr", "127.0.0.1:0"])
        .args(["--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let _operator = Operator(testenv::spawn_tied(cmd).expect("operator binary"));

    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "logged"},
        "spec": {"name": "logged-in-authentik", "backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    let obj = env
        .wait_for::<PasswordStage>("logged", "Ready", is_ready)
        .await;
    let pk = obj.status.unwrap().pk.unwrap();
    let created = wait_line(&log, "logged", "Created").await;
    assert_eq!(created["level"], "INFO", "{created}");
    assert_eq!(created["kind"], "PasswordStage", "{created}");
    assert_eq!(created["namespace"], env.ns.as_str(), "{created}");
    assert_eq!(
        created["authentik_name"], "logged-in-authentik",
        "{created}"
    );
    assert_eq!(created["pk"], pk.as_str(), "{created}");

    // An update names the fields.
    env.api::<PasswordStage>()
        .patch(
            "logged",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"failedAttemptsBeforeCancel": 3}})),
        )
        .await
        .unwrap();
    let updated = wait_line(&log, "logged", "Updated").await;
    assert!(
        updated["message"]
            .as_str()
            .unwrap()
            .contains("failedAttemptsBeforeCancel"),
        "{updated}"
    );
    assert_eq!(updated["pk"], pk.as_str());

    // Drift put back, with the field.
    authentik(&env)
        .patch(
            "stages/password/",
            &pk,
            &body(json!({"failed_attempts_before_cancel": 9})),
        )
        .await
        .unwrap();
    let corrected = wait_line(&log, "logged", "DriftCorrected").await;
    assert!(
        corrected["message"]
            .as_str()
            .unwrap()
            .contains("failedAttemptsBeforeCancel"),
        "{corrected}"
    );

    // Nothing while nothing changes: several sweeps, no new line about the resource.
    let before = about(&log, "logged").len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(about(&log, "logged").len(), before, "quiet in steady state");

    // A failure is logged when it starts, not on every retry.
    env.sim.control().set_down(true);
    env.api::<PasswordStage>()
        .patch(
            "logged",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"failedAttemptsBeforeCancel": 4}})),
        )
        .await
        .unwrap();
    let failed = wait_line(&log, "logged", "AuthentikUnreachable").await;
    assert_eq!(failed["level"], "WARN", "{failed}");
    tokio::time::sleep(Duration::from_secs(5)).await; // several retries (backoff max 2s)
    let failures = about(&log, "logged")
        .into_iter()
        .filter(|l| l["reason"] == "AuthentikUnreachable")
        .count();
    assert_eq!(failures, 1, "once, not per retry");
    let down = lines(&log)
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("authentik stopped answering"))
        })
        .count();
    assert_eq!(down, 1, "the outage itself once");
    env.sim.control().set_down(false);
    env.wait_for::<PasswordStage>("logged", "Ready at generation 3", |o| {
        is_ready(o) && o.metadata.generation == Some(3)
    })
    .await;

    // Deleted, with the pk.
    env.delete::<PasswordStage>("logged").await;
    let deleted = wait_line(&log, "logged", "Deleted").await;
    assert_eq!(deleted["pk"], pk.as_str(), "{deleted}");

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(TOKEN), "the token never appears in the log");
    let _ = std::fs::remove_dir_all(&dir);
}
