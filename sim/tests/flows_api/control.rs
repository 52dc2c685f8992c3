//! The control interface for flows and bindings, in-process and over `/_sim/`.

use crate::helpers::fixture;
use authentik_sim::Profile;
use serde_json::{Value, json};

#[tokio::test]
async fn tests_can_inspect_and_delete_flows_and_bindings() {
    let fx = fixture(Profile::V2024_4).await;
    let ctl = fx.api.sim.control();
    assert_eq!(ctl.binding_count("f"), 3);
    assert_eq!(ctl.binding_count("default-authentication-flow"), 4);
    assert_eq!(ctl.binding_count("no-such-flow"), 0);
    let orders: Vec<Value> = ctl
        .bindings("f")
        .iter()
        .map(|b| b["order"].clone())
        .collect();
    assert_eq!(orders, [json!(10), json!(20), json!(30)]);
    assert_eq!(
        ctl.binding(&fx.bindings[0]).map(|b| b["stage"].clone()),
        Some(json!(fx.password))
    );
    assert_eq!(ctl.flows().len(), 14);

    // Behind the operator's back: the API sees the result, with cascades.
    assert!(ctl.delete_binding(&fx.bindings[0]));
    assert!(!ctl.delete_binding(&fx.bindings[0]));
    assert_eq!(ctl.binding_count("f"), 2);
    assert!(ctl.delete_stage(&fx.login));
    assert_eq!(ctl.binding_count("f"), 1);
    assert!(ctl.delete_flow("f"));
    assert!(!ctl.delete_flow("f"));
    assert!(ctl.binding(&fx.bindings[1]).is_none());
    assert_eq!(fx.api.get("flows/instances/f/").await.status, 404);
}

#[tokio::test]
async fn the_same_over_http() {
    let fx = fixture(Profile::Current).await;
    let sim = |path: String| format!("{}/_sim/{path}", fx.api.sim.url());
    let c = &fx.api.client;
    let get = |path: String| {
        let req = c.get(sim(path));
        async move {
            let r = req.send().await.expect("sent");
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let delete = |path: String| {
        let req = c.delete(sim(path));
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    let (status, bindings) = get("flows/f/bindings".into()).await;
    assert_eq!((status, bindings.as_array().map(Vec::len)), (200, Some(3)));
    let (status, one) = get(format!("bindings/{}", fx.bindings[1])).await;
    assert_eq!((status, one["stage"].clone()), (200, json!(fx.ident)));
    let (_, flows) = get("flows".into()).await;
    assert_eq!(flows[0]["slug"], "default-authentication-flow");

    assert_eq!(delete(format!("bindings/{}", fx.bindings[1])).await, 204);
    assert_eq!(delete(format!("bindings/{}", fx.bindings[1])).await, 404);
    assert_eq!(delete(format!("stages/all/{}", fx.login)).await, 204);
    assert_eq!(fx.api.sim.control().binding_count("f"), 1);
    assert_eq!(delete("flows/f".into()).await, 204);
    assert_eq!(get("flows/f/bindings".into()).await.1, json!([]));
}
