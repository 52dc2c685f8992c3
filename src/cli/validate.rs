//! Validating a manifest the way the API server does, from the CRD itself: its OpenAPI
//! schema (with a JSON-schema validator; unknown fields refused, as `kubectl apply`'s
//! strict field validation does), its CEL rules (`x-kubernetes-validations`, see
//! [`super::cel`]), then the kind's own `check_spec`.

use super::cel;
use super::registry::KindInfo;
use serde_json::{Map, Value};

/// The CRD schema as the API server applies it to an object: a field not in `properties`
/// is an unknown field (unless the schema keeps unknown fields), and a `null` is allowed
/// where the schema says `nullable`.
fn strict(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        // Maps of schemas: each value is a schema.
                        "properties" | "patternProperties" | "definitions" | "$defs" => {
                            Value::Object(
                                v.as_object()
                                    .into_iter()
                                    .flatten()
                                    .map(|(n, s)| (n.clone(), strict(s)))
                                    .collect(),
                            )
                        }
                        "enum"
                        | "required"
                        | "x-kubernetes-validations"
                        | "default"
                        | "example" => v.clone(),
                        _ => strict(v),
                    };
                    (k.clone(), v)
                })
                .collect();
            let keeps_unknown = map
                .get("x-kubernetes-preserve-unknown-fields")
                .is_some_and(|v| v == true);
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !keeps_unknown
            {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            if map.get("nullable").is_some_and(|v| v == true)
                && let Some(Value::String(t)) = map.get("type")
            {
                out.insert("type".into(), serde_json::json!([t, "null"]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(strict).collect()),
        other => other.clone(),
    }
}

/// A JSON pointer (`/spec/backends/0`) as the API server writes a field (`spec.backends[0]`).
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

/// What the API server would refuse in `obj`, one message per problem, plus the CEL rules
/// that could not be evaluated here (`unchecked`).
pub struct Verdict {
    pub errors: Vec<String>,
    pub unchecked: Vec<String>,
}

/// Removes `null` fields, as the API server prunes them from a non-nullable field.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Checks `obj` against `kind`'s CRD.
pub fn validate(kind: &KindInfo, obj: &Value) -> Verdict {
    let mut verdict = Verdict {
        errors: Vec::new(),
        unchecked: Vec::new(),
    };
    // The CRD's schema leaves out what every object has.
    let mut root = kind.schema.clone();
    if let Some(props) = root.get_mut("properties").and_then(Value::as_object_mut) {
        for (key, ty) in [
            ("apiVersion", "string"),
            ("kind", "string"),
            ("metadata", "object"),
        ] {
            props
                .entry(key)
                .or_insert_with(|| serde_json::json!({"type": ty}));
        }
    }
    let schema = strict(&root);
    match jsonschema::validator_for(&schema) {
        Ok(validator) => {
            for e in validator.iter_errors(obj) {
                let at = field_path(&e.instance_path().to_string());
                let at = if at.is_empty() {
                    "(the object)".to_string()
                } else {
                    at
                };
                verdict.errors.push(format!("{at}: {e}"));
            }
        }
        Err(e) => verdict.errors.push(format!(
            "the {} CRD schema does not compile: {e}",
            kind.kind
        )),
    }
    rules(&kind.schema, obj, "", &mut verdict);
    if verdict.errors.is_empty()
        && let Err(e) = (kind.check)(obj)
    {
        verdict.errors.push(e);
    }
    verdict
}

/// Walks schema and value together, evaluating every `x-kubernetes-validations` rule on
/// the value it is attached to.
fn rules(schema: &Value, value: &Value, path: &str, verdict: &mut Verdict) {
    for rule in schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(text) = rule.get("rule").and_then(Value::as_str) else {
            continue;
        };
        let at = if path.is_empty() {
            "(the object)"
        } else {
            path
        };
        match cel::holds(text, value) {
            Ok(true) => {}
            Ok(false) => {
                let message = rule
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("failed rule: {text}"), str::to_string);
                verdict.errors.push(format!("{at}: {message}"));
            }
            Err(cel::Unsupported(why)) => verdict
                .unchecked
                .push(format!("{at}: the rule {text:?} was not evaluated ({why})")),
        }
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    let sub = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    rules(s, v, &sub, verdict);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    rules(s, v, &format!("{path}[{i}]"), verdict);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(name: &str) -> KindInfo {
        super::super::registry::kinds()
            .into_iter()
            .find(|k| k.kind == name)
            .unwrap()
    }

    fn pw(spec: Value) -> Value {
        json!({"apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
               "metadata": {"name": "pw"}, "spec": spec})
    }

    #[test]
    fn a_valid_manifest_passes_and_every_rule_is_evaluated() {
        let v = validate(
            &kind("PasswordStage"),
            &pw(
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "x"}}),
            ),
        );
        assert!(v.errors.is_empty(), "{:?}", v.errors);
        assert!(v.unchecked.is_empty(), "{:?}", v.unchecked);
    }

    #[test]
    fn the_schema_names_the_field() {
        let cases = [
            (json!({"backends": ["nope"]}), "spec.backends[0]"),
            (json!({}), "spec: \"backends\" is a required property"),
            (
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "failedAttemptsBeforeCancel": 3000000000u64}),
                "spec.failedAttemptsBeforeCancel",
            ),
            (
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "bakends": []}),
                "bakends",
            ),
            (
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "x", "pk": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}}),
                "spec.configureFlow: exactly one of ref, slug or pk",
            ),
        ];
        for (spec, want) in cases {
            let v = validate(&kind("PasswordStage"), &pw(spec.clone()));
            assert!(
                v.errors.iter().any(|e| e.contains(want)),
                "{spec}: {:?} lacks {want}",
                v.errors
            );
        }
    }

    #[test]
    fn object_level_rules_and_the_kinds_own_checks() {
        let id = json!({"apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
                        "metadata": {"name": "id"}, "spec": {"userFields": []}});
        let v = validate(&kind("IdentificationStage"), &id);
        assert!(
            v.errors
                .iter()
                .any(|e| e.starts_with("spec: set userFields or sources")),
            "{:?}",
            v.errors
        );
        let flow = json!({"apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
                          "metadata": {"name": "a.b"}, "spec": {"name": "n", "title": "t", "designation": "authentication"}});
        let v = validate(&kind("Flow"), &flow);
        assert!(
            v.errors.iter().any(|e| e.contains("spec.slug")),
            "{:?}",
            v.errors
        );
    }

    #[test]
    fn paths() {
        assert_eq!(field_path("/spec/backends/0"), "spec.backends[0]");
        assert_eq!(field_path(""), "");
    }
}
