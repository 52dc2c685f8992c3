//! The alert rules: valid for Prometheus, and each one unit-tested by promtool.

use crate::prometheus::{ALERT_TESTS, ALERTS, alerts, promtool, yaml};
use std::collections::BTreeMap;

#[test]
fn the_rules_file_passes_promtool_check_rules() {
    let out = promtool(&["check", "rules", "--lint=all", "--lint-fatal", ALERTS]);
    assert!(out.ok, "promtool check rules {ALERTS}:\n{}", out.text);
    let n = alerts().len();
    assert!(
        out.text.contains(&format!("{n} rules found")),
        "{}",
        out.text
    );
    let version = promtool(&["--version"]);
    println!("{}", version.text.lines().next().unwrap_or_default());
}

#[test]
fn every_alert_fires_in_a_unit_test_and_stays_quiet_in_another() {
    let mut firing: BTreeMap<String, usize> = BTreeMap::new();
    let mut quiet: BTreeMap<String, usize> = BTreeMap::new();
    for test in yaml(ALERT_TESTS)["tests"].as_array().expect("tests") {
        for case in test["alert_rule_test"].as_array().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap_or_default().to_string();
            let expected = case["exp_alerts"].as_array().map_or(0, Vec::len);
            let counts = if expected > 0 {
                &mut firing
            } else {
                &mut quiet
            };
            *counts.entry(name).or_default() += 1;
        }
    }
    for rule in alerts() {
        let name = rule["alert"].as_str().unwrap();
        assert!(
            firing.contains_key(name),
            "{name}: no unit test in {ALERT_TESTS} fires it"
        );
        assert!(
            quiet.contains_key(name),
            "{name}: no unit test in {ALERT_TESTS} where it stays quiet"
        );
        for key in ["summary", "description"] {
            assert!(
                rule["annotations"][key]
                    .as_str()
                    .is_some_and(|t| !t.trim().is_empty()),
                "{name}: no {key}"
            );
        }
        assert!(
            rule["labels"]["severity"].is_string(),
            "{name}: no severity"
        );
    }
    let out = promtool(&["test", "rules", ALERT_TESTS]);
    assert!(out.ok, "promtool test rules {ALERT_TESTS}:\n{}", out.text);
    assert!(out.text.contains("SUCCESS"), "{}", out.text);
}

/// The unit tests can fail: an alert whose threshold is off is caught.
#[test]
fn a_broken_rule_fails_its_unit_test() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("broken-rules");
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    let rules = std::fs::read_to_string(crate::prometheus::path(ALERTS)).unwrap();
    let broken = rules.replace(
        "max by (namespace) (authentik_operator_leader) < 1",
        "max by (namespace) (authentik_operator_leader) < 0",
    );
    assert_ne!(
        rules, broken,
        "the NoLeader expression changed: update this test"
    );
    std::fs::write(dir.join("rules/alerts.yaml"), broken).unwrap();
    let tests = std::fs::read_to_string(crate::prometheus::path(ALERT_TESTS))
        .unwrap()
        .replace(
            "../../charts/authentik-operator/files/prometheus/alerts.yaml",
            "rules/alerts.yaml",
        );
    std::fs::write(dir.join("tests.yaml"), tests).unwrap();
    let file = dir.join("tests.yaml").display().to_string();
    let out = promtool(&["test", "rules", &file]);
    assert!(!out.ok, "{}", out.text);
    assert!(
        out.text.contains("AuthentikOperatorNoLeader"),
        "{}",
        out.text
    );
}
