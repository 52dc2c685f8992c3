//! Rendering the chart: lint, values, the hardened pod, the ServiceMonitor, RBAC choices.

use crate::helpers::{
    CHART, all_rules, assert_hardened, assert_same_crds, checked_in_crds, cluster_rules, container,
    env_value, helm, helm_ok, kind_names, lease_rules, namespaced_rules, namespaces_of, of_kind,
    one, one_in, path, render, secret_rules, template_args,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn helm_lint_passes_for_the_defaults_and_every_ci_values_file() {
    let chart = path(CHART).display().to_string();
    let out = helm_ok(["lint", "--strict", &chart]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(path(&format!("{CHART}/ci")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "ci/ values files: {files:?}");
    for file in files {
        let out = helm([
            "lint",
            "--strict",
            &chart,
            "-f",
            &file.display().to_string(),
        ]);
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(out.ok, "helm lint with {}: {text}", file.display());
        for bad in ["[ERROR]", "[WARNING]", "level=WARN"] {
            assert!(
                !text.contains(bad),
                "helm lint with {}: {text}",
                file.display()
            );
        }
    }
}

#[test]
fn helm_refuses_missing_or_misspelt_values() {
    let fails = |values: &[&str], sets: &[&str], expected: &str| {
        let out = helm(template_args("ao", "ops", values, sets));
        assert!(
            !out.ok && out.stderr.contains(expected),
            "helm template {values:?} {sets:?}: expected a failure mentioning {expected:?}, got:\n{}",
            out.stderr
        );
    };
    fails(
        &[],
        &["authentik.url=https://a.example"],
        "authentik.tokenSecret.name is required",
    );
    let ci = format!("{CHART}/ci/default-values.yaml");
    // values.schema.json: unknown keys and bad values are refused.
    fails(&[&ci], &["watchNamespace=team-a"], "watchNamespace"); // the old, single-string key
    fails(&[&ci], &["watchNamespaces=team-a"], "watchNamespaces"); // a list, not a string
    fails(
        &[&ci],
        &["watchNamespaces={team-a,Team_A}"],
        "watchNamespaces",
    );
    fails(
        &[&ci],
        &["watchNamespaces={team-a,team-a}"],
        "watchNamespaces",
    );
    fails(&[&ci], &["logFormat=xml"], "logFormat");
    fails(&[&ci], &["authentik.url=authentik.example.com"], "url");
    fails(&[&ci], &["resyncInterval=soon"], "resyncInterval");
    fails(&[&ci], &["prometheusRule.enable=true"], "enable");
    fails(&[&ci], &["grafanaDashboard.label="], "label");
}

#[test]
fn default_values_render_one_hardened_replica_watching_all_namespaces() {
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/default-values.yaml")],
        &[],
    );
    let mut expected: BTreeSet<String> = [
        "ServiceAccount/ao-authentik-operator",
        "ClusterRole/ao-authentik-operator",
        "ClusterRoleBinding/ao-authentik-operator",
        "ClusterRole/ao-authentik-operator-secret-reader",
        "RoleBinding/ao-authentik-operator-secret-reader",
        "Service/ao-authentik-operator-metrics",
        "Deployment/ao-authentik-operator",
    ]
    .map(String::from)
    .into();
    expected.extend(
        checked_in_crds()
            .into_keys()
            .map(|name| format!("CustomResourceDefinition/{name}")),
    );
    assert_eq!(kind_names(&docs), expected);

    // The CRDs: the checked-in ones, kept on uninstall.
    let crds = of_kind(&docs, "CustomResourceDefinition");
    assert_same_crds(&crds, "helm template");
    for crd in &crds {
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
            "{}",
            crd["metadata"]["name"]
        );
    }

    let role = one(&docs, "ClusterRole", "ao-authentik-operator");
    assert_eq!(role["rules"], all_rules());
    let binding = one(&docs, "ClusterRoleBinding", "ao-authentik-operator");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "ao-authentik-operator", "namespace": "operators"}])
    );
    assert_eq!(binding["roleRef"]["name"], "ao-authentik-operator");
    // Secrets: readable in the release namespace only (the cluster connections' tokens).
    let reader = one(&docs, "ClusterRole", "ao-authentik-operator-secret-reader");
    assert_eq!(reader["rules"], secret_rules());
    assert_eq!(
        namespaces_of(&docs, "RoleBinding", "ao-authentik-operator-secret-reader"),
        ["operators"]
    );
    for b in of_kind(&docs, "ClusterRoleBinding") {
        assert_ne!(
            b["roleRef"]["name"], "ao-authentik-operator-secret-reader",
            "bound cluster-wide"
        );
    }

    let deploy = one(&docs, "Deployment", "ao-authentik-operator");
    assert_hardened(deploy, "chart");
    assert_eq!(deploy["spec"]["replicas"], 1);
    // One replica, no leader election: the old pod must be gone before the new one starts.
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION").as_deref(),
        Some("false")
    );
    assert_eq!(env_value(deploy, "LEADER_ELECTION_LEASE"), None);
    assert_eq!(env_value(deploy, "WATCH_NAMESPACE").as_deref(), Some(""));
    assert_eq!(
        env_value(deploy, "AUTHENTIK_URL").as_deref(),
        Some("https://authentik.example.com")
    );
    assert_eq!(
        env_value(deploy, "METRICS_ADDR").as_deref(),
        Some("0.0.0.0:8080")
    );
    // The event log followed, the sweep at the operator's own default for that.
    assert_eq!(env_value(deploy, "EVENT_INTERVAL").as_deref(), Some("2s"));
    assert_eq!(env_value(deploy, "RESYNC_INTERVAL"), None);
    assert_eq!(env_value(deploy, "LOG_FORMAT").as_deref(), Some("plain"));
    assert_eq!(env_value(deploy, "AUTHENTIK_CA_FILE"), None);
    assert_eq!(
        container(deploy)["image"],
        "ghcr.io/authentik-operator/authentik-operator:0.1.0"
    );
    assert_eq!(
        deploy["spec"]["template"]["spec"]["serviceAccountName"],
        "ao-authentik-operator"
    );

    let svc = one(&docs, "Service", "ao-authentik-operator-metrics");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}])
    );
    assert_eq!(
        svc["spec"]["selector"],
        deploy["spec"]["selector"]["matchLabels"]
    );

    // installCRDs=false leaves them out.
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/default-values.yaml")],
        &["installCRDs=false"],
    );
    assert!(of_kind(&docs, "CustomResourceDefinition").is_empty());
}

#[test]
fn replicas_force_leader_election_and_watch_namespaces_make_rbac_namespaced() {
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/ha-namespaced-values.yaml")],
        &[],
    );
    // Cluster-wide, only the cluster-scoped connections.
    let cluster_role = one(&docs, "ClusterRole", "ao-authentik-operator");
    assert_eq!(cluster_role["rules"], Value::Array(cluster_rules()));
    one(&docs, "ClusterRoleBinding", "ao-authentik-operator");
    // A Role and a RoleBinding in each watched namespace, and in no other.
    let watched = ["team-a", "team-b"];
    for kind in ["Role", "RoleBinding"] {
        assert_eq!(
            namespaces_of(&docs, kind, "ao-authentik-operator"),
            watched,
            "{kind}s"
        );
    }
    for ns in watched {
        let role = one_in(&docs, "Role", "ao-authentik-operator", ns);
        assert_eq!(role["rules"], Value::Array(namespaced_rules()), "{ns}");
        let binding = one_in(&docs, "RoleBinding", "ao-authentik-operator", ns);
        assert_eq!(binding["roleRef"]["kind"], "Role", "{ns}");
        assert_eq!(binding["roleRef"]["name"], "ao-authentik-operator", "{ns}");
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "ao-authentik-operator", "namespace": "operators"}]),
            "{ns}"
        );
    }

    // Secrets: in the release namespace and in each watched one, nowhere else.
    assert_eq!(
        namespaces_of(&docs, "RoleBinding", "ao-authentik-operator-secret-reader"),
        ["operators", "team-a", "team-b"]
    );

    let lease_role = one(&docs, "Role", "ao-authentik-operator-leader-election");
    assert_eq!(lease_role["metadata"]["namespace"], "operators");
    assert_eq!(lease_role["rules"], lease_rules("ao-authentik-operator"));
    let lease_binding = one(
        &docs,
        "RoleBinding",
        "ao-authentik-operator-leader-election",
    );
    assert_eq!(lease_binding["metadata"]["namespace"], "operators");

    let deploy = one(&docs, "Deployment", "ao-authentik-operator");
    assert_hardened(deploy, "chart, HA");
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(deploy["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 0);
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION_LEASE").as_deref(),
        Some("ao-authentik-operator")
    );
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION_NAMESPACE").as_deref(),
        Some("operators")
    );
    assert_eq!(
        env_value(deploy, "WATCH_NAMESPACE").as_deref(),
        Some("team-a,team-b")
    );
    assert_eq!(env_value(deploy, "LOG_FORMAT").as_deref(), Some("json"));
    assert_eq!(env_value(deploy, "RESYNC_INTERVAL").as_deref(), Some("5m"));
    assert_eq!(
        env_value(deploy, "AUTHENTIK_CA_FILE").as_deref(),
        Some("/var/run/secrets/authentik-operator/ca/ca.crt")
    );
    let volumes = &deploy["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["secret"]["items"][0]["key"], "api-token");
    assert_eq!(volumes[1]["secret"]["secretName"], "authentik-ca");
    assert_eq!(volumes[1]["secret"]["items"][0]["path"], "ca.crt");
    let pdb = one(&docs, "PodDisruptionBudget", "ao-authentik-operator");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert!(of_kind(&docs, "ServiceMonitor").is_empty());

    // Leader election on request with one replica; forced on with more than one.
    let ci = format!("{CHART}/ci/default-values.yaml");
    for sets in [
        &["leaderElection.enabled=true"][..],
        &["replicas=3", "leaderElection.enabled=false"][..],
    ] {
        let docs = render("ao", "operators", &[&ci], sets);
        let deploy = one(&docs, "Deployment", "ao-authentik-operator");
        assert_eq!(
            env_value(deploy, "LEADER_ELECTION").as_deref(),
            Some("true"),
            "{sets:?}"
        );
        one(&docs, "Role", "ao-authentik-operator-leader-election");
        one(&docs, "ClusterRole", "ao-authentik-operator");
    }

    // One namespace is a list of one; the empty list (the default) is every namespace.
    let docs = render("ao", "operators", &[&ci], &["watchNamespaces={team-a}"]);
    let deploy = one(&docs, "Deployment", "ao-authentik-operator");
    assert_eq!(
        env_value(deploy, "WATCH_NAMESPACE").as_deref(),
        Some("team-a")
    );
    assert_eq!(
        namespaces_of(&docs, "Role", "ao-authentik-operator"),
        ["team-a"]
    );
    let cluster_role = one(&docs, "ClusterRole", "ao-authentik-operator");
    assert_eq!(cluster_role["rules"], Value::Array(cluster_rules()));
    let docs = render("ao", "operators", &[&ci], &[]);
    assert!(of_kind(&docs, "Role").is_empty());
    // Every namespace watched: the only RoleBinding is the Secret reader's, in the release
    // namespace.
    assert_eq!(
        namespaces_of(&docs, "RoleBinding", "ao-authentik-operator-secret-reader"),
        ["operators"]
    );
    assert_eq!(of_kind(&docs, "RoleBinding").len(), 1);
}

#[test]
fn service_monitor_only_when_asked_for_and_no_default_authentik() {
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/monitoring-values.yaml")],
        &[],
    );
    let sm = one(&docs, "ServiceMonitor", "ao-authentik-operator");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(
        sm["spec"]["endpoints"],
        json!([{"port": "metrics", "path": "/metrics", "interval": "30s"}])
    );
    assert_eq!(
        sm["spec"]["namespaceSelector"]["matchNames"],
        json!(["operators"])
    );
    // The job is named after a label every release's Service carries: the alerts expect it.
    assert_eq!(sm["spec"]["jobLabel"], "app.kubernetes.io/part-of");
    // It selects the metrics Service, and only that.
    let svc = one(&docs, "Service", "ao-authentik-operator-metrics");
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&svc["metadata"]["labels"][k], v, "label {k}");
    }
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"],
        "metrics"
    );
    assert_eq!(
        svc["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "authentik-operator"
    );
    let role = one(&docs, "ClusterRole", "ao-authentik-operator");
    assert_eq!(role["rules"], all_rules());
    // No default authentik: no token to mount.
    let deploy = one(&docs, "Deployment", "ao-authentik-operator");
    assert_hardened(deploy, "chart without a default authentik");
    assert_eq!(env_value(deploy, "AUTHENTIK_URL"), None);
    assert!(deploy["spec"]["template"]["spec"]["volumes"].is_null());
}

#[test]
fn without_connections_the_operator_gets_no_access_to_secrets() {
    for sets in [
        vec!["connections.enabled=false"],
        vec![
            "connections.enabled=false",
            "watchNamespaces={team-a,team-b}",
        ],
    ] {
        let docs = render(
            "noconn",
            "authentik-operator",
            &[&format!("{CHART}/ci/default-values.yaml")],
            &sets,
        );
        let roles: Vec<&Value> = of_kind(&docs, "ClusterRole")
            .into_iter()
            .chain(of_kind(&docs, "Role"))
            .collect();
        assert!(!roles.is_empty(), "{sets:?}: some RBAC is rendered");
        if sets.len() > 1 {
            // Namespaced and without connections: nothing cluster-wide at all.
            assert!(of_kind(&docs, "ClusterRole").is_empty(), "{sets:?}");
            assert!(of_kind(&docs, "ClusterRoleBinding").is_empty(), "{sets:?}");
            assert_eq!(
                namespaces_of(&docs, "Role", "noconn-authentik-operator"),
                ["team-a", "team-b"]
            );
        }
        for role in roles {
            let text = role["rules"].to_string();
            for forbidden in ["secrets", "configmaps", "authentikconnections"] {
                assert!(
                    !text.contains(forbidden),
                    "{sets:?}: {forbidden} granted in {role}"
                );
            }
        }
        let deployment = of_kind(&docs, "Deployment")[0];
        assert_eq!(
            env_value(deployment, "ENABLE_CONNECTIONS").as_deref(),
            Some("false")
        );
    }
    let docs = render(
        "conn",
        "authentik-operator",
        &[&format!("{CHART}/ci/default-values.yaml")],
        &[],
    );
    let deployment = of_kind(&docs, "Deployment")[0];
    assert_eq!(
        env_value(deployment, "ENABLE_CONNECTIONS").as_deref(),
        Some("true")
    );
}
