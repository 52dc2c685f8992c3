//! Write-only values (EmailStage.passwordSecretRef, CaptchaStage.privateKeySecretRef): read
//! from a Secret, sent on create and when the Secret's value changes (one PATCH, nothing
//! while it does not), and never shown: not in the operator's log, events, status or
//! metrics. A missing Secret or key is a condition naming both, and nothing is created.

use crate::common::{Env, TOKEN};
use crate::dynamic::{self as d};
use authentik_sim::{Profile, RecordedRequest};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// Keys whose names are not part of the spec fields' names, so that a message naming the key
// is told from one naming the field.
const MAIL_KEY: &str = "smtp-pass";
const CAPTCHA_KEY: &str = "site-secret";

fn email(secret: &str) -> Value {
    json!({"useGlobalSettings": true, "passwordSecretRef": {"name": secret, "key": MAIL_KEY}})
}

fn captcha(secret: &str) -> Value {
    json!({"publicKey": "site-key", "privateKeySecretRef": {"name": secret, "key": CAPTCHA_KEY}})
}

/// The requests of `method` about the object at `pk`, or (POST) at `endpoint`.
fn requests(sim: &authentik_sim::Simulator, method: &str, path_part: &str) -> Vec<RecordedRequest> {
    sim.control()
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.contains(path_part))
        .collect()
}

#[tokio::test]
async fn a_missing_secret_or_key_is_a_clear_condition_and_nothing_is_created() {
    let env = Env::started(Profile::Current).await;
    d::create(&env, "EmailStage", "mail", &email("smtp")).await;
    d::create(&env, "CaptchaStage", "captcha", &captcha("captcha-keys")).await;
    let mut first = Vec::new();
    for (kind, name, secret, key) in [
        ("EmailStage", "mail", "smtp", MAIL_KEY),
        ("CaptchaStage", "captcha", "captcha-keys", CAPTCHA_KEY),
    ] {
        let obj = d::wait_synced(&env, kind, name, "SecretNotFound").await;
        let msg = d::message(&obj, "Synced");
        assert!(
            msg.contains(&format!("{}/{secret}", env.ns)) && msg.contains(&format!("{key:?}")),
            "names the Secret and the key: {msg}"
        );
        assert_eq!(d::reason(&obj, "Ready").as_deref(), Some("SecretNotFound"));
        env.wait_event(name, "SecretNotFound").await;
        first.push(msg);
    }
    // The Secret arrives without the key the stage reads.
    d::put_secret(&env, "smtp", "user", "mailer").await;
    let obj = d::wait(&env, "EmailStage", "mail", "told of the missing key", |o| {
        d::reason(o, "Synced").as_deref() == Some("SecretNotFound")
            && d::message(o, "Synced") != first[0]
    })
    .await;
    let msg = d::message(&obj, "Synced");
    assert!(
        msg.contains("smtp") && msg.contains(&format!("{MAIL_KEY:?}")),
        "{msg}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(env.sim_stages_named("email", "mail").is_empty());
    assert!(env.sim_stages_named("captcha", "captcha").is_empty());
    assert!(env.sim_writes().is_empty(), "{:#?}", env.sim_writes());

    // With the keys, both are created with the values.
    d::put_secret(&env, "smtp", MAIL_KEY, "first-smtp-password").await;
    d::put_secret(&env, "captcha-keys", CAPTCHA_KEY, "first-captcha-key").await;
    for (kind, name, field, value) in [
        ("EmailStage", "mail", "password", "first-smtp-password"),
        (
            "CaptchaStage",
            "captcha",
            "private_key",
            "first-captcha-key",
        ),
    ] {
        let obj = d::wait_ready(&env, kind, name).await;
        let posts = requests(&env.sim, "POST", d::info(kind).endpoint);
        assert_eq!(posts.len(), 1, "{posts:#?}");
        assert_eq!(posts[0].body.as_ref().unwrap()[field], json!(value));
        let sent = &d::status(&obj)["sentSecrets"];
        let hash = sent.as_object().unwrap().values().next().unwrap();
        assert!(hash.as_str().unwrap().starts_with("sha256:"), "{sent}");
        assert!(!sent.to_string().contains(value));
    }
}

/// The operator binary, killed when dropped.
struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs the real binary (debug logging, JSON lines) against `kubeconfig`, watching
/// `namespace` or, without one, all namespaces. Returns it, its log file and metrics port.
fn operator(
    kubeconfig: &Path,
    sim_url: &str,
    namespace: Option<&str>,
    dir: &Path,
) -> (Operator, PathBuf, u16) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let log = dir.join("operator.log");
    let metrics = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authentik-operator"));
    cmd.env_clear()
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "debug")
        .args(["run", "--authentik-url", sim_url])
        .args([
            "--authentik-token-file",
            &dir.join("token").display().to_string(),
        ])
        .args(["--resync-interval", "1s", "--backoff-max", "2s"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}")])
        .args(["--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(ns) = namespace {
        cmd.args(["--namespace", ns]);
    }
    let child = testenv::spawn_tied(cmd).expect("operator binary");
    (Operator(child), log, metrics)
}

/// Waits until exactly `n` PATCHes of the object at `pk` were recorded; returns them.
async fn wait_patches(sim: &authentik_sim::Simulator, pk: &str, n: usize) -> Vec<RecordedRequest> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let patches = requests(sim, "PATCH", pk);
        if patches.len() >= n {
            return patches;
        }
        assert!(Instant::now() < deadline, "no PATCH of {pk}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_changed_secret_is_sent_once_and_shown_nowhere() {
    let env = Env::new(Profile::Current).await;
    let dir = std::env::temp_dir().join(format!("kinds-secrets-{}", env.ns));
    let kubeconfig = testenv::shared().kubeconfig().to_path_buf();
    let (_op, log, metrics) = operator(&kubeconfig, &env.sim.url(), Some(&env.ns), &dir);
    let values = [
        "old-smtp-password-41",
        "new-smtp-password-42",
        "old-captcha-key-43",
        "new-captcha-key-44",
    ];
    d::put_secret(&env, "smtp", MAIL_KEY, values[0]).await;
    d::put_secret(&env, "captcha-keys", CAPTCHA_KEY, values[2]).await;
    d::create(&env, "EmailStage", "mail", &email("smtp")).await;
    d::create(&env, "CaptchaStage", "captcha", &captcha("captcha-keys")).await;
    let mail = d::wait_ready(&env, "EmailStage", "mail").await;
    let cap = d::wait_ready(&env, "CaptchaStage", "captcha").await;
    let (mail_pk, cap_pk) = (d::pk(&mail).unwrap(), d::pk(&cap).unwrap());
    let hashes = |o: &kube::api::DynamicObject| d::status(o)["sentSecrets"].clone();
    let (mail_hash, cap_hash) = (hashes(&mail), hashes(&cap));

    // Unchanged across several sweeps (1 s here): nothing is sent.
    env.sim.control().clear_requests();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(env.sim_writes().is_empty(), "{:#?}", env.sim_writes());

    // A new value: one PATCH each, carrying it and nothing else.
    d::put_secret(&env, "smtp", MAIL_KEY, values[1]).await;
    d::put_secret(&env, "captcha-keys", CAPTCHA_KEY, values[3]).await;
    for (pk, field, value) in [
        (&mail_pk, "password", values[1]),
        (&cap_pk, "private_key", values[3]),
    ] {
        let patches = wait_patches(&env.sim, pk, 1).await;
        assert_eq!(patches[0].body, Some(json!({field: value})), "{patches:#?}");
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        requests(&env.sim, "PATCH", &mail_pk).len(),
        1,
        "exactly one"
    );
    assert_eq!(requests(&env.sim, "PATCH", &cap_pk).len(), 1, "exactly one");
    assert_eq!(env.sim_writes().len(), 2, "{:#?}", env.sim_writes());
    let mail = d::wait_ready(&env, "EmailStage", "mail").await;
    let cap = d::wait_ready(&env, "CaptchaStage", "captcha").await;
    assert_ne!(hashes(&mail), mail_hash, "status records what was sent");
    assert_ne!(hashes(&cap), cap_hash);

    // Nowhere to be seen: the log (at debug level), events, the resources, metrics.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.contains("\"reason\":\"Created\"")),
        "the log was captured: {}",
        &text[..text.len().min(2000)]
    );
    let events: Api<Event> = Api::namespaced(env.client.clone(), &env.ns);
    let events =
        serde_json::to_string(&events.list(&ListParams::default()).await.unwrap()).unwrap();
    assert!(events.contains("mail"), "events were listed");
    let objects = [
        serde_json::to_string(&d::api(&env, "EmailStage").get("mail").await.unwrap()).unwrap(),
        serde_json::to_string(&d::api(&env, "CaptchaStage").get("captcha").await.unwrap()).unwrap(),
    ]
    .join("\n");
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("authentik_operator_"), "metrics were read");
    for value in values {
        assert!(!text.contains(value), "{value} in the operator's log");
        assert!(!events.contains(value), "{value} in an event");
        assert!(!objects.contains(value), "{value} in a resource");
        assert!(!metrics.contains(value), "{value} in the metrics");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Watching all namespaces, the operator has no Secret watch (it is granted Secrets per
/// namespace, never cluster-wide): each sweep reads the Secrets again, and a new value goes
/// out in one PATCH. On a control plane of its own, so that an operator of every namespace
/// meets no other test's resources.
#[tokio::test]
async fn without_a_secret_watch_the_sweep_sends_a_new_value() {
    let cp = tokio::task::spawn_blocking(testenv::ControlPlane::start)
        .await
        .unwrap()
        .expect("a control plane of this test's own");
    cp.run_kubectl(["apply", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/crds")])
        .expect("CRDs");
    cp.run_kubectl([
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=60s",
    ])
    .expect("CRDs Established");
    let ns = cp.create_namespace("sweep").expect("namespace");
    let kc = kube::config::Kubeconfig::read_from(cp.kubeconfig()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let mut env = Env::new(Profile::Current).await;
    // The environment's helpers, pointed at this control plane.
    env.client = client;
    env.ns = ns;
    let dir = std::env::temp_dir().join(format!("kinds-sweep-{}", env.ns));
    let (_op, _log, _) = operator(cp.kubeconfig(), &env.sim.url(), None, &dir);
    d::put_secret(&env, "smtp", MAIL_KEY, "swept-first").await;
    d::create(&env, "EmailStage", "mail", &email("smtp")).await;
    let pk = d::pk(&d::wait_ready(&env, "EmailStage", "mail").await).unwrap();
    env.sim.control().clear_requests();
    d::put_secret(&env, "smtp", MAIL_KEY, "swept-second").await;
    let patches = wait_patches(&env.sim, &pk, 1).await;
    assert_eq!(patches[0].body, Some(json!({"password": "swept-second"})));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(requests(&env.sim, "PATCH", &pk).len(), 1, "exactly one");
    let _ = std::fs::remove_dir_all(&dir);
}
