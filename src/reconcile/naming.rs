//! An object's identity in authentik is unique within its scope (stage names across all
//! stage kinds, flow slugs, a binding's flow, stage and order), so two resources (any kinds,
//! any namespaces) must not manage one. A claim that already holds the object (its status
//! has the pk for that identity) wins; otherwise the earliest-created one. The others get
//! `NameConflict` and write nothing.

use crate::connections::ConnKey;
use crate::crd::kind::{Kind, kind_name};
use jiff::Timestamp;
use kube::ResourceExt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub authentik_name: String,
    /// Where the identity is unique (see `Kind::KEY_SCOPE`).
    pub scope: &'static str,
    /// Names are unique per authentik instance, not across them.
    pub connection: ConnKey,
    pub created: Option<Timestamp>,
    /// Its status already holds the stage of this name (pk known).
    pub holds: bool,
}

impl Claim {
    fn order_key(&self) -> (bool, Option<Timestamp>, &str, &str, &str) {
        // The holder first; a claim without a creation time (not yet persisted) sorts last.
        (
            !self.holds,
            self.created.or(Some(Timestamp::MAX)),
            self.kind,
            self.namespace.as_str(),
            self.name.as_str(),
        )
    }

    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// The claim that `me` loses to, if any.
pub fn conflicting<'a>(me: &Claim, all: impl IntoIterator<Item = &'a Claim>) -> Option<&'a Claim> {
    all.into_iter()
        .filter(|c| c.authentik_name == me.authentik_name && c.connection == me.connection)
        .filter(|c| c.scope == me.scope)
        .filter(|c| !(c.kind == me.kind && c.namespace == me.namespace && c.name == me.name))
        .filter(|c| c.order_key() < me.order_key())
        .min_by(|a, b| a.order_key().cmp(&b.order_key()))
}

/// Whether `obj` asks for the identity `name` (without building it, for a one-field key).
pub fn named<K: Kind>(obj: &K, name: &str) -> bool {
    if K::KEY.len() > 1 {
        return obj.identity() == name;
    }
    let own = obj.spec_key().or(obj.meta().name.as_deref());
    own.unwrap_or_default() == name
}

/// The claim `obj` makes on its authentik name.
pub fn claim_of<K: Kind>(obj: &K) -> Claim {
    Claim {
        kind: kind_name::<K>(),
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        authentik_name: obj.identity(),
        scope: K::KEY_SCOPE,
        connection: ConnKey::of_stage(obj),
        created: obj.meta().creation_timestamp.as_ref().map(|t| t.0),
        holds: obj
            .status()
            .is_some_and(|s| s.pk.is_some() && s.name.as_deref() == Some(obj.identity().as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(kind: &'static str, ns: &str, name: &str, ak: &str, at: i64) -> Claim {
        Claim {
            kind,
            namespace: ns.into(),
            name: name.into(),
            authentik_name: ak.into(),
            scope: "stages/all/",
            connection: ConnKey::Default,
            created: Some(Timestamp::from_second(at).unwrap()),
            holds: false,
        }
    }

    #[test]
    fn earlier_claim_wins_across_kinds_and_namespaces() {
        let a = claim("PasswordStage", "a", "x", "login", 10);
        let b = claim("UserLoginStage", "b", "y", "login", 20);
        let all = vec![a.clone(), b.clone()];
        assert_eq!(conflicting(&b, &all), Some(&a));
        assert_eq!(conflicting(&a, &all), None);
    }

    #[test]
    fn different_names_do_not_conflict() {
        let a = claim("PasswordStage", "a", "x", "one", 10);
        let b = claim("PasswordStage", "a", "y", "two", 20);
        assert_eq!(conflicting(&b, &[a, b.clone()]), None);
    }

    #[test]
    fn the_holder_of_the_stage_wins_over_an_older_newcomer() {
        let older = claim("PasswordStage", "a", "renamed", "login", 10);
        let mut holder = claim("PasswordStage", "a", "owner", "login", 20);
        holder.holds = true;
        let all = vec![older.clone(), holder.clone()];
        assert_eq!(conflicting(&older, &all), Some(&holder));
        assert_eq!(conflicting(&holder, &all), None);
    }

    #[test]
    fn one_name_in_two_authentiks_is_no_conflict() {
        let a = claim("PasswordStage", "a", "x", "n", 10);
        let mut b = claim("PasswordStage", "a", "y", "n", 20);
        b.connection = ConnKey::Cluster {
            name: "staging".into(),
        };
        assert_eq!(conflicting(&b, &[a, b.clone()]), None);
    }

    #[test]
    fn a_flow_slug_and_a_stage_name_do_not_conflict() {
        let stage = claim("PasswordStage", "a", "x", "login", 10);
        let mut flow = claim("Flow", "a", "login", "login", 20);
        flow.scope = "flows/instances/";
        assert_eq!(conflicting(&flow, &[stage, flow.clone()]), None);
    }

    #[test]
    fn ties_are_broken_deterministically() {
        let a = claim("PasswordStage", "a", "x", "n", 10);
        let b = claim("PasswordStage", "b", "x", "n", 10);
        let all = vec![a.clone(), b.clone()];
        assert_eq!(conflicting(&b, &all), Some(&a));
        assert_eq!(conflicting(&a, &all), None);
    }

    #[test]
    fn a_resource_asks_for_its_spec_name_else_its_own() {
        let stage = |spec: serde_json::Value| -> crate::kinds::PasswordStage {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
                "metadata": {"name": "res", "namespace": "ns"}, "spec": spec
            }))
            .unwrap()
        };
        let inbuilt = "authentik.core.auth.InbuiltBackend";
        let plain = stage(serde_json::json!({"backends": [inbuilt]}));
        assert!(named(&plain, "res") && !named(&plain, "other"));
        let renamed = stage(serde_json::json!({"name": "login", "backends": [inbuilt]}));
        assert!(named(&renamed, "login") && !named(&renamed, "res"));
        assert_eq!(claim_of(&renamed).authentik_name, "login");
    }
}
