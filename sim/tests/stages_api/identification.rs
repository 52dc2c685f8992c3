//! The identification stage's rule: user fields or sources.

use crate::helpers::api;
use serde_json::json;

#[tokio::test]
async fn identification_rule_looks_at_the_request_body_only() {
    let api = api().await;
    let source = api.sim.control().create_source("Corp", "corp").to_string();
    let rule = r#"{"non_field_errors":["When no user fields are selected, at least one source must be selected"]}"#;
    let r = api
        .post(
            "stages/identification/",
            json!({"name": "i", "user_fields": []}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (400, rule));
    let r = api
        .post(
            "stages/identification/",
            json!({"name": "i", "sources": [source], "user_fields": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pk = r.json["pk"].as_str().unwrap_or_default().to_string();
    // The stored stage is valid, but a PATCH without either key is refused.
    let r = api
        .patch(
            &format!("stages/identification/{pk}/"),
            json!({"show_matched_user": false}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (400, rule));
    let r = api
        .put(
            &format!("stages/identification/{pk}/"),
            json!({"name": "i"}),
        )
        .await;
    assert_eq!(r.text, rule);
    let r = api
        .patch(
            &format!("stages/identification/{pk}/"),
            json!({"sources": [source], "show_matched_user": false}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["show_matched_user"], false);
    // Field errors come first: the rule only runs on valid fields.
    let r = api
        .post(
            "stages/identification/",
            json!({"name": "", "user_fields": []}),
        )
        .await;
    assert_eq!(r.text, r#"{"name":["This field may not be blank."]}"#);
    // Omitting user_fields (with a source) passes validation but fails in the database.
    let r = api
        .post(
            "stages/identification/",
            json!({"name": "nouf", "sources": [source]}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (405, ""));
}
