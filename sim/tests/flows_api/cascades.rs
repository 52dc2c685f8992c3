//! What deleting a stage, a flow or a binding takes along (flows transcript steps 52–59).

use crate::helpers::fixture;
use authentik_sim::Profile;

#[tokio::test]
async fn deleting_a_stage_deletes_its_bindings_and_nulls_references() {
    let fx = fixture(Profile::V2023_10).await;
    let r = fx.api.delete(&format!("stages/all/{}/", fx.password)).await;
    assert_eq!(r.status, 204);
    let listed = fx.listed(&format!("?target={}", fx.flow)).await;
    assert_eq!(listed, [fx.bindings[1].clone(), fx.bindings[2].clone()]);
    let gone = fx
        .api
        .get(&format!("flows/bindings/{}/", fx.bindings[0]))
        .await;
    assert_eq!(gone.status, 404);
    let ident = fx
        .api
        .get(&format!("stages/identification/{}/", fx.ident))
        .await;
    assert_eq!(ident.json["password_stage"], serde_json::Value::Null);
    let flow = fx.api.get("flows/instances/f/").await;
    assert_eq!(flow.json["stages"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn deleting_a_flow_deletes_its_bindings_but_not_its_stages() {
    let fx = fixture(Profile::V2024_4).await;
    assert_eq!(fx.api.delete("flows/instances/f/").await.status, 204);
    for b in &fx.bindings {
        assert_eq!(
            fx.api.get(&format!("flows/bindings/{b}/")).await.status,
            404
        );
    }
    let login = fx
        .api
        .get(&format!("stages/user_login/{}/", fx.login))
        .await;
    assert_eq!(
        (login.status, login.json["flow_set"].clone()),
        (200, serde_json::json!([]))
    );
    assert_eq!(fx.listed(&format!("?stage={}", fx.ident)).await.len(), 0);
}

#[tokio::test]
async fn deleting_a_binding_takes_the_flow_out_of_the_stages_flow_set() {
    let fx = fixture(Profile::V2024_4).await;
    let path = format!("flows/bindings/{}/", fx.bindings[2]);
    assert_eq!(fx.api.delete(&path).await.status, 204);
    assert_eq!(fx.api.delete(&path).await.status, 404);
    let login = fx
        .api
        .get(&format!("stages/user_login/{}/", fx.login))
        .await;
    assert_eq!(login.json["flow_set"], serde_json::json!([]));
    let used_by = fx
        .api
        .get(&format!("stages/user_login/{}/used_by/", fx.login))
        .await;
    assert_eq!(used_by.text, "[]");
}
