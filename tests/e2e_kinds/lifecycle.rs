//! Every row: created (with its Created event), updated with one PATCH carrying only what
//! changed, deleted with deletionPolicy Delete, left in authentik with Orphan.

use crate::common::Env;
use crate::dynamic::{self as d, info, same, snake};
use crate::table::{Row, SECRETS, rows};
use authentik_sim::Profile;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn put_secrets(env: &Env) {
    for (name, key, value) in SECRETS {
        d::put_secret(env, name, key, value).await;
    }
}

/// The keys of a request body.
fn keys(body: &Option<Value>) -> BTreeSet<String> {
    body.as_ref()
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_kind_is_created_updated_deleted_and_orphaned() {
    let env = Env::started(Profile::Current).await;
    put_secrets(&env).await;
    let rows = rows();
    for row in &rows {
        let (gone, kept) = (row.name("lc"), row.name("kept"));
        let delete = json!({"deletionPolicy": "Delete"});
        d::create(&env, row.kind, &gone, &row.spec_with(&gone, delete)).await;
        let orphan = json!({"deletionPolicy": "Orphan"});
        d::create(&env, row.kind, &kept, &row.spec_with(&kept, orphan)).await;
    }
    let mut pks = Vec::new();
    for row in &rows {
        let (gone, kept) = (row.name("lc"), row.name("kept"));
        let a = d::wait_ready(&env, row.kind, &gone).await;
        let b = d::wait_ready(&env, row.kind, &kept).await;
        let (a, b) = (d::pk(&a).unwrap(), d::pk(&b).unwrap());
        let remote = env.sim.control().stage(&a).expect("created in authentik");
        assert_eq!(remote["name"], json!(gone), "{}: {remote}", row.kind);
        // What the spec says is what authentik holds.
        for (k, v) in row.spec.as_object().unwrap() {
            // References and Secret references (objects) have tests of their own.
            let reference = v.is_object() || v.is_array() && v[0].is_object();
            if !reference {
                assert!(
                    d::same_set(&remote[snake(k)], v),
                    "{}.{k}: {remote}",
                    row.kind
                );
            }
        }
        env.wait_event(&gone, "Created").await;
        pks.push((a, b));
    }

    // A spec change: one PATCH per resource, with the changed field (and the fields the
    // kind always sends), nothing created or replaced.
    env.sim.control().clear_requests();
    for row in &rows {
        let (field, value) = &row.change;
        d::patch_spec(
            &env,
            row.kind,
            &row.name("lc"),
            &json!({field.to_string(): value}),
        )
        .await;
    }
    for (row, (pk, _)) in rows.iter().zip(&pks) {
        let name = row.name("lc");
        d::wait(&env, row.kind, &name, "Ready at generation 2", |o| {
            d::ready(o) && o.metadata.generation == Some(2)
        })
        .await;
        let (field, value) = &row.change;
        let remote = env.sim.control().stage(pk).unwrap();
        assert!(
            same(&remote[snake(field)], value),
            "{}: {field} not updated: {remote}",
            row.kind
        );
        let writes = d::writes_to(&env, info(row.kind).endpoint);
        assert_eq!(writes.len(), 1, "{}: one write: {writes:#?}", row.kind);
        assert_eq!(writes[0].method, "PATCH", "{}", row.kind);
        assert!(writes[0].path.contains(pk.as_str()), "{}", row.kind);
        let sent = keys(&writes[0].body);
        let allowed: BTreeSet<String> = info(row.kind)
            .always_send
            .iter()
            .map(|s| s.to_string())
            .chain([snake(field)])
            .collect();
        assert!(sent.contains(&snake(field)), "{}: {sent:?}", row.kind);
        assert!(sent.is_subset(&allowed), "{}: sent {sent:?}", row.kind);
        env.wait_event(&name, "Updated").await;
    }

    // Delete takes the object with it; Orphan leaves it.
    for row in &rows {
        d::delete(&env, row.kind, &row.name("lc")).await;
        d::delete(&env, row.kind, &row.name("kept")).await;
    }
    for (row, (gone, kept)) in rows.iter().zip(&pks) {
        d::wait_gone(&env, row.kind, &row.name("lc")).await;
        d::wait_gone(&env, row.kind, &row.name("kept")).await;
        assert!(
            env.sim.control().stage(gone).is_none(),
            "{}: deleted in authentik",
            row.kind
        );
        assert!(
            env.sim.control().stage(kept).is_some(),
            "{}: Orphan leaves it in authentik",
            row.kind
        );
        env.wait_event(&row.name("lc"), "Deleted").await;
        env.wait_event(&row.name("kept"), "Orphaned").await;
    }
}

/// The rows whose kind exists there, on the oldest release supported: the same steps
/// hold (RedirectStage has its own test: 2023.10 has no redirect stages).
#[tokio::test]
async fn every_kind_but_redirect_is_created_and_updated_on_2023_10() {
    let env = Env::started(Profile::V2023_10).await;
    put_secrets(&env).await;
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| r.kind != "RedirectStage")
        .collect();
    for row in &rows {
        let name = row.name("old");
        d::create(&env, row.kind, &name, &row.spec_with(&name, json!({}))).await;
    }
    let mut pks = Vec::new();
    for row in &rows {
        let obj = d::wait_ready(&env, row.kind, &row.name("old")).await;
        let status = d::status(&obj);
        assert_eq!(
            status["unsupportedFields"].as_array().map_or(0, Vec::len),
            0,
            "{}: {status}",
            row.kind
        );
        pks.push(d::pk(&obj).unwrap());
    }
    env.sim.control().clear_requests();
    for row in &rows {
        let (field, value) = &row.change;
        d::patch_spec(
            &env,
            row.kind,
            &row.name("old"),
            &json!({field.to_string(): value}),
        )
        .await;
    }
    for (row, pk) in rows.iter().zip(&pks) {
        d::wait(
            &env,
            row.kind,
            &row.name("old"),
            "Ready at generation 2",
            |o| d::ready(o) && o.metadata.generation == Some(2),
        )
        .await;
        let (field, value) = &row.change;
        let remote = env.sim.control().stage(pk).unwrap();
        assert!(same(&remote[snake(field)], value), "{}: {remote}", row.kind);
        let patches = d::writes_to(&env, info(row.kind).endpoint);
        assert_eq!(patches.len(), 1, "{}: {patches:#?}", row.kind);
    }
}
