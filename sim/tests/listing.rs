//! Lists: pagination per profile, ordering, search and each kind's filters.

mod common;

use authentik_sim::Profile;
use common::Api;
use serde_json::json;

const INBUILT: &str = "authentik.core.auth.InbuiltBackend";

async fn with_logins(profile: Profile, n: usize) -> Api {
    let api = Api::start(profile, false).await;
    for i in 0..n {
        api.create("user_login", json!({"name": format!("login-{i:03}")}))
            .await;
    }
    api
}

#[tokio::test]
async fn page_sizes_differ_per_profile() {
    for (profile, default, cap) in [
        (Profile::V2023_10, 100, 130),
        (Profile::V2024_4, 100, 130),
        (Profile::Current, 20, 100),
    ] {
        let api = with_logins(profile, 130).await;
        let r = api.get("stages/user_login/").await;
        assert_eq!(
            r.json["results"].as_array().map(Vec::len),
            Some(default),
            "{profile} default"
        );
        assert_eq!(
            r.json["pagination"]["total_pages"],
            130_u64.div_ceil(default as u64),
            "{profile}"
        );
        let r = api.get("stages/user_login/?page_size=1000").await;
        assert_eq!(
            r.json["results"].as_array().map(Vec::len),
            Some(cap),
            "{profile} page_size=1000"
        );
        let r = api.get("stages/user_login/?page_size=abc").await;
        assert_eq!(
            r.json["results"].as_array().map(Vec::len),
            Some(default),
            "{profile} invalid page_size"
        );
        assert_eq!(
            r.json.get("autocomplete").is_some(),
            profile == Profile::Current,
            "{profile} autocomplete"
        );
        if profile == Profile::Current {
            assert_eq!(r.json["autocomplete"], json!({}));
        }
        api.sim.shutdown().await;
    }
}

#[tokio::test]
async fn pages_follow_djangos_paginator() {
    let api = with_logins(Profile::Current, 5).await;
    let r = api.get("stages/user_login/?page_size=2&page=3").await;
    assert_eq!(
        r.json["pagination"],
        json!({"next": 0, "previous": 2, "count": 5, "current": 3, "total_pages": 3, "start_index": 5, "end_index": 5})
    );
    let r = api.get("stages/user_login/?page_size=2&page=last").await;
    assert_eq!(r.json["pagination"]["current"], 3);
    for bad in ["page=4", "page=0", "page=-1", "page=abc"] {
        let r = api
            .get(&format!("stages/user_login/?page_size=2&{bad}"))
            .await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (404, r#"{"detail":"Invalid page."}"#),
            "{bad}"
        );
    }
    let r = api.get("stages/user_login/?name=none").await;
    assert_eq!(
        r.json["pagination"],
        json!({"next": 0, "previous": 0, "count": 0, "current": 1, "total_pages": 1, "start_index": 0, "end_index": 0})
    );
    assert_eq!(r.json["results"], json!([]));
}

#[tokio::test]
async fn ordering_search_and_name_filter() {
    let api = Api::start(Profile::Current, false).await;
    for name in ["beta", "Alpha", "gamma-2", "gamma-1", "delta"] {
        api.create("user_login", json!({"name": name})).await;
    }
    assert_eq!(
        api.names("stages/user_login/").await,
        ["Alpha", "beta", "delta", "gamma-1", "gamma-2"],
        "default: by name"
    );
    assert_eq!(
        api.names("stages/user_login/?ordering=-name").await,
        ["gamma-2", "gamma-1", "delta", "beta", "Alpha"]
    );
    assert_eq!(
        api.names("stages/user_login/?ordering=bogus").await[0],
        "Alpha",
        "unknown terms are dropped"
    );
    assert_eq!(
        api.names("stages/user_login/?search=GAMMA").await,
        ["gamma-1", "gamma-2"],
        "case-insensitive"
    );
    assert_eq!(
        api.names("stages/user_login/?search=gamma%201").await,
        ["gamma-1"],
        "every term must match"
    );
    assert_eq!(
        api.names("stages/user_login/?search=a,-2").await,
        ["gamma-2"]
    );
    assert_eq!(api.names("stages/user_login/?name=beta").await, ["beta"]);
    assert_eq!(
        api.names("stages/user_login/?name=Beta").await,
        Vec::<String>::new(),
        "exact match"
    );
    assert_eq!(
        api.names("stages/user_login/?name=").await.len(),
        5,
        "empty filters are ignored"
    );
    assert_eq!(
        api.names("stages/user_login/?nosuchfilter=1").await.len(),
        5,
        "unknown filters are ignored"
    );
    // stages/all has no default ordering (creation order) but honours `ordering`.
    assert_eq!(
        api.names("stages/all/").await,
        ["beta", "Alpha", "gamma-2", "gamma-1", "delta"]
    );
    assert_eq!(api.names("stages/all/?ordering=name").await[0], "Alpha");
    assert_eq!(api.names("stages/all/?name=delta").await, ["delta"]);
}

#[tokio::test]
async fn kind_filters_check_their_values() {
    let api = Api::start(Profile::Current, false).await;
    let flow = api
        .sim
        .control()
        .create_flow("F", "f", "stage_configuration")
        .to_string();
    let pw = api
        .create("password", json!({"name": "pw", "backends": [INBUILT], "configure_flow": flow, "failed_attempts_before_cancel": 3}))
        .await;
    api.create(
        "password",
        json!({"name": "pw2", "backends": [INBUILT], "allow_show_password": true}),
    )
    .await;
    api.create("identification", json!({"name": "id", "user_fields": ["email"], "password_stage": pw, "case_insensitive_matching": false}))
        .await;
    api.create(
        "identification",
        json!({"name": "id2", "user_fields": ["email"]}),
    )
    .await;
    api.create(
        "user_login",
        json!({"name": "ul", "network_binding": "bind_asn", "terminate_other_sessions": true}),
    )
    .await;
    api.create(
        "user_login",
        json!({"name": "ul2", "session_duration": "hours=2"}),
    )
    .await;

    assert_eq!(
        api.names(&format!("stages/password/?configure_flow={flow}"))
            .await,
        ["pw"]
    );
    assert_eq!(
        api.names("stages/password/?failed_attempts_before_cancel=3")
            .await,
        ["pw"]
    );
    assert_eq!(
        api.names("stages/password/?allow_show_password=TRUE").await,
        ["pw2"]
    );
    assert_eq!(
        api.names("stages/password/?allow_show_password=maybe")
            .await
            .len(),
        2,
        "bad booleans are ignored"
    );
    assert_eq!(
        api.names(&format!("stages/identification/?password_stage={pw}"))
            .await,
        ["id"]
    );
    assert_eq!(
        api.names("stages/identification/?case_insensitive_matching=0")
            .await,
        ["id"]
    );
    assert_eq!(
        api.names("stages/user_login/?network_binding=bind_asn")
            .await,
        ["ul"]
    );
    assert_eq!(
        api.names("stages/user_login/?terminate_other_sessions=false")
            .await,
        ["ul2"]
    );
    assert_eq!(
        api.names("stages/user_login/?session_duration=hours%3D2")
            .await,
        ["ul2"]
    );

    let choice = r#"["Select a valid choice. That choice is not one of the available choices."]"#;
    let cases = [
        ("stages/password/?configure_flow=00000000-0000-4000-8000-000000000000", format!(r#"{{"configure_flow":{choice}}}"#)),
        ("stages/password/?configure_flow=nope", format!(r#"{{"configure_flow":{choice}}}"#)),
        ("stages/password/?failed_attempts_before_cancel=x", r#"{"failed_attempts_before_cancel":["Enter a number."]}"#.into()),
        ("stages/user_login/?network_binding=x", r#"{"network_binding":["Select a valid choice. x is not one of the available choices."]}"#.into()),
        ("stages/user_login/?stage_uuid=x", r#"{"stage_uuid":["Enter a valid UUID."]}"#.into()),
    ];
    for (path, want) in cases {
        let r = api.get(path).await;
        assert_eq!((r.status, r.text.clone()), (400, want), "{path}");
    }
    // A password filter given an identification stage's pk is "not one of the choices".
    let id = api.sim.control().stages("identification")[0]["pk"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = api
        .get(&format!("stages/identification/?password_stage={id}"))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn older_profiles_lack_newer_filters_and_use_simple_search() {
    let api = Api::start(Profile::V2023_10, false).await;
    api.create("user_login", json!({"name": "a b"})).await;
    api.create("user_login", json!({"name": "b a"})).await;
    // network_binding does not exist on 2023.10: the parameter is ignored, not refused.
    let r = api.get("stages/user_login/?network_binding=x").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        api.names("stages/user_login/?search=%22a%20b%22")
            .await
            .len(),
        0,
        "quotes are literal before DRF 3.15"
    );
    let current = Api::start(Profile::Current, false).await;
    current.create("user_login", json!({"name": "a b"})).await;
    current.create("user_login", json!({"name": "b a"})).await;
    assert_eq!(
        current.names("stages/user_login/?search=%22a%20b%22").await,
        ["a b"],
        "quoted phrase"
    );
}
