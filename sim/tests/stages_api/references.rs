//! References to other objects, and what deleting them does.

use crate::common::Api;
use crate::helpers::{INBUILT, MISSING, api};
use authentik_sim::Profile;
use serde_json::{Value, json};

#[tokio::test]
async fn references_are_checked_with_authentiks_messages() {
    let api = api().await;
    let ident = api
        .create(
            "identification",
            json!({"name": "i", "user_fields": ["email"]}),
        )
        .await;
    let invalid = |pk: &str| format!("Invalid pk \\\"{pk}\\\" - object does not exist.");
    let cases: Vec<(&str, Value, String)> = vec![
        (
            "password",
            json!({"configure_flow": MISSING}),
            format!(r#"{{"configure_flow":["{}"]}}"#, invalid(MISSING)),
        ),
        (
            "identification",
            json!({"password_stage": ident}),
            format!(r#"{{"password_stage":["{}"]}}"#, invalid(&ident)),
        ),
        (
            "identification",
            json!({"password_stage": "default-pw"}),
            r#"{"password_stage":["“default-pw” is not a valid UUID."]}"#.into(),
        ),
        (
            "identification",
            json!({"enrollment_flow": true}),
            r#"{"enrollment_flow":["Incorrect type. Expected pk value, received bool."]}"#.into(),
        ),
        (
            "identification",
            json!({"sources": [MISSING]}),
            format!(r#"{{"sources":["{}"]}}"#, invalid(MISSING)),
        ),
        (
            "identification",
            json!({"sources": "corp"}),
            r#"{"sources":["Expected a list of items but got type \"str\"."]}"#.into(),
        ),
        (
            "identification",
            json!({"captcha_stage": MISSING}),
            format!(r#"{{"captcha_stage":["{}"]}}"#, invalid(MISSING)),
        ),
    ];
    for (kind, extra, want) in cases {
        let mut body = json!({"name": "x", "backends": [INBUILT], "user_fields": ["email"]});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = api.post(&format!("stages/{kind}/"), body).await;
        assert_eq!((r.status, r.text.clone()), (400, want), "{kind} {extra}");
    }
    // Valid references, including the lenient uuid spellings Python accepts.
    let flow = api
        .sim
        .control()
        .create_flow("F", "f", "stage_configuration");
    let upper = flow.to_string().to_uppercase();
    let r = api
        .post(
            "stages/password/",
            json!({"name": "p", "backends": [INBUILT], "configure_flow": upper}),
        )
        .await;
    assert_eq!(r.json["configure_flow"], flow.to_string());
    let r = api
        .post(
            "stages/password/",
            json!({"name": "p2", "backends": [INBUILT], "configure_flow": ""}),
        )
        .await;
    assert_eq!(
        r.json["configure_flow"],
        Value::Null,
        "an empty string clears a reference"
    );
}

#[tokio::test]
async fn deleting_referenced_objects_cascades() {
    let api = api().await;
    let ctl = api.sim.control();
    let flow = ctl
        .create_flow("Recovery", "recovery", "recovery")
        .to_string();
    let source = ctl.create_source("Corp", "corp").to_string();
    let pw = api
        .create(
            "password",
            json!({"name": "pw", "backends": [INBUILT], "configure_flow": flow}),
        )
        .await;
    let ident = api
        .create(
            "identification",
            json!({"name": "id", "user_fields": [], "sources": [source], "password_stage": pw, "recovery_flow": flow}),
        )
        .await;
    let used = api.get(&format!("stages/password/{pw}/used_by/")).await;
    assert_eq!(
        used.json,
        json!([{"app": "authentik_stages_identification", "model_name": "identificationstage", "pk": ident, "name": "Stage id", "action": "set_null"}])
    );
    assert_eq!(
        api.delete(&format!("stages/password/{pw}/")).await.status,
        204
    );
    let s = api.get(&format!("stages/identification/{ident}/")).await;
    assert_eq!(s.json["password_stage"], Value::Null);
    assert_eq!(api.delete("flows/instances/recovery/").await.status, 204);
    let s = api.get(&format!("stages/identification/{ident}/")).await;
    assert_eq!(s.json["recovery_flow"], Value::Null);
    assert_eq!(api.delete("sources/all/corp/").await.status, 204);
    let s = api.get(&format!("stages/identification/{ident}/")).await;
    assert_eq!(
        s.json["sources"],
        json!([]),
        "a stage can end up with neither user_fields nor sources"
    );
}

#[tokio::test]
async fn deleting_a_flow_clears_configure_flow_and_bindings() {
    let api = Api::start(Profile::Current, true).await;
    let pw = &api.sim.control().stages("password")[0];
    assert!(pw["configure_flow"].is_string());
    assert_eq!(pw["flow_set"][0]["slug"], "default-authentication-flow");
    assert_eq!(
        api.delete("flows/instances/default-password-change/")
            .await
            .status,
        204
    );
    assert_eq!(
        api.delete("flows/instances/default-authentication-flow/")
            .await
            .status,
        204
    );
    let pw = api
        .sim
        .control()
        .stage(pw["pk"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(pw["configure_flow"], Value::Null);
    assert_eq!(
        pw["flow_set"],
        json!([]),
        "bindings go with the flow; the stage stays"
    );
}
