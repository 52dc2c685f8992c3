//! Whether an exported document reads back and would be accepted: values the kind's type or
//! its CRD refuses go into comments (the rest of the object is still exported), and what
//! still fails is said in a comment — or, when it is the object's identity, keeps the object
//! out of the export. Never an error for the whole export.

use super::export::{Entry, resource};
use super::export_options::Options;
use serde_json::{Map, Value};

/// The spec field a problem is about (`spec.configureFlow.pk: …` → `configureFlow`).
fn field_of(problem: &str) -> Option<String> {
    let rest = problem.strip_prefix("spec.")?;
    Some(
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect(),
    )
}

/// The spec fields that hold the object's identity (a flow's slug, a stage's name, a
/// binding's flow, stage and order): never left out, since without them the document would
/// name another object.
fn own_keys<'a>(e: &Entry<'a>) -> Vec<&'a str> {
    let kind = e.kind;
    kind.key.iter().filter_map(|k| kind.spec_key(k)).collect()
}

/// Moves spec fields the kind's type refuses (a value from a newer authentik, say) into
/// comments, one at a time, until the rest reads; the reason when nothing does.
pub(super) fn keep_readable(entry: &mut Entry) -> Result<(), String> {
    let doc = |spec: &Map<String, Value>| resource(entry.kind, "x", None, spec);
    let Err(first) = (entry.kind.check)(&doc(&entry.spec)) else {
        return Ok(());
    };
    let own = own_keys(entry);
    let keys: Vec<String> = entry.spec.keys().cloned().collect();
    for key in keys.into_iter().filter(|k| !own.contains(&k.as_str())) {
        let mut without = entry.spec.clone();
        let Some(value) = without.remove(&key) else {
            continue;
        };
        if (entry.kind.check)(&doc(&without)).is_ok() {
            let note = format!(
                "authentik holds a value of {key} this operator does not accept (left out, unmanaged): {value}"
            );
            entry.notes.push(note.clone());
            entry.unmanaged.push(note);
            entry.spec = without;
            return Ok(());
        }
    }
    Err(first)
}

/// Validates the document as the API server and the operator will (the CRD's schema and
/// rules, the kind's own checks): a field whose value is refused goes into a comment; what
/// still fails is returned and noted. `Err` when the object's identity itself is refused (a
/// flow's slug, a stage's name): no document of it can be valid.
pub(super) fn check_as_applied(
    e: &mut Entry,
    doc: &mut Value,
    opts: &Options,
) -> Result<Vec<String>, String> {
    let errors = super::validate::validate(e.kind, doc).errors;
    let own_keys = own_keys(e);
    let is_key = |problem: &str| field_of(problem).is_some_and(|f| own_keys.contains(&f.as_str()));
    let mut moved = false;
    for error in &errors {
        let Some(field) = field_of(error) else {
            continue;
        };
        if own_keys.contains(&field.as_str()) {
            continue;
        }
        if let Some(value) = e.spec.remove(&field) {
            let note = format!(
                "authentik holds a value of {field} this operator's CRD refuses (left out, unmanaged): {value} ({error})"
            );
            e.notes.push(note.clone());
            e.unmanaged.push(note);
            moved = true;
        }
    }
    if moved {
        *doc = resource(e.kind, &e.name, opts.namespace.as_deref(), &e.spec);
    }
    let left = if moved {
        super::validate::validate(e.kind, doc).errors
    } else {
        errors
    };
    if let Some(identity) = left.iter().find(|p| is_key(p)) {
        return Err(identity.clone());
    }
    for problem in &left {
        e.notes.push(format!(
            "kubectl apply will refuse this document: {problem}"
        ));
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn a_problem_names_its_top_level_spec_field() {
        assert_eq!(
            field_of("spec.configureFlow.pk: \"x\" does not match").as_deref(),
            Some("configureFlow")
        );
        assert_eq!(field_of("spec.slug: too long").as_deref(), Some("slug"));
        assert_eq!(field_of("spec: set userFields or sources"), None);
        assert_eq!(field_of("metadata.name: bad"), None);
    }
}
