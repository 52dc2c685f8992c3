#![allow(dead_code)] // shared with tests/packaging, which uses a part of it
//! promtool and the Prometheus server: building them once, running them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const ALERTS: &str = "charts/authentik-operator/files/prometheus/alerts.yaml";
pub const ALERT_TESTS: &str = "tests/prometheus/alerts_test.yaml";
pub const DASHBOARD: &str = "charts/authentik-operator/files/grafana/authentik-operator.json";

pub fn path(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

/// The folder holding `promtool` and `prometheus`, built once per version into the user's
/// cache (or `$PROMETHEUS_BIN_DIR`).
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("PROMETHEUS_BIN_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let out = Command::new("bash")
            .arg(path("tests/prometheus/build.sh"))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("running tests/prometheus/build.sh");
        assert!(
            out.status.success(),
            "tests/prometheus/build.sh failed: it builds promtool and prometheus from their Go module and needs `go`"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
    })
}

pub struct Out {
    pub ok: bool,
    pub text: String,
}

/// Runs promtool; its stdout and stderr together.
pub fn promtool(args: &[&str]) -> Out {
    let out = Command::new(bin_dir().join("promtool"))
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .output()
        .expect("running promtool");
    Out {
        ok: out.status.success(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The YAML file at `rel`, as JSON.
pub fn yaml(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every alerting rule of the rules file.
pub fn alerts() -> Vec<serde_json::Value> {
    yaml(ALERTS)["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r.get("alert").is_some())
        .collect()
}
