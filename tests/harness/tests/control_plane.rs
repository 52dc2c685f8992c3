//! The library against the real control plane: one shared instance for most tests, plus own
//! instances where start and stop themselves are under test.

mod common;

use std::process::Stdio;
use std::time::Duration;

use testenv::{ControlPlane, Error, Options, shared, unique_namespace};

#[test]
fn readyz_is_ok() {
    let cp = shared();
    assert!(
        cp.server_url().starts_with("https://127.0.0.1:"),
        "{}",
        cp.server_url()
    );
    assert_eq!(
        cp.run_kubectl(["get", "--raw", "/readyz"]).unwrap().trim(),
        "ok"
    );
    eprintln!(
        "shared control plane started in {:?}",
        cp.startup_duration()
    );
}

#[test]
fn version_is_the_pinned_release() {
    let version: serde_json::Value =
        serde_json::from_str(&shared().run_kubectl(["get", "--raw", "/version"]).unwrap()).unwrap();
    let pinned = testenv::pinned_kubernetes_version();
    assert_eq!(version["gitVersion"], pinned, "{version}");
    assert_eq!(pinned, "v1.35.4");
    assert!(
        shared().bin_dir().to_string_lossy().contains(pinned),
        "{:?}",
        shared().bin_dir()
    );
}

#[test]
fn rbac_is_enforced() {
    let cp = shared();
    // The admin (system:masters) may; an identity without bindings may not.
    cp.run_kubectl(["get", "secrets", "-n", "default"]).unwrap();
    let err = cp
        .run_kubectl(["get", "secrets", "-n", "default", "--as=nobody"])
        .unwrap_err();
    assert!(err.to_string().contains("Forbidden"), "{err}");
    let can_i = cp
        .kubectl()
        .args(["auth", "can-i", "list", "secrets", "--as=nobody"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&can_i.stdout).trim(), "no");
    // The RBAC API and its bootstrap roles exist.
    cp.run_kubectl(["get", "clusterrole", "cluster-admin"])
        .unwrap();
}

#[test]
fn service_account_tokens_authenticate_and_are_authorized_by_rbac() {
    let cp = shared();
    let ns = cp.create_namespace("token").unwrap();
    let token = cp.service_account_token(&ns, "robot").unwrap();
    assert!(!token.is_empty());

    let who = cp
        .kubectl_with_token(&token)
        .args(["auth", "whoami", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        who.status.success(),
        "{}",
        String::from_utf8_lossy(&who.stderr)
    );
    let who: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(
        who["status"]["userInfo"]["username"],
        format!("system:serviceaccount:{ns}:robot")
    );

    let list = |token: &str| {
        cp.kubectl_with_token(token)
            .args(["get", "configmaps", "-n", &ns])
            .output()
            .unwrap()
    };
    let denied = list(&token);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Forbidden"),
        "{denied:?}"
    );

    cp.run_kubectl([
        "create",
        "role",
        "read-cm",
        "-n",
        &ns,
        "--verb=list",
        "--resource=configmaps",
    ])
    .unwrap();
    let sa = format!("--serviceaccount={ns}:robot");
    cp.run_kubectl([
        "create",
        "rolebinding",
        "read-cm",
        "-n",
        &ns,
        "--role=read-cm",
        &sa,
    ])
    .unwrap();
    assert!(common::eventually(Duration::from_secs(10), || list(&token)
        .status
        .success()));

    let forged = list("not-a-token");
    assert!(
        String::from_utf8_lossy(&forged.stderr).contains("Unauthorized"),
        "{forged:?}"
    );

    // The same token through a kubeconfig file (as the operator would be run).
    let path = cp.dir().join(format!("kubeconfig-{ns}"));
    std::fs::write(&path, cp.kubeconfig_with_token(&token)).unwrap();
    let out = std::process::Command::new(cp.bin_dir().join("kubectl"))
        .arg(format!("--kubeconfig={}", path.display()))
        .args(["get", "configmaps", "-n", &ns])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn admin_credentials_are_exposed_as_pem_and_in_the_kubeconfig() {
    let cp = shared();
    for pem in [cp.ca_pem(), cp.admin_cert_pem()] {
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    }
    assert!(
        cp.admin_key_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let who = cp.run_kubectl(["auth", "whoami", "-o", "json"]).unwrap();
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "testenv-admin");
    assert!(
        who["status"]["userInfo"]["groups"]
            .as_array()
            .unwrap()
            .contains(&"system:masters".into())
    );
}

#[test]
fn namespaces_per_test_and_pods_without_service_account_admission() {
    let cp = shared();
    let a = cp.create_namespace("Per Test").unwrap();
    let b = cp.create_namespace("Per Test").unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with("per-test-"), "{a}");
    // No controller-manager creates `default` ServiceAccounts; Pods can still be created.
    cp.run_kubectl([
        "run",
        "p",
        "-n",
        &a,
        "--image=registry.invalid/none",
        "--restart=Never",
    ])
    .unwrap();
    assert!(unique_namespace("x").len() <= 63);
}

#[test]
fn stop_leaves_no_process_and_no_files() {
    let extra = std::env::temp_dir()
        .join(unique_namespace("testenv-kubeconfig"))
        .join("kubeconfig");
    let cp = ControlPlane::start_with(Options {
        kubeconfig_path: Some(extra.clone()),
        ..Options::default()
    })
    .unwrap();
    assert_eq!(cp.kubeconfig(), extra);
    let status = cp
        .kubectl()
        .args(["get", "--raw", "/readyz"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pids: Vec<u32> = cp.pids().iter().map(|(_, pid)| *pid).collect();
    let names: Vec<&str> = cp.pids().iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["etcd", "kube-apiserver"]);
    assert!(pids.iter().all(|p| common::alive(*p)));
    let dir = cp.dir().to_path_buf();
    assert!(!common::processes_mentioning(&dir).is_empty());

    cp.stop();

    for pid in &pids {
        assert!(!common::alive(*pid), "pid {pid} still alive");
    }
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!extra.exists(), "{} still exists", extra.display());
    // Not even the watcher is left.
    assert_eq!(common::processes_mentioning(&dir), Vec::<u32>::new());
    let _ = std::fs::remove_dir(extra.parent().unwrap());
}

#[test]
fn a_failed_start_reports_the_log_and_cleans_up() {
    let options = Options {
        apiserver_args: vec!["--no-such-flag=1".into()],
        ..Options::default()
    };
    let err = ControlPlane::start_with(options).unwrap_err();
    let Error::Startup {
        component,
        tail,
        log,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*component, "kube-apiserver");
    assert!(tail.contains("unknown flag: --no-such-flag"), "{err}");
    assert!(err.to_string().contains("unknown flag"), "{err}");
    let dir = log.parent().unwrap();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert_eq!(common::processes_mentioning(dir), Vec::<u32>::new());
}

/// What a watch from `rv` on the ConfigMaps of `ns` answers (within a second).
fn watch_from(cp: &ControlPlane, ns: &str, rv: &str) -> String {
    cp.run_kubectl([
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        ),
    ])
    .unwrap_or_else(|e| e.to_string())
}

fn resource_version(cp: &ControlPlane, ns: &str) -> String {
    cp.run_kubectl([
        "get",
        "configmap",
        "kept",
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ])
    .unwrap()
}

#[test]
fn a_restarted_apiserver_keeps_the_data_and_expires_watches_from_before() {
    let cp = ControlPlane::start().unwrap();
    let ns = cp.create_namespace("restart").unwrap();
    cp.run_kubectl([
        "create",
        "configmap",
        "kept",
        "-n",
        &ns,
        "--from-literal=k=v1",
    ])
    .unwrap();
    let first = resource_version(&cp, &ns);
    for v in ["v2", "v3"] {
        cp.run_kubectl([
            "patch",
            "configmap",
            "kept",
            "-n",
            &ns,
            "-p",
            &format!(r#"{{"data":{{"k":"{v}"}}}}"#),
        ])
        .unwrap();
    }
    let last = resource_version(&cp, &ns);
    assert!(
        watch_from(&cp, &ns, &first).contains("\"v2\""),
        "the history is there before"
    );
    let old_pid = cp.pids()[1].1;

    let revision = cp.compact_etcd().unwrap();
    assert!(
        revision >= last.parse::<i64>().unwrap(),
        "{revision} {last}"
    );
    // The apiserver's watch cache still holds the history: a compaction alone expires no
    // watch; a restart (the cache starts again at etcd's revision) does.
    assert!(watch_from(&cp, &ns, &first).contains("\"v2\""));
    let gone = cp.restart_apiserver(testenv::Stop::Kill).unwrap();
    eprintln!("apiserver restarted in {gone:?}");
    assert_ne!(cp.pids()[1].1, old_pid, "a new process");
    assert!(!common::alive(old_pid));

    // The data and its versions stayed.
    assert_eq!(resource_version(&cp, &ns), last);
    let data = cp
        .run_kubectl([
            "get",
            "configmap",
            "kept",
            "-n",
            &ns,
            "-o",
            "jsonpath={.data.k}",
        ])
        .unwrap();
    assert_eq!(data, "v3");
    // A watch resuming from before the compaction is told it expired (410 Gone), as a
    // client's watch is after its server restarted on a compacted etcd.
    let expired = watch_from(&cp, &ns, &first);
    assert!(
        expired.contains("\"code\":410") && expired.contains("too old resource version"),
        "{expired}"
    );
    // From the current version it goes on.
    assert!(!watch_from(&cp, &ns, &last).contains("410"));
    // A graceful restart works as well.
    cp.restart_apiserver(testenv::Stop::Term).unwrap();
    assert_eq!(resource_version(&cp, &ns), last);
}
