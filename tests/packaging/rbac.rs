//! The chart's RBAC on the apiserver: `kubectl auth can-i` and real calls with its token.

use crate::helpers::{
    CHART, apply, assert_can_i, assert_pod_security_restricted, event, forbidden, fullname,
    installed_release, kubectl_ok, kubectl_out, monitoring_crds, one, q, render, run, stages,
    without_kind, write_list,
};
use serde_json::{Value, json};

#[test]
fn chart_rbac_cluster_wide_grants_what_the_operator_needs_and_nothing_more() {
    let cp = testenv::shared();
    installed_release(); // the CRDs
    let ns = cp.create_namespace("ao-chart").expect("namespace");
    let other = cp.create_namespace("ao-other").expect("namespace");
    let docs = render(&ns, &ns, &[&format!("{CHART}/ci/default-values.yaml")], &[]);
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("chart-default", &rest, false);
    let name = fullname(&ns);
    let deploy = one(&docs, "Deployment", &name);
    assert_pod_security_restricted(&ns, deploy);

    let who = format!("system:serviceaccount:{ns}:{name}");
    let mut cases = Vec::new();
    for s in stages() {
        let r = format!("{s}.authentik-operator.io");
        for verb in ["get", "list", "watch", "patch"] {
            cases.push((true, format!("{verb} {r} -n {other}")));
        }
        cases.push((true, format!("list {r} --all-namespaces")));
        cases.push((true, format!("patch {r} --subresource=status -n {other}")));
        for verb in ["create", "update", "delete", "deletecollection"] {
            cases.push((false, format!("{verb} {r} -n {other}")));
        }
        cases.push((false, format!("update {r} --subresource=status -n {other}")));
    }
    cases.extend([
        (true, q(format!("create events.events.k8s.io -n {other}"))),
        (true, q(format!("patch events.events.k8s.io -n {other}"))),
        (false, q(format!("delete events.events.k8s.io -n {other}"))),
        (false, q(format!("create events -n {other}"))), // the core/v1 API: not used
        // Connections and what they reference: read-only.
        (
            true,
            q("list authentikconnections.authentik-operator.io --all-namespaces"),
        ),
        (
            true,
            q(format!(
                "patch authentikconnections.authentik-operator.io --subresource=status -n {other}"
            )),
        ),
        (
            false,
            q(format!(
                "patch authentikconnections.authentik-operator.io -n {other}"
            )),
        ),
        (
            false,
            q(format!(
                "create authentikconnections.authentik-operator.io -n {other}"
            )),
        ),
        (
            true,
            q("watch clusterauthentikconnections.authentik-operator.io"),
        ),
        (
            true,
            q("patch clusterauthentikconnections.authentik-operator.io --subresource=status"),
        ),
        (
            false,
            q("delete clusterauthentikconnections.authentik-operator.io"),
        ),
        // Secrets: only in the release namespace (cluster connections' tokens), read-only.
        (false, q(format!("get secrets -n {other}"))),
        (false, q("watch secrets --all-namespaces")),
        (false, q("list secrets --all-namespaces")),
        (true, q(format!("get secrets -n {ns}"))),
        (true, q(format!("watch secrets -n {ns}"))),
        (false, q(format!("create secrets -n {ns}"))),
        (false, q(format!("update secrets -n {ns}"))),
        (false, q(format!("patch secrets -n {ns}"))),
        (false, q(format!("delete secrets -n {ns}"))),
        (true, q(format!("get configmaps -n {other}"))),
        (false, q(format!("list configmaps -n {other}"))),
        (false, q(format!("update configmaps -n {other}"))),
        (
            false,
            q(format!("create leases.coordination.k8s.io -n {ns}")),
        ), // no leader election
        (false, q(format!("create pods -n {ns}"))),
        (false, q("list namespaces")),
        (
            false,
            q("create customresourcedefinitions.apiextensions.k8s.io"),
        ),
    ]);
    assert_can_i(&who, &cases);

    // Real calls with the ServiceAccount's token.
    let token = cp.service_account_token(&ns, &name).expect("token");
    let as_sa = |args: &[&str]| {
        let mut cmd = cp.kubectl_with_token(&token);
        cmd.args(args);
        run(cmd, "kubectl")
    };
    let out = as_sa(&[
        "get",
        "passwordstages.authentik-operator.io",
        "--all-namespaces",
    ]);
    assert!(out.ok, "listing stages: {}", out.stderr);
    let out = as_sa(&["create", "secret", "generic", "stolen", "-n", &other]);
    assert!(
        forbidden(&out),
        "creating a secret: {} {}",
        out.stdout,
        out.stderr
    );
    let out = as_sa(&["get", "configmaps", "-n", &other]);
    assert!(
        forbidden(&out),
        "listing configmaps: {} {}",
        out.stdout,
        out.stderr
    );
    let out = as_sa(&["delete", "passwordstage", "login-password", "-n", &other]);
    assert!(
        forbidden(&out),
        "deleting a stage: {} {}",
        out.stdout,
        out.stderr
    );
    // Events: created, then counted up with a patch, as the Recorder does.
    let file = write_list("event", &[&event(&other, "login-password.1")]);
    let out = as_sa(&["create", "-f", &file.display().to_string()]);
    assert!(out.ok, "creating an event: {}", out.stderr);
    // (A server-side apply: a PATCH without a GET first, like the Recorder's merge patch;
    // `kubectl patch` would GET the event first, which the operator never does.)
    let mut again = event(&other, "login-password.1");
    again["series"] = json!({"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"});
    let file = write_list("event-again", &[&again]);
    let out = as_sa(&[
        "apply",
        "--server-side",
        "--field-manager=authentik-operator",
        "-f",
        &file.display().to_string(),
    ]);
    assert!(out.ok, "patching an event: {}", out.stderr);
}

#[test]
fn chart_rbac_for_listed_namespaces_stays_in_them_and_leases_stay_in_the_release_namespace() {
    let cp = testenv::shared();
    installed_release(); // the CRDs
    let ns = cp.create_namespace("ao-ha").expect("namespace");
    let watched = [
        cp.create_namespace("ao-watched-a").expect("namespace"),
        cp.create_namespace("ao-watched-b").expect("namespace"),
    ];
    let other = cp.create_namespace("ao-other").expect("namespace");
    let docs = render(
        &ns,
        &ns,
        &[&format!("{CHART}/ci/ha-namespaced-values.yaml")],
        &[&format!("watchNamespaces={{{}}}", watched.join(","))],
    );
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("chart-ha", &rest, false);
    let name = fullname(&ns);
    assert_pod_security_restricted(&ns, one(&docs, "Deployment", &name));

    let who = format!("system:serviceaccount:{ns}:{name}");
    let mut cases = Vec::new();
    for s in stages() {
        let r = format!("{s}.authentik-operator.io");
        for w in &watched {
            cases.push((true, format!("watch {r} -n {w}")));
            cases.push((true, format!("patch {r} --subresource=status -n {w}")));
        }
        cases.push((false, format!("list {r} -n {other}")));
        cases.push((false, format!("patch {r} --subresource=status -n {other}")));
        cases.push((false, format!("list {r} -n {ns}")));
        cases.push((false, format!("list {r} --all-namespaces")));
    }
    let lease = "leases.coordination.k8s.io";
    for w in &watched {
        cases.extend([
            (true, format!("create events.events.k8s.io -n {w}")),
            (false, format!("create {lease} -n {w}")),
            (true, format!("watch secrets -n {w}")),
            (true, format!("get configmaps -n {w}")),
            (
                true,
                format!("list authentikconnections.authentik-operator.io -n {w}"),
            ),
        ]);
    }
    cases.extend([
        (false, format!("create events.events.k8s.io -n {other}")),
        (true, format!("create {lease} -n {ns}")),
        (true, format!("get {lease}/{name} -n {ns}")),
        (true, format!("patch {lease}/{name} -n {ns}")),
        (false, format!("update {lease}/{name} -n {ns}")),
        (false, format!("delete {lease}/{name} -n {ns}")),
        (false, format!("get {lease}/someone-else -n {ns}")),
        (false, format!("patch {lease}/someone-else -n {ns}")),
        (false, format!("list {lease} -n {ns}")),
        (false, format!("get secrets -n {other}")),
        (false, q("list secrets --all-namespaces")),
        (true, format!("watch secrets -n {ns}")),
        (false, format!("get configmaps -n {other}")),
        (
            false,
            format!("list authentikconnections.authentik-operator.io -n {other}"),
        ),
        // Cluster-scoped: watched whatever the namespaces.
        (
            true,
            q("watch clusterauthentikconnections.authentik-operator.io"),
        ),
    ]);
    assert_can_i(&who, &cases);

    // Real calls: the Lease life cycle of leader election, and stages inside and outside the
    // watched namespaces.
    let token = cp.service_account_token(&ns, &name).expect("token");
    let as_sa = |args: &[&str]| {
        let mut cmd = cp.kubectl_with_token(&token);
        cmd.args(args);
        run(cmd, "kubectl")
    };
    let lease_obj = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15},
    });
    let file = write_list("lease", &[&lease_obj]);
    let out = as_sa(&["create", "-f", &file.display().to_string()]);
    assert!(out.ok, "creating the lease: {}", out.stderr);
    let out = as_sa(&[
        "patch",
        "lease",
        &name,
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"holderIdentity":"pod-b"}}"#,
    ]);
    assert!(out.ok, "taking the lease over: {}", out.stderr);
    let out = as_sa(&[
        "get",
        "lease",
        &name,
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert!(
        out.ok && out.stdout == "pod-b",
        "{} {}",
        out.stdout,
        out.stderr
    );
    // A stage in each watched namespace and in the other one (created as admin); the
    // operator's status write is a server-side apply of the status subresource.
    let stages: Vec<_> = watched
        .iter()
        .chain([&other])
        .map(|n| password_stage(n))
        .collect();
    apply("stages", &stages.iter().collect::<Vec<_>>(), false);
    let apply_status = |namespace: &str| {
        let mut stage = password_stage(namespace);
        stage["status"] = json!({"observedGeneration": 1});
        let file = write_list("stage-status", &[&stage]);
        as_sa(&[
            "apply",
            "--server-side",
            "--field-manager=authentik-operator",
            "--subresource=status",
            "-f",
            &file.display().to_string(),
        ])
    };
    for w in &watched {
        let out = as_sa(&["get", "passwordstages.authentik-operator.io", "-n", w]);
        assert!(
            out.ok && out.stdout.contains("login-password"),
            "listing stages in watched namespace {w}: {} {}",
            out.stdout,
            out.stderr
        );
        let out = apply_status(w);
        assert!(
            out.ok,
            "patching a stage's status in watched namespace {w}: {}",
            out.stderr
        );
    }
    let out = as_sa(&["get", "passwordstages.authentik-operator.io", "-n", &other]);
    assert!(
        forbidden(&out),
        "listing elsewhere: {} {}",
        out.stdout,
        out.stderr
    );
    let out = apply_status(&other);
    assert!(
        forbidden(&out),
        "patching a stage's status elsewhere: {} {}",
        out.stdout,
        out.stderr
    );
}

/// A valid PasswordStage `login-password` in `namespace`.
fn password_stage(namespace: &str) -> Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "login-password", "namespace": namespace},
        "spec": {"name": format!("login-password-{namespace}"),
                 "backends": ["authentik.core.auth.InbuiltBackend"]},
    })
}

#[test]
fn chart_with_service_monitor_and_no_default_authentik_is_accepted() {
    let cp = testenv::shared();
    installed_release(); // the CRDs
    monitoring_crds();
    let ns = cp.create_namespace("ao-mon").expect("namespace");
    let docs = render(
        &ns,
        &ns,
        &[&format!("{CHART}/ci/monitoring-values.yaml")],
        &[],
    );
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("chart-monitoring", &rest, false);
    let name = fullname(&ns);
    kubectl_ok(["get", "servicemonitor", &name, "-n", &ns]);
    // The PrometheusRule passed the real CRD's schema; one that breaks it is refused, so the
    // check is real.
    kubectl_ok(["get", "prometheusrule", &name, "-n", &ns]);
    let mut bad = one(&docs, "PrometheusRule", &name).clone();
    bad["spec"]["groups"][0]["rules"][0]["for"] = json!("five minutes");
    let file = write_list("prometheusrule-bad", &[&bad])
        .display()
        .to_string();
    let out = kubectl_out(["apply", "--server-side", "--dry-run=server", "-f", &file]);
    assert!(!out.ok && out.stderr.contains("for"), "{}", out.stderr);
    let dashboard = kubectl_ok([
        "get",
        "configmap",
        &format!("{name}-dashboard"),
        "-n",
        &ns,
        "-o",
        "jsonpath={.metadata.labels.grafana_dashboard}",
    ]);
    assert_eq!(dashboard, "1");
    let who = format!("system:serviceaccount:{ns}:{name}");
    assert_can_i(
        &who,
        &[
            (
                true,
                q("watch passwordstages.authentik-operator.io --all-namespaces"),
            ),
            (false, format!("delete secrets -n {ns}")),
            // Nothing more for the ServiceMonitor: Prometheus scrapes, the operator does not.
            (
                false,
                format!("get servicemonitors.monitoring.coreos.com -n {ns}"),
            ),
        ],
    );
}
