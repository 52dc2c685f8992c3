//! Stage names are unique across kinds.

use crate::helpers::{INBUILT, api};
use serde_json::json;

#[tokio::test]
async fn stage_names_are_unique_across_kinds_and_case_sensitive() {
    let api = api().await;
    let pw = api
        .create("password", json!({"name": "shared", "backends": [INBUILT]}))
        .await;
    let dup = r#"{"name":["stage with this name already exists."]}"#;
    let r = api
        .post("stages/user_login/", json!({"name": "shared"}))
        .await;
    assert_eq!((r.status, r.text.as_str()), (400, dup));
    let r = api
        .post(
            "stages/identification/",
            json!({"name": "shared ", "user_fields": ["email"]}),
        )
        .await;
    assert_eq!(r.text, dup, "the trimmed name collides");
    let r = api
        .post("stages/user_login/", json!({"name": "SHARED"}))
        .await;
    assert_eq!(r.status, 201, "names compare case-sensitively");
    let login = r.json["pk"].as_str().unwrap_or_default().to_string();
    let r = api
        .patch(
            &format!("stages/user_login/{login}/"),
            json!({"name": "shared"}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, dup),
        "renaming onto another stage's name"
    );
    let r = api
        .put(
            &format!("stages/password/{pw}/"),
            json!({"name": "shared", "backends": [INBUILT]}),
        )
        .await;
    assert_eq!(r.status, 200, "keeping its own name is fine");
}
