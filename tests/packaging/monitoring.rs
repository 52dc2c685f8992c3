//! The chart's PrometheusRule and Grafana dashboard: off by default (see chart.rs), rendered
//! from the one rules file and the generated dashboard, and valid for promtool.

use crate::helpers::{CHART, TMP, of_kind, one, render};
use crate::prometheus::{ALERTS, DASHBOARD, path, promtool, yaml};
use serde_json::{Value, json};

fn monitoring(sets: &[&str]) -> Vec<Value> {
    render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/monitoring-values.yaml")],
        sets,
    )
}

#[test]
fn the_prometheus_rule_carries_the_rules_file_and_passes_promtool() {
    let docs = monitoring(&[]);
    let rule = one(&docs, "PrometheusRule", "ao-authentik-operator");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["metadata"]["namespace"], "operators");
    assert_eq!(
        rule["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(
        rule["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "authentik-operator"
    );
    // The rules file's groups, each rule with additionalRuleLabels added.
    let mut expected = yaml(ALERTS)["groups"].clone();
    for group in expected.as_array_mut().unwrap() {
        for r in group["rules"].as_array_mut().unwrap() {
            r["labels"]["team"] = json!("platform");
        }
    }
    assert_eq!(rule["spec"]["groups"], expected);

    // A rule's own label wins over additionalRuleLabels.
    let docs = monitoring(&[
        "prometheusRule.additionalRuleLabels.severity=info",
        "prometheusRule.namespace=monitoring",
    ]);
    let rule = one(&docs, "PrometheusRule", "ao-authentik-operator");
    assert_eq!(rule["metadata"]["namespace"], "monitoring");
    for group in rule["spec"]["groups"].as_array().unwrap() {
        for r in group["rules"].as_array().unwrap() {
            assert_ne!(r["labels"]["severity"], "info", "{r}");
            assert_eq!(r["labels"]["team"], "platform", "{r}");
        }
    }

    // What the chart renders is a rules file promtool accepts.
    let file = std::path::Path::new(TMP).join("chart-prometheusrule.yaml");
    std::fs::write(&file, serde_json::to_string(&rule["spec"]).unwrap()).unwrap();
    let out = promtool(&["check", "rules", &file.display().to_string()]);
    assert!(
        out.ok,
        "promtool check rules (the chart's PrometheusRule):\n{}",
        out.text
    );
    let n = yaml(ALERTS)["groups"][0]["rules"].as_array().unwrap().len();
    assert!(
        out.text.contains(&format!("{n} rules found")),
        "{}",
        out.text
    );
}

#[test]
fn the_dashboard_config_map_carries_the_dashboard_with_the_sidecar_label() {
    let docs = monitoring(&[]);
    let cm = one(&docs, "ConfigMap", "ao-authentik-operator-dashboard");
    assert_eq!(cm["metadata"]["namespace"], "operators");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(cm["metadata"]["annotations"]["grafana_folder"], "Operators");
    let shipped: Value =
        serde_json::from_str(cm["data"]["authentik-operator.json"].as_str().unwrap())
            .expect("the dashboard is JSON");
    let generated: Value =
        serde_json::from_str(&std::fs::read_to_string(path(DASHBOARD)).unwrap()).unwrap();
    assert_eq!(shipped, generated);
    assert_eq!(shipped["uid"], "authentik-operator");

    // Another sidecar label and namespace.
    let docs = monitoring(&[
        "grafanaDashboard.label=dashboards",
        "grafanaDashboard.labelValue=authentik",
        "grafanaDashboard.namespace=grafana",
    ]);
    let cm = one(&docs, "ConfigMap", "ao-authentik-operator-dashboard");
    assert_eq!(cm["metadata"]["namespace"], "grafana");
    assert_eq!(cm["metadata"]["labels"]["dashboards"], "authentik");
    assert!(cm["metadata"]["labels"].get("grafana_dashboard").is_none());

    // Off: neither is rendered.
    let docs = monitoring(&[
        "grafanaDashboard.enabled=false",
        "prometheusRule.enabled=false",
    ]);
    assert!(of_kind(&docs, "ConfigMap").is_empty());
    assert!(of_kind(&docs, "PrometheusRule").is_empty());
}
