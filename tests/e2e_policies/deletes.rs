//! Deleting on either side: a delete waits while a binding binds what it deletes; what
//! authentik deleted comes back.

use crate::common::{Env, is_ready};
use crate::*;
use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::{ExpressionPolicy, FlowStageBinding, PolicyBinding};
use authentik_sim::{Fault, Profile};
use serde_json::json;

/// bindings with it: deleting either resource waits while a binding resource binds it.
/// authentik deletes a policy's bindings with it, and a flow-stage binding's policy
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
    // Once the bindings are being deleted, nothing is left to protect: what they bound goes
    // at once, and a binding authentik removed with it first (its DELETE answered 404)
    // counts as deleted. Only DELETEs, of each object, nothing else written.
    let writes = env.sim_writes();
    assert!(writes.iter().all(|r| r.method == "DELETE"), "{writes:?}");
    for pk in [&office, &bound, &fsb, &bound_to_fsb] {
        let answers: Vec<u16> = writes
            .iter()
            .filter(|r| r.path.contains(pk.as_str()))
            .map(|r| r.status)
            .collect();
        assert!(
            !answers.is_empty() && answers.iter().all(|a| *a == 204 || *a == 404),
            "{pk}: {writes:?}"
        );
    }
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

/// A flow-stage binding whose delete waits for a policy binding is deleted in authentik,
/// which takes the policy binding with it. Forced order: the policy binding sees its object
/// gone while the flow-stage binding's delete still waits (authentik does not answer where
/// it would look). The policy binding is not created again on a target on its way out (it
/// would be refused, "Invalid pk"); it waits, naming it. Once the flow-stage binding's delete
/// sees its object gone, nothing is left to protect and it goes; the policy binding then
/// names a resource that does not exist, and deleting it finishes cleanly.
#[tokio::test]
async fn a_waiting_delete_goes_on_once_authentik_deleted_its_object() {
    let env = Env::started(Profile::Current).await;
    apply_gated(&env).await;
    let fsb = pk::<FlowStageBinding>(&env, "gated-10-deny").await;
    let bound = pk::<PolicyBinding>(&env, "gated-deny-outside").await;
    let c = env.sim.control();
    c.inject_fault(Fault {
        route_prefix: format!("flows/bindings/{fsb}"),
        method: Some("GET".into()),
        status: 503,
        ..Fault::default()
    });
    env.delete::<FlowStageBinding>("gated-10-deny").await;
    env.wait_synced::<FlowStageBinding>("gated-10-deny", "DeleteBlocked")
        .await;
    c.clear_requests();
    assert!(c.delete_quietly(&format!("flows/bindings/{fsb}/")));
    assert!(c.peek(&format!("policies/bindings/{bound}/")).is_none());

    let msg = env
        .wait_synced::<PolicyBinding>("gated-deny-outside", "ReferenceNotReady")
        .await;
    assert!(
        msg.contains("FlowStageBinding") && msg.contains("gated-10-deny is being deleted"),
        "{msg}"
    );
    let fsb_res = env.api::<FlowStageBinding>().get("gated-10-deny").await;
    assert!(fsb_res.is_ok(), "the delete still waits: {fsb_res:?}");

    c.clear_faults();
    env.wait_gone::<FlowStageBinding>("gated-10-deny").await;
    env.wait_event("gated-10-deny", "AlreadyGone").await;
    env.wait_for::<PolicyBinding>("gated-deny-outside", "its target named missing", |o| {
        o.status()
            .and_then(|s| s.condition("Synced"))
            .is_some_and(|c| {
                c.reason == "ReferenceNotReady"
                    && c.message.contains("gated-10-deny does not exist")
            })
    })
    .await;
    // Nothing was sent to authentik about either binding but reads.
    let writes = env.sim_writes();
    assert!(writes.is_empty(), "{writes:?}");

    env.delete::<PolicyBinding>("gated-deny-outside").await;
    env.wait_gone::<PolicyBinding>("gated-deny-outside").await;
    let writes = env.sim_writes();
    assert!(
        writes
            .iter()
            .all(|r| r.method == "DELETE" && r.path.contains(&bound) && r.status == 404),
        "{writes:?}"
    );
}
