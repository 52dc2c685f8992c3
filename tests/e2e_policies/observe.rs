//! Observe mode: drift reported, nothing written.

use crate::common::{Env, reason};
use crate::*;
use authentik_operator::kinds::PolicyBinding;
use authentik_sim::Profile;
use serde_json::json;
use std::time::Duration;

/// Observe mode finds a fresh install's binding by what it binds, reports a change made in
/// authentik as drift, and never writes.
#[tokio::test]
async fn observe_reports_drift_of_a_binding_and_writes_nothing() {
    let env = Env::started(Profile::Current).await;
    let seeded = env
        .sim
        .control()
        .peek("policies/bindings/?page_size=100")
        .expect("bindings")["results"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|b| b["policy_obj"]["name"] == "default-authentication-flow-password-stage")
        .cloned()
        .expect("the seeded binding");
    let pk = seeded["pk"].as_str().expect("pk").to_string();
    env.create::<PolicyBinding>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PolicyBinding",
        "metadata": {"name": "password-stage-when-needed"},
        "spec": {
            "managementPolicy": "Observe",
            "target": {"pk": seeded["target"]},
            "policy": {"name": "default-authentication-flow-password-stage"},
            "order": 10, "negate": false, "enabled": true
        }
    }))
    .await;
    let seen = ready::<PolicyBinding>(&env, "password-stage-when-needed").await;
    assert_eq!(pk_of(&seen), pk);
    assert_eq!(reason(&seen, "Synced").as_deref(), Some("Observed"));
    let r = env.sim.control().api_as(
        "alice",
        "PATCH",
        &format!("policies/bindings/{pk}/"),
        Some(json!({"target": seeded["target"], "policy": seeded["policy"], "enabled": false})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let drifted = env
        .wait_for::<PolicyBinding>("password-stage-when-needed", "Drifted", |o| {
            reason(o, "Ready").as_deref() == Some("Drifted")
        })
        .await;
    let drift = drifted.status.expect("status").drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(
        (
            drift[0].field.as_str(),
            drift[0].desired.as_str(),
            drift[0].actual.as_str()
        ),
        ("enabled", "true", "false")
    );
    // A binding that is not there: reported, not created.
    env.create::<PolicyBinding>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PolicyBinding",
        "metadata": {"name": "not-there"},
        "spec": {
            "managementPolicy": "Observe",
            "target": {"pk": seeded["target"]},
            "policy": {"name": "default-authentication-flow-password-stage"},
            "order": 11
        }
    }))
    .await;
    env.wait_synced::<PolicyBinding>("not-there", "NotFound")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(env.sim_writes().is_empty(), "{:?}", env.sim_writes());
}
