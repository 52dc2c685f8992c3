//! The kinds the soak drives, taken from the operator's registry (`kinds::each`): what the
//! client needs to write their resources and the checker to find their objects.

use authentik_operator::crd::kind::{Kind, Lookup, RefSpec, kind_name};
use authentik_operator::kinds::{self, KindVisitor};
use kube::discovery::ApiResource;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct KindInfo {
    pub kind: &'static str,
    pub api: ApiResource,
    pub endpoint: &'static str,
    /// The body fields that identify an object (a stage's name, a flow's slug, …).
    pub key: &'static [&'static str],
    /// Its URLs name objects by slug (flows), not pk.
    pub by_slug: bool,
    pub refs: &'static [RefSpec],
    pub renamed: &'static [(&'static str, &'static str)],
    pub set_fields: &'static [&'static str],
    /// Spec keys of write-only values (a Secret reference): never compared.
    pub secrets: Vec<&'static str>,
    /// Body keys a write must carry (a person's edit in the UI sends the whole form).
    pub always_send: &'static [&'static str],
}

impl KindInfo {
    /// The body key a spec key is sent as.
    pub fn body_key(&self, spec_key: &str) -> String {
        self.renamed
            .iter()
            .find(|(s, _)| *s == spec_key)
            .map_or_else(|| snake(spec_key), |(_, b)| b.to_string())
    }

    pub fn ref_spec(&self, spec_key: &str) -> Option<&RefSpec> {
        self.refs.iter().find(|r| r.field == spec_key)
    }

    /// The resources (kind, name) `spec` refers to by `ref`.
    pub fn refs_named(&self, spec: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for r in self.refs {
            let values = match &spec[r.field] {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                one => vec![one.clone()],
            };
            for v in values {
                match &v["ref"] {
                    Value::String(name) => {
                        if let Some(kind) = r.target.custom_resource_kind() {
                            out.push((kind.to_string(), name.clone()));
                        }
                    }
                    Value::Object(o) => out.push((
                        o["kind"].as_str().unwrap_or_default().into(),
                        o["name"].as_str().unwrap_or_default().into(),
                    )),
                    _ => {}
                }
            }
        }
        out
    }

    /// Whether its key is one name-like field (`name` or `slug`).
    pub fn named(&self) -> bool {
        self.key.len() == 1
    }
}

/// A spec key as authentik's body names it (the operator's own conversion).
pub use authentik_operator::case::snake_case as snake;

/// Every registered kind, in registry order.
pub fn all() -> Vec<KindInfo> {
    struct Walk(Vec<KindInfo>);
    impl KindVisitor for Walk {
        fn visit<K: Kind>(&mut self) {
            self.0.push(KindInfo {
                kind: kind_name::<K>(),
                api: ApiResource::erase::<K>(&()),
                endpoint: K::ENDPOINT,
                key: K::KEY,
                by_slug: matches!(K::LOOKUP, Lookup::Slug { .. }),
                refs: K::REFS,
                renamed: K::RENAMED,
                set_fields: K::SET_FIELDS,
                secrets: K::SECRETS.iter().map(|(spec, _)| *spec).collect(),
                always_send: K::ALWAYS_SEND,
            });
        }
    }
    let mut walk = Walk(Vec::new());
    kinds::each(&mut walk);
    walk.0
}
