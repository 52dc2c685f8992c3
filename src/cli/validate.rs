//! Validating a manifest the way the API server does, from the CRD itself: its OpenAPI
//! schema (with a JSON-schema validator; unknown fields refused, as `kubectl apply`'s
//! strict field validation does), its CEL rules (`x-kubernetes-validations`, evaluated by
//! `kube-cel`), then the kind's own `check_spec`.

use super::registry::KindInfo;
use kube_cel::ErrorKind;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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
    rules(kind, obj, &mut verdict);
    if verdict.errors.is_empty()
        && let Err(e) = (kind.check)(obj)
    {
        verdict.errors.push(e);
    }
    verdict
}

/// Where a CEL error is: the API server's field path, or the object itself.
fn place(field_path: &str) -> &str {
    if field_path.is_empty() {
        "(the object)"
    } else {
        field_path
    }
}

thread_local! {
    /// The API server's CEL environment (the Kubernetes libraries included), made once.
    static CEL: kube_cel::Validator = kube_cel::Validator::new();
    /// Each kind's rules, compiled once (again if its schema is another).
    static COMPILED: RefCell<HashMap<&'static str, (Value, Rc<kube_cel::CompiledSchema>)>> =
        RefCell::new(HashMap::new());
}

/// Evaluates every `x-kubernetes-validations` rule of the kind's schema on the value it is
/// attached to, with `kube-cel` (schema defaults applied first, as the API server does). A
/// rule false, not a bool or failing at run time is refused, as the API server refuses it; a
/// rule `kube-cel` cannot compile or evaluate here is listed as not evaluated, never passed.
fn rules(kind: &KindInfo, obj: &Value, verdict: &mut Verdict) {
    let compiled = COMPILED.with(|c| {
        let mut cache = c.borrow_mut();
        match cache.get(kind.kind) {
            Some((schema, compiled)) if *schema == kind.schema => compiled.clone(),
            _ => {
                let compiled = Rc::new(kube_cel::compile_schema(&kind.schema));
                cache.insert(kind.kind, (kind.schema.clone(), compiled.clone()));
                compiled
            }
        }
    });
    let root = kube_cel::RootContext {
        api_version: kind.api_version.clone(),
        api_group: kind
            .api_version
            .split_once('/')
            .map(|(group, _)| group.to_string())
            .unwrap_or_default(),
        kind: kind.kind.to_string(),
    };
    let Err(failures) =
        CEL.with(|cel| cel.validate_compiled_with_context(&compiled, obj, None, Some(&root)))
    else {
        return;
    };
    for f in failures {
        let at = place(&f.field_path);
        match f.kind {
            ErrorKind::ValidationFailure
            | ErrorKind::InvalidResult
            | ErrorKind::EvaluationError => {
                verdict.errors.push(format!("{at}: {}", f.message));
            }
            _ => verdict.unchecked.push(format!(
                "{at}: the rule {:?} was not evaluated ({})",
                f.rule, f.message
            )),
        }
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

    /// Every rule of every registered kind's CRD compiles with kube-cel.
    #[test]
    fn every_rule_of_the_crds_compiles() {
        fn walk(c: &kube_cel::CompiledSchema, at: &str, rules: &mut usize) {
            for v in &c.validations {
                assert!(v.is_ok(), "{at}: {:?}", v.as_ref().err());
                *rules += 1;
            }
            for (name, child) in &c.properties {
                walk(child, &format!("{at}.{name}"), rules);
            }
            if let Some(items) = &c.items {
                walk(items, &format!("{at}[]"), rules);
            }
        }
        let mut rules = 0;
        for k in super::super::registry::kinds() {
            walk(&kube_cel::compile_schema(&k.schema), k.kind, &mut rules);
        }
        assert!(rules >= 10, "{rules} rules");
    }

    /// The duration rule of the CRDs (authentik's `hours=1;minutes=30`), as the old
    /// evaluator's tests had it.
    #[test]
    fn the_duration_rule_of_the_crds() {
        let login = |duration: &str| {
            json!({"apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
                   "metadata": {"name": "login"}, "spec": {"sessionDuration": duration}})
        };
        let k = kind("UserLoginStage");
        let ok = validate(&k, &login("hours=3;minutes=1"));
        assert!(
            ok.errors.is_empty() && ok.unchecked.is_empty(),
            "{:?} {:?}",
            ok.errors,
            ok.unchecked
        );
        for bad in ["hours=x", " hours=1", "hours=1;"] {
            let v = validate(&k, &login(bad));
            assert!(
                v.errors
                    .iter()
                    .any(|e| e.starts_with("spec.sessionDuration: must be an authentik duration")),
                "{bad:?}: {:?}",
                v.errors
            );
        }
    }

    /// `kind` with one more CEL rule on its spec.
    fn with_spec_rule(name: &str, rule: &str, message: &str) -> KindInfo {
        let mut k = kind(name);
        let spec = &mut k.schema["properties"]["spec"];
        if spec.get("x-kubernetes-validations").is_none() {
            spec["x-kubernetes-validations"] = json!([]);
        }
        spec["x-kubernetes-validations"]
            .as_array_mut()
            .unwrap()
            .push(json!({"rule": rule, "message": message}));
        k
    }

    /// `startsWith` (CEL's string library) was outside the hand-written evaluator, which listed
    /// such a rule as not evaluated; kube-cel evaluates it, and a Kubernetes library function
    /// (`url(…).getEscapedPath()`) too.
    #[test]
    fn rules_beyond_the_old_evaluator_are_checked() {
        let k = with_spec_rule(
            "PasswordStage",
            "!has(self.configureFlow) || !has(self.configureFlow.slug) || !self.configureFlow.slug.startsWith('default-')",
            "configureFlow must not be one of authentik's default flows",
        );
        let ok = validate(
            &k,
            &pw(
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "corp-setup"}}),
            ),
        );
        assert!(
            ok.errors.is_empty() && ok.unchecked.is_empty(),
            "{:?} {:?}",
            ok.errors,
            ok.unchecked
        );
        let bad = validate(
            &k,
            &pw(
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "default-password-change"}}),
            ),
        );
        assert_eq!(
            bad.errors,
            ["spec: configureFlow must not be one of authentik's default flows"]
        );
        assert!(bad.unchecked.is_empty(), "{:?}", bad.unchecked);

        let k = with_spec_rule(
            "PasswordStage",
            "!has(self.configureFlow) || !has(self.configureFlow.slug) || url('https://authentik.example.com/if/flow/' + self.configureFlow.slug + '/').getEscapedPath().size() < 40",
            "the flow's URL path is too long",
        );
        let long = validate(
            &k,
            &pw(
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "a-rather-long-flow-slug-that-keeps-on-going"}}),
            ),
        );
        assert_eq!(long.errors, ["spec: the flow's URL path is too long"]);
        assert!(long.unchecked.is_empty(), "{:?}", long.unchecked);
        let short = validate(
            &k,
            &pw(
                json!({"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "short"}}),
            ),
        );
        assert!(
            short.errors.is_empty() && short.unchecked.is_empty(),
            "{:?} {:?}",
            short.errors,
            short.unchecked
        );
    }

    /// A rule that fails at run time is refused, as the API server refuses it; one that does
    /// not compile is listed as not evaluated, never passed.
    #[test]
    fn failing_and_uncompilable_rules() {
        let k = with_spec_rule("PasswordStage", "self.configureFlow.slug == 'x'", "slug x");
        let v = validate(
            &k,
            &pw(json!({"backends": ["authentik.core.auth.InbuiltBackend"]})),
        );
        assert_eq!(v.errors.len(), 1, "{:?}", v.errors);
        assert!(
            v.errors[0].starts_with("spec: rule evaluation error"),
            "{:?}",
            v.errors
        );
        let k = with_spec_rule("PasswordStage", "self.backends.size() >", "never");
        let v = validate(
            &k,
            &pw(json!({"backends": ["authentik.core.auth.InbuiltBackend"]})),
        );
        assert!(v.errors.is_empty(), "{:?}", v.errors);
        assert_eq!(v.unchecked.len(), 1, "{:?}", v.unchecked);
        assert!(
            v.unchecked[0].contains("was not evaluated"),
            "{:?}",
            v.unchecked
        );
    }

    #[test]
    fn paths() {
        assert_eq!(field_path("/spec/backends/0"), "spec.backends[0]");
        assert_eq!(field_path(""), "");
    }
}
