//! How a plan reads: text for people (one block per resource, a summary line, what was not
//! checked) and JSON for CI bots. Pure, so the wording is tested.

use super::plan_report::{Action, Change, Report};
use serde_json::Value;

/// A set's members, as written (JSON text of each), sorted.
fn members(json_text: &str) -> Vec<String> {
    match serde_json::from_str::<Value>(json_text) {
        Ok(Value::Array(items)) => {
            let mut m: Vec<String> = items.iter().map(Value::to_string).collect();
            m.sort();
            m
        }
        _ => vec![json_text.to_string()],
    }
}

fn change_line(c: &Change) -> String {
    let reference = c
        .reference
        .as_ref()
        .map(|r| format!("  ({r})"))
        .unwrap_or_default();
    match &c.current {
        None => format!("    + {}: {}{reference}", c.field, c.desired),
        Some(current) if c.set => {
            let (have, want) = (members(current), members(&c.desired));
            let added: Vec<&String> = want.iter().filter(|w| !have.contains(w)).collect();
            let removed: Vec<&String> = have.iter().filter(|h| !want.contains(h)).collect();
            let mut delta = Vec::new();
            if !added.is_empty() {
                delta.push(format!("adds {}", join(&added)));
            }
            if !removed.is_empty() {
                delta.push(format!("removes {}", join(&removed)));
            }
            format!(
                "    ~ {}: {{{}}} → {{{}}} ({}){reference}",
                c.field,
                have.join(", "),
                want.join(", "),
                delta.join(", ")
            )
        }
        Some(current) => format!("    ~ {}: {current} → {}{reference}", c.field, c.desired),
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan for people.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.resources {
        let pk =
            r.pk.as_ref()
                .map(|p| format!(", pk {p}"))
                .unwrap_or_default();
        out.push_str(&format!(
            "{} {}/{} ({}{pk}): {}\n",
            r.kind,
            r.namespace,
            r.name,
            r.object,
            r.action.label()
        ));
        if let Some(m) = &r.message {
            out.push_str(&format!("    {m}\n"));
        }
        for c in &r.changes {
            out.push_str(&change_line(c));
            out.push('\n');
        }
    }
    out.push_str(&format!("\n{}\n", summary(report)));
    if !report.unchecked.is_empty() {
        out.push_str("\nNot checked:\n");
        for u in &report.unchecked {
            out.push_str(&format!("  - {u}\n"));
        }
    }
    out
}

/// `Plan: 1 to create, 2 to update, …` (only what occurs), in a fixed order.
pub fn summary(report: &Report) -> String {
    let order = [
        (Action::Create, "to create"),
        (Action::Update, "to update"),
        (Action::Adopt, "to adopt"),
        (Action::AdoptAndUpdate, "to adopt and update"),
        (Action::Observe, "to observe"),
        (Action::RefuseToAdopt, "refused adoption"),
        (Action::Refused, "refused"),
        (Action::NameConflict, "name conflict"),
        (Action::Unchanged, "unchanged"),
        (Action::NotCompared, "valid, not compared"),
    ];
    let parts: Vec<String> = order
        .iter()
        .filter_map(|(a, label)| {
            let n = report.resources.iter().filter(|r| r.action == *a).count();
            (n > 0).then(|| format!("{n} {label}"))
        })
        .collect();
    let planned = if parts.is_empty() {
        "no resources".to_string()
    } else {
        parts.join(", ")
    };
    match report.errors.len() {
        0 => format!("Plan: {planned}."),
        1 => format!("Plan: {planned}; 1 error (on stderr)."),
        n => format!("Plan: {planned}; {n} errors (on stderr)."),
    }
}

/// The plan for CI bots: every resource with its action and changes, the counts, whether
/// anything changes, and the manifests that could not be planned.
pub fn json(report: &Report) -> String {
    let mut counts = serde_json::Map::new();
    for r in &report.resources {
        let key = serde_json::to_value(r.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let n = counts.get(&key).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(key, Value::from(n + 1));
    }
    let doc = serde_json::json!({
        "changes": report.has_changes(),
        "summary": counts,
        "resources": report.resources,
        "unchecked": report.unchecked,
        "errors": report.errors,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
