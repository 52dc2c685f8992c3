//! Who may enter a flow, as resources: expression policies and policy bindings of policies,
//! groups and users to a flow and to a flow-stage binding, against the real kube-apiserver
//! and the simulator, on the releases whose policy-binding writes differ (2023.10/2024.4
//! refuse a PATCH that does not name what is bound; 2026.2.2 fails one without `target`).
//!
//! `binds.rs` binds, reorders and switches, and puts back changes made in authentik;
//! `deletes.rs` holds what deleting does on either side; `observe.rs` Observe mode;
//! `refusals.rs` what `kubectl apply` and authentik refuse; `example.rs` the example of
//! `deploy/examples/`. This file holds the resources they share.

#[path = "../common/mod.rs"]
mod common;

mod binds;
mod deletes;
mod example;
mod observe;
mod refusals;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::{Flow, FlowStageBinding, PolicyBinding};
use common::{Env, is_ready};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

/// A flow with a deny stage; an expression policy bound to the flow and another to the
/// deny stage's flow-stage binding; a group bound with `negate`; a user by username.
pub(crate) const GATED: &str = r#"
apiVersion: authentik-operator.io/v1alpha1
kind: Flow
metadata: {name: gated}
spec: {name: Gated, title: Gated, designation: authorization}
---
apiVersion: authentik-operator.io/v1alpha1
kind: DenyStage
metadata: {name: gated-deny}
spec: {denyMessage: Not from outside the office}
---
apiVersion: authentik-operator.io/v1alpha1
kind: FlowStageBinding
metadata: {name: gated-10-deny}
spec:
  flow: {ref: gated}
  stage: {ref: {kind: DenyStage, name: gated-deny}}
  order: 10
---
apiVersion: authentik-operator.io/v1alpha1
kind: ExpressionPolicy
metadata: {name: office-network}
spec:
  expression: |
    # Only from the office network.
    return ak_client_ip in ip_network("10.0.0.0/8")
---
apiVersion: authentik-operator.io/v1alpha1
kind: ExpressionPolicy
metadata: {name: outside-office}
spec:
  expression: |
    return ak_client_ip not in ip_network("10.0.0.0/8")
  executionLogging: true
---
apiVersion: authentik-operator.io/v1alpha1
kind: PolicyBinding
metadata: {name: gated-office}
spec:
  target: {ref: {kind: Flow, name: gated}}
  policy: {ref: {kind: ExpressionPolicy, name: office-network}}
  order: 0
---
apiVersion: authentik-operator.io/v1alpha1
kind: PolicyBinding
metadata: {name: gated-deny-outside}
spec:
  target: {ref: {kind: FlowStageBinding, name: gated-10-deny}}
  policy: {ref: {kind: ExpressionPolicy, name: outside-office}}
  order: 0
---
apiVersion: authentik-operator.io/v1alpha1
kind: PolicyBinding
metadata: {name: gated-not-contractors}
spec:
  target: {ref: {kind: Flow, name: gated}}
  group: {name: contractors}
  order: 10
  negate: true
---
apiVersion: authentik-operator.io/v1alpha1
kind: PolicyBinding
metadata: {name: gated-akadmin}
spec:
  target: {ref: {kind: Flow, name: gated}}
  user: {username: akadmin}
  order: 20
  timeout: 10
  failureResult: true
"#;

pub(crate) const POLICY_BINDINGS: [&str; 4] = [
    "gated-office",
    "gated-deny-outside",
    "gated-not-contractors",
    "gated-akadmin",
];

pub(crate) const GROUP_EXAMPLE: &str =
    include_str!("../../deploy/examples/group-limited-flow.yaml");

pub(crate) fn apply(env: &Env, yaml: &str) {
    let out = env.kubectl(&["apply", "-f", "-"], Some(yaml));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A group in authentik (the fresh-install seed has none); its pk.
pub(crate) fn make_group(env: &Env, name: &str) -> String {
    let r = env
        .sim
        .control()
        .api("POST", "core/groups/", Some(json!({"name": name})));
    assert_eq!(r.status, 201, "{r:?}");
    r.body["pk"].as_str().expect("a group pk").to_string()
}

pub(crate) fn pk_of<K: Kind>(obj: &K) -> String {
    obj.status().and_then(|s| s.pk.clone()).expect("a pk")
}

pub(crate) async fn ready<K: Kind>(env: &Env, name: &str) -> K {
    env.wait_for::<K>(name, "Ready for its generation", is_ready)
        .await
}

pub(crate) async fn pk<K: Kind>(env: &Env, name: &str) -> String {
    pk_of(&ready::<K>(env, name).await)
}

pub(crate) async fn merge<K: Kind>(env: &Env, name: &str, patch: Value) {
    env.api::<K>()
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patch");
}

/// The policy binding at `pk` as authentik answers it.
pub(crate) fn binding(env: &Env, pk: &str) -> Value {
    env.sim
        .control()
        .peek(&format!("policies/bindings/{pk}/"))
        .unwrap_or_else(|| panic!("no policy binding {pk} in authentik"))
}

/// The writes to policy bindings since the request log was last cleared: method, pk (for
/// a detail path), body, status.
pub(crate) fn binding_writes(env: &Env) -> Vec<(String, String, Value, u16)> {
    env.sim_writes()
        .into_iter()
        .filter(|r| r.path.contains("/policies/bindings/"))
        .map(|r| {
            let pk = r
                .path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            (r.method, pk, r.body.unwrap_or(Value::Null), r.status)
        })
        .collect()
}

pub(crate) fn akadmin_pk(env: &Env) -> Value {
    let users = env
        .sim
        .control()
        .peek("core/users/?username=akadmin")
        .expect("users");
    users["results"][0]["pk"].clone()
}

/// Applies GATED with its group; returns (flow pk, flow-stage binding pk, group pk).
pub(crate) async fn apply_gated(env: &Env) -> (String, String, String) {
    let group = make_group(env, "contractors");
    apply(env, GATED);
    for b in POLICY_BINDINGS {
        ready::<PolicyBinding>(env, b).await;
    }
    let flow = pk::<Flow>(env, "gated").await;
    let fsb = pk::<FlowStageBinding>(env, "gated-10-deny").await;
    (flow, fsb, group)
}
