//! authentik restarts and upgrades: resources that failed while it was away are retried as
//! soon as it answers again (not at the end of their own backoff), their status says what
//! they wait for, and fields a newer authentik knows are applied once it runs.

mod common;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::PasswordStage;
use authentik_sim::{Fault, Profile};
use common::{Env, RESYNC, is_ready};
use serde_json::json;
use std::time::{Duration, Instant};

const WAITING: usize = 8;

fn resync() -> Duration {
    Duration::from_secs(RESYNC.trim_end_matches('s').parse().unwrap())
}

/// An operator whose backoff may grow far beyond the resync interval, as in production.
async fn operator() -> Env {
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = vec!["--backoff-max".into(), "5m".into()];
    env.start_operator().await;
    env
}

async fn create_waiting(env: &Env) {
    for i in 0..WAITING {
        env.create::<PasswordStage>(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
            "metadata": {"name": format!("waiting-{i}")},
            "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
        }))
        .await;
    }
}

/// Waits until every waiting resource is Ready; returns how long that took.
async fn all_ready(env: &Env) -> Duration {
    let from = Instant::now();
    for i in 0..WAITING {
        env.wait_for::<PasswordStage>(&format!("waiting-{i}"), "Ready", is_ready)
            .await;
    }
    from.elapsed()
}

#[tokio::test]
async fn resources_are_retried_as_soon_as_authentik_answers_again() {
    let env = operator().await;
    env.sim.control().set_down(true);
    create_waiting(&env).await;
    for i in 0..WAITING {
        let message = env
            .wait_synced::<PasswordStage>(&format!("waiting-{i}"), "AuthentikUnreachable")
            .await;
        assert!(
            message.contains("failing since ")
                && message.contains("retried as soon as authentik answers again"),
            "{message}"
        );
    }
    // Long enough for every resource's own backoff to grow well past the resync interval.
    tokio::time::sleep(Duration::from_secs(20)).await;
    env.sim.control().set_down(false);
    let took = all_ready(&env).await;
    println!("all {WAITING} Ready {took:?} after authentik answered again");
    assert!(
        took < resync() + Duration::from_secs(4),
        "Ready {took:?} after authentik came back; within one resync interval ({:?}) expected",
        resync()
    );
    let created = env
        .sim_writes()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(created, WAITING, "one create each");
}

#[tokio::test]
async fn a_phase_of_503s_is_waited_out_and_ends_within_one_sweep() {
    let env = operator().await;
    env.sim.control().inject_fault(Fault {
        status: 503,
        retry_after: Some(1),
        ..Fault::default()
    });
    create_waiting(&env).await;
    for i in 0..WAITING {
        let message = env
            .wait_synced::<PasswordStage>(&format!("waiting-{i}"), "AuthentikServerError")
            .await;
        assert!(message.contains("HTTP 503"), "{message}");
        assert!(message.contains("failing since "), "{message}");
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    env.sim.control().clear_faults();
    let took = all_ready(&env).await;
    println!("all {WAITING} Ready {took:?} after the 503s ended");
    assert!(took < resync() + Duration::from_secs(4), "{took:?}");
}

#[tokio::test]
async fn an_upgrade_applies_fields_the_older_authentik_did_not_know() {
    let env = Env::started(Profile::V2023_10).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "upgraded"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "allowShowPassword": true}
    }))
    .await;
    let unsupported = |o: &PasswordStage| {
        o.status()
            .map(|s| s.unsupported_fields.clone())
            .unwrap_or_default()
    };
    let obj = env
        .wait_for::<PasswordStage>("upgraded", "Ready, the field unsupported", |o| {
            is_ready(o) && !unsupported(o).is_empty()
        })
        .await;
    assert_eq!(unsupported(&obj), vec!["allowShowPassword"]);
    let pk = obj.status().and_then(|s| s.pk.clone()).unwrap();

    // Upgraded in place: the data stays, the API now knows the field.
    let upgraded_at = Instant::now();
    env.sim.control().upgrade(Profile::Current);
    env.wait_for::<PasswordStage>("upgraded", "the field applied", |o| {
        is_ready(o) && unsupported(o).is_empty()
    })
    .await;
    let stage = env.sim.control().stage(&pk).unwrap();
    assert_eq!(stage["allow_show_password"], true, "{stage}");
    println!(
        "the new field was applied {:?} after the upgrade",
        upgraded_at.elapsed()
    );

    // A downgrade lists it again, without a write loop.
    env.sim.control().upgrade(Profile::V2023_10);
    env.wait_for::<PasswordStage>("upgraded", "the field unsupported again", |o| {
        unsupported(o) == vec!["allowShowPassword"]
    })
    .await;
    env.sim.control().clear_requests();
    tokio::time::sleep(resync() * 3).await;
    let writes = env.sim_writes();
    assert!(writes.is_empty(), "no write loop: {writes:?}");
}
