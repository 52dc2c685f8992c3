//! The Grafana dashboard, as data: rows of panels, each with its PromQL. [`json`] lays them
//! out on Grafana's grid; the chart ships the result (`grafanaDashboard.enabled`), the README
//! lists the panels, and `tests/e2e_monitoring.rs` runs every query against a real Prometheus
//! scraping the operator. A new panel is one more [`Panel`] in [`ROWS`].

use serde_json::{Value, json};

/// How a panel shows its queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Viz {
    /// A number (the last value), coloured red from `red_from` on (or below 1 if negative).
    Stat { red_from: f64 },
    /// Lines over time.
    TimeSeries,
    /// Bars of the values now (an instant query), largest first.
    BarGauge,
}

pub struct Panel {
    pub title: &'static str,
    pub description: &'static str,
    pub viz: Viz,
    /// Grafana's unit id (`short`, `bytes`, `s`, `reqps`, …).
    pub unit: &'static str,
    /// (PromQL, legend) pairs. Selectors of the operator's metrics carry
    /// `namespace=~"$namespace"`; `$connection`, `$__rate_interval` and `$__range` are
    /// Grafana's variables.
    pub queries: &'static [(&'static str, &'static str)],
}

pub struct Row {
    pub title: &'static str,
    pub panels: &'static [Panel],
}

pub const TITLE: &str = "authentik-operator";
pub const UID: &str = "authentik-operator";

pub const ROWS: &[Row] = &[
    Row {
        title: "Overview",
        panels: &[
            Panel {
                title: "Leading replicas",
                description: "Replicas that reconcile (the Lease holder, or the only replica without leader election). 1 is healthy; 0 means nothing is reconciled (AuthentikOperatorNoLeader).",
                viz: Viz::Stat { red_from: -1.0 },
                unit: "short",
                queries: &[(
                    r#"sum(authentik_operator_leader{namespace=~"$namespace"})"#,
                    "leading",
                )],
            },
            Panel {
                title: "authentik connections down",
                description: "Connections whose authentik does not answer the operator (AuthentikOperatorAuthentikUnreachable).",
                viz: Viz::Stat { red_from: 1.0 },
                unit: "short",
                queries: &[(
                    r#"sum(1 - authentik_operator_connection_up{namespace=~"$namespace", connection=~"$connection"})"#,
                    "down",
                )],
            },
            Panel {
                title: "Resources not Ready",
                description: "Resources whose Ready condition is not True, as of the last drift sweep (AuthentikOperatorResourcesNotReady).",
                viz: Viz::Stat { red_from: 1.0 },
                unit: "short",
                queries: &[(
                    // A kind gets a not_ready series once one of its resources is not Ready.
                    r#"sum(authentik_operator_resources{namespace=~"$namespace", condition="not_ready"}) or vector(0)"#,
                    "not Ready",
                )],
            },
            Panel {
                title: "Drift corrections in range",
                description: "Objects changed in authentik behind the operator's back and put back, in the dashboard's time range.",
                viz: Viz::Stat { red_from: 1.0 },
                unit: "short",
                queries: &[(
                    r#"round(sum(increase(authentik_operator_drift_corrections_total{namespace=~"$namespace"}[$__range]))) or vector(0)"#,
                    "corrections",
                )],
            },
        ],
    },
    Row {
        title: "Resources",
        panels: &[
            Panel {
                title: "Resources by kind and condition",
                description: "Resources by kind and Ready condition, as of the last drift sweep.",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[(
                    r#"sum by (kind, condition) (authentik_operator_resources{namespace=~"$namespace"})"#,
                    "{{kind}} {{condition}}",
                )],
            },
            Panel {
                title: "Not Ready by kind and reason",
                description: "Resources not Ready, by the reason of their Ready condition: the reason says what to fix (README, Status).",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[(
                    r#"sum by (kind, reason) (authentik_operator_resources{namespace=~"$namespace", condition="not_ready"})"#,
                    "{{kind}} {{reason}}",
                )],
            },
        ],
    },
    Row {
        title: "Reconciliation",
        panels: &[
            Panel {
                title: "Reconciliations by kind",
                description: "Reconciliations started per second.",
                viz: Viz::TimeSeries,
                unit: "ops",
                queries: &[(
                    r#"sum by (kind) (rate(authentik_operator_reconciliations_total{namespace=~"$namespace"}[$__rate_interval]))"#,
                    "{{kind}}",
                )],
            },
            Panel {
                title: "Reconcile errors by kind and reason",
                description: "Failed reconciliations per second; the reason is the Synced condition's (AuthentikOperatorReconcileErrors).",
                viz: Viz::TimeSeries,
                unit: "ops",
                queries: &[(
                    r#"sum by (kind, reason) (rate(authentik_operator_reconcile_errors_total{namespace=~"$namespace"}[$__rate_interval]))"#,
                    "{{kind}} {{reason}}",
                )],
            },
            Panel {
                title: "Reconcile duration by kind",
                description: "How long a reconciliation takes, median and 99th percentile.",
                viz: Viz::TimeSeries,
                unit: "s",
                queries: &[
                    (
                        r#"histogram_quantile(0.5, sum by (kind, le) (rate(authentik_operator_reconcile_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))"#,
                        "{{kind}} p50",
                    ),
                    (
                        r#"histogram_quantile(0.99, sum by (kind, le) (rate(authentik_operator_reconcile_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))"#,
                        "{{kind}} p99",
                    ),
                ],
            },
        ],
    },
    Row {
        title: "authentik API",
        panels: &[
            Panel {
                title: "Requests by route and status",
                description: "Requests to authentik per second; status is the HTTP code, or error when no answer came.",
                viz: Viz::TimeSeries,
                unit: "reqps",
                queries: &[(
                    r#"sum by (route, status) (rate(authentik_operator_authentik_requests_total{namespace=~"$namespace"}[$__rate_interval]))"#,
                    "{{route}} {{status}}",
                )],
            },
            Panel {
                title: "Request latency by route",
                description: "How long authentik takes to answer, median and 99th percentile.",
                viz: Viz::TimeSeries,
                unit: "s",
                queries: &[
                    (
                        r#"histogram_quantile(0.5, sum by (route, le) (rate(authentik_operator_authentik_request_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))"#,
                        "{{route}} p50",
                    ),
                    (
                        r#"histogram_quantile(0.99, sum by (route, le) (rate(authentik_operator_authentik_request_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))"#,
                        "{{route}} p99",
                    ),
                ],
            },
            Panel {
                title: "Connection health",
                description: "1 while the authentik of a connection answers, 0 while it fails (unreachable, 5xx, 429, token refused).",
                viz: Viz::TimeSeries,
                unit: "bool_on_off",
                queries: &[(
                    r#"min by (connection) (authentik_operator_connection_up{namespace=~"$namespace", connection=~"$connection"})"#,
                    "{{connection}}",
                )],
            },
        ],
    },
    Row {
        title: "Drift",
        panels: &[
            Panel {
                title: "Drift corrections by kind",
                description: "Objects changed in authentik behind the operator's back and put back.",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[(
                    r#"sum by (kind) (increase(authentik_operator_drift_corrections_total{namespace=~"$namespace"}[$__rate_interval]))"#,
                    "{{kind}}",
                )],
            },
            Panel {
                title: "Recreations by kind",
                description: "Objects deleted in authentik behind the operator's back and created again.",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[(
                    r#"sum by (kind) (increase(authentik_operator_recreations_total{namespace=~"$namespace"}[$__rate_interval]))"#,
                    "{{kind}}",
                )],
            },
            Panel {
                title: "Most corrected resources",
                description: "The resources put back most often in the time range: someone keeps changing them in authentik (AuthentikOperatorDriftCorrectedRepeatedly).",
                viz: Viz::BarGauge,
                unit: "short",
                queries: &[(
                    r#"topk(10, sum by (kind, resource_namespace, resource_name) (increase(authentik_operator_drift_corrections_total{namespace=~"$namespace"}[$__range])))"#,
                    "{{kind}} {{resource_namespace}}/{{resource_name}}",
                )],
            },
        ],
    },
    Row {
        title: "Event log",
        panels: &[
            Panel {
                title: "Event logs not followed",
                description: "Connections whose token may not read authentik's event log: drift there is found only by the periodic sweep (AuthentikOperatorEventLogNotFollowed).",
                viz: Viz::Stat { red_from: 1.0 },
                unit: "short",
                queries: &[(
                    r#"sum(1 - authentik_operator_event_log_followed{namespace=~"$namespace", connection=~"$connection"})"#,
                    "not followed",
                )],
            },
            Panel {
                title: "Changes read and reconciles queued",
                description: "New model events read from authentik's event log, and the reconciles they queued (the operator's own writes queue none).",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[
                    (
                        r#"sum by (connection) (increase(authentik_operator_events_seen_total{namespace=~"$namespace", connection=~"$connection"}[$__rate_interval]))"#,
                        "read {{connection}}",
                    ),
                    (
                        r#"sum by (connection) (increase(authentik_operator_event_reconciles_total{namespace=~"$namespace", connection=~"$connection"}[$__rate_interval]))"#,
                        "queued {{connection}}",
                    ),
                ],
            },
            Panel {
                title: "Sweeps for gaps in the log",
                description: "Whole sweeps of a connection because its event log could not vouch for what changed: the first start, more new events than a poll reads, a cleaned log, a token that may not read it.",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[(
                    r#"sum by (connection, reason) (increase(authentik_operator_event_gaps_total{namespace=~"$namespace", connection=~"$connection"}[$__rate_interval]))"#,
                    "{{connection}} {{reason}}",
                )],
            },
        ],
    },
    Row {
        title: "Operator process",
        panels: &[
            Panel {
                title: "Leader by replica",
                description: "1 on the replica that reconciles, 0 on standbys.",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[(
                    r#"max by (instance) (authentik_operator_leader{namespace=~"$namespace"})"#,
                    "{{instance}}",
                )],
            },
            Panel {
                title: "Memory by replica",
                description: "Resident memory of each operator process (compare with the chart's resources.limits.memory).",
                viz: Viz::TimeSeries,
                unit: "bytes",
                queries: &[(
                    r#"process_resident_memory_bytes and on (job, instance) authentik_operator_leader{namespace=~"$namespace"}"#,
                    "{{instance}}",
                )],
            },
            Panel {
                title: "CPU by replica",
                description: "CPU time of each operator process, in cores.",
                viz: Viz::TimeSeries,
                unit: "short",
                queries: &[(
                    r#"rate(process_cpu_seconds_total[$__rate_interval]) and on (job, instance) authentik_operator_leader{namespace=~"$namespace"}"#,
                    "{{instance}}",
                )],
            },
        ],
    },
];

const DATASOURCE: &str = "${datasource}";

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": DATASOURCE})
}

/// Width and height on Grafana's 24-column grid.
fn size(viz: Viz) -> (u64, u64) {
    match viz {
        Viz::Stat { .. } => (6, 4),
        Viz::TimeSeries | Viz::BarGauge => (12, 8),
    }
}

fn panel(p: &Panel, id: u64, x: u64, y: u64) -> Value {
    let (w, h) = size(p.viz);
    let instant = p.viz != Viz::TimeSeries;
    let targets: Vec<Value> = p
        .queries
        .iter()
        .zip('A'..)
        .map(|((expr, legend), ref_id)| {
            json!({
                "datasource": datasource(),
                "expr": expr,
                "legendFormat": legend,
                "refId": ref_id.to_string(),
                "instant": instant,
                "range": !instant,
            })
        })
        .collect();
    let mut defaults = json!({"unit": p.unit});
    let (kind, options) = match p.viz {
        Viz::Stat { red_from } => {
            // Red from `red_from` on; a negative `red_from` turns it round: red below 1.
            let steps = if red_from < 0.0 {
                json!([{"color": "red", "value": null}, {"color": "green", "value": 1}])
            } else {
                json!([{"color": "green", "value": null}, {"color": "red", "value": red_from}])
            };
            defaults["thresholds"] = json!({"mode": "absolute", "steps": steps});
            defaults["color"] = json!({"mode": "thresholds"});
            (
                "stat",
                json!({"colorMode": "background", "graphMode": "none", "textMode": "value",
                       "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}}),
            )
        }
        Viz::TimeSeries => {
            defaults["custom"] = json!({"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"});
            (
                "timeseries",
                json!({"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                       "tooltip": {"mode": "multi", "sort": "desc"}}),
            )
        }
        Viz::BarGauge => (
            "bargauge",
            json!({"displayMode": "basic", "orientation": "horizontal", "showUnfilled": true,
                   "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}}),
        ),
    };
    json!({
        "id": id,
        "type": kind,
        "title": p.title,
        "description": p.description,
        "datasource": datasource(),
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    })
}

fn variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "query": {"query": query, "refId": format!("{name}-variable")},
        "definition": query,
        "refresh": 2,
        "includeAll": true,
        "multi": true,
        // Also matches series without the label (a scrape that sets no namespace).
        "allValue": ".*",
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    })
}

/// The dashboard's JSON model.
pub fn json() -> Value {
    let mut panels = Vec::new();
    let mut id = 0;
    let mut y = 0;
    for row in ROWS {
        id += 1;
        panels.push(json!({
            "id": id, "type": "row", "title": row.title, "collapsed": false,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": [],
        }));
        y += 1;
        let mut x = 0;
        let mut line_height = 0;
        for p in row.panels {
            let (w, h) = size(p.viz);
            if x + w > 24 {
                x = 0;
                y += line_height;
                line_height = 0;
            }
            id += 1;
            panels.push(panel(p, id, x, y));
            x += w;
            line_height = line_height.max(h);
        }
        y += line_height;
    }
    json!({
        "title": TITLE,
        "uid": UID,
        "description": "authentik-operator: resources, reconciliation, the authentik API, drift and the operator process. Generated by `cargo xtask generate` from xtask/src/dashboard.rs.",
        "tags": ["authentik-operator"],
        "editable": true,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {
                "name": "datasource", "label": "Data source", "type": "datasource",
                "query": "prometheus", "refresh": 1, "regex": "",
                "current": {"selected": false, "text": "default", "value": "default"},
            },
            variable("namespace", "Namespace", "label_values(authentik_operator_leader, namespace)"),
            variable(
                "connection",
                "Connection",
                r#"label_values(authentik_operator_connection_up{namespace=~"$namespace"}, connection)"#,
            ),
        ]},
        "panels": panels,
    })
}

/// The README's list of the panels, row by row.
pub fn markdown() -> String {
    let mut out = String::new();
    for row in ROWS {
        let titles: Vec<String> = row
            .panels
            .iter()
            .map(|p| format!("*{}* ({})", p.title, p.description.trim_end_matches('.')))
            .collect();
        out.push_str(&format!("- **{}**: {}.\n", row.title, titles.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_do_not_overlap_and_have_unique_ids() {
        let dash = json();
        let panels = dash["panels"].as_array().unwrap();
        let mut cells = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for p in panels {
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{p}");
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(x + w <= 24, "{}", p["title"]);
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(cells.insert((cx, cy)), "{} overlaps", p["title"]);
                }
            }
        }
    }

    #[test]
    fn every_query_of_an_operator_metric_is_filtered_by_namespace() {
        for row in ROWS {
            for p in row.panels {
                for (expr, _) in p.queries {
                    assert!(
                        expr.contains(r#"namespace=~"$namespace""#),
                        "{}: {expr}",
                        p.title
                    );
                }
            }
        }
    }
}
