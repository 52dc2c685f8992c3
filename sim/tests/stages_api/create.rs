//! Creating stages: model defaults, field order, ignored keys.

use crate::helpers::{INBUILT, MISSING, api};
use serde_json::{Value, json};

#[tokio::test]
async fn create_applies_model_defaults_and_returns_every_field_in_order() {
    let api = api().await;
    let r = api
        .post("stages/user_login/", json!({"name": "login"}))
        .await;
    assert_eq!(r.status, 201);
    let pk = r.json["pk"].as_str().unwrap_or_default();
    let want = format!(
        r#"{{"pk":"{pk}","name":"login","component":"ak-stage-user-login-form","verbose_name":"User Login Stage","verbose_name_plural":"User Login Stages","meta_model_name":"authentik_stages_user_login.userloginstage","flow_set":[],"session_duration":"seconds=0","terminate_other_sessions":false,"remember_me_offset":"seconds=0","network_binding":"no_binding","geoip_binding":"no_binding","remember_device":"days=30"}}"#
    );
    assert_eq!(r.text, want);
    let r = api
        .post(
            "stages/password/",
            json!({"name": "pw", "backends": [INBUILT]}),
        )
        .await;
    assert_eq!(r.json["failed_attempts_before_cancel"], 5);
    assert_eq!(r.json["allow_show_password"], false);
    assert_eq!(r.json["configure_flow"], Value::Null);
    let r = api
        .post(
            "stages/identification/",
            json!({"name": "id", "user_fields": ["email"]}),
        )
        .await;
    for (k, v) in [
        ("case_insensitive_matching", json!(true)),
        ("show_matched_user", json!(true)),
        ("pretend_user_exists", json!(true)),
        ("enable_remember_me", json!(false)),
        ("show_source_labels", json!(false)),
        ("sources", json!([])),
        ("captcha_stage", Value::Null),
        ("webauthn_stage", Value::Null),
    ] {
        assert_eq!(r.json[k], v, "{k}");
    }
}

#[tokio::test]
async fn unknown_and_read_only_keys_are_ignored() {
    let api = api().await;
    let r = api
        .post(
            "stages/password/",
            json!({"name": "p", "backends": [INBUILT], "pk": MISSING, "component": "x", "verbose_name": "y",
                   "meta_model_name": "z", "flow_set": [], "no_such_field": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_ne!(r.json["pk"], MISSING);
    assert_eq!(r.json["component"], "ak-stage-password-form");
    assert_eq!(r.json["flow_set"], json!([]));
    assert!(r.json.get("no_such_field").is_none());
}
