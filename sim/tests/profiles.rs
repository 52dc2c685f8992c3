//! Authentication, version profiles, seeding, flows and sources.

mod common;

use authentik_sim::Profile;
use common::Api;
use serde_json::{Value, json};

const INBUILT: &str = "authentik.core.auth.InbuiltBackend";
const KERBEROS: &str = "authentik.sources.kerberos.auth.KerberosBackend";
const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;
const NO_PERMISSION: &str = r#"{"detail":"You do not have permission to perform this action."}"#;
const INVALID: &str = r#"{"detail":"Token invalid/expired"}"#;

#[tokio::test]
async fn bearer_tokens_are_checked_like_authentik() {
    for profile in [Profile::V2023_10, Profile::V2024_4, Profile::Current] {
        let api = Api::start(profile, false).await;
        let pk = api.create("user_login", json!({"name": "x"})).await;
        let detail = format!("stages/user_login/{pk}/");
        let get = |path: String, auth: Option<&'static str>| {
            let api = &api;
            async move {
                let headers: Vec<(&str, &str)> =
                    auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
                api.raw("GET", &path, &headers, "").await
            }
        };
        for ok in [
            "Bearer test-token",
            "bearer test-token",
            "BEARER test-token ",
            "  Bearer test-token",
        ] {
            assert_eq!(
                get("stages/user_login/".into(), Some(ok)).await.status,
                200,
                "{profile} {ok:?}"
            );
        }
        for (auth, want) in [
            (Some("Bearer wrong"), INVALID),
            (Some("Bearer  test-token"), INVALID),
            (None, NOT_PROVIDED),
            (Some("Bearer"), NOT_PROVIDED),
            (Some("Bearer    "), NOT_PROVIDED),
        ] {
            let r = get("stages/user_login/".into(), auth).await;
            assert_eq!(
                (r.status, r.text.as_str()),
                (403, want),
                "{profile} {auth:?}"
            );
        }
        let r = get("stages/user_login/".into(), Some("Token test-token")).await;
        let want = if profile == Profile::Current {
            NOT_PROVIDED
        } else {
            r#"{"detail":"Unsupported authentication type"}"#
        };
        assert_eq!(r.text, want, "{profile} non-Bearer scheme");
        // Anonymous detail routes: a different message from 2024.4 on.
        let want = if profile == Profile::V2023_10 {
            NOT_PROVIDED
        } else {
            NO_PERMISSION
        };
        for path in [
            detail.clone(),
            format!("{detail}used_by/"),
            "stages/user_login/not-a-uuid/".into(),
        ] {
            let r = get(path.clone(), None).await;
            assert_eq!((r.status, r.text.as_str()), (403, want), "{profile} {path}");
        }
        let r = api.raw("DELETE", &detail, &[], "").await;
        assert_eq!(r.text, want, "{profile} anonymous DELETE");
        assert_eq!(
            get(detail.clone(), Some("Bearer wrong")).await.text,
            INVALID
        );
        assert_eq!(get("admin/version/".into(), None).await.text, NOT_PROVIDED);
        let r = api
            .raw(
                "POST",
                "stages/user_login/",
                &[("Content-Type", "application/json")],
                r#"{"name":"y"}"#,
            )
            .await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (403, NOT_PROVIDED),
            "{profile} anonymous create"
        );
        assert_eq!(api.sim.control().stages("user_login").len(), 1);
    }
}

#[tokio::test]
async fn each_profile_has_its_releases_fields() {
    let fields = |v: &Value| {
        v.as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let has = |v: &Value, k: &str| fields(v).iter().any(|f| f == k);
    for profile in [Profile::V2023_10, Profile::V2024_4, Profile::Current] {
        let api = Api::start(profile, false).await;
        let current = profile == Profile::Current;
        let pw = api
            .post(
                "stages/password/",
                json!({"name": "pw", "backends": [INBUILT], "allow_show_password": true}),
            )
            .await;
        assert_eq!(pw.status, 201);
        assert_eq!(has(&pw.json, "allow_show_password"), current, "{profile}");
        let id = api
            .post(
                "stages/identification/",
                json!({"name": "id", "user_fields": ["email"], "pretend_user_exists": false, "captcha_stage": null}),
            )
            .await;
        assert_eq!(id.status, 201, "{profile}: {}", id.text);
        assert_eq!(
            has(&id.json, "pretend_user_exists"),
            profile >= Profile::V2024_4,
            "{profile}"
        );
        for k in ["captcha_stage", "webauthn_stage", "enable_remember_me"] {
            assert_eq!(has(&id.json, k), current, "{profile} {k}");
        }
        let ul = api
            .post(
                "stages/user_login/",
                json!({"name": "ul", "network_binding": "bind_asn"}),
            )
            .await;
        assert_eq!(
            has(&ul.json, "network_binding"),
            profile >= Profile::V2024_4,
            "{profile}"
        );
        assert_eq!(has(&ul.json, "remember_device"), current, "{profile}");
        // The Kerberos backend arrived in 2024.10.
        let k = api
            .post(
                "stages/password/",
                json!({"name": "krb", "backends": [KERBEROS]}),
            )
            .await;
        assert_eq!(k.status == 201, current, "{profile} kerberos: {}", k.text);
        // 404 wording.
        let r = api
            .get("stages/password/00000000-0000-4000-8000-000000000000/")
            .await;
        let want = if current {
            r#"{"detail":"No PasswordStage matches the given query."}"#
        } else {
            r#"{"detail":"Not found."}"#
        };
        assert_eq!(r.text, want, "{profile}");
        let v = api.get("admin/version/").await;
        assert_eq!(v.json["version_current"], profile.version());
    }
}

#[tokio::test]
async fn writing_flow_set_fails_on_older_releases_and_is_ignored_now() {
    for profile in [Profile::V2023_10, Profile::V2024_4] {
        let api = Api::start(profile, true).await;
        let new_flow = json!({"name": "n", "slug": "brand-new", "title": "t", "designation": "authentication"});
        for flow_set in [json!([]), json!([new_flow])] {
            let r = api
                .post(
                    "stages/user_login/",
                    json!({"name": "fs", "flow_set": flow_set}),
                )
                .await;
            assert_eq!(
                (r.status, r.text.as_str(), r.ctype.as_deref()),
                (405, "", Some("text/html; charset=utf-8")),
                "{profile}"
            );
        }
        assert!(
            api.sim
                .control()
                .stages("user_login")
                .iter()
                .all(|s| s["name"] != "fs"),
            "nothing was created"
        );
        let r = api
            .post(
                "stages/user_login/",
                json!({"name": "fs", "flow_set": null}),
            )
            .await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (400, r#"{"flow_set":["This field may not be null."]}"#)
        );
        let r = api
            .post(
                "stages/user_login/",
                json!({"name": "fs", "flow_set": [{"pk": "x"}]}),
            )
            .await;
        assert_eq!(
            r.text,
            r#"{"flow_set":[{"name":["This field is required."],"slug":["This field is required."],"title":["This field is required."],"designation":["This field is required."]}]}"#
        );
        let copied = api.get("stages/password/").await.json["results"][0]["flow_set"].clone();
        let r = api
            .post(
                "stages/user_login/",
                json!({"name": "fs", "flow_set": copied}),
            )
            .await;
        assert_eq!(
            r.text, r#"{"flow_set":[{"slug":["Flow with this slug already exists."]}]}"#,
            "a copied flow"
        );
        let pk = api.create("user_login", json!({"name": "ok"})).await;
        let r = api
            .patch(&format!("stages/user_login/{pk}/"), json!({"flow_set": []}))
            .await;
        assert_eq!((r.status, r.text.as_str()), (405, ""), "PATCH too");
    }
    let api = Api::start(Profile::Current, false).await;
    let r = api
        .post(
            "stages/user_login/",
            json!({"name": "fs", "flow_set": [{"pk": "x"}]}),
        )
        .await;
    assert_eq!((r.status, r.json["flow_set"].clone()), (201, json!([])));
}

#[tokio::test]
async fn used_by_actions_are_upper_case_on_older_releases() {
    for (profile, flow_action, binding_action) in [
        (Profile::V2024_4, "CASCADE_MANY", "CASCADE"),
        (Profile::Current, "cascade_many", "cascade"),
    ] {
        let api = Api::start(profile, true).await;
        let login = api.sim.control().stages("user_login");
        let pk = login[0]["pk"].as_str().unwrap_or_default();
        let r = api.get(&format!("stages/user_login/{pk}/used_by/")).await;
        let items = r.json.as_array().cloned().unwrap_or_default();
        let flows: Vec<_> = items.iter().filter(|i| i["model_name"] == "flow").collect();
        let bindings: Vec<_> = items
            .iter()
            .filter(|i| i["model_name"] == "flowstagebinding")
            .collect();
        assert_eq!(
            (flows.len(), bindings.len()),
            (2, 2),
            "{profile}: {}",
            r.text
        );
        assert_eq!(flows[0]["action"], flow_action);
        // As the fresh installs the seed comes from list it.
        let first = if profile == Profile::Current {
            "Flow Welcome to authentik! (default-authentication-flow)"
        } else {
            "Flow default-oobe-setup (initial-setup)"
        };
        assert_eq!(flows[0]["name"], first);
        assert_eq!(bindings[0]["action"], binding_action);
        assert!(
            bindings[0]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Flow-stage binding #100 to "))
        );
        let r = api.get(&format!("stages/all/{pk}/used_by/")).await;
        assert_eq!(r.json.as_array().map(Vec::len), Some(4));
    }
}

#[tokio::test]
async fn seeding_creates_a_fresh_installs_objects() {
    let api = Api::start(Profile::Current, true).await;
    let names = api.names("stages/all/?ordering=name").await;
    // Every stage of a real 2026.2.2 fresh install (`seed/fresh-install-2026.2.2.json`).
    assert_eq!(
        names,
        [
            "default-authentication-identification",
            "default-authentication-login",
            "default-authentication-mfa-validation",
            "default-authentication-password",
            "default-authenticator-static-setup",
            "default-authenticator-totp-setup",
            "default-authenticator-webauthn-setup",
            "default-invalidation-logout",
            "default-password-change-prompt",
            "default-password-change-write",
            "default-provider-authorization-consent",
            "default-source-authentication-login",
            "default-source-enrollment-login",
            "default-source-enrollment-prompt",
            "default-source-enrollment-write",
            "default-user-settings",
            "default-user-settings-write",
            "stage-default-oobe-password",
        ]
    );
    // The 13 default flows of 2023.10/2024.4, plus the provider invalidation flow (2024.10+).
    let flows = api.get("flows/instances/").await;
    assert_eq!(flows.json["pagination"]["count"], 14, "{}", flows.text);
    let auth = api.sim.control().bindings("default-authentication-flow");
    let bound: Vec<_> = auth
        .iter()
        .map(|b| (b["order"].clone(), b["stage_obj"]["name"].clone()))
        .collect();
    assert_eq!(
        bound,
        [
            (json!(10), json!("default-authentication-identification")),
            (json!(20), json!("default-authentication-password")),
            (json!(30), json!("default-authentication-mfa-validation")),
            (json!(100), json!("default-authentication-login")),
        ]
    );
    let r = api
        .post(
            "stages/user_login/",
            json!({"name": "default-authentication-password"}),
        )
        .await;
    assert_eq!(
        r.text, r#"{"name":["stage with this name already exists."]}"#,
        "adopting needs a lookup"
    );
    let pw = api.get("stages/password/").await.json["results"][0].clone();
    assert_eq!(
        pw["backends"],
        json!([
            INBUILT,
            KERBEROS,
            "authentik.sources.ldap.auth.LDAPBackend",
            "authentik.core.auth.TokenBackend"
        ])
    );
    let change = api.get("flows/instances/default-password-change/").await;
    assert_eq!(pw["configure_flow"], change.json["pk"]);
    let r = api.get("sources/all/?slug=authentik-built-in").await;
    assert_eq!(r.json["pagination"]["count"], 1);
    assert_eq!(
        r.json["results"][0]["managed"],
        "goauthentik.io/sources/inbuilt"
    );
    let all = api.get("stages/all/").await.json["results"][0].clone();
    assert_eq!(
        all.as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
            .len(),
        7,
        "stages/all renders only the generic fields: {all}"
    );
    let empty = Api::start(Profile::Current, false).await;
    assert_eq!(
        empty.get("stages/all/").await.json["pagination"]["count"],
        0
    );
    assert_eq!(
        empty.get("sources/all/").await.json["pagination"]["count"],
        0
    );
}

#[tokio::test]
async fn flows_are_created_listed_and_deleted_by_slug() {
    for profile in [Profile::V2024_4, Profile::Current] {
        let api = Api::start(profile, false).await;
        let r = api.post("flows/instances/", json!({"name": "n"})).await;
        assert_eq!(
            r.text,
            r#"{"slug":["This field is required."],"title":["This field is required."],"designation":["This field is required."]}"#
        );
        let body = json!({"name": "My flow", "slug": "my-flow", "title": "T", "designation": "authentication"});
        let r = api.post("flows/instances/", body.clone()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let pk = r.json["pk"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            r.json["export_url"],
            "/api/v3/flows/instances/my-flow/export/"
        );
        let r = api.post("flows/instances/", body).await;
        assert_eq!(
            r.text,
            r#"{"slug":["Flow with this slug already exists."]}"#
        );
        let r = api
            .post(
                "flows/instances/",
                json!({"name": "n", "slug": "bad slug", "title": "t", "designation": "nope"}),
            )
            .await;
        // Django 5 (2026.x) quotes the word typographically (flows transcript, step 9).
        let slug = if profile == Profile::Current {
            "“slug”"
        } else {
            "\\\"slug\\\""
        };
        assert_eq!(
            r.text,
            format!(
                r#"{{"slug":["Enter a valid {slug} consisting of letters, numbers, underscores or hyphens."],"designation":["\"nope\" is not a valid choice."]}}"#
            )
        );
        api.post(
            "flows/instances/",
            json!({"name": "Other", "slug": "other", "title": "T", "designation": "enrollment"}),
        )
        .await;
        let slugs = |r: &common::Resp| {
            r.json["results"]
                .as_array()
                .map(|a| a.iter().map(|f| f["slug"].clone()).collect::<Vec<_>>())
        };
        assert_eq!(
            slugs(&api.get("flows/instances/?slug=my-flow").await),
            Some(vec![json!("my-flow")])
        );
        assert_eq!(
            slugs(&api.get("flows/instances/?designation=enrollment").await),
            Some(vec![json!("other")])
        );
        let r = api.get("flows/instances/?designation=bogus").await;
        assert_eq!(
            r.text,
            r#"{"designation":["Select a valid choice. bogus is not one of the available choices."]}"#
        );
        assert_eq!(
            api.get("flows/instances/my-flow/").await.json["pk"],
            pk.as_str()
        );
        let r = api.get(&format!("flows/instances/{pk}/")).await;
        assert_eq!(r.status, 404, "flows are looked up by slug, not pk");
        let r = api
            .patch("flows/instances/my-flow/", json!({"title": "New"}))
            .await;
        assert_eq!(r.json["title"], "New");
        assert_eq!(api.delete("flows/instances/my-flow/").await.status, 204);
        let r = api.get("flows/instances/my-flow/").await;
        let want = if profile == Profile::Current {
            r#"{"detail":"No Flow matches the given query."}"#
        } else {
            r#"{"detail":"Not found."}"#
        };
        assert_eq!(r.text, want);
    }
}

#[tokio::test]
async fn sources_are_listed_by_slug() {
    let api = Api::start(Profile::V2024_4, true).await;
    let pk = api
        .sim
        .control()
        .create_source("Corp LDAP", "corp-ldap")
        .to_string();
    let r = api.get("sources/all/?slug=corp-ldap").await;
    assert_eq!(r.json["pagination"]["count"], 1);
    assert_eq!(r.json["results"][0]["pk"], pk.as_str());
    assert_eq!(api.get("sources/all/").await.json["pagination"]["count"], 2);
    assert_eq!(
        api.get(&format!("sources/all/?pk={pk}")).await.json["pagination"]["count"],
        2,
        "?pk= is not a filter"
    );
    assert_eq!(
        api.get("sources/all/corp-ldap/").await.json["name"],
        "Corp LDAP"
    );
    assert_eq!(
        api.post("sources/all/", json!({"name": "x"})).await.status,
        405
    );
}
