//! Prometheus metrics. Names follow Prometheus conventions: a namespace prefix, base units,
//! `_total` on counters (added by the encoder). Beside the operator's own, the standard
//! `process_*` metrics (memory, CPU, file descriptors), read at each scrape.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    /// HTTP status code, or `error` when no answer came.
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub kind: String,
    /// `ready` or `not_ready`.
    pub condition: String,
    /// The Ready condition's reason (`Pending` before the first reconcile wrote one).
    pub reason: String,
}

/// One resource. Not `namespace`/`name`: Prometheus gives those to the scraped pod.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    pub kind: String,
    pub resource_namespace: String,
    pub resource_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GapLabels {
    pub connection: String,
    /// Why the event log could not vouch: `first_start`, `too_many`, `cleaned`, `forbidden`.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    /// `default`, `AuthentikConnection/<namespace>/<name>` or `ClusterAuthentikConnection/<name>`.
    pub connection: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every metric of the operator, registered once at start.
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<KindLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    pub authentik_requests: Family<RequestLabels, Counter>,
    pub authentik_request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Per resource, so an alert can name the one someone keeps changing. A series exists
    /// only for a resource that drifted.
    pub drift_corrections: Family<ResourceLabels, Counter>,
    pub recreations: Family<KindLabels, Counter>,
    pub resources: Family<ConditionLabels, Gauge>,
    /// Every label set `resources` ever had: one that no sweep counts any more goes to 0
    /// rather than keep its last count.
    resources_seen: Mutex<HashSet<ConditionLabels>>,
    pub connection_up: Family<ConnectionLabels, Gauge>,
    pub leader: Gauge,
    /// The event follower (see `crate::follower`).
    pub events_seen: Family<ConnectionLabels, Counter>,
    pub event_reconciles: Family<ConnectionLabels, Counter>,
    pub event_gaps: Family<GapLabels, Counter>,
    pub event_newest_age: Family<ConnectionLabels, Gauge<f64, AtomicU64>>,
    pub event_log_followed: Family<ConnectionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut root = Registry::default();
        root.register_collector(Box::new(ProcessCollector));
        let registry = root.sub_registry_with_prefix("authentik_operator");
        let reconciles = Family::<KindLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration =
            Family::<KindLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let authentik_requests = Family::<RequestLabels, Counter>::default();
        let authentik_request_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let drift_corrections = Family::<ResourceLabels, Counter>::default();
        let recreations = Family::<KindLabels, Counter>::default();
        let resources = Family::<ConditionLabels, Gauge>::default();
        let connection_up = Family::<ConnectionLabels, Gauge>::default();
        let leader = Gauge::default();
        registry.register(
            "reconciliations",
            "Reconciliations by kind",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciliations by kind and reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of a reconciliation by kind",
            reconcile_duration.clone(),
        );
        registry.register(
            "authentik_requests",
            "Requests to authentik by route, method and status",
            authentik_requests.clone(),
        );
        registry.register(
            "authentik_request_duration_seconds",
            "Duration of requests to authentik by route",
            authentik_request_duration.clone(),
        );
        registry.register(
            "drift_corrections",
            "Corrections of stages changed in authentik behind the operator's back",
            drift_corrections.clone(),
        );
        registry.register(
            "recreations",
            "Stages recreated after they were deleted in authentik",
            recreations.clone(),
        );
        registry.register(
            "resources",
            "Resources by kind and Ready condition, as of the last drift sweep",
            resources.clone(),
        );
        registry.register(
            "connection_up",
            "1 while the authentik of a connection answers, 0 while it fails (unreachable, 5xx, 429, token refused), as of the last request or drift sweep",
            connection_up.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica is the leader",
            leader.clone(),
        );
        let events_seen = Family::<ConnectionLabels, Counter>::default();
        let event_reconciles = Family::<ConnectionLabels, Counter>::default();
        let event_gaps = Family::<GapLabels, Counter>::default();
        let event_newest_age = Family::<ConnectionLabels, Gauge<f64, AtomicU64>>::default();
        let event_log_followed = Family::<ConnectionLabels, Gauge>::default();
        registry.register(
            "events_seen",
            "New model events read from authentik's event log, by connection",
            events_seen.clone(),
        );
        registry.register(
            "event_reconciles",
            "Changes in authentik's event log that queued reconciles (not the operator's own writes), by connection",
            event_reconciles.clone(),
        );
        registry.register(
            "event_gaps",
            "Sweeps of a connection because its event log could not vouch for what changed, by reason",
            event_gaps.clone(),
        );
        registry.register(
            "event_newest_age_seconds",
            "Age of the newest event in authentik's event log at the last poll, by connection",
            event_newest_age.clone(),
        );
        registry.register(
            "event_log_followed",
            "1 while the event log of a connection is followed, 0 when the token may not read it",
            event_log_followed.clone(),
        );
        Metrics {
            events_seen,
            event_reconciles,
            event_gaps,
            event_newest_age,
            event_log_followed,
            registry: root,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            authentik_requests,
            authentik_request_duration,
            drift_corrections,
            recreations,
            resources,
            resources_seen: Mutex::default(),
            connection_up,
            leader,
        }
    }

    /// Sets `resources` to `counts`; label sets counted before and missing now go to 0.
    pub fn set_resources(&self, counts: impl IntoIterator<Item = (ConditionLabels, i64)>) {
        let mut seen = self
            .resources_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut left: HashSet<ConditionLabels> = seen.clone();
        for (labels, n) in counts {
            left.remove(&labels);
            self.resources.get_or_create(&labels).set(n);
            seen.insert(labels);
        }
        for labels in left {
            self.resources.get_or_create(&labels).set(0);
        }
    }

    pub fn request(&self, route: &str, method: &str, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.authentik_requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.authentik_request_duration
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The standard process metrics (as every Prometheus client library names them), read from
/// the operating system at each scrape by `metrics-process`.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let now = metrics_process::collector::collect();
        if let Some(cpu) = now.cpu_seconds_total {
            let metric = ConstCounter::new(cpu);
            let e = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                metric.metric_type(),
            )?;
            metric.encode(e)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                now.resident_memory_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                now.virtual_memory_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                now.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                now.max_fds,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                now.start_time_seconds,
            ),
            ("process_threads", "Number of OS threads", now.threads),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let metric = ConstGauge::new(v as i64);
                let e = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
                metric.encode(e)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(reason: &str) -> ConditionLabels {
        ConditionLabels {
            kind: "PasswordStage".into(),
            condition: "not_ready".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_reason_no_longer_counted_goes_to_zero() {
        let m = Metrics::new();
        m.set_resources([(labels("InvalidReference"), 2)]);
        m.set_resources([(labels("NameConflict"), 1)]);
        let text = m.encode();
        assert!(
            text.contains(r#"authentik_operator_resources{kind="PasswordStage",condition="not_ready",reason="InvalidReference"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"authentik_operator_resources{kind="PasswordStage",condition="not_ready",reason="NameConflict"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn process_metrics_have_their_standard_names() {
        let text = Metrics::new().encode();
        for name in [
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name}in {text}"));
            let value: f64 = line[name.len()..].parse().expect(line);
            assert!(value > 0.0 || name.starts_with("process_cpu"), "{line}");
        }
        assert!(text.contains("authentik_operator_leader 0"), "{text}");
    }
}
