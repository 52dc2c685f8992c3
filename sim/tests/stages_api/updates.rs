//! PUT and PATCH semantics.

use crate::helpers::{INBUILT, api};
use serde_json::json;

#[tokio::test]
async fn put_keeps_omitted_fields_and_patch_changes_only_what_is_sent() {
    let api = api().await;
    let pk = api
        .create(
            "user_login",
            json!({"name": "l", "session_duration": "hours=8", "terminate_other_sessions": true}),
        )
        .await;
    let r = api
        .put(&format!("stages/user_login/{pk}/"), json!({"name": "l2"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.json["name"].as_str(), r.json["session_duration"].as_str()),
        (Some("l2"), Some("hours=8"))
    );
    assert_eq!(r.json["terminate_other_sessions"], true);
    let r = api
        .put(
            &format!("stages/user_login/{pk}/"),
            json!({"session_duration": "hours=1"}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, r#"{"name":["This field is required."]}"#)
    );
    let r = api
        .patch(
            &format!("stages/user_login/{pk}/"),
            json!({"remember_me_offset": "days=1"}),
        )
        .await;
    assert_eq!(r.json["name"], "l2");
    assert_eq!(r.json["remember_me_offset"], "days=1");
    // PUT on password still requires backends.
    let pw = api
        .create(
            "password",
            json!({"name": "p", "backends": [INBUILT], "failed_attempts_before_cancel": 9}),
        )
        .await;
    let r = api
        .put(&format!("stages/password/{pw}/"), json!({"name": "p"}))
        .await;
    assert_eq!(r.text, r#"{"backends":["This field is required."]}"#);
    let r = api
        .put(
            &format!("stages/password/{pw}/"),
            json!({"name": "p", "backends": [INBUILT]}),
        )
        .await;
    assert_eq!(
        r.json["failed_attempts_before_cancel"], 9,
        "PUT keeps the stored value"
    );
}
