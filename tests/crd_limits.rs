//! Every registered kind's CRD holds no limit stricter than authentik's OpenAPI schema (the
//! current release's contract, `../shared/reference/authentik-openapi.yml`): a limit only an
//! older release has is that release's 400, shown in the resource's condition, not a refusal
//! at `kubectl apply` of what the newest release accepts.
//!
//! Each kind's body schema is its `ENDPOINT`'s POST request body; each spec property is the
//! body field [`body_key`] sends it as, a reference by the pk it resolves to (its `slug` and
//! `name` keys against the slugs of flows and sources and the names of stages). Lengths,
//! item counts, ranges, enums (which must hold every value authentik has), patterns (by what
//! they accept) and required fields are compared. A kind registered later is held by being
//! registered. The few limits of ours that are stricter on purpose are listed in [`OURS`].

#[path = "crd_limits/compare.rs"]
mod compare;

use authentik_operator::crd::common::POLICY_KEYS;
use authentik_operator::crd::kind::{Kind, body_key, kind_name};
use authentik_operator::kinds::{KindVisitor, each};
use compare::{Finding, RefKeys, hold};
use serde_json::Value;
use std::path::PathBuf;

/// Limits stricter than authentik's schema on purpose: (kind, field, limit, why). A line
/// here that no longer matches a finding fails the test too, so the list stays true.
/// Why a duration field has a length limit authentik does not.
const DURATION_COST: &str = "bounds the cost of the duration CEL rule (crd::duration::MAX_LEN)";
/// Why a list of references has a size limit authentik does not.
const REFS_COST: &str = "bounds the cost of each reference's CEL rule (exactly one key), which the API server estimates over the list's largest size";

const OURS: &[(&str, &str, &str, &str)] = &[
    (
        "AuthenticatorValidateStage",
        "spec.configurationStages",
        "maxItems",
        REFS_COST,
    ),
    (
        "AuthenticatorValidateStage",
        "spec.lastAuthThreshold",
        "maxLength",
        DURATION_COST,
    ),
    ("PromptStage", "spec.fields", "maxItems", REFS_COST),
    (
        "PromptStage",
        "spec.fields",
        "minItems",
        "authentik's own: every release refuses an empty list with 400 {\"fields\":[\"This list may not be empty.\"]} (kinds-transcript-*.md, 'prompt stages: create with fields: []')",
    ),
    (
        "PromptStage",
        "spec.validationPolicies",
        "maxItems",
        REFS_COST,
    ),
    (
        "ConsentStage",
        "spec.consentExpireIn",
        "maxLength",
        DURATION_COST,
    ),
    ("EmailStage", "spec.tokenExpiry", "maxLength", DURATION_COST),
    (
        "EmailStage",
        "spec.recoveryCacheTimeout",
        "maxLength",
        DURATION_COST,
    ),
    (
        "PasswordStage",
        "spec.backends",
        "minItems",
        "authentik's own: every release refuses an empty list with 400 {\"backends\":[\"This list may not be empty.\"]} (transcript-2023.10.7.md and transcript-2024.4.4.md, step 11); the schema does not carry a list field's allow_empty=False",
    ),
    (
        "IdentificationStage",
        "spec.sources",
        "maxItems",
        "bounds the cost of each source's CEL rule (exactly one of slug or pk), which the API server estimates over the list's largest size",
    ),
    (
        "UserLoginStage",
        "spec.sessionDuration",
        "maxLength",
        "bounds the cost of the duration CEL rule (crd::duration::MAX_LEN)",
    ),
    (
        "UserLoginStage",
        "spec.rememberMeOffset",
        "maxLength",
        "bounds the cost of the duration CEL rule (crd::duration::MAX_LEN)",
    ),
    (
        "UserLoginStage",
        "spec.rememberDevice",
        "maxLength",
        "bounds the cost of the duration CEL rule (crd::duration::MAX_LEN)",
    ),
];

/// The reference schema, or `None` with a note when this checkout has none beside it.
fn reference() -> Option<Value> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/authentik-openapi.yml"
    ));
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "NOTE: {} not found; CRD limits not held against it",
            path.display()
        );
        return None;
    };
    // The whole API's schema is larger than the parser's default budget for a document.
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_nodes: 5_000_000, max_events: 10_000_000 },
    };
    Some(serde_saphyr::from_str_with_options(&text, options).expect("the schema parses"))
}

/// authentik's OpenAPI document.
struct OpenApi(Value);

impl OpenApi {
    /// `schema` with its `$ref`s and one-element `allOf`s replaced by what they name, to
    /// `depth` levels (a request body holds no deeper nesting).
    fn resolve(&self, schema: &Value, depth: usize) -> Value {
        if depth == 0 {
            return schema.clone();
        }
        let Value::Object(map) = schema else {
            return schema.clone();
        };
        if let Some(target) = map.get("$ref").and_then(Value::as_str) {
            let named = self.0.pointer(target.trim_start_matches('#'));
            return self.resolve(named.unwrap_or(&Value::Null), depth - 1);
        }
        let mut out = serde_json::Map::new();
        if let Some([one]) = map
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            && let Value::Object(inner) = self.resolve(one, depth - 1)
        {
            out.extend(inner);
        }
        for (k, v) in map {
            if k == "allOf" {
                continue;
            }
            let v = match k.as_str() {
                "items" => self.resolve(v, depth - 1),
                "properties" => Value::Object(
                    v.as_object()
                        .into_iter()
                        .flatten()
                        .map(|(p, s)| (p.clone(), self.resolve(s, depth - 1)))
                        .collect(),
                ),
                _ => v.clone(),
            };
            out.insert(k.clone(), v);
        }
        Value::Object(out)
    }

    /// The name and resolved schema of the request body of `POST /<endpoint>`.
    fn request(&self, endpoint: &str) -> Result<(String, Value), String> {
        let path = format!("/{endpoint}").replace('/', "~1");
        let schema = self
            .0
            .pointer(&format!(
                "/paths/{path}/post/requestBody/content/application~1json/schema"
            ))
            .ok_or_else(|| format!("no POST /{endpoint} with a JSON body in the schema"))?;
        let name = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or("(inline)")
            .to_string();
        Ok((name, self.resolve(schema, 8)))
    }

    /// The field `field` of every component schema whose name `pick` chooses.
    fn fields(&self, pick: impl Fn(&str) -> bool, field: &str) -> Vec<(String, Value)> {
        let schemas = self
            .0
            .pointer("/components/schemas")
            .and_then(Value::as_object);
        schemas
            .into_iter()
            .flatten()
            .filter(|(name, _)| pick(name))
            .filter_map(|(name, s)| {
                let f = s.pointer(&format!("/properties/{field}"))?;
                Some((name.clone(), self.resolve(f, 8)))
            })
            .collect()
    }

    /// What a reference's keys name: `slug` a flow or a source, `name` a stage of any kind.
    fn ref_keys(&self) -> RefKeys {
        let request = |n: &str| n.ends_with("Request") && !n.starts_with("Patched");
        let mut keys = RefKeys::new();
        keys.insert(
            "slug".into(),
            self.fields(
                |n| request(n) && (n == "FlowRequest" || n.ends_with("SourceRequest")),
                "slug",
            ),
        );
        // Names of stages, prompts, groups and policies; a user's username.
        let named = |n: &str| {
            request(n)
                && (n.ends_with("StageRequest")
                    || n.ends_with("PolicyRequest")
                    || n == "PromptRequest"
                    || n == "GroupRequest")
        };
        keys.insert("name".into(), self.fields(named, "name"));
        keys.insert(
            "username".into(),
            self.fields(|n| request(n) && n == "UserRequest", "username"),
        );
        keys
    }
}

/// Holds each registered kind's CRD against its request body.
struct Hold<'a> {
    api: &'a OpenApi,
    refs: RefKeys,
    found: Vec<(&'static str, Finding)>,
    fields_held: usize,
}

impl KindVisitor for Hold<'_> {
    fn visit<K: Kind>(&mut self) {
        let kind = kind_name::<K>();
        let mut found = Vec::new();
        let (schema_name, body) = match self.api.request(K::ENDPOINT) {
            Ok(b) => b,
            Err(e) => {
                found.push(Finding {
                    at: "spec".into(),
                    check: "endpoint",
                    detail: e,
                });
                (String::new(), Value::Null)
            }
        };
        let crd = serde_json::to_value(K::crd()).expect("the CRD as JSON");
        let spec = crd
            .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec")
            .cloned()
            .unwrap_or_default();
        let props = spec.get("properties").and_then(Value::as_object);
        for (key, ours) in props.into_iter().flatten() {
            if POLICY_KEYS.contains(&key.as_str()) || body.is_null() {
                continue;
            }
            let at = format!("spec.{key}");
            // A write-only field's Secret reference: the value is sent as its body field, so
            // only that the field exists (and is required alike) is held.
            if let Some((_, field)) = K::SECRETS.iter().find(|(s, _)| s == key) {
                if body.pointer(&format!("/properties/{field}")).is_none() {
                    found.push(Finding {
                        at,
                        check: "field",
                        detail: format!(
                            "the value is sent as {field}, which {schema_name} does not have"
                        ),
                    });
                }
                continue;
            }
            let field = body_key::<K>(key);
            match body.pointer(&format!("/properties/{field}")) {
                Some(theirs) => {
                    let before = found.len();
                    hold(ours, theirs, &at, &self.refs, &mut found);
                    for f in &mut found[before..] {
                        f.detail = format!("{} (body field {field} of {schema_name})", f.detail);
                    }
                    self.fields_held += 1;
                }
                None => found.push(Finding {
                    at,
                    check: "field",
                    detail: format!(
                        "sent as {field}, which {schema_name} (POST /{}) does not have",
                        K::ENDPOINT
                    ),
                }),
            }
        }
        let required = |s: &Value| -> Vec<String> {
            s.get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let theirs = required(&body);
        for key in required(&spec) {
            let field = K::SECRETS
                .iter()
                .find(|(s, _)| *s == key)
                .map_or_else(|| body_key::<K>(&key), |(_, b)| b.to_string());
            if !body.is_null() && !theirs.contains(&field) {
                found.push(Finding {
                    at: format!("spec.{key}"),
                    check: "required",
                    detail: format!("required, where {schema_name} does not require {field}"),
                });
            }
        }
        self.found.extend(found.into_iter().map(|f| (kind, f)));
    }
}

#[test]
fn no_crd_limit_is_stricter_than_authentiks_schema() {
    let Some(doc) = reference() else { return };
    let api = OpenApi(doc);
    let refs = api.ref_keys();
    assert!(
        refs.values().all(|v| !v.is_empty()),
        "flows', sources' and stages' request schemas: {refs:?}"
    );
    let mut walk = Hold {
        api: &api,
        refs,
        found: Vec::new(),
        fields_held: 0,
    };
    each(&mut walk);
    assert!(walk.fields_held > 0, "no field was held");
    let ours = |kind: &str, f: &Finding| {
        OURS.iter()
            .any(|(k, at, check, _)| *k == kind && *at == f.at && *check == f.check)
    };
    let stricter: Vec<String> = walk
        .found
        .iter()
        .filter(|(kind, f)| !ours(kind, f))
        .map(|(kind, f)| format!("{kind} {}: {}: {}", f.at, f.check, f.detail))
        .collect();
    let stale: Vec<String> = OURS
        .iter()
        .filter(|(k, at, check, _)| {
            !walk
                .found
                .iter()
                .any(|(kind, f)| kind == k && f.at == *at && f.check == *check)
        })
        .map(|(k, at, check, why)| format!("{k} {at}: {check} ({why})"))
        .collect();
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join("\n  ")
        }
    };
    assert!(
        stricter.is_empty() && stale.is_empty(),
        "CRD limits stricter than authentik's schema (loosen them, or list them in OURS with the reason):\n  {}\nlisted in OURS but no longer found:\n  {}",
        list(&stricter),
        list(&stale)
    );
}
