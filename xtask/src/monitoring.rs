//! The monitoring files: the dashboard (from [`crate::dashboard`]) in the chart and in
//! `deploy/monitoring/`, the alert rules (hand-written in the chart, the one source) copied
//! there, and the README's lists of panels and alerts.

use crate::dashboard;
use serde_json::Value;

pub const ALERTS: &str = "charts/authentik-operator/files/prometheus/alerts.yaml";
pub const DASHBOARD: &str = "charts/authentik-operator/files/grafana/authentik-operator.json";
pub const DEPLOY_ALERTS: &str = "deploy/monitoring/authentik-operator-alerts.yaml";
pub const DEPLOY_DASHBOARD: &str = "deploy/monitoring/authentik-operator-dashboard.json";

pub fn dashboard_json() -> String {
    let mut text = serde_json::to_string_pretty(&dashboard::json()).expect("JSON");
    text.push('\n');
    text
}

/// An alert's annotation as the README shows it: `{label}` for a label, `N` for the value,
/// optional parts left out (or their `else`).
fn untemplated(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 2..start + len].trim();
        rest = &rest[start + len + 2..];
        if inner.starts_with("with ") {
            // A part shown only when the label is there: the README shows its `else`, if any.
            let end = rest.find("{{ end }}").unwrap_or(rest.len());
            if let Some(other) = rest[..end].split_once("{{ else }}").map(|(_, o)| o) {
                out.push_str(&untemplated(other));
            }
            rest = rest.get(end + "{{ end }}".len()..).unwrap_or("");
        } else if let Some(label) = inner.strip_prefix("$labels.") {
            out.push_str(&format!("{{{label}}}"));
        } else if inner.contains("$value") {
            out.push('N');
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The README's list of alerts, from the rules file.
pub fn alerts_markdown(rules_yaml: &str) -> Result<String, String> {
    let rules: Value = serde_saphyr::from_str(rules_yaml).map_err(|e| format!("{ALERTS}: {e}"))?;
    let mut out = String::new();
    for group in rules["groups"].as_array().into_iter().flatten() {
        for rule in group["rules"].as_array().into_iter().flatten() {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let name = text(&rule["alert"]);
            if name.is_empty() {
                continue;
            }
            let after = match rule["for"].as_str() {
                Some(d) => format!(", for {d}"),
                None => String::new(),
            };
            out.push_str(&format!(
                "- **`{name}`** ({}{after}): {}\n  `{}`\n  {}\n",
                text(&rule["labels"]["severity"]),
                untemplated(&text(&rule["annotations"]["summary"])),
                text(&rule["expr"]).trim(),
                untemplated(&text(&rule["annotations"]["description"])),
            ));
        }
    }
    Ok(out)
}

/// Replaces what stands between `<!-- generated: NAME -->` and `<!-- end: NAME -->` with
/// `body`.
pub fn with_section(text: &str, name: &str, body: &str) -> Result<String, String> {
    let (open, close) = (
        format!("<!-- generated: {name} -->\n"),
        format!("<!-- end: {name} -->"),
    );
    let start = text
        .find(&open)
        .ok_or_else(|| format!("README.md has no {open:?}"))?
        + open.len();
    let end = text[start..]
        .find(&close)
        .ok_or_else(|| format!("README.md has no {close:?}"))?
        + start;
    Ok(format!("{}{body}{}", &text[..start], &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_lose_their_templates() {
        assert_eq!(
            untemplated(
                "{{ $value | humanize }} of {{ $labels.kind }} target{{ with $labels.instance }}\n ({{ . }}){{ end }} down"
            ),
            "N of {kind} target down"
        );
        assert_eq!(untemplated("{{ printf \"%.3g\" $value }}/s"), "N/s");
        assert_eq!(
            untemplated("not {{ with $labels.instance }}{{ . }}{{ else }}any target{{ end }}."),
            "not any target."
        );
    }

    #[test]
    fn sections_are_replaced_whole() {
        let text = "a\n<!-- generated: x -->\nold\n<!-- end: x -->\nb\n";
        assert_eq!(
            with_section(text, "x", "new\n").unwrap(),
            "a\n<!-- generated: x -->\nnew\n<!-- end: x -->\nb\n"
        );
        assert!(with_section(text, "y", "").is_err());
    }
}
