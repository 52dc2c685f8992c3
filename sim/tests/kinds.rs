//! Behaviour of the newer kinds that the transcripts do not exercise: references and
//! cascades between kinds, write-only fields, release differences, PATCH rules.

mod common;

use authentik_sim::Profile;
use common::Api;
use serde_json::{Value, json};

#[tokio::test]
async fn references_between_kinds_cascade_on_delete() {
    let api = Api::start(Profile::V2024_4, false).await;
    let prompt = api
        .post(
            "stages/prompt/prompts/",
            json!({"name": "p", "field_key": "k", "label": "L", "type": "text"}),
        )
        .await
        .json["pk"]
        .clone();
    let policy = api
        .post(
            "policies/expression/",
            json!({"name": "x", "expression": "return 1"}),
        )
        .await
        .json["pk"]
        .clone();
    let stage = api
        .create(
            "prompt/stages",
            json!({"name": "ps", "fields": [prompt], "validation_policies": [policy]}),
        )
        .await;
    let used = api
        .get(&format!(
            "stages/prompt/prompts/{}/used_by/",
            prompt.as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(used.json[0]["action"], "CASCADE_MANY", "{}", used.text);
    let r = api
        .get(&format!(
            "policies/all/{}/",
            policy.as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(
        r.json["bound_to"], 1,
        "a prompt stage's validation policy counts"
    );
    api.delete(&format!(
        "policies/all/{}/",
        policy.as_str().unwrap_or_default()
    ))
    .await;
    api.delete(&format!(
        "stages/prompt/prompts/{}/",
        prompt.as_str().unwrap_or_default()
    ))
    .await;
    let s = api
        .get(&format!("stages/prompt/stages/{stage}/"))
        .await
        .json;
    assert_eq!(
        (s["fields"].clone(), s["validation_policies"].clone()),
        (json!([]), json!([]))
    );

    let group = api.post("core/groups/", json!({"name": "g"})).await.json["pk"].clone();
    let write = api
        .create(
            "user_write",
            json!({"name": "w", "create_users_group": group}),
        )
        .await;
    let flow = api
        .post(
            "flows/instances/",
            json!({"name": "F", "slug": "f", "title": "T", "designation": "enrollment"}),
        )
        .await
        .json;
    let totp = api
        .create(
            "authenticator/totp",
            json!({"name": "t", "digits": 6, "configure_flow": flow["pk"]}),
        )
        .await;
    let r = api
        .post(
            "policies/bindings/",
            json!({"group": group, "target": flow["pk"], "order": 0}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let g = group.as_str().unwrap_or_default();
    assert_eq!(
        api.get("core/groups/?name=g").await.json["pagination"]["count"],
        1
    );
    assert_eq!(api.delete(&format!("core/groups/{g}/")).await.status, 204);
    let w = api.get(&format!("stages/user_write/{write}/")).await.json;
    assert_eq!(w["create_users_group"], Value::Null);
    assert_eq!(
        api.get("policies/bindings/").await.json["pagination"]["count"],
        0
    );
    api.delete("flows/instances/f/").await;
    let t = api
        .get(&format!("stages/authenticator/totp/{totp}/"))
        .await
        .json;
    assert_eq!(t["configure_flow"], Value::Null);
}

#[tokio::test]
async fn write_only_secrets_are_never_rendered() {
    let api = Api::start(Profile::Current, false).await;
    let r = api
        .post(
            "stages/captcha/",
            json!({"name": "c", "public_key": "pub", "private_key": "s3cret"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let e = api
        .post("stages/email/", json!({"name": "e", "password": "s3cret"}))
        .await;
    assert_eq!(e.status, 201, "{}", e.text);
    for path in [
        "stages/captcha/",
        "stages/email/",
        "stages/all/",
        "events/events/",
    ] {
        let r = api.get(path).await;
        assert!(!r.text.contains("s3cret"), "{path}: {}", r.text);
    }
    let r = api
        .post("stages/captcha/", json!({"name": "c2", "public_key": "p"}))
        .await;
    assert_eq!(r.text, r#"{"private_key":["This field is required."]}"#);
}

#[tokio::test]
async fn email_token_expiry_is_minutes_before_2026_and_a_duration_after() {
    let api = Api::start(Profile::V2024_4, false).await;
    let pk = api
        .create("email", json!({"name": "e", "token_expiry": 45}))
        .await;
    api.sim.control().upgrade(Profile::Current);
    let r = api.get(&format!("stages/email/{pk}/")).await;
    assert_eq!(r.json["token_expiry"], "minutes=45", "{}", r.text);
    let r = api
        .patch(&format!("stages/email/{pk}/"), json!({"token_expiry": 60}))
        .await;
    assert_eq!(
        r.text,
        r#"{"token_expiry":["60 is not in the correct format of 'hours=3;minutes=1'."]}"#
    );
}

#[tokio::test]
async fn body_only_rules_refuse_partial_updates() {
    for profile in [Profile::V2024_4, Profile::Current] {
        let api = Api::start(profile, false).await;
        let rep = api
            .post(
                "policies/reputation/",
                json!({"name": "r", "check_ip": true, "check_username": false}),
            )
            .await
            .json["pk"]
            .clone();
        let r = api
            .patch(
                &format!("policies/reputation/{}/", rep.as_str().unwrap_or_default()),
                json!({"threshold": 3}),
            )
            .await;
        assert_eq!(
            r.text, r#"{"non_field_errors":["Either IP or Username must be checked"]}"#,
            "{profile}"
        );
        let flow = api
            .post(
                "flows/instances/",
                json!({"name": "F", "slug": "f", "title": "T", "designation": "enrollment"}),
            )
            .await
            .json;
        let policy = api
            .post(
                "policies/expression/",
                json!({"name": "x", "expression": "return 1"}),
            )
            .await
            .json["pk"]
            .clone();
        let b = api
            .post(
                "policies/bindings/",
                json!({"policy": policy, "target": flow["pk"], "order": 0}),
            )
            .await;
        assert_eq!(b.status, 201, "{}", b.text);
        let pb = b.json["pk"].as_str().unwrap_or_default().to_string();
        // A PATCH must carry the bound policy/group/user; on current also the target.
        let r = api
            .patch(
                &format!("policies/bindings/{pb}/"),
                json!({"order": 5, "policy": policy}),
            )
            .await;
        if profile == Profile::Current {
            assert_eq!((r.status, r.text.as_str()), (405, ""));
            let r = api
                .patch(
                    &format!("policies/bindings/{pb}/"),
                    json!({"order": 5, "policy": policy, "target": flow["pk"]}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        } else {
            assert_eq!(r.status, 200, "{}", r.text);
            let r = api
                .patch(&format!("policies/bindings/{pb}/"), json!({"order": 6}))
                .await;
            assert_eq!(
                r.text,
                r#"{"non_field_errors":["One of 'policy', 'group' or 'user' must be set."]}"#
            );
        }
    }
}

#[tokio::test]
async fn redirect_stages_exist_on_current_only() {
    let old = Api::start(Profile::V2024_4, false).await;
    assert_eq!(old.get("stages/redirect/").await.status, 404);
    let r = old.post("stages/redirect/", json!({"name": "r"})).await;
    assert_eq!((r.status, r.text.as_str()), (405, ""));
    let new = Api::start(Profile::Current, false).await;
    let r = new
        .post("stages/redirect/", json!({"name": "r", "mode": "static"}))
        .await;
    assert_eq!(
        r.text,
        r#"{"non_field_errors":["Target URL should be present when mode is Static."]}"#
    );
    let r = new.call("OPTIONS", "stages/redirect/", None).await;
    let fields = &r.json["actions"]["POST"];
    for f in ["keep_context", "mode", "target_static", "target_flow"] {
        assert!(fields.get(f).is_some(), "{f}: {}", r.text);
    }
    assert_eq!(fields["mode"]["required"], true);
}
