//! Validation: DRF's error messages, lenient values, durations.

use crate::helpers::{INBUILT, api};
use serde_json::{Value, json};

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
