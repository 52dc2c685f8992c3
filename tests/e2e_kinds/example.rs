//! deploy/examples/enrollment-flow.yaml, applied with kubectl in reverse order of its
//! documents: every resource Ready, the flow's steps in authentik in order, the prompt stage
//! holding the five prompts, the MFA stage offering the three setup stages; applied again,
//! nothing is written.

use crate::common::Env;
use crate::dynamic::{self as d};
use authentik_sim::Profile;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const EXAMPLE: &str = include_str!("../../deploy/examples/enrollment-flow.yaml");

fn apply(env: &Env, docs: &[&str]) {
    let out = env.kubectl(&["apply", "-f", "-"], Some(&docs.join("\n---\n")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pks(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_enrollment_example_applies_in_any_order_and_becomes_ready() {
    let env = Env::started(Profile::Current).await;
    let mut docs: Vec<&str> = EXAMPLE.split("\n---\n").collect();
    docs.reverse();
    apply(&env, &docs);

    let objects: Vec<Value> = serde_saphyr::from_multiple(EXAMPLE).expect("the example parses");
    let mut pk = BTreeMap::new();
    let mut kinds = BTreeSet::new();
    for o in &objects {
        let kind = o["kind"].as_str().unwrap();
        let name = o["metadata"]["name"].as_str().unwrap();
        let obj = d::wait_ready(&env, kind, name).await;
        pk.insert(name.to_string(), d::pk(&obj).unwrap());
        kinds.insert(kind);
    }
    assert!(kinds.len() >= 9, "{kinds:?}");

    let steps: Vec<(String, i64)> = env
        .sim
        .control()
        .bindings("example-enrollment")
        .iter()
        .map(|b| {
            let stage = b["stage_obj"]["name"].as_str().unwrap_or_default();
            (stage.to_string(), b["order"].as_i64().unwrap_or_default())
        })
        .collect();
    let want: Vec<(String, i64)> = [
        ("example-enrollment-form", 10),
        ("example-enrollment-write", 20),
        ("example-enrollment-mfa", 30),
        ("example-enrollment-login", 100),
    ]
    .iter()
    .map(|(s, o)| (s.to_string(), *o))
    .collect();
    assert_eq!(steps, want);

    let form = env.sim.control().stage(&pk["enrollment-form"]).unwrap();
    let prompts: BTreeSet<String> = pk
        .iter()
        .filter(|(n, _)| {
            objects
                .iter()
                .any(|o| o["kind"] == "Prompt" && o["metadata"]["name"] == n.as_str())
        })
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(prompts.len(), 5);
    assert_eq!(pks(&form["fields"]), prompts);
    let mfa = env.sim.control().stage(&pk["enrollment-mfa"]).unwrap();
    let setup: BTreeSet<String> = [
        "enrollment-totp",
        "enrollment-webauthn",
        "enrollment-recovery-codes",
    ]
    .iter()
    .map(|n| pk[*n].clone())
    .collect();
    assert_eq!(pks(&mfa["configuration_stages"]), setup);
    assert_eq!(mfa["not_configured_action"], "configure");

    // Applied again as it is: nothing to do in authentik.
    env.sim.control().clear_requests();
    apply(&env, &docs);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(env.sim_writes().is_empty(), "{:#?}", env.sim_writes());
}
