//! Faults around a request's end: an answer lost after the request was carried out, and a
//! restart of the simulator that keeps its data.

mod common;

use std::time::Duration;

use authentik_sim::{LostAnswer, Profile};
use common::{Api, TOKEN};
use serde_json::json;

const INBUILT: &str = "authentik.core.auth.InbuiltBackend";

fn stage(name: &str) -> serde_json::Value {
    json!({"name": name, "backends": [INBUILT]})
}

#[tokio::test]
async fn a_lost_answer_leaves_the_create_done() {
    let api = Api::start(Profile::Current, false).await;
    let ctl = api.sim.control();
    ctl.lose_answers(LostAnswer {
        route_prefix: "stages/".into(),
        ..LostAnswer::default()
    });
    // A GET is not a POST: answered.
    assert_eq!(api.get("stages/password/").await.status, 200);
    let sent = api
        .client
        .post(api.url("stages/password/"))
        .bearer_auth(TOKEN)
        .json(&stage("lost"))
        .send()
        .await;
    assert!(sent.is_err(), "no answer: {sent:?}");
    // Yet the stage exists, with its event, and the log shows the request without an answer.
    let stages = ctl.stages("password");
    assert_eq!(stages.len(), 1, "{stages:?}");
    assert_eq!(stages[0]["name"], "lost");
    let events = ctl.events();
    assert_eq!(events[0]["action"], "model_created", "{events:?}");
    assert_eq!(ctl.requests().last().map(|r| r.status), Some(0));
    // Used up: the next create is answered, and refused as a duplicate name.
    assert!(ctl.lost_answers().is_empty());
    let again = api.post("stages/password/", stage("lost")).await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(
        api.post("stages/password/", stage("next")).await.status,
        201
    );

    // Over HTTP as well, for any method.
    let r = api
        .client
        .post(format!("{}/_sim/lost-answers", api.sim.url()))
        .json(&json!({"route_prefix": "stages/password/", "method": "DELETE", "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let pk = ctl.stages("password")[1]["pk"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = api
        .client
        .delete(api.url(&format!("stages/password/{pk}/")))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(sent.is_err());
    assert_eq!(ctl.stages("password").len(), 1, "deleted all the same");
}

#[tokio::test]
async fn a_restart_drops_connections_refuses_new_ones_and_keeps_the_data() {
    let api = Api::start(Profile::Current, false).await;
    let ctl = api.sim.control();
    let pk = api.create("password", stage("kept")).await;
    ctl.add_token("alice", "alice-token");
    let url = api.url("stages/password/");

    // A request in flight when it goes down gets no answer.
    ctl.set_latency(Duration::from_millis(500));
    let in_flight = tokio::spawn({
        let (client, url) = (api.client.clone(), url.clone());
        async move { client.get(url).bearer_auth(TOKEN).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let restart = api.sim.restart(Duration::from_millis(700));
    let probe = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        reqwest::Client::new()
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
    };
    let (restarted, refused) = tokio::join!(restart, probe);
    restarted.expect("back");
    let refused = refused.expect_err("nothing listens while it is down");
    assert!(refused.is_connect(), "{refused:?}");
    let dropped = in_flight.await.unwrap();
    assert!(dropped.is_err(), "{dropped:?}");

    // Same address, same data, same users and settings.
    ctl.set_latency(Duration::ZERO);
    let r = api.get(&format!("stages/password/{pk}/")).await;
    assert_eq!((r.status, r.json["name"].as_str()), (200, Some("kept")));
    let as_alice = reqwest::Client::new()
        .get(&url)
        .bearer_auth("alice-token")
        .send()
        .await
        .unwrap();
    assert_eq!(as_alice.status().as_u16(), 200);
    assert_eq!(ctl.events().len(), 1, "the event log stays");
    // And it can go again.
    api.sim.restart(Duration::ZERO).await.expect("back again");
    assert_eq!(api.get("stages/password/").await.status, 200);
}
