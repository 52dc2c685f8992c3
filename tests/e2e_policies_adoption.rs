//! Taking over a fresh install's policy bindings (the simulator's `--seed` is a real fresh
//! install of each release, its uuids included) with `adoptionPolicy: IfMatch`: every
//! binding, with the flows, flow-stage bindings and expression policies it names as
//! resources it `ref`s (the event matchers' notification rules by pk), adopted with not one
//! write to authentik; one changed in authentik meanwhile is refused, showing the difference.

mod common;

use authentik_operator::kinds::PolicyBinding;
use authentik_sim::Profile;
use common::{Env, is_ready, reason};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn list(env: &Env, endpoint: &str) -> Vec<Value> {
    let page = env
        .sim
        .control()
        .peek(&format!("{endpoint}?page_size=100"))
        .unwrap_or_else(|| panic!("{endpoint}"));
    assert_eq!(page["pagination"]["total_pages"], 1, "{endpoint}: one page");
    page["results"].as_array().cloned().unwrap_or_default()
}

fn doc(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": kind,
        "metadata": {"name": name}, "spec": spec
    })
}

/// The resources that adopt every policy binding of the seed with IfMatch: the bindings
/// (name → pk in authentik), and every document to apply.
fn manifests(env: &Env) -> (BTreeMap<String, String>, Vec<Value>) {
    let flows: BTreeMap<String, Value> = list(env, "flows/instances/")
        .into_iter()
        .map(|f| (f["pk"].as_str().unwrap_or_default().to_string(), f))
        .collect();
    let fsbs: BTreeMap<String, Value> = list(env, "flows/bindings/")
        .into_iter()
        .map(|b| (b["pk"].as_str().unwrap_or_default().to_string(), b))
        .collect();
    let mut docs: BTreeMap<(String, String), Value> = BTreeMap::new();
    let flow_ref = |docs: &mut BTreeMap<(String, String), Value>, pk: &str| {
        let f = &flows[pk];
        let slug = f["slug"].as_str().expect("a slug").to_string();
        let spec = json!({
            "adoptionPolicy": "IfMatch", "slug": slug, "name": f["name"],
            "title": f["title"], "designation": f["designation"]
        });
        docs.insert(("Flow".into(), slug.clone()), doc("Flow", &slug, spec));
        slug
    };
    let mut bindings = BTreeMap::new();
    for (i, b) in list(env, "policies/bindings/").into_iter().enumerate() {
        let target_pk = b["target"].as_str().expect("a target");
        let target = if flows.contains_key(target_pk) {
            json!({"ref": {"kind": "Flow", "name": flow_ref(&mut docs, target_pk)}})
        } else if let Some(fsb) = fsbs.get(target_pk) {
            let flow = flow_ref(&mut docs, fsb["target"].as_str().expect("a flow"));
            let name = format!("{flow}-{}", fsb["order"]);
            let spec = json!({
                "adoptionPolicy": "IfMatch", "flow": {"ref": flow},
                "stage": {"name": fsb["stage_obj"]["name"]}, "order": fsb["order"]
            });
            docs.insert(
                ("FlowStageBinding".into(), name.clone()),
                doc("FlowStageBinding", &name, spec),
            );
            json!({"ref": {"kind": "FlowStageBinding", "name": name}})
        } else {
            // A notification rule: not a resource of this operator.
            json!({"pk": target_pk})
        };
        let policy = &b["policy_obj"];
        let name = policy["name"]
            .as_str()
            .expect("seeded bindings bind policies");
        let policy =
            if policy["meta_model_name"] == "authentik_policies_expression.expressionpolicy" {
                let spec = json!({
                    "adoptionPolicy": "IfMatch", "expression": policy["expression"],
                    "executionLogging": policy["execution_logging"]
                });
                docs.insert(
                    ("ExpressionPolicy".into(), name.to_string()),
                    doc("ExpressionPolicy", name, spec),
                );
                json!({"ref": {"kind": "ExpressionPolicy", "name": name}})
            } else {
                json!({"name": name})
            };
        let resource = format!("fresh-install-{i}");
        let spec = json!({
            "adoptionPolicy": "IfMatch", "target": target, "policy": policy,
            "order": b["order"], "negate": b["negate"], "enabled": b["enabled"],
            "timeout": b["timeout"], "failureResult": b["failure_result"]
        });
        docs.insert(
            ("PolicyBinding".into(), resource.clone()),
            doc("PolicyBinding", &resource, spec),
        );
        bindings.insert(resource, b["pk"].as_str().expect("a pk").to_string());
    }
    (bindings, docs.into_values().collect())
}

async fn adopt_the_fresh_install(profile: Profile, seeded: usize) {
    let env = Env::started(profile).await;
    let (bindings, docs) = manifests(&env);
    assert_eq!(
        bindings.len(),
        seeded,
        "the fresh install's policy bindings"
    );
    // Someone tightened one in the UI since the manifests were written.
    let (changed, changed_pk) = bindings.iter().next().expect("a binding");
    let before = env
        .sim
        .control()
        .peek(&format!("policies/bindings/{changed_pk}/"))
        .expect("the binding");
    let r = env.sim.control().api_as(
        "alice",
        "PATCH",
        &format!("policies/bindings/{changed_pk}/"),
        Some(json!({"target": before["target"], "policy": before["policy"], "timeout": 5})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    env.sim.control().clear_requests();
    let yaml: Vec<String> = docs.iter().map(Value::to_string).collect();
    let out = env.kubectl(&["apply", "-f", "-"], Some(&yaml.join("\n---\n")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (name, pk) in &bindings {
        if name == changed {
            continue;
        }
        let b = env.wait_for::<PolicyBinding>(name, "Ready", is_ready).await;
        assert_eq!(
            b.status.and_then(|s| s.pk).as_deref(),
            Some(pk.as_str()),
            "{name}"
        );
        env.wait_event(name, "Adopted").await;
    }
    let msg = env
        .wait_synced::<PolicyBinding>(changed, "AdoptionMismatch")
        .await;
    assert!(msg.contains("IfMatch leaves it alone"), "{msg}");
    let refused = env.api::<PolicyBinding>().get(changed).await.expect("get");
    assert_eq!(
        reason(&refused, "Ready").as_deref(),
        Some("AdoptionMismatch")
    );
    let drift = refused.status.expect("status").drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(
        (
            drift[0].field.as_str(),
            drift[0].desired.as_str(),
            drift[0].actual.as_str()
        ),
        ("timeout", "30", "5")
    );
    assert!(env.sim_writes().is_empty(), "{:?}", env.sim_writes());
}

#[tokio::test]
async fn the_fresh_install_of_2023_10_is_adopted_without_a_write() {
    adopt_the_fresh_install(Profile::V2023_10, 11).await;
}

#[tokio::test]
async fn the_fresh_install_of_2024_4_is_adopted_without_a_write() {
    adopt_the_fresh_install(Profile::V2024_4, 11).await;
}

#[tokio::test]
async fn the_fresh_install_of_2026_2_is_adopted_without_a_write() {
    adopt_the_fresh_install(Profile::Current, 13).await;
}
