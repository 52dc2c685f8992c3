//! `deploy/examples/group-limited-flow.yaml`, applied as is.

use crate::common::Env;
use crate::*;
use authentik_operator::kinds::{Flow, FlowStageBinding, PolicyBinding};
use authentik_sim::Profile;
use serde_json::json;

/// bound to the flow.
/// deploy/examples/group-limited-flow.yaml: applied as is, every resource Ready, the group
#[tokio::test]
async fn the_group_limited_flow_example_is_ready() {
    let env = Env::started(Profile::Current).await;
    // Every fresh install has this group (the simulator's seed too).
    let r = env
        .sim
        .control()
        .api("GET", "core/groups/?name=authentik+Admins", None);
    let admins = r.body["results"][0]["pk"]
        .as_str()
        .expect("the seeded group")
        .to_string();
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
