//! Write-only fields (see `Kind::SECRETS`): the values come from Secrets in the resource's
//! namespace, are sent but never compared (authentik never returns them), and only a hash of
//! what was sent is kept in status, so a Secret whose value changed is sent again.

use super::keyed_data::{self, KeyProblem};
use crate::crd::kind::Kind;
use crate::error::{Error, Result};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use serde_json::Value;
use std::collections::BTreeMap;

/// The write-only values of one resource, read for one reconcile.
#[derive(Clone, Default, PartialEq)]
pub struct Secrets {
    /// Body key → value.
    pub values: BTreeMap<String, String>,
    /// Spec key of the Secret reference → hash of its value.
    pub hashes: BTreeMap<String, String>,
}

// Never print the values.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("hashes", &self.hashes)
            .finish_non_exhaustive()
    }
}

/// Reads the values of `obj`'s write-only fields that its spec sets.
pub async fn read<K: Kind>(obj: &K, kube: &kube::Client) -> Result<Secrets> {
    let mut out = Secrets::default();
    if K::SECRETS.is_empty() {
        return Ok(out);
    }
    let spec = obj.spec_json();
    let ns = obj.namespace().unwrap_or_default();
    let salt = obj.uid().unwrap_or_default();
    for (spec_key, body_key) in K::SECRETS {
        let Some(r) = spec.get(*spec_key).filter(|v| !v.is_null()) else {
            continue;
        };
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
        let (name, key) = (text("name"), text("key"));
        let value = keyed_data::read::<Secret>(kube, &ns, name, key)
            .await
            .map_err(|p| match p {
                KeyProblem::Forbidden(m) => Error::SecretForbidden(format!("spec.{spec_key}: {m}")),
                KeyProblem::NotFound(m) => Error::SecretNotFound(format!(
                    "spec.{spec_key}: {m}; the {} is not created or updated until it exists",
                    K::NOUN
                )),
                KeyProblem::Other(m) => Error::SecretNotFound(format!("spec.{spec_key}: {m}")),
            })?;
        out.hashes
            .insert(spec_key.to_string(), hash(&salt, body_key, &value));
        out.values.insert(body_key.to_string(), value);
    }
    Ok(out)
}

/// What status keeps of a value: a hash, salted with the resource's uid so that equal values
/// of two resources do not show as equal.
pub fn hash(salt: &str, field: &str, value: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{salt}\0{field}\0{value}").as_bytes(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_hides_the_value_and_changes_with_it() {
        let a = hash("uid-1", "password", "hunter2");
        assert!(a.starts_with("sha256:") && !a.contains("hunter2"));
        assert_eq!(a.len(), "sha256:".len() + 64);
        assert_ne!(a, hash("uid-1", "password", "hunter3"));
        assert_ne!(
            a,
            hash("uid-2", "password", "hunter2"),
            "salted per resource"
        );
        assert_eq!(a, hash("uid-1", "password", "hunter2"));
    }

    #[test]
    fn debug_output_never_shows_values() {
        let mut s = Secrets::default();
        s.values.insert("password".into(), "hunter2".into());
        s.hashes
            .insert("passwordSecretRef".into(), "sha256:x".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
