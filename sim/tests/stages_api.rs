//! Stage endpoints: writes, validation messages, uniqueness, the identification rule,
//! PUT/POST semantics, references and delete cascades.

mod common;

use authentik_sim::Profile;
use common::Api;
use serde_json::{Value, json};

const INBUILT: &str = "authentik.core.auth.InbuiltBackend";
const MISSING: &str = "00000000-0000-4000-8000-000000000000";

async fn api() -> Api {
    Api::start(Profile::Current, false).await
}

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

#[tokio::test]
async fn required_blank_and_type_errors_use_drf_messages() {
    let api = api().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "password",
            json!({}),
            r#"{"name":["This field is required."],"backends":["This field is required."]}"#,
        ),
        (
            "password",
            json!({"name": "  ", "backends": []}),
            r#"{"name":["This field may not be blank."],"backends":["This list may not be empty."]}"#,
        ),
        (
            "password",
            json!({"name": null, "backends": null}),
            r#"{"name":["This field may not be null."],"backends":["This field may not be null."]}"#,
        ),
        (
            "password",
            json!({"name": ["x"], "backends": "x"}),
            r#"{"name":["Not a valid string."],"backends":["Expected a list of items but got type \"str\"."]}"#,
        ),
        (
            "password",
            json!({"name": "p", "backends": [INBUILT, "nope", 3]}),
            r#"{"backends":{"1":["\"nope\" is not a valid choice."],"2":["\"3\" is not a valid choice."]}}"#,
        ),
        (
            "password",
            json!({"name": "p", "backends": [INBUILT], "failed_attempts_before_cancel": "abc"}),
            r#"{"failed_attempts_before_cancel":["A valid integer is required."]}"#,
        ),
        (
            "password",
            json!({"name": "p", "backends": [INBUILT], "failed_attempts_before_cancel": 2147483648_i64}),
            r#"{"failed_attempts_before_cancel":["Ensure this value is less than or equal to 2147483647."]}"#,
        ),
        (
            "password",
            json!({"name": "p", "backends": [INBUILT], "failed_attempts_before_cancel": -2147483649_i64}),
            r#"{"failed_attempts_before_cancel":["Ensure this value is greater than or equal to -2147483648."]}"#,
        ),
        (
            "password",
            json!({"name": "p", "backends": [INBUILT], "allow_show_password": "maybe"}),
            r#"{"allow_show_password":["Must be a valid boolean."]}"#,
        ),
        (
            "user_login",
            json!({"name": "l", "network_binding": "x", "geoip_binding": "mars"}),
            r#"{"network_binding":["\"x\" is not a valid choice."],"geoip_binding":["\"mars\" is not a valid choice."]}"#,
        ),
        (
            "user_login",
            json!({"name": "l", "session_duration": ""}),
            r#"{"session_duration":["This field may not be blank."]}"#,
        ),
        (
            "identification",
            json!({"name": "i", "user_fields": ["phone"]}),
            r#"{"user_fields":{"0":["\"phone\" is not a valid choice."]}}"#,
        ),
        (
            "identification",
            json!({"name": "i", "user_fields": "email"}),
            r#"{"user_fields":["Expected a list of items but got type \"str\"."]}"#,
        ),
    ];
    for (kind, body, want) in cases {
        let r = api.post(&format!("stages/{kind}/"), body.clone()).await;
        assert_eq!((r.status, r.text.as_str()), (400, want), "{kind} {body}");
    }
}

#[tokio::test]
async fn lenient_values_are_accepted_like_drf() {
    let api = api().await;
    let r = api
        .post(
            "stages/password/",
            json!({"name": "  spaced  ", "backends": [INBUILT], "failed_attempts_before_cancel": "7", "allow_show_password": "true"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["name"], "spaced", "names are trimmed");
    assert_eq!(r.json["failed_attempts_before_cancel"], 7);
    assert_eq!(r.json["allow_show_password"], true);
    for (v, want) in [
        (json!(0), false),
        (json!("1"), true),
        (json!("False"), false),
        (json!("yes"), true),
    ] {
        let pk = r.json["pk"].as_str().unwrap_or_default();
        let p = api
            .patch(
                &format!("stages/password/{pk}/"),
                json!({"allow_show_password": v}),
            )
            .await;
        assert_eq!(p.json["allow_show_password"], want, "{v}");
    }
    let r = api
        .post(
            "stages/password/",
            json!({"name": "neg", "backends": [INBUILT], "failed_attempts_before_cancel": -1}),
        )
        .await;
    assert_eq!(
        r.json["failed_attempts_before_cancel"], -1,
        "negative values are accepted"
    );
}

#[tokio::test]
async fn durations_follow_authentiks_grammar() {
    let api = api().await;
    for ok in [
        "seconds=0",
        "hours=1;minutes=30",
        "Hours=-1;minutes=2.5",
        "hours=1; minutes=2",
        "hours=1; minutes=x",
        "weeks=2",
    ] {
        let r = api
            .post(
                "stages/user_login/",
                json!({"name": format!("ok {ok}"), "session_duration": ok}),
            )
            .await;
        assert_eq!(r.status, 201, "{ok}: {}", r.text);
        assert_eq!(r.json["session_duration"], ok, "stored as sent");
    }
    for bad in [
        "forever",
        "fortnights=2",
        "hours=x",
        "1d",
        "hours=1;",
        "hours==1",
        "hours=nan",
    ] {
        let r = api
            .post(
                "stages/user_login/",
                json!({"name": "bad", "remember_device": bad}),
            )
            .await;
        let want = json!({"remember_device": [format!("{} is not in the correct format of 'hours=3;minutes=1'.", bad.trim())]});
        assert_eq!((r.status, &r.json), (400, &want), "{bad}");
    }
    // Python's OverflowError escapes the validator: a server error.
    let r = api
        .post(
            "stages/user_login/",
            json!({"name": "inf", "session_duration": "hours=inf"}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (405, ""));
}

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
