//! Every row's bad manifest is refused by the API server at `kubectl apply`, with a message
//! naming the field, while the row's valid spec passes the same checks; and a kind the
//! connected authentik does not serve says so once, without a retry loop.

use crate::common::Env;
use crate::dynamic::{self as d, manifest, merged};
use crate::table::rows;
use authentik_sim::Profile;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_bad_manifest_is_refused_at_apply_naming_the_field() {
    let env = Env::new(Profile::Current).await;
    for row in rows() {
        let name = row.name("bad");
        let good = manifest(row.kind, &name, &row.spec);
        let out = env.kubectl(
            &["apply", "--dry-run=server", "-f", "-"],
            Some(&good.to_string()),
        );
        assert!(
            out.status.success(),
            "{}: the valid spec passes: {}",
            row.kind,
            String::from_utf8_lossy(&out.stderr)
        );
        let (overlay, field) = &row.bad;
        let bad = manifest(row.kind, &name, &merged(&row.spec, overlay));
        let out = env.kubectl(&["apply", "-f", "-"], Some(&bad.to_string()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: accepted {bad}", row.kind);
        assert!(
            stderr.contains(&format!("{field}:")) || stderr.contains(&format!("{field} ")),
            "{}: the refusal names {field}: {stderr}",
            row.kind
        );
        let get = env.kubectl(&["get", &d::info(row.kind).plural, &name], None);
        assert!(!get.status.success(), "{}: nothing was created", row.kind);
    }
}

#[tokio::test]
async fn a_redirect_stage_on_2024_4_waits_for_an_upgrade_without_a_retry_loop() {
    let env = Env::started(Profile::V2024_4).await;
    let row = rows()
        .into_iter()
        .find(|r| r.kind == "RedirectStage")
        .unwrap();
    d::create(&env, row.kind, "redirect", &row.spec).await;
    let obj = d::wait_synced(&env, row.kind, "redirect", "UnsupportedKind").await;
    let msg = d::message(&obj, "Synced");
    assert!(
        msg.contains("2024.4") && msg.contains("RedirectStage"),
        "the condition says why: {msg}"
    );
    assert_eq!(d::reason(&obj, "Ready").as_deref(), Some("UnsupportedKind"));
    env.wait_event("redirect", "UnsupportedKind").await;

    // Eight seconds, four sweeps at the tests' 2 s interval: at most one list of the
    // missing endpoint per sweep, no other request about it, and no write.
    env.sim.control().clear_requests();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let requests = env.sim.control().requests();
    let redirect: Vec<_> = requests
        .iter()
        .filter(|r| r.path.contains("/stages/redirect/"))
        .collect();
    assert!(
        redirect.len() <= 5 && redirect.iter().all(|r| r.method == "GET"),
        "no retry loop: {redirect:#?}"
    );
    assert!(env.sim_writes().is_empty(), "{:#?}", env.sim_writes());
    let warnings = env
        .event_reasons("redirect")
        .await
        .into_iter()
        .filter(|r| r == "UnsupportedKind")
        .count();
    assert_eq!(warnings, 1, "one event, not one per attempt");
    assert!(env.sim_stages_named("redirect", "redirect").is_empty());

    // Upgraded in place: the next sweep finds the endpoint and the stage is created.
    env.sim.control().upgrade(Profile::Current);
    let obj = d::wait_ready(&env, row.kind, "redirect").await;
    let remote = env.sim.control().stage(d::pk(&obj).unwrap()).unwrap();
    assert_eq!(remote["target_static"], json!("https://example.com/"));
}
