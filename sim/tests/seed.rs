//! `--seed` holds exactly what a fresh install of the profile's release holds: every
//! endpoint of `seed/fresh-install-<version>.json` lists the same objects, each rendered as
//! the real server rendered it.
//!
//! What is not compared, and why: join and tie orders the data does not determine (the
//! same dump, or a transcript of the same install, shows them in other orders elsewhere):
//! the order of a flow's `stages` on 2023.10/2024.4 (the flows transcripts of those
//! releases, which the simulator follows, show stage-creation order), of a stage's
//! `flow_set` outside `stages/all/`, and of rows with equal sort keys in `flows/bindings/`
//! and `stages/prompt/prompts/`.

mod common;

use authentik_sim::Profile;
use common::Api;
use serde_json::Value;

const LEFTOVER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn dump(version: &str) -> Value {
    let path = format!(
        "{}/seed/fresh-install-{version}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("seed dump");
    serde_json::from_str(&text).expect("seed JSON")
}

fn sort(v: Option<&mut Value>) {
    if let Some(Value::Array(items)) = v {
        items.sort_by_key(|a| a.to_string());
    }
}

/// Every `flow_set` inside `v`, sorted.
fn sort_flow_sets(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "flow_set" {
                    sort(Some(x));
                }
                sort_flow_sets(x);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_flow_sets),
        _ => {}
    }
}

/// What is compared of an object: a flow's `stages` as a set where their order is not, and
/// a stage's `flow_set` as a set except in `stages/all/` (whose order the seed follows: the
/// same join comes out in other orders in the other endpoints of the same dump).
fn normal(endpoint: &str, mut o: Value, stages_as_set: bool) -> Value {
    if endpoint == "flows/instances/" && stages_as_set {
        sort(o.get_mut("stages"));
    }
    if endpoint != "stages/all/" {
        sort_flow_sets(&mut o);
    }
    o
}

async fn check(profile: Profile, version: &str) {
    let d = dump(version);
    let api = Api::start(profile, true).await;
    let stages_as_set = profile != Profile::Current;
    let mut checked = 0;
    for (endpoint, want) in d.as_object().expect("dump object") {
        let Some(want) = want.as_array() else {
            continue;
        };
        let want: Vec<&Value> = want.iter().filter(|o| o["slug"] != LEFTOVER).collect();
        let got = api.get(&format!("{endpoint}?page_size=100")).await;
        assert_eq!(got.status, 200, "{endpoint}: {}", got.text);
        let got = got.json["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(got.len(), want.len(), "{version} {endpoint}: object count");
        for w in &want {
            let g = got
                .iter()
                .find(|g| g["pk"] == w["pk"])
                .unwrap_or_else(|| panic!("{version} {endpoint}: {} missing", w["pk"]));
            assert_eq!(
                normal(endpoint, g.clone(), stages_as_set),
                normal(endpoint, (*w).clone(), stages_as_set),
                "{version} {endpoint}"
            );
            checked += 1;
        }
        if !["flows/bindings/", "stages/prompt/prompts/"].contains(&endpoint.as_str()) {
            let order = |l: Vec<&Value>| l.iter().map(|o| o["pk"].clone()).collect::<Vec<_>>();
            assert_eq!(
                order(got.iter().collect()),
                order(want.clone()),
                "{version} {endpoint}: list order"
            );
        }
    }
    assert!(checked > 100, "{version}: only {checked} objects compared");
    api.sim.shutdown().await;
}

#[tokio::test]
async fn seed_is_the_2023_10_7_fresh_install() {
    check(Profile::V2023_10, "2023.10.7").await;
}

#[tokio::test]
async fn seed_is_the_2024_4_4_fresh_install() {
    check(Profile::V2024_4, "2024.4.4").await;
}

#[tokio::test]
async fn seed_is_the_2026_2_2_fresh_install() {
    check(Profile::Current, "2026.2.2").await;
}
