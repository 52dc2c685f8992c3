//! Whether a CRD property's limits are stricter than what authentik's OpenAPI schema allows
//! for the body field it is sent as. Pure: JSON schemas in, findings out.

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet, VecDeque};

/// One limit of a CRD that is stricter than authentik's.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Where, in the CRD: `spec.slug`, `spec.sources[].slug`.
    pub at: String,
    /// Which limit: `maxLength`, `pattern`, `enum`, `required`, ...
    pub check: &'static str,
    pub detail: String,
}

/// A UUID as OpenAPI's `format: uuid` writes it.
pub const UUID: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// The schemas a reference's keys other than `pk` are held against (a reference by `slug`
/// names a flow or a source, by `name` a stage); `ref` names a Kubernetes resource and
/// reaches authentik as a pk, so it is not held.
pub type RefKeys = BTreeMap<String, Vec<(String, Value)>>;

fn num(s: &Value, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

fn text<'a>(s: &'a Value, key: &str) -> Option<&'a str> {
    s.get(key).and_then(Value::as_str)
}

/// Values of an `enum`, without the `null` an optional field's CRD lists.
fn values(s: &Value) -> Option<Vec<&Value>> {
    s.get("enum")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter(|x| !x.is_null()).collect())
}

/// A body field holding a reference: a pk, or a list of them.
fn is_uuid(api: &Value) -> bool {
    text(api, "format") == Some("uuid")
}

/// Holds the CRD property `crd` against `api`, the resolved schema of its body field.
pub fn hold(crd: &Value, api: &Value, at: &str, refs: &RefKeys, out: &mut Vec<Finding>) {
    let mut find = |check: &'static str, detail: String| {
        out.push(Finding {
            at: at.to_string(),
            check,
            detail,
        })
    };
    let crd_type = text(crd, "type");
    // A reference: an object in the spec, a pk in the body (a UUID, or a user's number).
    let numeric_pk = text(api, "type") == Some("integer")
        && crd.pointer("/properties/pk/type").and_then(Value::as_str) == Some("integer");
    if crd_type == Some("object") && (is_uuid(api) || numeric_pk) {
        let props = crd.get("properties").and_then(Value::as_object);
        for (key, sub) in props.into_iter().flatten() {
            let at = format!("{at}.{key}");
            match key.as_str() {
                "ref" => {}
                "pk" => hold(sub, api, &at, refs, out),
                other => match refs.get(other) {
                    Some(targets) => {
                        for (name, target) in targets {
                            let before = out.len();
                            hold(sub, target, &at, refs, out);
                            for f in &mut out[before..] {
                                f.detail = format!("{} ({name})", f.detail);
                            }
                        }
                    }
                    None => out.push(Finding {
                        at,
                        check: "reference",
                        detail: format!(
                            "a reference by {other:?}, which this test cannot hold against anything"
                        ),
                    }),
                },
            }
        }
        return;
    }
    let api_type = text(api, "type");
    if crd_type != api_type {
        find(
            "type",
            format!("{crd_type:?} in the CRD, {api_type:?} in authentik's schema"),
        );
        return;
    }
    if let Some(ours) = values(crd) {
        match values(api) {
            Some(theirs) => {
                let missing: Vec<String> = theirs
                    .iter()
                    .filter(|v| !ours.contains(v))
                    .map(|v| v.to_string())
                    .collect();
                if !missing.is_empty() {
                    find(
                        "enum",
                        format!("misses {} of authentik's values", missing.join(", ")),
                    );
                }
            }
            None => find(
                "enum",
                format!("only {} values, where authentik takes any", ours.len()),
            ),
        }
    }
    // Upper bounds: ours is stricter when authentik has none or a higher one.
    for key in ["maxLength", "maxItems", "maximum"] {
        if let Some(ours) = num(crd, key) {
            match num(api, key) {
                Some(theirs) if theirs <= ours => {}
                theirs => find(
                    check_name(key),
                    format!("{ours} where authentik allows {}", show(theirs)),
                ),
            }
        }
    }
    // Lower bounds: authentik's absent minLength/minItems is 0; an absent minimum is none.
    for key in ["minLength", "minItems", "minimum"] {
        if let Some(ours) = num(crd, key) {
            let theirs = num(api, key).or((key != "minimum").then_some(0.0));
            match theirs {
                Some(theirs) if theirs >= ours => {}
                theirs => find(
                    check_name(key),
                    format!("{ours} where authentik allows {}", show(theirs)),
                ),
            }
        }
    }
    if let Some(ours) = text(crd, "pattern") {
        let theirs = text(api, "pattern").unwrap_or(if is_uuid(api) { UUID } else { "" });
        let min_chars = num(api, "minLength").unwrap_or(0.0) as usize;
        if ours != theirs {
            match refused_example(theirs, ours, min_chars) {
                Ok(None) => {}
                Ok(Some(example)) => find(
                    "pattern",
                    format!("{ours:?} refuses {example:?}, which authentik's {theirs:?} accepts"),
                ),
                Err(e) => find("pattern", format!("cannot compare: {e}")),
            }
        }
    }
    if let (Some(ours), Some(theirs)) = (crd.get("items"), api.get("items")) {
        hold(ours, theirs, &format!("{at}[]"), refs, out);
    }
}

fn check_name(key: &str) -> &'static str {
    match key {
        "maxLength" => "maxLength",
        "maxItems" => "maxItems",
        "maximum" => "maximum",
        "minLength" => "minLength",
        "minItems" => "minItems",
        _ => "minimum",
    }
}

fn show(bound: Option<f64>) -> String {
    bound.map_or("any".into(), |b| b.to_string())
}

/// A DFA that matches exactly the strings in which `pattern` finds a match (a JSON schema
/// pattern is not anchored unless it says so).
fn dfa(pattern: &str) -> Result<dense::DFA<Vec<u32>>, String> {
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Anchored),
        )
        .build(&format!("(?s:.)*(?:{pattern})(?s:.)*"))
        .map_err(|e| format!("{pattern:?}: {e}"))
}

/// The shortest string of at least `min_chars` characters that `accepted` matches and
/// `ours` does not, if there is one: a walk over the pairs of states of the two DFAs.
pub fn refused_example(
    accepted: &str,
    ours: &str,
    min_chars: usize,
) -> Result<Option<String>, String> {
    let (a, o) = (dfa(accepted)?, dfa(ours)?);
    let start = start::Config::new().anchored(Anchored::Yes);
    let first = (
        a.start_state(&start).map_err(|e| e.to_string())?,
        o.start_state(&start).map_err(|e| e.to_string())?,
        0,
    );
    let mut seen = HashSet::from([first]);
    let mut queue = VecDeque::from([(first, Vec::<u8>::new())]);
    while let Some(((sa, so, chars), text)) = queue.pop_front() {
        let matched = |d: &dense::DFA<Vec<u32>>, s| d.is_match_state(d.next_eoi_state(s));
        if chars >= min_chars && matched(&a, sa) && !matched(&o, so) {
            return Ok(Some(String::from_utf8_lossy(&text).into_owned()));
        }
        for byte in 0..=u8::MAX {
            let next_a = a.next_state(sa, byte);
            if a.is_dead_state(next_a) {
                continue;
            }
            // A character starts at every byte that is not a UTF-8 continuation byte.
            let starts_char = byte & 0xC0 != 0x80;
            let next = (
                next_a,
                o.next_state(so, byte),
                (chars + usize::from(starts_char)).min(min_chars),
            );
            if seen.insert(next) {
                let mut longer = text.clone();
                longer.push(byte);
                queue.push_back((next, longer));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn held(crd: Value, api: Value) -> Vec<Finding> {
        let mut refs = RefKeys::new();
        refs.insert(
            "slug".into(),
            vec![(
                "FlowRequest".into(),
                json!({"type": "string", "minLength": 1, "pattern": "^[-a-zA-Z0-9_]+$"}),
            )],
        );
        let mut out = Vec::new();
        hold(&crd, &api, "spec.x", &refs, &mut out);
        out
    }

    fn checks(found: &[Finding]) -> Vec<&'static str> {
        found.iter().map(|f| f.check).collect()
    }

    #[test]
    fn a_tighter_bound_is_found_and_an_equal_or_looser_one_is_not() {
        assert_eq!(
            checks(&held(
                json!({"type": "string", "maxLength": 50, "minLength": 2}),
                json!({"type": "string", "minLength": 1})
            )),
            ["maxLength", "minLength"]
        );
        assert!(
            held(
                json!({"type": "string", "maxLength": 60, "minLength": 1}),
                json!({"type": "string", "maxLength": 50, "minLength": 1})
            )
            .is_empty()
        );
        assert_eq!(
            checks(&held(
                json!({"type": "integer", "minimum": 0, "maximum": 10}),
                json!({"type": "integer", "minimum": -5, "maximum": 100})
            )),
            ["maximum", "minimum"]
        );
        assert_eq!(
            checks(&held(
                json!({"type": "array", "maxItems": 3, "items": {"type": "string"}}),
                json!({"type": "array", "items": {"type": "string"}})
            )),
            ["maxItems"]
        );
    }

    #[test]
    fn an_enum_must_hold_every_value_authentik_has() {
        let found = held(
            json!({"type": "string", "enum": ["a", "b", null], "nullable": true}),
            json!({"type": "string", "enum": ["a", "b", "c"]}),
        );
        assert_eq!(checks(&found), ["enum"]);
        assert!(found[0].detail.contains("\"c\""), "{found:?}");
        // A value an older release had stays.
        assert!(
            held(
                json!({"type": "string", "enum": ["a", "b", "old"]}),
                json!({"type": "string", "enum": ["a", "b"]})
            )
            .is_empty()
        );
        assert_eq!(
            checks(&held(
                json!({"type": "string", "enum": ["a"]}),
                json!({"type": "string"})
            )),
            ["enum"]
        );
    }

    #[test]
    fn patterns_compare_by_what_they_accept() {
        let slug = "^[-a-zA-Z0-9_]+$";
        // Written differently, accepting the same.
        assert_eq!(refused_example(slug, "^[a-zA-Z0-9_-]+$", 1).unwrap(), None);
        assert_eq!(
            refused_example(slug, "^(?i:[-a-z0-9_])+$", 1).unwrap(),
            None
        );
        // Stricter: the shortest string authentik takes and ours refuses.
        assert_eq!(
            refused_example(slug, "^[a-z0-9-]+$", 1).unwrap().as_deref(),
            Some("A")
        );
        assert_eq!(
            refused_example(slug, "^[-a-zA-Z0-9_]{1,50}$", 1)
                .unwrap()
                .map(|s| s.len()),
            Some(51)
        );
        // Unanchored patterns search; authentik's minimum length counts.
        assert_eq!(refused_example("", "a", 0).unwrap().as_deref(), Some(""));
        assert_eq!(
            refused_example("", "a", 2).unwrap().map(|s| s.len()),
            Some(2)
        );
        assert_eq!(refused_example("b", "b", 0).unwrap(), None);
        assert!(refused_example("(", "a", 0).is_err());
    }

    #[test]
    fn a_reference_is_held_by_its_pk_and_its_other_keys() {
        let reference = json!({"type": "object", "properties": {
            "ref": {"type": "string", "maxLength": 253},
            "slug": {"type": "string", "pattern": "^[a-z]+$"},
            "pk": {"type": "string", "pattern": UUID},
        }});
        let found = held(reference, json!({"type": "string", "format": "uuid"}));
        assert_eq!(checks(&found), ["pattern"], "{found:?}");
        assert_eq!(found[0].at, "spec.x.slug");
        assert!(found[0].detail.contains("(FlowRequest)"), "{found:?}");
        let lower_only = json!({"type": "object", "properties": {
            "pk": {"type": "string", "pattern": "^[0-9a-f-]+$"},
        }});
        let found = held(lower_only, json!({"type": "string", "format": "uuid"}));
        assert_eq!(checks(&found), ["pattern"], "{found:?}");
        let list = json!({"type": "array", "maxItems": 64, "items": {"type": "object",
            "properties": {"name": {"type": "string"}}}});
        let found = held(
            list,
            json!({"type": "array", "items": {"type": "string", "format": "uuid"}}),
        );
        assert_eq!(checks(&found), ["maxItems", "reference"], "{found:?}");
        assert_eq!(found[1].at, "spec.x[].name");
    }
}
