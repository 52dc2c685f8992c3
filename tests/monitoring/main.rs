//! The alert rules and the Grafana dashboard, proven with Prometheus itself (promtool and the
//! server, built from their Go module by `tests/prometheus/build.sh`): the rules pass
//! `promtool check rules` and their unit tests (`rules`), and a real Prometheus scraping the
//! operator through a scenario finds data for every panel and alert (`scrape`).
//!
//! `PROMETHEUS_BIN_DIR` (a folder with `promtool` and `prometheus`) skips the build.

#[path = "../common/mod.rs"]
mod common;
mod prometheus;
mod rules;
mod scrape;
