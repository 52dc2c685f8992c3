//! The control plane: the installed release, Pod Security and RBAC checks, test objects.

use crate::helpers::{
    CHART, Out, checked_in_crds, helm_ok, kubectl_ok, kubectl_out, path, write_list,
};
use serde_json::{Value, json};
use std::sync::OnceLock;

/// A release of the chart installed with `helm install` (default values), once per test
/// binary: it brings the CRDs the other tests need, created by Helm from the templates.
/// Returns the release name, which is also its namespace.
pub fn installed_release() -> &'static str {
    static RELEASE: OnceLock<String> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let cp = testenv::shared();
        let ns = cp.create_namespace("ao-helm").expect("namespace");
        helm_ok([
            "install",
            &ns,
            &path(CHART).display().to_string(),
            "--namespace",
            &ns,
            "-f",
            &path(&format!("{CHART}/ci/default-values.yaml"))
                .display()
                .to_string(),
            "--kubeconfig",
            &cp.kubeconfig().display().to_string(),
        ]);
        let crds: Vec<String> = checked_in_crds()
            .keys()
            .map(|name| format!("crd/{name}"))
            .collect();
        let mut args = vec!["wait", "--for=condition=Established", "--timeout=60s"];
        args.extend(crds.iter().map(String::as_str));
        kubectl_ok(&args);
        ns
    })
}

/// prometheus-operator's PrometheusRule and ServiceMonitor CRDs, generated from its API types
/// by `tests/prometheus-crds/build.sh` (as that project generates them), installed once.
pub fn monitoring_crds() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(path("tests/prometheus-crds/build.sh"))
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("running tests/prometheus-crds/build.sh");
        assert!(
            out.status.success(),
            "tests/prometheus-crds/build.sh failed: it builds controller-gen from its Go module and needs `go`"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = std::path::PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        let mut names = Vec::new();
        for plural in ["prometheusrules", "servicemonitors"] {
            let file = dir.join(format!("monitoring.coreos.com_{plural}.yaml"));
            kubectl_ok([
                "apply",
                "--server-side",
                "--field-manager=packaging-test",
                "-f",
                &file.display().to_string(),
            ]);
            names.push(format!("crd/{plural}.monitoring.coreos.com"));
        }
        let mut args = vec!["wait", "--for=condition=Established", "--timeout=60s"];
        args.extend(names.iter().map(String::as_str));
        kubectl_ok(&args);
    });
}

/// Creating a Pod from the Deployment's template in a namespace that enforces the
/// "restricted" Pod Security Standard succeeds (server-side dry run), and the same Pod with
/// privilege escalation allowed is refused (so the check is real).
pub fn assert_pod_security_restricted(namespace: &str, deployment: &Value) {
    kubectl_ok([
        "label",
        "namespace",
        namespace,
        "--overwrite",
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pod-security-check", "namespace": namespace},
        "spec": deployment["spec"]["template"]["spec"],
    });
    let file = write_list("pod", &[&pod]);
    let file = file.display().to_string();
    kubectl_ok(["create", "--dry-run=server", "-f", &file]);
    let mut bad = pod.clone();
    bad["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
    let file = write_list("pod-bad", &[&bad]);
    let out = kubectl_out([
        "create",
        "--dry-run=server",
        "-f",
        &file.display().to_string(),
    ]);
    assert!(
        !out.ok && out.stderr.contains("violates PodSecurity"),
        "a pod allowing privilege escalation was not refused: {}",
        out.stderr
    );
}

/// `kubectl auth can-i` as `who` for each `(expected, "verb resource [flags]")`; reports every
/// mismatch at once.
pub fn assert_can_i(who: &str, cases: &[(bool, String)]) {
    let mut wrong = Vec::new();
    for (expected, question) in cases {
        let mut args = vec!["auth", "can-i"];
        args.extend(question.split_whitespace());
        let as_ = format!("--as={who}");
        args.push(&as_);
        let out = kubectl_out(&args);
        let answer = out.stdout.trim();
        let got = if answer.starts_with("yes") {
            true
        } else if answer.starts_with("no") {
            false
        } else {
            panic!(
                "kubectl auth can-i {question}: {}{}",
                out.stdout, out.stderr
            );
        };
        if got != *expected {
            wrong.push(format!(
                "can-i {question}: expected {}, got {}",
                if *expected { "yes" } else { "no" },
                answer
            ));
        }
    }
    assert!(wrong.is_empty(), "RBAC of {who}:\n{}", wrong.join("\n"));
}

/// The chart's name for a release's objects (release names here never contain the chart's).
pub fn fullname(release: &str) -> String {
    format!("{release}-authentik-operator")
}

pub fn q(s: impl Into<String>) -> String {
    s.into()
}

pub fn forbidden(out: &Out) -> bool {
    !out.ok && out.stderr.contains("forbidden")
}

/// An events.k8s.io/v1 Event about a stage, as kube-rs' Recorder writes it.
pub fn event(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "eventTime": "2025-01-01T00:00:00.000000Z",
        "reportingController": "authentik-operator",
        "reportingInstance": "authentik-operator-0",
        "action": "Reconcile",
        "reason": "Created",
        "type": "Normal",
        "note": "created the stage in authentik",
        "regarding": {"apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
                      "name": "login-password", "namespace": namespace},
    })
}
