//! Routing and status codes: detail routes, request bodies, trailing slashes.

use crate::helpers::{INBUILT, MISSING, api};
use serde_json::json;

#[tokio::test]
async fn detail_routes_answer_404_and_405_like_drf() {
    let api = api().await;
    let ident = api
        .create(
            "identification",
            json!({"name": "i", "user_fields": ["email"]}),
        )
        .await;
    let not_found = r#"{"detail":"No PasswordStage matches the given query."}"#;
    for path in [
        format!("stages/password/{MISSING}/"),
        format!("stages/password/{ident}/"),
        format!("stages/password/{MISSING}/used_by/"),
    ] {
        let r = api.get(&path).await;
        assert_eq!((r.status, r.text.as_str()), (404, not_found), "{path}");
    }
    let r = api.get("stages/password/not-a-uuid/").await;
    assert_eq!(
        r.text, r#"{"detail":"Not found."}"#,
        "a malformed pk is always 'Not found.'"
    );
    let r = api
        .patch(&format!("stages/password/{MISSING}/"), json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 404);
    let r = api
        .raw(
            "PATCH",
            &format!("stages/password/{MISSING}/"),
            &[("Authorization", "Bearer test-token")],
            "{bad",
        )
        .await;
    assert_eq!(r.status, 404, "the lookup comes before the body");
    let r = api.delete(&format!("stages/identification/{ident}/")).await;
    assert_eq!(
        (r.status, r.text.as_str(), r.ctype.as_deref()),
        (204, "", None)
    );
    assert_eq!(
        api.delete(&format!("stages/identification/{ident}/"))
            .await
            .status,
        404
    );
    let r = api
        .post(&format!("stages/password/{MISSING}/"), json!({}))
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (405, r#"{"detail":"Method \"POST\" not allowed."}"#)
    );
    assert_eq!(
        r.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, PUT, PATCH, DELETE, HEAD, OPTIONS")
    );
    let r = api.call("DELETE", "stages/password/", None).await;
    assert_eq!(r.text, r#"{"detail":"Method \"DELETE\" not allowed."}"#);
}

#[tokio::test]
async fn bodies_must_be_json_objects() {
    let api = api().await;
    let auth = ("Authorization", "Bearer test-token");
    let json_ct = ("Content-Type", "application/json");
    let r = api
        .raw(
            "POST",
            "stages/user_login/",
            &[auth, ("Content-Type", "text/plain")],
            "{}",
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            415,
            r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#
        )
    );
    let r = api
        .raw("POST", "stages/user_login/", &[auth], r#"{"name":"x"}"#)
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            415,
            r#"{"detail":"Unsupported media type \"\" in request."}"#
        )
    );
    let r = api
        .raw(
            "POST",
            "stages/user_login/",
            &[auth, ("Content-Type", "application/x-www-form-urlencoded")],
            "name=x",
        )
        .await;
    assert_eq!(r.status, 415);
    let r = api
        .raw("POST", "stages/user_login/", &[auth, json_ct], "")
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, r#"{"name":["This field is required."]}"#),
        "an empty body is {{}}"
    );
    let r = api
        .raw(
            "POST",
            "stages/user_login/",
            &[auth, json_ct],
            r#"{"name": "x",}"#,
        )
        .await;
    assert_eq!(
        r.text,
        r#"{"detail":"JSON parse error - Illegal trailing comma before end of object: line 1 column 13 (char 12)"}"#
    );
    let r = api
        .raw("POST", "stages/user_login/", &[auth, json_ct], "[1]")
        .await;
    assert_eq!(
        r.text,
        r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#
    );
    let r = api
        .raw("POST", "stages/user_login/", &[auth, json_ct], "null")
        .await;
    assert_eq!(r.text, r#"{"non_field_errors":["No data provided"]}"#);
    let r = api
        .raw(
            "POST",
            "stages/user_login/",
            &[auth, ("Content-Type", "application/json; charset=utf-8")],
            r#"{"name":"ok"}"#,
        )
        .await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn missing_trailing_slash_is_not_routed() {
    let api = api().await;
    let r = api.get("stages/password").await;
    assert_eq!(
        (r.status, r.ctype.as_deref()),
        (404, Some("text/html; charset=utf-8"))
    );
    assert!(r.text.contains("<!DOCTYPE html>"));
    let r = api
        .post(
            "stages/password",
            json!({"name": "x", "backends": [INBUILT]}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str(), r.ctype.as_deref()),
        (405, "", Some("text/html; charset=utf-8"))
    );
    assert!(api.sim.control().stages("password").is_empty());
    let r = api.get("no/such/route/").await;
    assert_eq!(r.status, 404);
}
