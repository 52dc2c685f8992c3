//! The Helm chart on the node: one replica (start, security, reconcile, logs, SIGTERM), and
//! two (the Lease, the leader's pod deleted, a rolling upgrade).

use crate::helpers::*;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/authentik-operator");
const SELECTOR: &str = "app.kubernetes.io/name=authentik-operator";

fn install(release: &str, ns: &str, sim: &Sim, extra: &[&str]) {
    crds();
    let _ = operator_image();
    let url = format!("authentik.url={}", sim.url());
    let watch = format!("watchNamespaces={{{ns}}}");
    let mut args = vec![
        "install",
        release,
        CHART,
        "--namespace",
        ns,
        "--set",
        "image.repository=localhost/authentik-operator",
        "--set",
        "image.tag=node-test",
        "--set",
        "image.pullPolicy=Never",
        "--set",
        &url,
        "--set",
        "authentik.tokenSecret.name=authentik-operator-token",
        "--set",
        &watch,
        "--set",
        "installCRDs=false",
        "--set",
        "logFormat=json",
        "--set",
        "resyncInterval=5s",
    ];
    args.extend_from_slice(extra);
    helm(&args);
}

/// The pod's process as the kernel sees it: its user and its root mount.
fn assert_process_hardened(pod: &Value) {
    let pid = container_pid(pod);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("Uid line");
    assert!(
        uid.split_whitespace().all(|u| u == "65532"),
        "the operator runs as uid 65532: Uid:{uid}"
    );
    let gid = status
        .lines()
        .find_map(|l| l.strip_prefix("Gid:"))
        .expect("Gid line");
    assert!(gid.split_whitespace().all(|g| g == "65532"), "Gid:{gid}");
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .expect("CapEff line");
    assert_eq!(caps.trim(), "0000000000000000", "every capability dropped");
    let no_new_privs = status
        .lines()
        .find_map(|l| l.strip_prefix("NoNewPrivs:"))
        .expect("NoNewPrivs line");
    assert_eq!(no_new_privs.trim(), "1", "no privilege escalation");
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .expect("a root mount");
    let options = root.split_whitespace().nth(5).unwrap_or_default();
    assert!(
        options.split(',').any(|o| o == "ro"),
        "read-only root file system: {root}"
    );
}

/// Deletes `pod` (the kubelet sends SIGTERM) and returns how the container ended and how
/// long the pod took to go, watched through `kubectl get -w`.
fn delete_and_watch(ns: &str, pod: &str) -> (Option<i64>, Duration) {
    let mut watch = cluster()
        .control_plane()
        .kubectl()
        .args(["get", "pod", pod, "-n", ns, "-w", "-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        let reader = std::io::BufReader::new(stdout);
        let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
        for v in stream.flatten() {
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    // The first object shows the watch is established.
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the pod, from the watch");
    let started = Instant::now();
    kubectl(["delete", "pod", pod, "-n", ns, "--wait=false"]);
    let mut exit_code = None;
    let gone = loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(v) => {
                let state = &v["status"]["containerStatuses"][0]["state"];
                if let Some(code) = state["terminated"]["exitCode"].as_i64() {
                    exit_code = Some(code);
                }
            }
            Err(_) => {
                let out = kubectl_out(["get", "pod", pod, "-n", ns, "-o", "name"]);
                if out.stderr.contains("NotFound") {
                    break started.elapsed();
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "pod {pod} not gone within 60s of its deletion\n{}",
            diagnostics(ns)
        );
    };
    let _ = watch.kill();
    let _ = watch.wait();
    (exit_code, gone)
}

#[test]
fn helm_install_runs_restricted_reconciles_logs_and_stops_on_sigterm() {
    let ns = restricted_namespace("node-helm");
    let sim = Sim::start();
    install("op", &ns, &sim, &[]);
    let available = wait_available(&ns, "op-authentik-operator", Duration::from_secs(180));
    println!("helm install: Deployment Available in {available:?}");

    let pod = pods(&ns, SELECTOR)
        .into_iter()
        .find(is_ready)
        .expect("a ready pod");
    assert_process_hardened(&pod);

    // The in-cluster configuration and the mounted token work: the pod reconciles.
    reconcile_stage(&ns, "login-password", &sim);

    // Its log, through the kubelet: JSON lines, the creation, never the token.
    let logs = kubectl(["logs", "-n", &ns, &name(&pod)]);
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log");
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some() || v.get("fields").is_some(), "{l}");
    }
    assert!(
        logs.contains("created the authentik stage"),
        "the creation is logged:\n{logs}"
    );
    assert!(!logs.contains(TOKEN), "the token never reaches the logs");

    // The kubelet's SIGTERM ends the process cleanly, well within the 30 s grace period.
    let (exit_code, gone) = delete_and_watch(&ns, &name(&pod));
    println!("SIGTERM: pod gone in {gone:?}, exit code {exit_code:?}");
    assert_eq!(exit_code, Some(0), "a clean exit on SIGTERM");
    assert!(
        gone < Duration::from_secs(20),
        "the pod took {gone:?} to stop: SIGTERM was not enough"
    );
    // The ReplicaSet replaces the pod, and the stage stays in line.
    wait_available(&ns, "op-authentik-operator", Duration::from_secs(120));
    assert_eq!(sim.password_stages("login-password"), 1);
    helm(&["uninstall", "op", "--namespace", &ns, "--wait"]);
}

/// The Lease's holder, if any.
fn lease_holder(ns: &str, lease: &str) -> Option<String> {
    let out = kubectl_out([
        "get",
        "lease",
        lease,
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    (out.ok && !out.stdout.trim().is_empty()).then(|| out.stdout.trim().to_string())
}

/// Pods (ready or not, not being deleted) that say `authentik_operator_leader 1`.
fn leaders(ns: &str) -> Vec<String> {
    pods(ns, SELECTOR)
        .iter()
        .filter(|p| {
            pod_http_get(p, 8080, "/metrics")
                .is_some_and(|m| m.lines().any(|l| l.trim() == "authentik_operator_leader 1"))
        })
        .map(name)
        .collect()
}

#[test]
fn two_replicas_hand_over_the_lease_and_roll_one_at_a_time() {
    let ns = restricted_namespace("node-ha");
    let sim = Sim::start();
    install("ha", &ns, &sim, &["--set", "replicas=2"]);
    let deployment = "ha-authentik-operator";
    wait_available(&ns, deployment, Duration::from_secs(180));

    let names: Vec<String> = pods(&ns, SELECTOR).iter().map(name).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let leader = wait_for("a Lease holder", &ns, Duration::from_secs(60), || {
        lease_holder(&ns, deployment).filter(|h| names.contains(h))
    });
    wait_for("one pod leading", &ns, Duration::from_secs(30), || {
        (leaders(&ns) == vec![leader.clone()]).then_some(())
    });
    reconcile_stage(&ns, "ha-before", &sim);

    // The leader's pod deleted: SIGTERM hands the Lease back, the standby takes it at once
    // rather than after the 15 s lease duration.
    let deleted = Instant::now();
    kubectl(["delete", "pod", &leader, "-n", &ns, "--wait=false"]);
    let new_leader = wait_for("a new Lease holder", &ns, Duration::from_secs(60), || {
        lease_holder(&ns, deployment).filter(|h| *h != leader)
    });
    let handover = deleted.elapsed();
    println!("handover to {new_leader} in {handover:?}");
    assert!(
        handover < Duration::from_secs(15),
        "the standby waited for the lease to expire ({handover:?}): the leader did not hand it back"
    );
    reconcile_stage(&ns, "ha-after", &sim);
    wait_available(&ns, deployment, Duration::from_secs(120));
    assert_eq!(
        sim.password_stages("ha-before"),
        1,
        "no duplicate after the handover"
    );

    // A new release: the pods roll one at a time, and never do two lead.
    tag_image("node-test-2");
    helm(&[
        "upgrade",
        "ha",
        CHART,
        "--namespace",
        &ns,
        "--reuse-values",
        "--set",
        "image.tag=node-test-2",
    ]);
    let rolled = Instant::now();
    let mut most = 0;
    wait_for("the rolling update", &ns, Duration::from_secs(240), || {
        let now = leaders(&ns);
        most = most.max(now.len());
        assert!(now.len() <= 1, "two pods reconcile at once: {now:?}");
        let d = kubectl_json(&["get", "deployment", deployment, "-n", &ns]);
        let s = &d["status"];
        let all_new = pods(&ns, SELECTOR).iter().all(|p| {
            p["spec"]["containers"][0]["image"]
                .as_str()
                .is_some_and(|i| i.ends_with(":node-test-2"))
                && is_ready(p)
        });
        (s["observedGeneration"] == d["metadata"]["generation"]
            && s["updatedReplicas"].as_i64() == Some(2)
            && s["readyReplicas"].as_i64() == Some(2)
            && s["replicas"].as_i64() == Some(2)
            && all_new)
            .then_some(())
    });
    println!("rolling update done in {:?}", rolled.elapsed());
    let new_pods: Vec<String> = pods(&ns, SELECTOR).iter().map(name).collect();
    let holder = wait_for("a new pod leading", &ns, Duration::from_secs(60), || {
        lease_holder(&ns, deployment).filter(|h| new_pods.contains(h))
    });
    assert!(most <= 1);
    reconcile_stage(&ns, "ha-upgraded", &sim);
    for stage in ["ha-before", "ha-after", "ha-upgraded"] {
        assert_eq!(sim.password_stages(stage), 1, "{stage} exists once");
    }
    println!("after the upgrade {holder} leads");
    helm(&["uninstall", "ha", "--namespace", &ns, "--wait"]);
}
