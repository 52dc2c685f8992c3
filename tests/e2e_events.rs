//! The event follower, end to end: with a drift sweep only every ten minutes, a change made
//! in authentik as another user is corrected within seconds, a delete is recreated, the
//! operator's own writes are not echoed back, and every gap (too many events, a cleaned log,
//! a token that may not read the log) sweeps at once. A stage's `boundTo` follows the
//! operator's own binding writes without waiting for the sweep.

mod common;

use authentik_operator::kinds::{Flow, FlowStageBinding, PasswordStage};
use authentik_sim::{Control, Profile};
use common::{Env, is_ready};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A sweep interval no test waits for: whatever is corrected was seen in the event log.
const LONG_RESYNC: &str = "600s";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An environment whose operator follows the event log every second and sweeps every ten
/// minutes, with /metrics on a known port.
async fn following(profile: Profile) -> (Env, u16) {
    let mut env = Env::new(profile).await;
    let port = free_port();
    env.extra_args = [
        "--resync-interval",
        LONG_RESYNC,
        "--event-interval",
        "1s",
        "--metrics-addr",
        &format!("127.0.0.1:{port}"),
    ]
    .map(String::from)
    .to_vec();
    env.start_operator().await;
    (env, port)
}

async fn metrics(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    for _ in 0..50 {
        if let Ok(r) = reqwest::get(&url).await
            && let Ok(text) = r.text().await
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no /metrics on {port}");
}

/// The sum of a metric's samples whose line contains every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn ready_stage(env: &Env, name: &str) -> String {
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": name},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "failedAttemptsBeforeCancel": 5}
    }))
    .await;
    let obj = env.wait_for::<PasswordStage>(name, "Ready", is_ready).await;
    obj.status.unwrap().pk.unwrap()
}

fn attempts(control: &Control, pk: &str) -> Option<i64> {
    control
        .peek(&format!("stages/password/{pk}/"))
        .and_then(|s| s["failed_attempts_before_cancel"].as_i64())
}

/// Changes the stage as a person in the UI would (another user).
fn edit_as_alice(control: &Control, pk: &str, attempts: i64) {
    let r = control.api_as(
        "alice",
        "PATCH",
        &format!("stages/password/{pk}/"),
        Some(json!({"failed_attempts_before_cancel": attempts})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// How long until authentik holds `want` again, up to `limit`.
async fn corrected_within(control: &Control, pk: &str, want: i64, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if attempts(control, pk) == Some(want) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "not corrected within {limit:?}: {:?}",
        attempts(control, pk)
    );
}

#[tokio::test]
async fn a_change_in_the_ui_is_corrected_in_seconds_and_a_delete_recreated() {
    let (env, port) = following(Profile::Current).await;
    let pk = ready_stage(&env, "followed").await;
    let control = env.sim.control();
    edit_as_alice(control, &pk, 99);
    let took = corrected_within(control, &pk, 5, Duration::from_secs(20)).await;
    println!("corrected {took:?} after the change");
    env.wait_event("followed", "DriftCorrected").await;

    // Deleted behind the operator's back: created again, from the log's model_deleted.
    let r = control.api_as("alice", "DELETE", &format!("stages/password/{pk}/"), None);
    assert_eq!(r.status, 204);
    let deadline = Instant::now() + Duration::from_secs(20);
    let recreated = loop {
        let obj = env
            .api::<PasswordStage>()
            .get("followed")
            .await
            .expect("get");
        let now = obj.status.as_ref().and_then(|s| s.pk.clone());
        if now.as_deref().is_some_and(|p| p != pk) && is_ready(&obj) {
            break now.unwrap();
        }
        assert!(Instant::now() < deadline, "not recreated: {:?}", obj.status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(attempts(control, &recreated), Some(5));
    env.wait_event("followed", "Recreated").await;
    let m = metrics(port).await;
    assert!(
        sample(&m, "authentik_operator_events_seen_total", &[]) >= 2.0,
        "{m}"
    );
    assert!(
        sample(&m, "authentik_operator_event_reconciles_total", &[]) >= 2.0,
        "{m}"
    );
}

#[tokio::test]
async fn the_operators_own_writes_are_not_echoed() {
    let (env, port) = following(Profile::Current).await;
    let mut pks = Vec::new();
    for i in 0..4 {
        pks.push(ready_stage(&env, &format!("own-{i}")).await);
    }
    // Updates from the spec, and a delete.
    for i in 0..4 {
        env.api::<PasswordStage>()
            .patch(
                &format!("own-{i}"),
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(json!({"spec": {"failedAttemptsBeforeCancel": 7}})),
            )
            .await
            .expect("patch");
    }
    for i in 0..4 {
        let name = format!("own-{i}");
        env.wait_for::<PasswordStage>(&name, "updated", |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.observed_generation == o.metadata.generation)
                && is_ready(o)
        })
        .await;
    }
    env.delete::<PasswordStage>("own-3").await;
    env.wait_gone::<PasswordStage>("own-3").await;
    // A few polls after the last write.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let m = metrics(port).await;
    let seen = sample(&m, "authentik_operator_events_seen_total", &[]);
    // 4 creates, 4 updates, 1 delete: each logged, none echoed back into a reconcile.
    assert!(seen >= 9.0, "the log showed our writes: {m}");
    assert_eq!(
        sample(&m, "authentik_operator_event_reconciles_total", &[]),
        0.0,
        "{m}"
    );
    // Yet the same account's change, made by a person, is corrected.
    edit_as_alice(env.sim.control(), &pks[0], 42);
    corrected_within(env.sim.control(), &pks[0], 7, Duration::from_secs(20)).await;
}

/// The sweeps the follower asked for, by reason.
async fn gaps(port: u16, reason: &str) -> f64 {
    let m = metrics(port).await;
    sample(
        &m,
        "authentik_operator_event_gaps_total",
        &[&format!("reason=\"{reason}\"")],
    )
}

async fn wait_gap(port: u16, reason: &str, at_least: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while gaps(port, reason).await < at_least {
        if Instant::now() > deadline {
            let m = metrics(port).await;
            let lines: Vec<&str> = m.lines().filter(|l| l.contains("event")).collect();
            panic!("no {reason} sweep: {lines:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_gap_in_the_log_sweeps_at_once() {
    let (env, port) = following(Profile::Current).await;
    let pk = ready_stage(&env, "gaps").await;
    let control = env.sim.control();
    // The first start swept.
    wait_gap(port, "first_start", 1.0).await;

    // More new events than the follower reads in one poll: the change of our stage is
    // buried under 1,100 changes of an object that is not ours, made while the log does not
    // answer (so that no poll reads them half way), and found by the sweep.
    control.inject_fault(authentik_sim::Fault {
        route_prefix: "events/events/".into(),
        status: 503,
        ..Default::default()
    });
    let other = control.api_as(
        "alice",
        "POST",
        "stages/deny/",
        Some(json!({"name": "not-ours"})),
    );
    assert_eq!(other.status, 201, "{:?}", other.body);
    let other = other.body["pk"].as_str().unwrap().to_string();
    edit_as_alice(control, &pk, 11);
    for i in 0..1100 {
        let r = control.api_as(
            "alice",
            "PATCH",
            &format!("stages/deny/{other}/"),
            Some(json!({"deny_message": format!("{i}")})),
        );
        assert_eq!(r.status, 200);
    }
    control.clear_faults();
    wait_gap(port, "too_many", 1.0).await;
    corrected_within(control, &pk, 5, Duration::from_secs(20)).await;

    // The log cleaned: a change whose event was never written (as a change made in the
    // database), then every event gone.
    control.set_event_recording(false);
    edit_as_alice(control, &pk, 12);
    control.expire_events(None);
    control.set_event_recording(true);
    wait_gap(port, "cleaned", 1.0).await;
    corrected_within(control, &pk, 5, Duration::from_secs(20)).await;

    // A token that may not read the log: one sweep, then the periodic sweep alone.
    control.set_events_forbidden(true);
    edit_as_alice(control, &pk, 13);
    wait_gap(port, "forbidden", 1.0).await;
    corrected_within(control, &pk, 5, Duration::from_secs(20)).await;
    let m = metrics(port).await;
    assert_eq!(
        sample(&m, "authentik_operator_event_log_followed", &[]),
        0.0,
        "{m}"
    );
    // Not a loop: one sweep for the refusal, none per poll after it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(gaps(port, "forbidden").await, 1.0);
    // Readable again: followed again.
    control.set_events_forbidden(false);
    edit_as_alice(control, &pk, 14);
    corrected_within(control, &pk, 5, Duration::from_secs(20)).await;
}

/// Two authentiks, two followers: one that may not read its log, or is down, does not hold
/// up the other.
#[tokio::test]
async fn a_follower_per_authentik_independent_of_the_other() {
    let mut env = Env::new(Profile::Current).await;
    let port = free_port();
    env.extra_args = [
        "--resync-interval",
        LONG_RESYNC,
        "--event-interval",
        "1s",
        "--metrics-addr",
        &format!("127.0.0.1:{port}"),
    ]
    .map(String::from)
    .to_vec();
    env.start_operator().await;
    let other = common::another_sim(Profile::Current, "other-token").await;
    common::put_token_secret(&env, &env.ns, "other-token", "other-token").await;
    let conn = format!(
        "apiVersion: authentik-operator.io/v1alpha1\nkind: AuthentikConnection\nmetadata:\n  name: other\nspec:\n  url: {}\n  tokenSecretRef: {{name: other-token, key: token}}\n",
        other.url()
    );
    let out = env.kubectl(&["apply", "-f", "-"], Some(&conn));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let default_pk = ready_stage(&env, "on-default").await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "on-other"},
        "spec": {"connectionRef": {"name": "other"}, "backends": ["authentik.core.auth.InbuiltBackend"], "failedAttemptsBeforeCancel": 5}
    }))
    .await;
    let obj = env
        .wait_for::<PasswordStage>("on-other", "Ready", is_ready)
        .await;
    let other_pk = obj.status.unwrap().pk.unwrap();

    // The other authentik's log cannot be read: the connection says so, the default one
    // is followed all the same.
    other.control().set_events_forbidden(true);
    edit_as_alice(other.control(), &other_pk, 31);
    corrected_within(other.control(), &other_pk, 5, Duration::from_secs(20)).await;
    let conditions = || async {
        let out = env.kubectl(&["get", "authentikconnection", "other", "-o", "json"], None);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["status"]["conditions"].clone()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = conditions().await;
        let forbidden = c
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "EventLog" && c["reason"] == "EventsForbidden");
        if forbidden {
            break;
        }
        assert!(Instant::now() < deadline, "no EventLog condition: {c}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    edit_as_alice(env.sim.control(), &default_pk, 32);
    corrected_within(env.sim.control(), &default_pk, 5, Duration::from_secs(10)).await;

    // The other authentik down: the default one is still corrected in seconds.
    other.control().set_down(true);
    edit_as_alice(env.sim.control(), &default_pk, 33);
    corrected_within(env.sim.control(), &default_pk, 5, Duration::from_secs(10)).await;
    other.control().set_down(false);
    other.shutdown().await;
}

/// The operator's own binding writes are not echoed by the event log, and the stage's
/// object in authentik changes with them (its flows): its `boundTo` follows at once, not at
/// the sweep ten minutes later (found by the chaos soak: the update came late, in its
/// quiet period).
#[tokio::test]
async fn a_stages_bound_flows_follow_the_operators_own_binding_writes() {
    let (env, _) = following(Profile::Current).await;
    ready_stage(&env, "bound-pw").await;
    env.create::<Flow>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "bound-flow"},
        "spec": {"name": "Bound", "title": "Bound", "designation": "authentication"}
    }))
    .await;
    env.create::<FlowStageBinding>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "FlowStageBinding",
        "metadata": {"name": "bound-10"},
        "spec": {"flow": {"ref": "bound-flow"}, "stage": {"ref": {"kind": "PasswordStage", "name": "bound-pw"}}, "order": 10}
    }))
    .await;
    env.wait_for::<FlowStageBinding>("bound-10", "Ready", is_ready)
        .await;
    let bound = |want: &'static [&'static str]| {
        move |o: &PasswordStage| o.status.as_ref().is_some_and(|s| s.bound_to == want)
    };
    env.wait_for::<PasswordStage>("bound-pw", "bound to the flow", bound(&["bound-flow"]))
        .await;
    env.delete::<FlowStageBinding>("bound-10").await;
    env.wait_gone::<FlowStageBinding>("bound-10").await;
    env.wait_for::<PasswordStage>("bound-pw", "bound to nothing", bound(&[]))
        .await;
}
