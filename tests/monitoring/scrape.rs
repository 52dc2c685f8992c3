//! A real Prometheus scrapes the operator (every second, job `authentik-operator`, with the
//! `namespace` label the ServiceMonitor gives) and evaluates the rules file while the
//! operator goes through creates, a bad reference, three drifts of one stage, a recreation and
//! an authentik outage. Then every query of the dashboard and every alert expression is
//! checked against what Prometheus holds: each selector finds series, each grouping, matching
//! and legend label exists on them, each panel's query returns data, every rule evaluates
//! without error, and the alerts this scenario should raise are pending or firing.

use crate::common::{Env, authentik, body, is_ready, reason};
use crate::prometheus::{ALERTS, DASHBOARD, bin_dir, path};
use authentik_operator::kinds::{IdentificationStage, PasswordStage};
use authentik_sim::Profile;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A Prometheus server on loopback, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    async fn start(target_port: u16, namespace: &str) -> Prometheus {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(testenv::unique_namespace("prometheus"));
        std::fs::create_dir_all(&dir).expect("prometheus folder");
        let config = json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [path(ALERTS)],
            "scrape_configs": [{
                "job_name": "authentik-operator",
                "static_configs": [{
                    "targets": [format!("127.0.0.1:{target_port}")],
                    "labels": {"namespace": namespace},
                }],
            }],
        });
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config.to_string()).expect("config"); // JSON is YAML
        let port = free_port();
        let mut cmd = Command::new(bin_dir().join("prometheus"));
        cmd.arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"));
        let child = testenv::spawn_tied(cmd).expect("prometheus");
        let prom = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = prom.http.get(format!("{}/-/ready", prom.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return prom;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready; see {}",
                dir.join("prometheus.log").display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET /api/v1/<what>` with `params`; its `data`, or the error Prometheus gives.
    async fn api(&self, what: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let resp: Value = self
            .http
            .get(format!("{}/api/v1/{what}", self.url))
            .query(params)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if resp["status"] == "success" {
            Ok(resp["data"].clone())
        } else {
            Err(format!("{}: {}", resp["errorType"], resp["error"]))
        }
    }

    async fn query(&self, expr: &str) -> Vec<Value> {
        let data = self
            .api("query", &[("query", expr)])
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        match &data["result"] {
            Value::Array(items) => items.clone(),
            // A scalar result: data.
            other => vec![json!({"metric": {}, "value": other})],
        }
    }

    /// The label names of the series `selector` finds.
    async fn series_labels(&self, selector: &str) -> BTreeSet<String> {
        let start = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(600)).to_string();
        let data = self
            .api("series", &[("match[]", selector), ("start", &start)])
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"));
        data.as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s.as_object().into_iter().flatten().map(|(k, _)| k.clone()))
            .collect()
    }
}

/// What a query's syntax tree names: its selectors (as selectors again) and the labels it
/// groups or matches by.
#[derive(Default)]
struct Names {
    selectors: Vec<String>,
    labels: BTreeSet<String>,
}

fn walk(node: &Value, out: &mut Names) {
    if let Some("vectorSelector" | "matrixSelector") = node["type"].as_str() {
        let matchers: Vec<String> = node["matchers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let op = match m["type"].as_str().unwrap_or("=") {
                    "!=" => "!=",
                    "=~" => "=~",
                    "!~" => "!~",
                    _ => "=",
                };
                format!("{}{op}{}", m["name"].as_str().unwrap(), m["value"])
            })
            .collect();
        out.selectors.push(format!("{{{}}}", matchers.join(", ")));
    }
    for key in ["grouping", "include"] {
        for label in node[key].as_array().into_iter().flatten() {
            out.labels.extend(label.as_str().map(String::from));
        }
    }
    for label in node["matching"]["labels"].as_array().into_iter().flatten() {
        out.labels.extend(label.as_str().map(String::from));
    }
    for key in ["expr", "lhs", "rhs", "param"] {
        if node[key].is_object() {
            walk(&node[key], out);
        }
    }
    for arg in node["args"].as_array().into_iter().flatten() {
        walk(arg, out);
    }
}

/// Checks one expression against Prometheus; returns what is wrong with it.
async fn check(
    prom: &Prometheus,
    what: &str,
    expr: &str,
    legend: Option<&str>,
    data: bool,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let ast = match prom.api("parse_query", &[("query", expr)]).await {
        Ok(ast) => ast,
        Err(e) => return vec![format!("{what}: does not parse: {e}")],
    };
    let mut names = Names::default();
    walk(&ast, &mut names);
    assert!(!names.selectors.is_empty(), "{what}: no selector in {expr}");
    let mut known = BTreeSet::new();
    for selector in &names.selectors {
        let labels = prom.series_labels(selector).await;
        if labels.is_empty() {
            wrong.push(format!("{what}: no series for {selector}"));
        }
        known.extend(labels);
    }
    for label in &names.labels {
        if !known.contains(label) {
            wrong.push(format!(
                "{what}: groups or matches by {label:?}, which none of its series has ({known:?})"
            ));
        }
    }
    if data {
        let result = prom.query(expr).await;
        if result.is_empty() {
            wrong.push(format!("{what}: no data for {expr}"));
        }
        // Each legend label is on the series the panel shows.
        for part in legend.unwrap_or_default().split("{{").skip(1) {
            let label = part.split("}}").next().unwrap_or_default().trim();
            if !result.iter().any(|r| r["metric"].get(label).is_some()) {
                wrong.push(format!(
                    "{what}: legend label {label:?} is on none of {result:?}"
                ));
            }
        }
    }
    wrong
}

/// A dashboard query as Grafana sends it, with the variables set as a user would.
fn substituted(expr: &str, namespace: &str) -> String {
    expr.replace("$namespace", namespace)
        .replace("$connection", ".*")
        .replace("$__rate_interval", "1m")
        .replace("$__range", "10m")
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn every_panel_and_alert_finds_the_series_the_operator_exports() {
    let started = Instant::now();
    let metrics_port = free_port();
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = vec!["--metrics-addr".into(), format!("127.0.0.1:{metrics_port}")];
    env.start_operator().await;
    let prom = Prometheus::start(metrics_port, &env.ns).await;

    // Creates: two stages that become Ready, and one whose reference leads nowhere.
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "pw"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "failedAttemptsBeforeCancel": 5}
    }))
    .await;
    env.create::<IdentificationStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": "id"},
        "spec": {"userFields": ["username"]}
    }))
    .await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "broken"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"ref": "no-such-flow"}}
    }))
    .await;
    let pw = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    let id = env
        .wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    let broken = env
        .wait_for::<PasswordStage>("broken", "not Ready with a reason", |o| {
            reason(o, "Ready").is_some_and(|r| r != "InSync")
        })
        .await;
    let broken_reason = reason(&broken, "Ready").unwrap();

    // Someone changes the password stage in authentik three times; each is put back.
    let pw_pk = pw.status.and_then(|s| s.pk).expect("pk");
    for attempt in [7, 8, 9] {
        authentik(&env)
            .patch(
                "stages/password/",
                &pw_pk,
                &body(json!({"failed_attempts_before_cancel": attempt})),
            )
            .await
            .expect("edit in authentik");
        wait_until("the drift corrected", async || {
            env.sim.control().stage(&pw_pk).expect("stage")["failed_attempts_before_cancel"] == 5
        })
        .await;
        // Seen by Prometheus before the next one: increase() counts what it saw.
        let seen = format!(
            r#"authentik_operator_drift_corrections_total{{resource_name="pw"}} == {}"#,
            attempt - 6
        );
        wait_until("the correction scraped", async || {
            !prom.query(&seen).await.is_empty()
        })
        .await;
    }
    // And deletes the identification stage: it is created again.
    let id_pk = id.status.and_then(|s| s.pk).expect("pk");
    assert!(env.sim.control().delete_stage(&id_pk));
    env.wait_for::<IdentificationStage>("id", "recreated", |o| {
        is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(id_pk.as_str())
    })
    .await;

    // Then authentik goes away.
    env.sim.control().set_down(true);
    wait_until("the outage in Prometheus", async || {
        !prom
            .query(r#"authentik_operator_connection_up{connection="default"} == 0"#)
            .await
            .is_empty()
    })
    .await;
    // A few more scrapes, so every rate has samples from the outage.
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!("scenario done after {:?}", started.elapsed());

    let mut wrong = Vec::new();
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(path(DASHBOARD)).unwrap()).unwrap();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = substituted(target["expr"].as_str().unwrap(), &env.ns);
            let what = format!("panel {:?}", panel["title"].as_str().unwrap());
            wrong.extend(check(&prom, &what, &expr, target["legendFormat"].as_str(), true).await);
            queries += 1;
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = variable["query"]["query"].as_str() {
            // label_values(<selector>, <label>): the selector finds series with that label.
            let inner = q.trim_start_matches("label_values(").trim_end_matches(')');
            let (selector, label) = inner.rsplit_once(',').unwrap();
            let what = format!("variable {}", variable["name"]);
            let selector = substituted(selector, &env.ns);
            let labels = prom.series_labels(&selector).await;
            if !labels.contains(label.trim()) {
                wrong.push(format!(
                    "{what}: {selector} has no label {label} ({labels:?})"
                ));
            }
        }
    }
    let alerts = crate::prometheus::alerts();
    for rule in &alerts {
        let what = format!("alert {}", rule["alert"].as_str().unwrap());
        wrong.extend(check(&prom, &what, rule["expr"].as_str().unwrap(), None, false).await);
    }
    // Every rule evaluates without error in the server.
    let rules = prom.api("rules", &[]).await.expect("rules");
    let mut loaded = 0;
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            loaded += 1;
            if rule["health"] != "ok" {
                wrong.push(format!(
                    "rule {}: {} {}",
                    rule["name"], rule["health"], rule["lastError"]
                ));
            }
        }
    }
    assert_eq!(loaded, alerts.len(), "rules loaded by Prometheus: {rules}");
    // The check can fail: a misspelt metric and grouping label are caught.
    let typo = check(
        &prom,
        "a misspelt query",
        &format!(
            r#"sum by (knd) (authentik_operator_resource{{namespace="{}"}})"#,
            env.ns
        ),
        Some("{{knd}}"),
        true,
    )
    .await;
    assert_eq!(typo.len(), 4, "{typo:?}");
    assert!(
        wrong.is_empty(),
        "{} problem(s):\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // What this scenario should raise, and what it should not.
    let active = prom.api("alerts", &[]).await.expect("alerts");
    let raised = |name: &str, labels: &[(&str, &str)]| {
        active["alerts"].as_array().unwrap().iter().any(|a| {
            a["labels"]["alertname"] == name && labels.iter().all(|(k, v)| a["labels"][*k] == *v)
        })
    };
    let ns = env.ns.as_str();
    let expected: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "AuthentikOperatorAuthentikUnreachable",
            vec![("namespace", ns), ("connection", "default")],
        ),
        (
            "AuthentikOperatorResourcesNotReady",
            vec![
                ("namespace", ns),
                ("kind", "PasswordStage"),
                ("reason", broken_reason.as_str()),
            ],
        ),
        (
            "AuthentikOperatorReconcileErrors",
            vec![("namespace", ns), ("kind", "PasswordStage")],
        ),
        (
            "AuthentikOperatorDriftCorrectedRepeatedly",
            vec![
                ("namespace", ns),
                ("kind", "PasswordStage"),
                ("resource_namespace", ns),
                ("resource_name", "pw"),
            ],
        ),
    ];
    let drift = prom
        .query("authentik_operator_drift_corrections_total[1m]")
        .await;
    for (name, labels) in &expected {
        assert!(
            raised(name, labels),
            "{name} {labels:?} not raised: {active}\ndrift corrections: {drift:?}"
        );
    }
    for name in ["AuthentikOperatorNoLeader", "AuthentikOperatorDown"] {
        assert!(!raised(name, &[]), "{name} raised: {active}");
    }
    println!(
        "{queries} dashboard queries and {} alert expressions checked against Prometheus in {:?}",
        alerts.len(),
        started.elapsed()
    );
}
