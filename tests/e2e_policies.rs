//! Who may enter a flow, as resources: expression policies and policy bindings of policies,
//! groups and users to a flow and to a flow-stage binding, against the real kube-apiserver
//! and the simulator, on the releases whose policy-binding writes differ (2023.10/2024.4
//! refuse a PATCH that does not name what is bound; 2026.2.2 fails one without `target`).

mod common;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::{ExpressionPolicy, Flow, FlowStageBinding, PolicyBinding};
use authentik_sim::Profile;
use common::{Env, is_ready, reason};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use std::time::Duration;

/// A flow with a deny stage; an expression policy bound to the flow and another to the
/// deny stage's flow-stage binding; a group bound with `negate`; a user by username.
const GATED: &str = r#"
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

const POLICY_BINDINGS: [&str; 4] = [
    "gated-office",
    "gated-deny-outside",
    "gated-not-contractors",
    "gated-akadmin",
];

const GROUP_EXAMPLE: &str = include_str!("../deploy/examples/group-limited-flow.yaml");

fn apply(env: &Env, yaml: &str) {
    let out = env.kubectl(&["apply", "-f", "-"], Some(yaml));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A group in authentik (the fresh-install seed has none); its pk.
fn make_group(env: &Env, name: &str) -> String {
    let r = env
        .sim
        .control()
        .api("POST", "core/groups/", Some(json!({"name": name})));
    assert_eq!(r.status, 201, "{r:?}");
    r.body["pk"].as_str().expect("a group pk").to_string()
}

fn pk_of<K: Kind>(obj: &K) -> String {
    obj.status().and_then(|s| s.pk.clone()).expect("a pk")
}

async fn ready<K: Kind>(env: &Env, name: &str) -> K {
    env.wait_for::<K>(name, "Ready for its generation", is_ready)
        .await
}

async fn pk<K: Kind>(env: &Env, name: &str) -> String {
    pk_of(&ready::<K>(env, name).await)
}

async fn merge<K: Kind>(env: &Env, name: &str, patch: Value) {
    env.api::<K>()
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patch");
}

/// The policy binding at `pk` as authentik answers it.
fn binding(env: &Env, pk: &str) -> Value {
    env.sim
        .control()
        .peek(&format!("policies/bindings/{pk}/"))
        .unwrap_or_else(|| panic!("no policy binding {pk} in authentik"))
}

/// The writes to policy bindings since the request log was last cleared: method, pk (for
/// a detail path), body, status.
fn binding_writes(env: &Env) -> Vec<(String, String, Value, u16)> {
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

fn akadmin_pk(env: &Env) -> Value {
    let users = env
        .sim
        .control()
        .peek("core/users/?username=akadmin")
        .expect("users");
    users["results"][0]["pk"].clone()
}

/// Applies GATED with its group; returns (flow pk, flow-stage binding pk, group pk).
async fn apply_gated(env: &Env) -> (String, String, String) {
    let group = make_group(env, "contractors");
    apply(env, GATED);
    for b in POLICY_BINDINGS {
        ready::<PolicyBinding>(env, b).await;
    }
    let flow = pk::<Flow>(env, "gated").await;
    let fsb = pk::<FlowStageBinding>(env, "gated-10-deny").await;
    (flow, fsb, group)
}

/// Everything bound as written, one create each; then a reorder and a switch from a policy
/// to a group, each one PATCH of the same binding that carries its target and what it binds.
async fn bind_reorder_and_switch(profile: Profile) {
    let env = Env::started(profile).await;
    let (flow, fsb, group) = apply_gated(&env).await;
    let office = pk::<ExpressionPolicy>(&env, "office-network").await;
    let outside = pk::<ExpressionPolicy>(&env, "outside-office").await;
    let pks: Vec<String> = {
        let mut v = Vec::new();
        for b in POLICY_BINDINGS {
            v.push(pk::<PolicyBinding>(&env, b).await);
        }
        v
    };
    let creates: Vec<u16> = binding_writes(&env).iter().map(|w| w.3).collect();
    assert_eq!(
        creates,
        [201, 201, 201, 201],
        "one create each, none refused"
    );
    // authentik answers a binding's target as the object's own pk, which we sent.
    let b = binding(&env, &pks[0]);
    assert_eq!((&b["target"], &b["policy"]), (&json!(flow), &json!(office)));
    assert_eq!(b["order"], 0);
    let b = binding(&env, &pks[1]);
    assert_eq!((&b["target"], &b["policy"]), (&json!(fsb), &json!(outside)));
    let b = binding(&env, &pks[2]);
    assert_eq!((&b["target"], &b["group"]), (&json!(flow), &json!(group)));
    assert_eq!((&b["negate"], &b["policy"]), (&json!(true), &Value::Null));
    let b = binding(&env, &pks[3]);
    assert_eq!(
        (&b["target"], &b["user"]),
        (&json!(flow), &akadmin_pk(&env))
    );
    assert_eq!(
        (&b["timeout"], &b["failure_result"]),
        (&json!(10), &json!(true))
    );
    let shown = ready::<PolicyBinding>(&env, "gated-not-contractors")
        .await
        .status
        .expect("status")
        .resolved_references;
    assert_eq!(shown.get("group"), Some(&group));
    assert_eq!(shown.get("target"), Some(&flow));

    // Reorder: the same binding, patched; the PATCH names the target and the policy again.
    env.sim.control().clear_requests();
    merge::<PolicyBinding>(&env, "gated-office", json!({"spec": {"order": 5}})).await;
    ready::<PolicyBinding>(&env, "gated-office").await;
    let writes = binding_writes(&env);
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (method, at, body, status) = &writes[0];
    assert_eq!((method.as_str(), at, *status), ("PATCH", &pks[0], 200));
    assert_eq!(body["order"], 5);
    assert_eq!(body["target"], json!(flow), "{body}");
    assert_eq!(body["policy"], json!(office), "{body}");
    assert_eq!(binding(&env, &pks[0])["order"], 5);
    env.wait_event("gated-office", "Updated").await;

    // Switch what is bound: the policy out, a group in, on the same binding.
    env.sim.control().clear_requests();
    merge::<PolicyBinding>(
        &env,
        "gated-office",
        json!({"spec": {"policy": null, "group": {"name": "contractors"}}}),
    )
    .await;
    let switched = ready::<PolicyBinding>(&env, "gated-office").await;
    assert_eq!(pk_of(&switched), pks[0], "the same binding");
    let writes = binding_writes(&env);
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (method, _, body, status) = &writes[0];
    assert_eq!((method.as_str(), *status), ("PATCH", 200), "{body}");
    assert_eq!(
        (&body["policy"], &body["group"], &body["target"]),
        (&Value::Null, &json!(group), &json!(flow))
    );
    let b = binding(&env, &pks[0]);
    assert_eq!(
        (&b["policy"], &b["group"], &b["order"]),
        (&Value::Null, &json!(group), &json!(5))
    );
    let shown = switched.status.expect("status").resolved_references;
    assert_eq!(shown.get("group"), Some(&group));
    assert!(!shown.contains_key("policy"), "{shown:?}");
}

#[tokio::test]
async fn bind_reorder_and_switch_on_2023_10() {
    bind_reorder_and_switch(Profile::V2023_10).await;
}

#[tokio::test]
async fn bind_reorder_and_switch_on_2024_4() {
    bind_reorder_and_switch(Profile::V2024_4).await;
}

#[tokio::test]
async fn bind_reorder_and_switch_on_current() {
    bind_reorder_and_switch(Profile::Current).await;
}

/// Another person changes a policy's expression and a binding's `negate` in authentik: both
/// are put back, the binding by a PATCH that carries its target and group.
async fn changed_behind_our_back(profile: Profile) {
    let env = Env::started(profile).await;
    let (flow, _, group) = apply_gated(&env).await;
    let office = pk::<ExpressionPolicy>(&env, "office-network").await;
    let negated = pk::<PolicyBinding>(&env, "gated-not-contractors").await;
    let expression = env
        .sim
        .control()
        .peek(&format!("policies/expression/{office}/"))
        .expect("the policy")["expression"]
        .clone();
    env.sim.control().add_token("alice", "alice-token");
    env.sim.control().clear_requests();
    let r = env.sim.control().api_as(
        "alice",
        "PATCH",
        &format!("policies/expression/{office}/"),
        Some(json!({"expression": "return True"})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // What the UI sends: the whole binding (2026.2.2 needs the target, older releases what
    // is bound).
    let r = env.sim.control().api_as(
        "alice",
        "PATCH",
        &format!("policies/bindings/{negated}/"),
        Some(json!({"target": flow, "group": group, "order": 10, "negate": false})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    env.wait_event("office-network", "DriftCorrected").await;
    env.wait_event("gated-not-contractors", "DriftCorrected")
        .await;
    let policy = env
        .sim
        .control()
        .peek(&format!("policies/expression/{office}/"));
    assert_eq!(policy.expect("the policy")["expression"], expression);
    let b = binding(&env, &negated);
    assert_eq!((&b["negate"], &b["group"]), (&json!(true), &json!(group)));
    let patches: Vec<(String, Value, u16)> = binding_writes(&env)
        .into_iter()
        .map(|(m, _, body, status)| (m, body, status))
        .collect();
    assert_eq!(
        patches,
        [(
            "PATCH".to_string(),
            json!({"negate": true, "target": flow, "group": group, "policy": null, "user": null}),
            200
        )]
    );
}

#[tokio::test]
async fn changes_in_authentik_are_put_back_on_2024_4() {
    changed_behind_our_back(Profile::V2024_4).await;
}

#[tokio::test]
async fn changes_in_authentik_are_put_back_on_current() {
    changed_behind_our_back(Profile::Current).await;
}

/// authentik compiles an expression on save: its syntax error is the condition, in its own
/// words, and nothing is sent again until the spec changes (a binding of the policy waits).
#[tokio::test]
async fn a_syntax_error_is_authentiks_message_not_a_retry_loop() {
    let env = Env::started(Profile::Current).await;
    make_group(&env, "contractors");
    apply(
        &env,
        r#"
apiVersion: authentik-operator.io/v1alpha1
kind: Flow
metadata: {name: gated}
spec: {name: Gated, title: Gated, designation: authorization}
---
apiVersion: authentik-operator.io/v1alpha1
kind: ExpressionPolicy
metadata: {name: broken}
spec:
  expression: |
    return (
---
apiVersion: authentik-operator.io/v1alpha1
kind: PolicyBinding
metadata: {name: gated-broken}
spec:
  target: {ref: {kind: Flow, name: gated}}
  policy: {ref: {kind: ExpressionPolicy, name: broken}}
  order: 0
"#,
    );
    let msg = env
        .wait_synced::<ExpressionPolicy>("broken", "AuthentikRejected")
        .await;
    assert!(
        msg.contains("Expression Syntax Error: '(' was never closed (temp-policy, line 2)"),
        "{msg}"
    );
    env.wait_synced::<PolicyBinding>("gated-broken", "ReferenceNotReady")
        .await;
    // Four sweeps later: not one more write.
    env.sim.control().clear_requests();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(env.sim_writes().is_empty(), "{:?}", env.sim_writes());
    let broken = env
        .api::<ExpressionPolicy>()
        .get("broken")
        .await
        .expect("get");
    assert_eq!(
        reason(&broken, "Ready").as_deref(),
        Some("AuthentikRejected")
    );
    assert!(
        env.sim_stages_named("policies/expression", "broken")
            .is_empty()
    );

    // Fixed in git: created, and the binding follows.
    merge::<ExpressionPolicy>(
        &env,
        "broken",
        json!({"spec": {"expression": "return True\n"}}),
    )
    .await;
    let policy = pk::<ExpressionPolicy>(&env, "broken").await;
    let bound = pk::<PolicyBinding>(&env, "gated-broken").await;
    assert_eq!(binding(&env, &bound)["policy"], json!(policy));
    let posts: Vec<u16> = env
        .sim_writes()
        .iter()
        .filter(|r| r.path.ends_with("/policies/expression/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, [201]);

    // Broken again on a live policy: refused by authentik, which keeps the last good one.
    env.sim.control().clear_requests();
    merge::<ExpressionPolicy>(
        &env,
        "broken",
        json!({"spec": {"expression": "return [1, 2\n"}}),
    )
    .await;
    let msg = env
        .wait_synced::<ExpressionPolicy>("broken", "AuthentikRejected")
        .await;
    assert!(msg.contains("was never closed"), "{msg}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let patches = env
        .sim_writes()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 1, "{:?}", env.sim_writes());
    let kept = env
        .sim
        .control()
        .peek(&format!("policies/expression/{policy}/"));
    assert_eq!(kept.expect("the policy")["expression"], "return True\n");
}

/// authentik deletes a policy's bindings with it, and a flow-stage binding's policy
/// bindings with it: deleting either resource waits while a binding resource binds it.
#[tokio::test]
async fn deleting_a_bound_policy_or_target_waits_for_the_binding() {
    let env = Env::started(Profile::Current).await;
    apply_gated(&env).await;
    let office = pk::<ExpressionPolicy>(&env, "office-network").await;
    let bound = pk::<PolicyBinding>(&env, "gated-office").await;
    let fsb = pk::<FlowStageBinding>(&env, "gated-10-deny").await;
    let bound_to_fsb = pk::<PolicyBinding>(&env, "gated-deny-outside").await;
    env.sim.control().clear_requests();
    env.delete::<ExpressionPolicy>("office-network").await;
    let msg = env
        .wait_synced::<ExpressionPolicy>("office-network", "DeleteBlocked")
        .await;
    assert!(msg.contains("PolicyBinding/gated-office"), "{msg}");
    env.delete::<FlowStageBinding>("gated-10-deny").await;
    let msg = env
        .wait_synced::<FlowStageBinding>("gated-10-deny", "DeleteBlocked")
        .await;
    assert!(msg.contains("PolicyBinding/gated-deny-outside"), "{msg}");
    assert!(env.sim_writes().is_empty(), "{:?}", env.sim_writes());
    binding(&env, &bound);

    env.delete::<PolicyBinding>("gated-office").await;
    env.delete::<PolicyBinding>("gated-deny-outside").await;
    env.wait_gone::<ExpressionPolicy>("office-network").await;
    env.wait_gone::<FlowStageBinding>("gated-10-deny").await;
    // Each binding deleted by its own request before what it bound went.
    let deletes: Vec<(String, u16)> = env
        .sim_writes()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(deletes.len(), 4, "{deletes:?}");
    assert!(deletes.iter().all(|d| d.1 == 204), "{deletes:?}");
    let at = |pk: &str| {
        deletes
            .iter()
            .position(|d| d.0.contains(pk))
            .expect("deleted")
    };
    assert!(at(&bound) < at(&office), "{deletes:?}");
    assert!(at(&bound_to_fsb) < at(&fsb), "{deletes:?}");
    let c = env.sim.control();
    assert!(c.peek(&format!("policies/expression/{office}/")).is_none());
    assert!(c.peek(&format!("flows/bindings/{fsb}/")).is_none());
    assert!(c.peek(&format!("policies/bindings/{bound}/")).is_none());
}

/// A binding deleted in authentik (no event: as in the database) is bound again at the
/// next sweep; a flow-stage binding deleted so takes its policy bindings with it, and both
/// come back, the policy binding on the new flow-stage binding.
#[tokio::test]
async fn a_binding_deleted_in_authentik_comes_back_at_the_next_sweep() {
    let env = Env::started(Profile::V2024_4).await;
    let (flow, _, group) = apply_gated(&env).await;
    let old = pk::<PolicyBinding>(&env, "gated-not-contractors").await;
    assert!(
        env.sim
            .control()
            .delete_quietly(&format!("policies/bindings/{old}/"))
    );
    let back = env
        .wait_for::<PolicyBinding>("gated-not-contractors", "bound again", |o| {
            is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old.as_str())
        })
        .await;
    env.wait_event("gated-not-contractors", "Recreated").await;
    let b = binding(&env, &pk_of(&back));
    assert_eq!(
        (&b["target"], &b["group"], &b["order"], &b["negate"]),
        (&json!(flow), &json!(group), &json!(10), &json!(true))
    );

    let old_fsb = pk::<FlowStageBinding>(&env, "gated-10-deny").await;
    let old = pk::<PolicyBinding>(&env, "gated-deny-outside").await;
    assert!(
        env.sim
            .control()
            .delete_quietly(&format!("flows/bindings/{old_fsb}/"))
    );
    assert!(
        env.sim
            .control()
            .peek(&format!("policies/bindings/{old}/"))
            .is_none()
    );
    let fsb = env
        .wait_for::<FlowStageBinding>("gated-10-deny", "bound again", |o| {
            is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old_fsb.as_str())
        })
        .await;
    let back = env
        .wait_for::<PolicyBinding>("gated-deny-outside", "bound again", |o| {
            is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old.as_str())
        })
        .await;
    assert_eq!(binding(&env, &pk_of(&back))["target"], json!(pk_of(&fsb)));
}

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

/// What authentik would refuse is refused at `kubectl apply`, naming the rule.
#[tokio::test]
async fn kubectl_apply_refuses_what_authentik_would() {
    let env = Env::new(Profile::Current).await;
    let head = "apiVersion: authentik-operator.io/v1alpha1";
    let refused = [
        (
            format!(
                "{head}\nkind: ReputationPolicy\nmetadata: {{name: r}}\nspec: {{threshold: -5}}\n"
            ),
            "set checkIp or checkUsername (or both) to true",
        ),
        (
            format!(
                "{head}\nkind: ReputationPolicy\nmetadata: {{name: r}}\nspec: {{checkIp: false, checkUsername: false}}\n"
            ),
            "set checkIp or checkUsername (or both) to true",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: Flow, name: f}}}}\n  policy: {{name: p}}\n  group: {{name: g}}\n  order: 0\n"
            ),
            "set exactly one of policy, group or user",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: Flow, name: f}}}}\n  order: 0\n"
            ),
            "set exactly one of policy, group or user",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: Flow, name: f}}, pk: 0b7a0c51-0000-4000-8000-000000000001}}\n  user: {{username: u}}\n  order: 0\n"
            ),
            "exactly one of ref or pk must be set",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: PasswordStage, name: f}}}}\n  user: {{username: u}}\n  order: 0\n"
            ),
            "spec.target.ref.kind",
        ),
    ];
    for (manifest, rule) in &refused {
        let out = env.kubectl(&["apply", "-f", "-"], Some(manifest));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted:\n{manifest}");
        assert!(stderr.contains(rule), "{rule:?} not in:\n{stderr}");
    }
    let fine = format!(
        "{head}\nkind: ReputationPolicy\nmetadata: {{name: r}}\nspec: {{checkUsername: true}}\n---\n{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{pk: 0b7a0c51-0000-4000-8000-000000000001}}\n  user: {{pk: 7}}\n  order: 0\n"
    );
    let out = env.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&fine));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// deploy/examples/group-limited-flow.yaml: applied as is, every resource Ready, the group
/// bound to the flow.
#[tokio::test]
async fn the_group_limited_flow_example_is_ready() {
    let env = Env::started(Profile::Current).await;
    // A fresh install has this group; the simulator's seed holds no groups.
    let admins = make_group(&env, "authentik Admins");
    apply(&env, GROUP_EXAMPLE);
    let flow = pk::<Flow>(&env, "admins-authorization").await;
    ready::<FlowStageBinding>(&env, "admins-authorization-10-consent").await;
    let bound = pk::<PolicyBinding>(&env, "admins-authorization-admins").await;
    let b = binding(&env, &bound);
    assert_eq!((&b["target"], &b["group"]), (&json!(flow), &json!(admins)));
    assert_eq!((&b["negate"], &b["enabled"]), (&json!(false), &json!(true)));
    let f = env
        .sim
        .control()
        .flow("admins-authorization")
        .expect("the flow");
    assert_eq!(
        (&f["designation"], &f["denied_action"]),
        (&json!("authorization"), &json!("message"))
    );
    // What `kubectl get` shows of a policy binding.
    let out = env.kubectl(&["get", "policybindings"], None);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.contains("admins-authorization-admins")
                && l.contains("admins-authorization")
                && l.contains("authentik Admins")),
        "{table}"
    );
}
