//! The control interface (in-process and over `/_sim/`), concurrency, and the binary.

mod common;

use std::time::{Duration, Instant};

use authentik_sim::{Capacity, Fault, Profile};
use common::{Api, TOKEN};
use serde_json::{Value, json};

const INBUILT: &str = "authentik.core.auth.InbuiltBackend";

fn fault(prefix: &str, status: u16) -> Fault {
    Fault {
        route_prefix: prefix.into(),
        status,
        ..Fault::default()
    }
}

#[tokio::test]
async fn faults_answer_with_the_injected_status_a_limited_number_of_times() {
    let api = Api::start(Profile::Current, false).await;
    let ctl = api.sim.control();
    ctl.inject_fault(Fault {
        retry_after: Some(7),
        times: Some(2),
        ..fault("stages/password/", 503)
    });
    for _ in 0..2 {
        let r = api.get("stages/password/").await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (503, r#"{"error":"authentik starting"}"#)
        );
        assert_eq!(
            r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("7")
        );
    }
    assert_eq!(
        api.get("stages/password/").await.status,
        200,
        "the fault is used up"
    );
    assert!(ctl.faults().is_empty());

    ctl.inject_fault(Fault {
        retry_after: Some(3),
        ..fault("", 429)
    });
    let r = api.get("stages/user_login/").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            429,
            r#"{"detail":"Request was throttled. Expected available in 3 seconds."}"#
        )
    );
    ctl.clear_faults();
    ctl.inject_fault(fault("stages/", 500));
    assert_eq!(api.get("stages/all/").await.status, 500);
    assert_eq!(
        api.get("admin/version/").await.status,
        200,
        "other prefixes are untouched"
    );
    ctl.clear_faults();
    ctl.inject_fault(fault("/api/v3/admin/", 502));
    assert_eq!(
        api.get("admin/version/").await.status,
        502,
        "a leading /api/v3/ is accepted"
    );
    ctl.clear_faults();

    // Only POSTs fail; GETs go through.
    ctl.inject_fault(Fault {
        method: Some("post".into()),
        ..fault("stages/user_login/", 500)
    });
    assert_eq!(
        api.post("stages/user_login/", json!({"name": "x"}))
            .await
            .status,
        500
    );
    assert_eq!(api.get("stages/user_login/").await.status, 200);
    assert!(
        ctl.stages("user_login").is_empty(),
        "a faulted write does not reach the state"
    );
    ctl.clear_faults();

    let counters = ctl.counters();
    assert_eq!(counters.get("GET stages/password/"), Some(&3));
    assert_eq!(counters.get("POST stages/user_login/"), Some(&1));
}

#[tokio::test]
async fn faults_can_drop_connections_and_fire_at_a_rate() {
    let api = Api::start(Profile::Current, false).await;
    let ctl = api.sim.control();
    ctl.inject_fault(Fault {
        times: Some(1),
        ..fault("", 0)
    });
    let err = api
        .client
        .get(api.url("stages/all/"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(err.is_err(), "the connection is closed without an answer");
    assert_eq!(ctl.requests().last().map(|r| r.status), Some(0));
    assert_eq!(api.get("stages/all/").await.status, 200);

    ctl.inject_fault(Fault {
        rate: 0.0,
        ..fault("", 500)
    });
    for _ in 0..20 {
        assert_eq!(
            api.get("stages/all/").await.status,
            200,
            "rate 0 never fires"
        );
    }
    ctl.clear_faults();
    ctl.inject_fault(Fault {
        rate: 0.5,
        ..fault("", 503)
    });
    let mut failed = 0;
    for _ in 0..200 {
        if api.get("stages/all/").await.status == 503 {
            failed += 1;
        }
    }
    assert!((40..=160).contains(&failed), "about half fail: {failed}");
}

#[tokio::test]
async fn latency_and_down_mode() {
    let api = Api::start(Profile::Current, false).await;
    let ctl = api.sim.control();
    ctl.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(api.get("stages/all/").await.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    ctl.set_latency(Duration::ZERO);

    ctl.set_down(true);
    let fresh = reqwest::Client::new();
    assert!(
        fresh
            .get(api.url("stages/all/"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .is_err(),
        "new connection"
    );
    assert!(
        api.client
            .get(api.url("stages/all/"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .is_err(),
        "kept-alive connection"
    );
    // The control routes still answer, so a test can bring it back.
    let r = fresh
        .post(format!("{}/_sim/down", api.sim.url()))
        .json(&json!({"down": false}))
        .send()
        .await;
    assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(204));
    assert!(!ctl.is_down());
    assert_eq!(api.get("stages/all/").await.status, 200);
}

#[tokio::test]
async fn the_request_log_shows_what_clients_sent() {
    let api = Api::start(Profile::Current, false).await;
    let ctl = api.sim.control();
    let pk = api
        .create("password", json!({"name": "p", "backends": [INBUILT]}))
        .await;
    ctl.clear_requests();
    ctl.clear_counters();
    api.patch(
        &format!("stages/password/{pk}/"),
        json!({"failed_attempts_before_cancel": 2}),
    )
    .await;
    api.get("stages/password/?name=p").await;
    let log = ctl.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "PATCH");
    assert_eq!(log[0].path, format!("/api/v3/stages/password/{pk}/"));
    assert_eq!(log[0].route, "stages/password/{pk}/");
    assert_eq!(
        log[0].body,
        Some(json!({"failed_attempts_before_cancel": 2})),
        "only the changed field"
    );
    assert_eq!(log[0].status, 200);
    assert_eq!(
        (log[1].query.as_deref(), log[1].body.clone()),
        (Some("name=p"), None)
    );
    let counters = ctl.counters();
    assert_eq!(counters.get("PATCH stages/password/{pk}/"), Some(&1));
    assert_eq!(counters.get("GET stages/password/"), Some(&1));
    assert_eq!(counters.len(), 2);
}

#[tokio::test]
async fn reset_restores_a_fresh_install() {
    let api = Api::start(Profile::V2024_4, true).await;
    let ctl = api.sim.control();
    let seeded: Vec<Value> = ctl.stages("password");
    api.create("password", json!({"name": "extra", "backends": [INBUILT]}))
        .await;
    api.delete(&format!(
        "stages/password/{}/",
        seeded[0]["pk"].as_str().unwrap_or_default()
    ))
    .await;
    ctl.inject_fault(fault("", 500));
    ctl.set_latency(Duration::from_millis(5));
    ctl.reset();
    let names: Vec<Value> = ctl
        .stages("password")
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, [json!("default-authentication-password")]);
    assert!(ctl.faults().is_empty() && ctl.requests().is_empty() && ctl.counters().is_empty());
    assert_eq!(ctl.latency(), Duration::ZERO);
    assert_eq!(api.get("stages/password/").await.status, 200);
}

#[tokio::test]
async fn the_control_interface_works_over_http() {
    let api = Api::start(Profile::Current, false).await;
    let c = &api.client;
    let sim = |p: &str| format!("{}/_sim/{p}", api.sim.url());
    let status =
        |r: Result<reqwest::Response, reqwest::Error>| r.map(|r| r.status().as_u16()).unwrap_or(0);

    let r = c
        .post(sim("sources"))
        .json(&json!({"name": "Corp", "slug": "corp"}))
        .send()
        .await;
    let source: Value = r.expect("sources").json().await.expect("json");
    assert!(source["pk"].is_string());
    assert_eq!(
        api.get("sources/all/?slug=corp").await.json["results"][0]["pk"],
        source["pk"]
    );
    let fault = json!({"route_prefix": "stages/", "status": 503, "retry_after": 2, "times": 1});
    assert_eq!(status(c.post(sim("faults")).json(&fault).send().await), 204);
    assert_eq!(
        status(
            c.post(sim("faults"))
                .json(&json!({"status": 200, "rate": 2.0}))
                .send()
                .await
        ),
        400
    );
    assert_eq!(api.get("stages/all/").await.status, 503);
    assert_eq!(
        status(
            c.post(sim("faults"))
                .json(&json!({"status": 500}))
                .send()
                .await
        ),
        204
    );
    assert_eq!(status(c.delete(sim("faults")).send().await), 204);
    assert_eq!(api.get("stages/all/").await.status, 200);
    let counters: Value = c
        .get(sim("counters"))
        .send()
        .await
        .expect("counters")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["GET stages/all/"], 2);
    let log: Value = c
        .get(sim("requests"))
        .send()
        .await
        .expect("requests")
        .json()
        .await
        .expect("json");
    assert_eq!(log.as_array().map(Vec::len), Some(3));
    assert_eq!(status(c.delete(sim("requests")).send().await), 204);
    assert!(api.sim.control().requests().is_empty());
    assert_eq!(
        status(c.post(sim("latency")).json(&json!({"ms": 20})).send().await),
        204
    );
    assert_eq!(api.sim.control().latency(), Duration::from_millis(20));
    let flow = json!({"name": "F", "slug": "f", "designation": "authentication"});
    assert_eq!(status(c.post(sim("flows")).json(&flow).send().await), 201);
    assert_eq!(status(c.post(sim("reset")).send().await), 204);
    assert_eq!(api.get("sources/all/").await.json["pagination"]["count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_make_exactly_one_stage() {
    let api = Api::start(Profile::Current, false).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url) = (api.client.clone(), api.url("stages/password/"));
        tasks.push(tokio::spawn(async move {
            let body = json!({"name": "race", "backends": [INBUILT]});
            client
                .post(url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap_or(0));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(api.sim.control().stages("password").len(), 1);
}

#[tokio::test]
async fn the_binary_serves_until_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_authentik-sim"))
        .args(["--listen", "127.0.0.1:0", "--profile", "2023.10", "--seed"])
        .env("AUTHENTIK_SIM_TOKEN", "bin-token")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("ready line in time");
    let line = line.ok().flatten().unwrap_or_default();
    let url: String = line
        .split("http://")
        .nth(1)
        .map(|r| r.chars().take_while(|c| !c.is_whitespace()).collect())
        .unwrap_or_default();
    assert!(!url.is_empty(), "no URL in {line:?}");
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{url}/api/v3/admin/version/"))
        .bearer_auth("bin-token")
        .send()
        .await
        .expect("answer");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["version_current"], "2023.10.7");
    let r = client
        .get(format!("http://{url}/api/v3/stages/password/"))
        .bearer_auth("bin-token")
        .send()
        .await
        .expect("answer");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["pagination"]["count"], 1, "--seed");
    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn capacity_mode_queues_requests_beyond_its_workers() {
    let api = Api::start(Profile::Current, false).await;
    let create = |i: usize| {
        let body = json!({"name": format!("c{i}"), "backends": [INBUILT]});
        api.call("POST", "stages/password/", Some(body))
    };
    // One worker, 50 ms a create: four at once take at least four service times.
    let one = Capacity {
        workers: 1,
        create_ms: 50.0,
        ..Capacity::default()
    };
    api.sim.control().set_capacity(Some(one));
    assert_eq!(api.sim.control().capacity(), Some(one));
    let started = Instant::now();
    let answers = tokio::join!(create(0), create(1), create(2), create(3));
    let answers = [answers.0, answers.1, answers.2, answers.3];
    assert!(answers.iter().all(|r| r.status == 201), "{answers:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    // Off again, over the control API as a shell would.
    let off = api
        .client
        .post(format!("{}/_sim/capacity", api.sim.url()))
        .json(&Value::Null)
        .send()
        .await
        .expect("control");
    assert_eq!(off.status(), 204);
    assert_eq!(api.sim.control().capacity(), None);
}
