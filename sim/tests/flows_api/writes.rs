//! Binding writes: DRF's messages, the unique-together rule on updates, PUT/PATCH semantics,
//! lookups.

use crate::helpers::{MISSING, fixture};
use authentik_sim::Profile;
use serde_json::json;

#[tokio::test]
async fn invalid_values_get_drfs_messages() {
    let fx = fixture(Profile::V2024_4).await;
    let (flow, stage) = (&fx.flow, &fx.login);
    let cases = [
        (
            json!({"target": null, "stage": "", "order": null}),
            r#"{"target":["This field may not be null."],"stage":["This field may not be null."],"order":["This field may not be null."]}"#,
        ),
        (
            json!({"target": flow, "stage": stage, "order": "ten", "evaluate_on_plan": "maybe"}),
            r#"{"evaluate_on_plan":["Must be a valid boolean."],"order":["A valid integer is required."]}"#,
        ),
        (
            json!({"target": true, "stage": 5, "order": -2147483649_i64}),
            r#"{"target":["Incorrect type. Expected pk value, received bool."],"stage":["Invalid pk \"5\" - object does not exist."],"order":["Ensure this value is greater than or equal to -2147483648."]}"#,
        ),
        (
            json!([1]),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        ),
    ];
    for (body, want) in cases {
        let r = fx.api.post("flows/bindings/", body.clone()).await;
        assert_eq!((r.status, r.text.as_str()), (400, want), "{body}");
    }
    // A flow's pk is not a stage.
    let r = fx
        .api
        .post(
            "flows/bindings/",
            json!({"target": flow, "stage": flow, "order": 1}),
        )
        .await;
    assert_eq!(
        r.text,
        format!(r#"{{"stage":["Invalid pk \"{flow}\" - object does not exist."]}}"#)
    );
}

#[tokio::test]
async fn an_update_may_not_collide_with_another_binding() {
    let fx = fixture(Profile::V2024_4).await;
    let second = format!("flows/bindings/{}/", fx.bindings[1]);
    // PATCH: the omitted target and order come from the instance.
    let r = fx.api.patch(&second, json!({"stage": fx.password})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = fx.api.patch(&second, json!({"order": 10})).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            400,
            r#"{"non_field_errors":["The fields target, stage, order must make a unique set."]}"#
        )
    );
    // Writing a binding's own values again is no collision.
    let r = fx.api.patch(&second, json!({"order": 20})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // PUT needs every required field and keeps the optional ones it omits.
    let r = fx
        .api
        .patch(&second, json!({"invalid_response_action": "restart"}))
        .await;
    assert_eq!(r.json["invalid_response_action"], "restart");
    let r = fx.api.put(&second, json!({"order": 21})).await;
    assert_eq!(
        r.text,
        r#"{"target":["This field is required."],"stage":["This field is required."]}"#
    );
    let r = fx
        .api
        .put(
            &second,
            json!({"target": fx.flow, "stage": fx.ident, "order": 21}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.json["order"].clone(),
            r.json["invalid_response_action"].clone()
        ),
        (200, json!(21), json!("restart"))
    );
}

#[tokio::test]
async fn stage_obj_is_the_base_stage_right_after_a_write_that_sets_stage() {
    let fx = fixture(Profile::V2024_4).await;
    let path = format!("flows/bindings/{}/", fx.bindings[2]);
    let base = json!(["", "stage", "stages", "authentik_flows.stage"]);
    let kind = json!([
        "ak-stage-user-login-form",
        "User Login Stage",
        "User Login Stages",
        "authentik_stages_user_login.userloginstage"
    ]);
    let class = |v: &serde_json::Value| {
        let o = &v["stage_obj"];
        json!([
            o["component"],
            o["verbose_name"],
            o["verbose_name_plural"],
            o["meta_model_name"]
        ])
    };
    let r = fx.api.patch(&path, json!({"stage": fx.login})).await;
    assert_eq!(class(&r.json), base, "{}", r.text);
    let r = fx.api.patch(&path, json!({"evaluate_on_plan": true})).await;
    assert_eq!(class(&r.json), kind);
    assert_eq!(class(&fx.api.get(&path).await.json), kind);
}

#[tokio::test]
async fn lookups_are_by_pk_and_unknown_ones_are_404() {
    for (profile, detail) in [
        (Profile::V2024_4, r#"{"detail":"Not found."}"#),
        (
            Profile::Current,
            r#"{"detail":"No FlowStageBinding matches the given query."}"#,
        ),
    ] {
        let fx = fixture(profile).await;
        let missing = format!("flows/bindings/{MISSING}/");
        for method in ["GET", "PUT", "PATCH", "DELETE"] {
            let r = fx.api.call(method, &missing, Some(json!({}))).await;
            assert_eq!((r.status, r.text.as_str()), (404, detail), "{method}");
        }
        let r = fx.api.get("flows/bindings/not-a-uuid/").await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (404, r#"{"detail":"Not found."}"#)
        );
        let used_by = format!("flows/bindings/{}/used_by/", fx.bindings[0]);
        assert_eq!(fx.api.get(&used_by).await.text, "[]");
        let r = fx
            .api
            .call("PATCH", "flows/bindings/", Some(json!({})))
            .await;
        assert_eq!(r.status, 405);
    }
}
