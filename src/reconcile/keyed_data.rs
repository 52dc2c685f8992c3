//! Reading one key of a Secret or ConfigMap, with what went wrong said so a user can fix it:
//! a connection's token and CA bundle, a stage's write-only password.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Resource;
use kube::api::Api;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Something with string data under keys: Secrets (base64 on the wire) and ConfigMaps.
pub trait KeyedData:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
{
    const WHAT: &'static str;
    const PLURAL: &'static str;
    fn value(&self, key: &str) -> Option<String>;
}

impl KeyedData for Secret {
    const WHAT: &'static str = "Secret";
    const PLURAL: &'static str = "Secrets";
    fn value(&self, key: &str) -> Option<String> {
        self.data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .or_else(|| self.string_data.as_ref().and_then(|d| d.get(key)).cloned())
    }
}

impl KeyedData for ConfigMap {
    const WHAT: &'static str = "ConfigMap";
    const PLURAL: &'static str = "ConfigMaps";
    fn value(&self, key: &str) -> Option<String> {
        self.data.as_ref().and_then(|d| d.get(key)).cloned()
    }
}

/// Why a key could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// The operator was not granted the namespace's Secrets (or ConfigMaps): the platform
    /// team's to solve, and the message says how.
    Forbidden(String),
    /// The object or its key does not exist (or the value is empty).
    NotFound(String),
    /// Anything else the API server answered.
    Other(String),
}

/// The value under `key` of the `D` named `name` in `ns`, trimmed (a value written from a
/// file usually ends with a newline).
pub async fn read<D: KeyedData>(
    kube: &kube::Client,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<String, KeyProblem> {
    let api: Api<D> = Api::namespaced(kube.clone(), ns);
    let found = api.get_opt(name).await.map_err(|e| {
        if matches!(&e, kube::Error::Api(s) if s.code == 403) {
            return KeyProblem::Forbidden(format!(
                "the operator may not read {} in namespace {ns:?}: grant it there with a RoleBinding to the ClusterRole authentik-operator-secret-reader (the Helm chart: add {ns:?} to connections.secretNamespaces)",
                D::PLURAL
            ));
        }
        KeyProblem::Other(format!("cannot read {} {ns}/{name}: {e}", D::WHAT))
    })?;
    let Some(found) = found else {
        return Err(KeyProblem::NotFound(missing(D::WHAT, ns, name, key, false)));
    };
    found
        .value(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| KeyProblem::NotFound(missing(D::WHAT, ns, name, key, true)))
}

/// What is missing, naming the object and the key either way: the user has to create both.
fn missing(what: &str, ns: &str, name: &str, key: &str, exists: bool) -> String {
    if exists {
        format!("{what} {ns}/{name} has no key {key:?}")
    } else {
        format!("{what} {ns}/{name} (with the key {key:?}) does not exist")
    }
}

#[cfg(test)]
mod tests {
    use super::missing;

    #[test]
    fn a_missing_object_or_key_names_both() {
        for exists in [false, true] {
            let m = missing("Secret", "apps", "smtp", "smtp-pass", exists);
            assert!(m.contains("Secret apps/smtp"), "{m}");
            assert!(m.contains("\"smtp-pass\""), "{m}");
        }
        assert_ne!(
            missing("Secret", "a", "s", "k", false),
            missing("Secret", "a", "s", "k", true)
        );
    }
}
