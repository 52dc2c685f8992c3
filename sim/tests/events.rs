//! The event log: who made a change, what a cascade records, the filters, and the control
//! switches an event follower's gap paths are tested with (events dropped, expired, 403).

mod common;

use authentik_sim::Profile;
use common::{Api, TOKEN};
use serde_json::{Value, json};

/// `(action, model_name, name, user, method path)` of the newest events, newest first.
async fn newest(api: &Api, n: usize) -> Vec<(String, String, String, String, String)> {
    let r = api
        .get(&format!("events/events/?ordering=-created&page_size={n}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    r.json["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let ctx = &e["context"];
            (
                s(&e["action"]),
                s(&ctx["model"]["model_name"]),
                s(&ctx["model"]["name"]),
                s(&e["user"]["username"]),
                format!(
                    "{} {}",
                    s(&ctx["http_request"]["method"]),
                    s(&ctx["http_request"]["path"])
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn changes_show_the_user_whose_token_made_them() {
    let api = Api::start(Profile::V2024_4, false).await;
    let ctl = api.sim.control();
    let r = api.post("stages/deny/", json!({"name": "d1"})).await;
    let pk = r.json["pk"].as_str().unwrap_or_default().to_string();
    // Another person, with a token of their own (as over HTTP at POST /_sim/tokens).
    ctl.add_token("alice", "alice-token");
    let r = api
        .raw(
            "PATCH",
            &format!("stages/deny/{pk}/"),
            &[
                ("Authorization", "Bearer alice-token"),
                ("Content-Type", "application/json"),
            ],
            r#"{"deny_message":"no"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // In-process, as a third user made on the fly.
    let r = ctl.api_as("bob", "DELETE", &format!("stages/deny/{pk}/"), None);
    assert_eq!(r.status, 204);
    let events = newest(&api, 3).await;
    let path = format!("/api/v3/stages/deny/{pk}/");
    assert_eq!(
        events,
        [
            ("model_deleted", "bob", format!("DELETE {path}")),
            ("model_updated", "alice", format!("PATCH {path}")),
            (
                "model_created",
                "akadmin",
                "POST /api/v3/stages/deny/".into()
            ),
        ]
        .map(|(a, u, p)| (a.into(), "denystage".into(), "d1".into(), u.into(), p))
    );
    // The pk is printed without dashes, and the filter takes it either way.
    let hex = pk.replace('-', "");
    for filter in [pk.as_str(), hex.as_str()] {
        let r = api
            .get(&format!(
                "events/events/?context_model_pk={filter}&action=model_updated"
            ))
            .await;
        assert_eq!(r.json["pagination"]["count"], 1, "{filter}: {}", r.text);
        assert_eq!(r.json["results"][0]["context"]["model"]["pk"], hex.as_str());
        assert!(
            r.json["results"][0]["context"].get("diff").is_some(),
            "2024.4 has diffs"
        );
    }
}

#[tokio::test]
async fn release_2023_10_records_token_changes_as_anonymous() {
    let api = Api::start(Profile::V2023_10, false).await;
    api.post("stages/deny/", json!({"name": "d"})).await;
    let e = &newest(&api, 1).await[0];
    assert_eq!(
        (e.0.as_str(), e.3.as_str()),
        ("model_created", "AnonymousUser")
    );
    let r = api.get("events/events/").await;
    assert!(r.json["results"][0].get("tenant").is_some(), "{}", r.text);
}

#[tokio::test]
async fn a_deleted_flow_takes_its_bindings_with_it_in_the_event_log() {
    let api = Api::start(Profile::Current, false).await;
    let flow = api
        .post(
            "flows/instances/",
            json!({"name": "F", "slug": "f", "title": "T", "designation": "authentication"}),
        )
        .await
        .json;
    let stage = api.create("deny", json!({"name": "s"})).await;
    let fsb = api
        .post(
            "flows/bindings/",
            json!({"target": flow["pk"], "stage": stage, "order": 10}),
        )
        .await
        .json;
    let policy = api
        .post(
            "policies/expression/",
            json!({"name": "p", "expression": "return True"}),
        )
        .await
        .json;
    for target in [&flow["policybindingmodel_ptr_id"], &fsb["pk"]] {
        let r = api
            .post(
                "policies/bindings/",
                json!({"policy": policy["pk"], "target": target, "order": 0}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_eq!(api.delete("flows/instances/f/").await.status, 204);
    let events = newest(&api, 4).await;
    let models: Vec<&str> = events.iter().rev().map(|e| e.1.as_str()).collect();
    assert_eq!(
        models,
        ["flow", "flowstagebinding", "policybinding", "policybinding"]
    );
    assert!(
        events
            .iter()
            .all(|e| e.0 == "model_deleted" && e.4 == "DELETE /api/v3/flows/instances/f/"),
        "{events:?}"
    );
    let r = api.get("policies/bindings/").await;
    assert_eq!(r.json["pagination"]["count"], 0, "{}", r.text);
    assert_eq!(
        api.get(&format!("stages/deny/{stage}/")).await.status,
        200,
        "the stage stays"
    );
    let r = api
        .get(&format!(
            "policies/expression/{}/",
            policy["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(r.json["bound_to"], 0);
}

#[tokio::test]
async fn filters_ordering_and_pages() {
    let api = Api::start(Profile::V2024_4, false).await;
    let pk = api.create("deny", json!({"name": "a"})).await;
    api.patch(&format!("stages/deny/{pk}/"), json!({"deny_message": "x"}))
        .await;
    api.create("dummy", json!({"name": "b"})).await;
    let count = |r: &common::Resp| r.json["pagination"]["count"].clone();
    let r = api
        .get("events/events/?actions=model_created&actions=model_updated&context_model_name=denystage")
        .await;
    assert_eq!(count(&r), 2, "{}", r.text);
    let r = api
        .get("events/events/?context_model_app=authentik_stages_dummy")
        .await;
    assert_eq!(count(&r), 1);
    let r = api.get("events/events/?action=UPDATED").await;
    assert_eq!(count(&r), 1, "action is a case-insensitive substring");
    let r = api.get("events/events/?actions=nope").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            400,
            r#"{"actions":["Select a valid choice. nope is not one of the available choices."]}"#
        )
    );
    let r = api.get("events/events/?ordering=created&page_size=1").await;
    assert_eq!(r.json["results"][0]["context"]["model"]["name"], "a");
    assert_eq!(r.json["results"][0]["action"], "model_created");
    let r = api.get("events/events/?page_size=1&page=100000").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (404, r#"{"detail":"Invalid page."}"#)
    );
}

#[tokio::test]
async fn the_log_can_drop_expire_and_refuse() {
    let api = Api::start(Profile::Current, false).await;
    let ctl = api.sim.control();
    let http = reqwest::Client::new();
    let sim = |p: &str| format!("{}/_sim/{p}", api.sim.url());
    api.create("deny", json!({"name": "kept"})).await;
    let first = ctl.events()[0]["created"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Dropped while recording is off.
    let r = http
        .post(sim("events/recording"))
        .json(&json!({"recording": false}))
        .send()
        .await
        .expect("control");
    assert_eq!(r.status(), 204);
    api.create("deny", json!({"name": "unseen"})).await;
    ctl.set_event_recording(true);
    api.create("deny", json!({"name": "seen"})).await;
    let names: Vec<String> = newest(&api, 10).await.into_iter().map(|e| e.2).collect();
    assert_eq!(names, ["seen", "kept"]);

    // Expired before a time: older events go, newer stay.
    let r = http
        .post(sim("events/expire"))
        .json(&json!({"before": first}))
        .send()
        .await
        .expect("control");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["expired"], 0, "`before` is exclusive");
    let later = ctl.events()[0]["created"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let v: Value = http
        .post(sim("events/expire"))
        .json(&json!({"before": later}))
        .send()
        .await
        .expect("control")
        .json()
        .await
        .expect("json");
    assert_eq!(v["expired"], 1);
    assert_eq!(ctl.expire_events(None), 1);
    let r = api.get("events/events/").await;
    assert_eq!(r.json["pagination"]["count"], 0);
    assert!(
        r.json.get("autocomplete").is_some(),
        "current lists carry autocomplete"
    );

    // The token may not read events.
    http.post(sim("events/forbidden"))
        .json(&json!({"forbidden": true}))
        .send()
        .await
        .expect("control");
    let r = api.get("events/events/").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#
        )
    );
    ctl.set_events_forbidden(false);
    assert_eq!(api.get("events/events/").await.status, 200);
}

#[tokio::test]
async fn control_calls_change_and_delete_behind_the_apis_back() {
    let api = Api::start(Profile::V2024_4, true).await;
    let ctl = api.sim.control();
    let http = reqwest::Client::new();
    let sim = |p: &str| format!("{}/_sim/{p}", api.sim.url());
    // A change as another user, over HTTP: validated like the API, logged as that user.
    let deny = api.create("deny", json!({"name": "d"})).await;
    let r: Value = http
        .post(sim("api"))
        .json(
            &json!({"method": "PATCH", "path": format!("stages/deny/{deny}/"),
                      "body": {"deny_message": "m"}, "as": "carol"}),
        )
        .send()
        .await
        .expect("control")
        .json()
        .await
        .expect("json");
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["body"]["deny_message"], "m");
    assert_eq!(newest(&api, 1).await[0].3, "carol");
    let r = ctl.api_as(
        "carol",
        "PATCH",
        &format!("stages/deny/{deny}/"),
        Some(json!({"name": ""})),
    );
    assert_eq!(r.status, 400);
    // Peeks render as the API does.
    let peek = ctl
        .peek("stages/prompt/stages/?page_size=100")
        .expect("list");
    assert_eq!(peek["pagination"]["count"], 4);
    // A delete behind the API's back: its cascades, no event.
    let before = ctl.events().len();
    let flows = ctl
        .peek("flows/instances/default-password-change/")
        .expect("flow");
    assert_eq!(flows["stages"].as_array().map(Vec::len), Some(2));
    let r = http
        .post(sim("delete"))
        .json(&json!({"path": "flows/instances/default-password-change/"}))
        .send()
        .await
        .expect("control");
    assert_eq!(r.status(), 204);
    assert_eq!(ctl.events().len(), before);
    assert!(
        ctl.peek("flows/instances/default-password-change/")
            .is_none()
    );
    let pw = &ctl.stages("password")[0];
    assert_eq!(
        pw["configure_flow"],
        Value::Null,
        "configure_flow was nulled"
    );
    assert!(!ctl.delete_quietly("flows/instances/default-password-change/"));
    // Fields changed in the database: no validation, no event.
    assert!(ctl.set_fields_quietly(&deny, &json!({"deny_message": "db"})));
    assert_eq!(ctl.stage(&deny).expect("stage")["deny_message"], "db");
    assert_eq!(ctl.events().len(), before);
    let _ = TOKEN;
}
