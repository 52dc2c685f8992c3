//! Binding, reordering and switching what is bound, on each release whose writes differ;
//! changes made in authentik put back; a syntax error reported once.

use crate::common::{Env, reason};
use crate::*;
use authentik_operator::kinds::{ExpressionPolicy, PolicyBinding};
use authentik_sim::Profile;
use serde_json::json;
use std::time::Duration;

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
    // authentik stores an expression stripped.
    assert_eq!(kept.expect("the policy")["expression"], "return True");
}
