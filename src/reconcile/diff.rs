//! Comparing the body the spec asks for with what authentik has. Only fields the spec sets
//! are compared; lists without meaningful order compare as sets.

use crate::case::camel_case;
use crate::crd::DriftEntry;
use crate::crd::kind::Kind;
use serde_json::{Map, Value};

/// How a kind's body compares: see [`crate::crd::kind::Kind`].
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Lists compared as sets.
    pub set_fields: &'static [&'static str],
    /// Lists authentik's validation wants in every write.
    pub always_send: &'static [&'static str],
    /// Spec keys sent under another body key (spec key, body key).
    pub renamed: &'static [(&'static str, &'static str)],
    /// Body keys changed on a live object only when the resource allows it.
    pub guarded: &'static [&'static str],
    /// Body keys of which the spec sets exactly one (the others are null).
    pub one_of: &'static [&'static str],
    /// Write-only fields (spec key of the Secret reference, body key): never compared.
    pub secrets: &'static [(&'static str, &'static str)],
}

pub fn shape<K: Kind>() -> Shape {
    Shape {
        set_fields: K::SET_FIELDS,
        always_send: K::ALWAYS_SEND,
        renamed: K::RENAMED,
        guarded: K::GUARDED,
        one_of: K::ONE_OF,
        secrets: K::SECRETS,
    }
}

impl Shape {
    /// The spec field (camelCase) a body key comes from.
    pub fn spec_field(&self, body_key: &str) -> String {
        self.renamed
            .iter()
            .find(|(_, b)| *b == body_key)
            .map_or_else(|| camel_case(body_key), |(s, _)| s.to_string())
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    /// Fields that differ, as the user reads them.
    pub drift: Vec<DriftEntry>,
    /// The PATCH body that corrects them (empty when nothing differs).
    pub patch: Map<String, Value>,
    /// Spec fields the remote object lacks: the connected authentik does not know them.
    pub unsupported: Vec<String>,
}

impl Diff {
    pub fn in_sync(&self) -> bool {
        self.drift.is_empty()
    }
}

/// Compares `desired` (body keys) with `remote` (an authentik object).
pub fn diff(desired: &Map<String, Value>, remote: &Value, shape: &Shape) -> Diff {
    let (set_fields, always_send) = (shape.set_fields, shape.always_send);
    let mut out = Diff::default();
    let empty = Map::new();
    let remote = remote.as_object().unwrap_or(&empty);
    for (key, want) in desired {
        // Write-only: authentik never shows it (see `secrets_to_send`).
        if shape.secrets.iter().any(|(_, b)| b == key) {
            continue;
        }
        let Some(have) = remote.get(key) else {
            out.unsupported.push(shape.spec_field(key));
            continue;
        };
        let same = if set_fields.contains(&key.as_str()) {
            same_set(want, have)
        } else {
            same_value(want, have)
        };
        if !same {
            out.drift.push(DriftEntry {
                field: shape.spec_field(key),
                desired: want.to_string(),
                actual: have.to_string(),
            });
            out.patch.insert(key.clone(), want.clone());
        }
    }
    if !out.patch.is_empty() {
        for key in always_send {
            if out.patch.contains_key(*key) {
                continue;
            }
            // The spec's value when it sets one, else what authentik has, so the body passes
            // authentik's body-only validation without changing anything else.
            if let Some(v) = desired.get(*key).or_else(|| remote.get(*key)) {
                out.patch.insert((*key).to_string(), v.clone());
            }
        }
    }
    out
}

/// The write-only fields to send again: those whose value (by its hash, `current`) is not
/// what status says was last sent (`sent`). Added to `diff`'s patch and shown as drift of
/// hashes, never values.
pub fn secrets_to_send(
    diff: &mut Diff,
    desired: &Map<String, Value>,
    shape: &Shape,
    current: &std::collections::BTreeMap<String, String>,
    sent: Option<&std::collections::BTreeMap<String, String>>,
) -> bool {
    let mut any = false;
    for (spec_key, body_key) in shape.secrets {
        let (Some(now), Some(value)) = (current.get(*spec_key), desired.get(*body_key)) else {
            continue;
        };
        let before = sent.and_then(|s| s.get(*spec_key));
        if before == Some(now) {
            continue;
        }
        diff.patch.insert(body_key.to_string(), value.clone());
        diff.drift.push(DriftEntry {
            field: spec_key.to_string(),
            desired: now.clone(),
            actual: before
                .cloned()
                .unwrap_or_else(|| "(never sent by this resource)".into()),
        });
        any = true;
    }
    any
}

/// Numbers compare by value (authentik may print 5 where we send 5.0, or the reverse), and a
/// number with the text of it (a choice field stores `"6"` where 2023.10 printed `6`). Text
/// compares as authentik stores it: its serializers strip surrounding whitespace from every
/// text field (DRF's `trim_whitespace`), so an expression written with YAML's `|` (which
/// ends in a newline) is stored without it and still matches.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        (Value::String(x), Value::String(y)) => py_strip(x) == py_strip(y),
        _ => a == b,
    }
}

/// Python's `str.strip()`: what DRF's `trim_whitespace` removes.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

fn same_set(a: &Value, b: &Value) -> bool {
    match (a.as_array(), b.as_array()) {
        (Some(x), Some(y)) => {
            x.iter().all(|v| y.iter().any(|w| same_value(v, w)))
                && y.iter().all(|w| x.iter().any(|v| same_value(v, w)))
        }
        _ => same_value(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sh(set_fields: &'static [&'static str], always_send: &'static [&'static str]) -> Shape {
        Shape {
            set_fields,
            always_send,
            renamed: &[("flow", "target")],
            guarded: &[],
            one_of: &[],
            secrets: &[],
        }
    }

    #[test]
    fn a_renamed_field_is_reported_as_the_spec_names_it() {
        let d = diff(
            &map(json!({"target": "f1", "order": 10})),
            &json!({"target": "f2", "order": 10}),
            &sh(&[], &[]),
        );
        assert_eq!(d.drift[0].field, "flow");
        assert_eq!(Value::Object(d.patch), json!({"target": "f1"}));
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn equal_fields_give_no_drift() {
        let d = diff(
            &map(json!({"name": "a", "failed_attempts_before_cancel": 5})),
            &json!({"pk": "x", "name": "a", "failed_attempts_before_cancel": 5, "allow_show_password": true}),
            &sh(&[], &[]),
        );
        assert!(d.in_sync());
        assert!(d.patch.is_empty() && d.unsupported.is_empty());
    }

    #[test]
    fn only_differing_fields_are_patched() {
        let d = diff(
            &map(
                json!({"name": "a", "failed_attempts_before_cancel": 3, "allow_show_password": false}),
            ),
            &json!({"name": "a", "failed_attempts_before_cancel": 5, "allow_show_password": false}),
            &sh(&[], &[]),
        );
        assert_eq!(
            Value::Object(d.patch),
            json!({"failed_attempts_before_cancel": 3})
        );
        assert_eq!(d.drift.len(), 1);
        assert_eq!(d.drift[0].field, "failedAttemptsBeforeCancel");
        assert_eq!(d.drift[0].desired, "3");
        assert_eq!(d.drift[0].actual, "5");
    }

    #[test]
    fn sets_ignore_order_but_not_content() {
        let want = map(json!({"backends": ["a", "b"]}));
        assert!(
            diff(
                &want,
                &json!({"backends": ["b", "a"]}),
                &sh(&["backends"], &[])
            )
            .in_sync()
        );
        assert!(!diff(&want, &json!({"backends": ["a"]}), &sh(&["backends"], &[])).in_sync());
        assert!(!diff(&want, &json!({"backends": ["b", "a"]}), &sh(&[], &[])).in_sync());
    }

    #[test]
    fn missing_remote_fields_are_unsupported_not_drift() {
        let d = diff(
            &map(json!({"name": "a", "allow_show_password": true})),
            &json!({"name": "a"}),
            &sh(&[], &[]),
        );
        assert!(d.in_sync());
        assert_eq!(d.unsupported, vec!["allowShowPassword"]);
    }

    #[test]
    fn identification_patch_carries_user_fields_and_sources() {
        let d = diff(
            &map(json!({"name": "id", "user_fields": ["email"], "show_matched_user": false})),
            &json!({"name": "id", "user_fields": ["email"], "sources": ["s1"], "show_matched_user": true}),
            &sh(&["user_fields", "sources"], &["user_fields", "sources"]),
        );
        assert_eq!(
            Value::Object(d.patch),
            json!({"show_matched_user": false, "user_fields": ["email"], "sources": ["s1"]})
        );
    }

    #[test]
    fn write_only_fields_are_never_compared_and_sent_when_their_hash_changes() {
        const SECRET: Shape = Shape {
            set_fields: &[],
            always_send: &[],
            renamed: &[],
            guarded: &[],
            one_of: &[],
            secrets: &[("passwordSecretRef", "password")],
        };
        let desired = map(json!({"name": "mail", "password": "s3cret", "port": 25}));
        let remote = json!({"name": "mail", "port": 25});
        let mut d = diff(&desired, &remote, &SECRET);
        assert!(d.in_sync() && d.unsupported.is_empty(), "{d:?}");
        let now: std::collections::BTreeMap<String, String> =
            [("passwordSecretRef".to_string(), "sha256:b".to_string())].into();
        // Already sent: nothing to do.
        assert!(!secrets_to_send(
            &mut d,
            &desired,
            &SECRET,
            &now,
            Some(&now)
        ));
        assert!(d.patch.is_empty());
        // Changed (or never sent): the value goes into the patch, the hashes into drift.
        let before = [("passwordSecretRef".to_string(), "sha256:a".to_string())].into();
        assert!(secrets_to_send(
            &mut d,
            &desired,
            &SECRET,
            &now,
            Some(&before)
        ));
        assert_eq!(
            Value::Object(d.patch.clone()),
            json!({"password": "s3cret"})
        );
        assert_eq!(d.drift[0].desired, "sha256:b");
        assert_eq!(d.drift[0].actual, "sha256:a");
        assert!(!format!("{:?}", d.drift).contains("s3cret"));
    }

    #[test]
    fn a_choice_stored_as_text_matches_its_number() {
        let d = diff(
            &map(json!({"digits": "6"})),
            &json!({"digits": 6}),
            &sh(&[], &[]),
        );
        assert!(d.in_sync());
        assert!(
            !diff(
                &map(json!({"digits": "8"})),
                &json!({"digits": 6}),
                &sh(&[], &[])
            )
            .in_sync()
        );
    }

    #[test]
    fn text_matches_as_authentik_stores_it_stripped() {
        // YAML's `|` ends a block with a newline; authentik strips it on save.
        let sent = map(json!({"expression": "# why\nreturn True\n"}));
        let stored = json!({"expression": "# why\nreturn True"});
        assert!(diff(&sent, &stored, &sh(&[], &[])).in_sync());
        // Inner whitespace is the text itself.
        let other = json!({"expression": "# why\n\nreturn True"});
        assert!(!diff(&sent, &other, &sh(&[], &[])).in_sync());
        let indented = map(json!({"expression": "  return True"}));
        assert!(
            diff(
                &indented,
                &json!({"expression": "return True"}),
                &sh(&[], &[])
            )
            .in_sync()
        );
    }

    #[test]
    fn a_field_cleared_in_authentik_is_drift() {
        // e.g. authentik nulls password_stage when that stage is deleted
        let d = diff(
            &map(json!({"password_stage": "p1"})),
            &json!({"password_stage": null}),
            &sh(&[], &[]),
        );
        assert_eq!(d.drift[0].actual, "null");
    }
}
