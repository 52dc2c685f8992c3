//! A field releases store differently: EmailStage `tokenExpiry` is whole minutes before
//! authentik 2025.4 and a duration since. The spec says `minutes=30` on every release.

use crate::common::Env;
use crate::dynamic::{self as d};
use authentik_sim::Profile;
use serde_json::{Value, json};
use std::time::Duration;

fn email(expiry: &str) -> Value {
    json!({"useGlobalSettings": true, "tokenExpiry": expiry})
}

async fn sent_and_stored(profile: Profile, want: Value) {
    let env = Env::started(profile).await;
    d::create(&env, "EmailStage", "expiry", &email("minutes=30")).await;
    let obj = d::wait_ready(&env, "EmailStage", "expiry").await;
    let posts: Vec<_> = env
        .sim_writes()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/stages/email/"))
        .collect();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_eq!(posts[0].body.as_ref().unwrap()["token_expiry"], want);
    let remote = env.sim.control().stage(d::pk(&obj).unwrap()).unwrap();
    assert_eq!(remote["token_expiry"], want);
    // authentik's form compares equal to the spec's: no write in steady state.
    env.sim.control().clear_requests();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(env.sim_writes().is_empty(), "{:#?}", env.sim_writes());
    assert!(d::ready(&d::wait_ready(&env, "EmailStage", "expiry").await));
}

#[tokio::test]
async fn token_expiry_is_whole_minutes_on_2024_4() {
    sent_and_stored(Profile::V2024_4, json!(30)).await;
}

#[tokio::test]
async fn token_expiry_is_a_duration_on_current() {
    sent_and_stored(Profile::Current, json!("minutes=30")).await;
}

#[tokio::test]
async fn a_token_expiry_2024_4_cannot_store_is_invalid_there() {
    let env = Env::started(Profile::V2024_4).await;
    d::create(
        &env,
        "EmailStage",
        "odd-expiry",
        &email("minutes=1;seconds=30"),
    )
    .await;
    let obj = d::wait_synced(&env, "EmailStage", "odd-expiry", "InvalidSpec").await;
    let msg = d::message(&obj, "Synced");
    assert!(
        msg.contains("tokenExpiry") && msg.contains("minutes") && msg.contains("2024.4"),
        "{msg}"
    );
    env.wait_event("odd-expiry", "InvalidSpec").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(env.sim_writes().is_empty(), "{:#?}", env.sim_writes());
    assert!(env.sim_stages_named("email", "odd-expiry").is_empty());
    // The same spec is fine where durations are stored as such.
    env.sim.control().upgrade(Profile::Current);
    d::patch_spec(
        &env,
        "EmailStage",
        "odd-expiry",
        &json!({"subject": "after the upgrade"}),
    )
    .await;
    let obj = d::wait_ready(&env, "EmailStage", "odd-expiry").await;
    let remote = env.sim.control().stage(d::pk(&obj).unwrap()).unwrap();
    assert_eq!(remote["token_expiry"], json!("minutes=1;seconds=30"));
}
