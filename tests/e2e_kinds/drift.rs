//! Every row against changes made in authentik by someone else (a second user, through
//! authentik's API): put back with a DriftCorrected event in Manage mode, reported and
//! never written in Observe mode.

use crate::common::Env;
use crate::dynamic::{self as d, info, snake};
use crate::table::{Row, SECRETS, rows};
use authentik_sim::Profile;
use serde_json::{Value, json};
use std::time::Duration;

async fn started() -> Env {
    let env = Env::started(Profile::Current).await;
    for (name, key, value) in SECRETS {
        d::put_secret(&env, name, key, value).await;
    }
    env
}

/// Someone else (the user `alice`, with her own token) changes the object in authentik.
fn change_as_alice(env: &Env, row: &Row, pk: &str) {
    let path = format!("{}{pk}/", info(row.kind).endpoint);
    let reply = env
        .sim
        .control()
        .api_as("alice", "PATCH", &path, Some(row.drift.clone()));
    assert_eq!(reply.status, 200, "{}: {reply:?}", row.kind);
    for (k, v) in row.drift.as_object().unwrap() {
        assert!(
            d::same_set(&reply.body[k], v),
            "{}: the change took: {}",
            row.kind,
            reply.body
        );
    }
}

#[tokio::test]
async fn a_change_in_authentik_is_put_back_for_every_kind() {
    let env = started().await;
    let rows = rows();
    for row in &rows {
        let name = row.name("drift");
        d::create(&env, row.kind, &name, &row.spec_with(&name, json!({}))).await;
    }
    let mut before = Vec::new();
    for row in &rows {
        let obj = d::wait_ready(&env, row.kind, &row.name("drift")).await;
        let pk = d::pk(&obj).unwrap();
        before.push((pk.clone(), env.sim.control().stage(&pk).unwrap()));
    }
    for (row, (pk, _)) in rows.iter().zip(&before) {
        change_as_alice(&env, row, pk);
    }
    for (row, (pk, was)) in rows.iter().zip(&before) {
        let name = row.name("drift");
        env.wait_event(&name, "DriftCorrected").await;
        let fields: Vec<&String> = row.drift.as_object().unwrap().keys().collect();
        d::wait_remote(&env, pk, "put back", |r| {
            fields
                .iter()
                .all(|k| d::same_set(&r[k.as_str()], &was[k.as_str()]))
        })
        .await;
        let obj = d::wait_ready(&env, row.kind, &name).await;
        let drift = &d::status(&obj)["drift"];
        assert!(
            drift.as_array().is_none_or(Vec::is_empty),
            "{}: {drift}",
            row.kind
        );
    }
}

/// Objects that exist in authentik before any resource names them, one per (row, name):
/// made by resources that are then deleted with deletionPolicy Orphan. Their pks.
async fn existing(env: &Env, objects: &[(&Row, String)]) -> Vec<String> {
    let src = |name: &str| format!("{name}-src");
    for (row, name) in objects {
        let spec = row.spec_with(name, json!({"deletionPolicy": "Orphan"}));
        d::create(env, row.kind, &src(name), &spec).await;
    }
    let mut pks = Vec::new();
    for (row, name) in objects {
        let obj = d::wait_ready(env, row.kind, &src(name)).await;
        pks.push(d::pk(&obj).unwrap());
        d::delete(env, row.kind, &src(name)).await;
    }
    for ((row, name), pk) in objects.iter().zip(&pks) {
        d::wait_gone(env, row.kind, &src(name)).await;
        assert!(env.sim.control().stage(pk).is_some());
    }
    pks
}

#[tokio::test]
async fn existing_objects_are_adopted_if_they_match_or_always() {
    let env = started().await;
    let all = rows();
    // Logout and delete stages have nothing but their name, which is how an existing
    // object is found: such an object either matches or is not found at all.
    let renames = |r: &Row| r.drift.get("name").is_some();
    let rows: Vec<&Row> = all.iter().filter(|r| !renames(r)).collect();
    let same: Vec<(&Row, String)> = all.iter().map(|r| (r, r.name("same"))).collect();
    let same_pks = existing(&env, &same).await;
    let differs: Vec<(&Row, String)> = rows.iter().map(|r| (*r, r.name("differs"))).collect();
    let differs_pks = existing(&env, &differs).await;
    for (row, pk) in rows.iter().zip(&differs_pks) {
        change_as_alice(&env, row, pk);
    }
    // A sweep's list taken before these objects existed says their names are free, and a
    // create is then refused by name (one POST, answered 400) before the object is judged:
    // by design (README, No duplicates), but not what this test is about. Past two sweeps,
    // every list the operator trusts holds them.
    tokio::time::sleep(Duration::from_secs(5)).await;
    env.sim.control().clear_requests();

    // IfMatch: the matching object is adopted without a write (a write-only value, which
    // cannot be compared, is sent: this resource never sent it); the other one is refused.
    let if_match = |row: &Row, n: &str| row.spec_with(n, json!({"adoptionPolicy": "IfMatch"}));
    for row in &all {
        let same = row.name("same");
        d::create(&env, row.kind, &same, &if_match(row, &same)).await;
    }
    for row in &rows {
        let differs = row.name("differs");
        d::create(&env, row.kind, &differs, &if_match(row, &differs)).await;
    }
    for (row, same_pk) in all.iter().zip(&same_pks) {
        let obj = d::wait_ready(&env, row.kind, &row.name("same")).await;
        assert_eq!(d::pk(&obj).as_ref(), Some(same_pk), "{}", row.kind);
        env.wait_event(&row.name("same"), "Adopted").await;
        let writes = d::writes_to(&env, info(row.kind).endpoint);
        let secret_keys = ["private_key", "password"];
        for w in &writes {
            let body = w.body.as_ref().and_then(Value::as_object).unwrap();
            assert!(
                w.method == "PATCH"
                    && w.path.contains(same_pk.as_str())
                    && body.keys().all(|k| secret_keys.contains(&k.as_str())),
                "{}: IfMatch writes nothing but write-only values: {writes:#?}",
                row.kind
            );
        }
    }
    for (row, differs_pk) in rows.iter().zip(&differs_pks) {
        let obj = d::wait_synced(&env, row.kind, &row.name("differs"), "AdoptionMismatch").await;
        let drift: Vec<String> = d::status(&obj)["drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_string())
            .collect();
        for k in row.drift.as_object().unwrap().keys() {
            assert!(
                drift.iter().any(|f| snake(f) == *k),
                "{}: status.drift names {k}: {drift:?}",
                row.kind
            );
        }
        assert!(d::pk(&obj).is_none(), "{}", row.kind);
        let writes = d::writes_to(&env, info(row.kind).endpoint);
        assert!(
            !writes.iter().any(|w| w.path.contains(differs_pk.as_str())),
            "{}: {writes:#?}",
            row.kind
        );
    }

    // The refused resource goes (deleting nothing it never owned); Always adopts and
    // corrects the object that differs.
    for row in &rows {
        d::delete(&env, row.kind, &row.name("differs")).await;
    }
    for row in &rows {
        d::wait_gone(&env, row.kind, &row.name("differs")).await;
        let name = row.name("differs");
        let spec = row.spec_with(&name, json!({"adoptionPolicy": "Always"}));
        d::create(&env, row.kind, &name, &spec).await;
    }
    for (row, differs_pk) in rows.iter().zip(&differs_pks) {
        let obj = d::wait_ready(&env, row.kind, &row.name("differs")).await;
        assert_eq!(d::pk(&obj).as_ref(), Some(differs_pk), "{}", row.kind);
        let remote = env.sim.control().stage(differs_pk).unwrap();
        for k in row.drift.as_object().unwrap().keys() {
            assert!(
                !d::same_set(&remote[k.as_str()], &row.drift[k.as_str()]),
                "{}: {k} corrected: {remote}",
                row.kind
            );
        }
        let reasons = env.event_reasons(&row.name("differs")).await;
        assert!(reasons.iter().any(|r| r == "Adopted"), "{reasons:?}");
    }
}

#[tokio::test]
async fn observe_reports_drift_and_never_writes() {
    let env = started().await;
    let rows = rows();
    let seen: Vec<(&Row, String)> = rows.iter().map(|r| (r, r.name("seen"))).collect();
    let pks = existing(&env, &seen).await;
    for row in &rows {
        let name = row.name("seen");
        let spec = row.spec_with(&name, json!({"managementPolicy": "Observe"}));
        d::create(&env, row.kind, &name, &spec).await;
    }
    for (row, pk) in rows.iter().zip(&pks) {
        let obj = d::wait_ready(&env, row.kind, &row.name("seen")).await;
        assert_eq!(d::pk(&obj).as_ref(), Some(pk), "{}", row.kind);
        assert_eq!(d::status(&obj)["observedOnly"], json!(true), "{}", row.kind);
    }
    env.sim.control().clear_requests();
    for (row, pk) in rows.iter().zip(&pks) {
        change_as_alice(&env, row, pk);
    }
    for row in &rows {
        let obj = d::wait(&env, row.kind, &row.name("seen"), "Drifted", |o| {
            d::reason(o, "Ready").as_deref() == Some("Drifted")
        })
        .await;
        let drift = &d::status(&obj)["drift"];
        for k in row.drift.as_object().unwrap().keys() {
            assert!(
                drift
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| snake(e["field"].as_str().unwrap_or_default()) == *k),
                "{}: {k} reported: {drift}",
                row.kind
            );
        }
    }
    // Several sweeps later: the operator has written nothing (the test's own changes are
    // not in the simulator's request log).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes = env.sim_writes();
    assert!(writes.is_empty(), "Observe never writes: {writes:#?}");
    for (row, pk) in rows.iter().zip(&pks) {
        let remote = env.sim.control().stage(pk).unwrap();
        for (k, v) in row.drift.as_object().unwrap() {
            assert!(d::same_set(&remote[k], v), "{}: left as is", row.kind);
        }
        d::delete(&env, row.kind, &row.name("seen")).await;
    }
    for (row, pk) in rows.iter().zip(&pks) {
        d::wait_gone(&env, row.kind, &row.name("seen")).await;
        assert!(env.sim.control().stage(pk).is_some(), "{}", row.kind);
    }
}
