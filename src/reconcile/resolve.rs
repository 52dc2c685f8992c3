//! Resolving references to authentik pks. `pk` is taken as written; `ref` goes through the
//! referenced resource's `status.pk`; stage names and flow/source slugs are looked up in
//! authentik and cached for a resync interval, so 500 resources naming one flow cost one
//! request, not 500.

use super::context::Context;
use super::kinds::RefTarget;
use crate::connections::{ConnKey, Connection};
use crate::crd::kind::{Kind, RefField};
use crate::crd::refs::{By, Target};
use crate::error::{Error, Result};
use kube::ResourceExt;
use serde_json::Value;
use std::collections::BTreeMap;

/// References resolved for one object: spec field → body value (a pk or a list of pks).
#[derive(Debug, Default, PartialEq)]
pub struct Resolved {
    pub body: BTreeMap<String, Value>,
    /// For status: spec field (with an index for lists) → pk.
    pub shown: BTreeMap<String, String>,
    /// `spec.field: Kind namespace/name is`, for each reference to a resource being deleted.
    pub leaving: Vec<String>,
}

/// Resolves every reference of `obj` in `conn`'s authentik.
pub async fn resolve<K: Kind>(obj: &K, ctx: &Context, conn: &Connection) -> Result<Resolved> {
    let connection = ConnKey::of_stage(obj);
    let mut out = Resolved::default();
    let namespace = obj.namespace().unwrap_or_default();
    for field in obj.references() {
        let Some(values) = &field.values else {
            continue;
        };
        let mut pks = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            let label = if field.many {
                format!("{}[{i}]", field.spec_field)
            } else {
                field.spec_field.to_string()
            };
            let by = value.as_ref().ok_or_else(|| {
                Error::InvalidReference(format!(
                    "spec.{label}: set exactly one key of the reference"
                ))
            })?;
            let at = Place {
                label: &label,
                namespace: &namespace,
                connection: &connection,
            };
            let (pk, leaving) = resolve_one(&field, by, &at, ctx, conn).await?;
            out.leaving.extend(leaving);
            pks.push(field.target.pk_value(&pk));
            out.shown.insert(label, pk);
        }
        let value = if field.many {
            Value::Array(pks)
        } else {
            pks.pop().unwrap_or(Value::Null)
        };
        out.body.insert(field.spec_field.to_string(), value);
    }
    Ok(out)
}

/// Where a reference is written: the field (for messages), the resource's namespace and
/// the connection it lives in.
struct Place<'a> {
    label: &'a str,
    namespace: &'a str,
    connection: &'a ConnKey,
}

/// A pk, and (for a `ref` to a resource being deleted) how to name that reference.
async fn resolve_one(
    field: &RefField,
    by: &By,
    at: &Place<'_>,
    ctx: &Context,
    conn: &Connection,
) -> Result<(String, Option<String>)> {
    match by {
        // authentik prints UUIDs in lower case; the CRD also allows upper case.
        By::Pk(pk) => Ok((pk.to_ascii_lowercase(), None)),
        By::Ref(name) => match field.target.custom_resource_kind() {
            Some(kind) => resolve_custom_resource(kind, name, at, ctx),
            None => Err(Error::InvalidReference(format!(
                "spec.{}: `ref` cannot name this kind of object; use `name` or `pk` for this reference",
                at.label
            ))),
        },
        By::KindRef(kind, name) => resolve_custom_resource(kind, name, at, ctx),
        By::Name(_) | By::Slug(_) | By::Username(_) => {
            let key = (field.target, by.clone());
            if let Some(pk) = conn.lookups.get(&key) {
                return Ok((pk, None));
            }
            let pk = lookup(field.target, by, at.label, conn).await?;
            conn.lookups.insert(key, pk.clone());
            Ok((pk, None))
        }
    }
}

fn resolve_custom_resource(
    kind: &str,
    name: &str,
    at: &Place<'_>,
    ctx: &Context,
) -> Result<(String, Option<String>)> {
    let (label, namespace, connection) = (at.label, at.namespace, at.connection);
    let Some(ops) = ctx.stores.kind(kind) else {
        return Err(Error::InvalidReference(format!(
            "spec.{label}: {kind} is not a kind this operator manages"
        )));
    };
    let Some(RefTarget {
        connection: theirs,
        pk,
        deleting,
        not_ready,
    }) = ops.ref_target(namespace, name)
    else {
        return Err(Error::ReferenceNotReady(format!(
            "spec.{label}: {kind} {namespace}/{name} does not exist yet"
        )));
    };
    if &theirs != connection {
        return Err(Error::InvalidReference(format!(
            "spec.{label}: {kind} {namespace}/{name} lives in {theirs}, this resource in {connection}; references never cross authentik instances"
        )));
    }
    let pk = pk.ok_or_else(|| {
        let why = not_ready.map_or(String::new(), |r| format!(": {r}"));
        Error::ReferenceNotReady(format!(
            "spec.{label}: {kind} {namespace}/{name} has no authentik pk yet (not Ready{why})"
        ))
    })?;
    let leaving = deleting.then(|| format!("spec.{label}: {kind} {namespace}/{name} is"));
    Ok((pk, leaving))
}

async fn lookup(target: Target, by: &By, label: &str, conn: &Connection) -> Result<String> {
    let Some((lookup, value)) = target.lookup_of(by) else {
        return Err(Error::InvalidReference(format!(
            "spec.{label}: {by} is not a way to name a {}",
            target.noun()
        )));
    };
    let found = conn
        .client
        .find_exact_by(
            lookup.endpoint,
            &[(lookup.param, value.to_string())],
            lookup.field,
            value,
            lookup.ordering,
        )
        .await?;
    let what = target.noun();
    if let Some(model) = target.model()
        && let Some(other) = found
            .iter()
            .find(|o| o.get("meta_model_name").and_then(Value::as_str) != Some(model))
    {
        let kind = other
            .get("verbose_name")
            .and_then(Value::as_str)
            .unwrap_or("stage of another kind");
        return Err(Error::InvalidReference(format!(
            "spec.{label}: the authentik {what} named {value:?} is a {kind}, not the kind this field needs"
        )));
    }
    match found.as_slice() {
        [] => Err(Error::ReferenceNotFound(format!(
            "spec.{label}: no authentik {what} with {by}"
        ))),
        [one] => pk_text(one)
            .ok_or_else(|| Error::Protocol(format!("authentik {what} with {by} has no pk"))),
        _ => Err(Error::InvalidReference(format!(
            "spec.{label}: {} authentik {what}s match {by}; use pk",
            found.len()
        ))),
    }
}

/// An object's pk as text: a UUID, or a user's number.
pub fn pk_text(obj: &Value) -> Option<String> {
    match obj.get("pk")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// authentik's refusal of a write because a pk the references resolved to names nothing
/// (`passwordStage: Invalid pk "…" - object does not exist.`): the referenced object was
/// deleted there and its resource has not recorded the new one yet, or a `pk` names
/// nothing. Retried with backoff, not left for a person: the referenced resource's new pk
/// comes through a watch that may run ahead of the cache the reference is read from, and
/// the reconcile it triggers can still see the old pk, after which nothing would trigger
/// another (found by the chaos soak, tests/soak.rs).
pub fn stale_reference(refused: &str, resolved: &BTreeMap<String, String>) -> Option<Error> {
    let (field, pk) = resolved
        .iter()
        .find(|(_, pk)| refused.contains(&format!("\"{pk}\"")))?;
    refused.contains("Invalid pk").then(|| {
        Error::ReferenceNotFound(format!(
            "spec.{field}: authentik has no object with pk {pk} (it answered: {refused}); retried until the reference resolves to one it has"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::stale_reference;
    use crate::error::Error;
    use std::collections::BTreeMap;

    #[test]
    fn a_refusal_naming_a_resolved_pk_is_a_reference_to_retry() {
        let pk = "b092c069-4c09-4ad4-b5d8-04b784d2b7fc";
        let resolved = BTreeMap::from([("passwordStage".to_string(), pk.to_string())]);
        let refused = format!("passwordStage: Invalid pk \"{pk}\" - object does not exist.");
        let e = stale_reference(&refused, &resolved).expect("a stale reference");
        assert!(matches!(&e, Error::ReferenceNotFound(m) if m.starts_with("spec.passwordStage:")));
        assert!(e.is_transient());
        // Another refusal, or one naming a pk the references did not resolve to, stays.
        assert!(stale_reference("name: This field must be unique.", &resolved).is_none());
        let other =
            "target: Invalid pk \"00000000-0000-0000-0000-000000000000\" - object does not exist.";
        assert!(stale_reference(other, &resolved).is_none());
    }
}
