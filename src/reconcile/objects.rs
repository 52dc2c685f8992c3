//! Reaching one kind's objects in authentik: by pk, by key, and at the path its URLs name
//! them by (a flow's slug, everything else's pk). Writes keep the kind's snapshot current.

use crate::authentik::wire::pk_of;
use crate::connections::Connection;
use crate::connections::own_writes::Write;
use crate::crd::kind::{Kind, Lookup, key_query, key_text};
use crate::crd::refs::Target;
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The object at `pk`; `None` when authentik has none.
pub async fn fetch<K: Kind>(conn: &Connection, pk: &str) -> Result<Option<Value>> {
    let found = match K::LOOKUP {
        Lookup::Pk => conn.client.get(K::ENDPOINT, pk).await?,
        Lookup::Slug { pk_filter } => conn
            .client
            .list_all(K::ENDPOINT, &[(pk_filter, pk.to_string())], K::ORDERING)
            .await?
            .into_iter()
            .find(|o| pk_of(o) == Some(pk)),
    };
    let snapshot = conn.snapshot::<K>();
    match &found {
        Some(body) => snapshot.upsert(pk, body.clone()),
        None => snapshot.remove(pk),
    }
    Ok(found)
}

/// The objects holding the key `key` (see [`crate::crd::kind::key_text`]), asked of the
/// endpoint `scope` (the kind's own, or one across kinds whose keys are unique together),
/// matched on the whole key: authentik ignores filters it does not have.
pub async fn find_by_key<K: Kind>(conn: &Connection, scope: &str, key: &str) -> Result<Vec<Value>> {
    let (ordering, query) = if scope == K::ENDPOINT {
        (K::ORDERING, key_query(K::KEY, K::UNFILTERED_KEY, key))
    } else {
        // A scope across kinds (`stages/all/`, `policies/all/`) is searched by name, with
        // the filter that endpoint has.
        let param = Target::ALL_LOOKUPS
            .iter()
            .find(|l| l.endpoint == scope)
            .map_or("name", |l| l.param);
        ("name", vec![(param, key.to_string())])
    };
    let found = match conn.client.list_all(scope, &query, ordering).await {
        Err(Error::NotFound(_)) if scope == K::ENDPOINT => return Err(unsupported::<K>(conn).await),
        // authentik refuses a filter naming an object that does not exist ("Select a valid
        // choice": a binding's flow deleted since its key was made), so no object holds
        // the key. Taken as an error, a delete by that key waited forever.
        Err(Error::Rejected(_)) => return Ok(Vec::new()),
        other => other?,
    };
    Ok(found
        .into_iter()
        .filter(|o| o.as_object().and_then(|m| key_text(K::KEY, m)).as_deref() == Some(key))
        .collect())
}

/// One create; the object as authentik stored it.
pub async fn create<K: Kind>(conn: &Connection, body: &Map<String, Value>) -> Result<Value> {
    // Its event may be read before the answer comes: recognised by the name it logs.
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        conn.own_writes.record_create(K::MODEL, name);
    }
    let created = conn.client.create(K::ENDPOINT, body).await?;
    if let Some(pk) = pk_of(&created) {
        conn.own_writes.record(K::MODEL, pk, Write::Created);
        conn.snapshot::<K>().upsert(pk, created.clone());
    }
    Ok(created)
}

/// One PATCH; `None` when the object is gone.
pub async fn patch<K: Kind>(
    conn: &Connection,
    pk: &str,
    body: &Map<String, Value>,
) -> Result<Option<Value>> {
    let Some(at) = path_of::<K>(conn, pk).await? else {
        return Ok(None);
    };
    // Recorded before the write: its event may be read before the answer arrives.
    conn.own_writes.record(K::MODEL, pk, Write::Updated);
    let updated = conn.client.patch(K::ENDPOINT, &at, body).await?;
    let snapshot = conn.snapshot::<K>();
    match &updated {
        Some(v) => snapshot.upsert(pk, v.clone()),
        None => snapshot.remove(pk),
    }
    Ok(updated)
}

/// One DELETE; `false` when it was already gone.
pub async fn delete<K: Kind>(conn: &Connection, pk: &str) -> Result<bool> {
    let deleted = match path_of::<K>(conn, pk).await? {
        Some(at) => {
            conn.own_writes.record(K::MODEL, pk, Write::Deleted);
            conn.client.delete(K::ENDPOINT, &at).await?
        }
        None => false,
    };
    conn.snapshot::<K>().remove(pk);
    Ok(deleted)
}

/// What the URL of the object at `pk` names it by; `None` when it is gone. A slug comes from
/// the snapshot (the reconcile that writes has just read or listed it); a slug changed
/// since makes the write a 404, and the next reconcile finds the object by pk again.
async fn path_of<K: Kind>(conn: &Connection, pk: &str) -> Result<Option<String>> {
    let Lookup::Slug { .. } = K::LOOKUP else {
        return Ok(Some(pk.to_string()));
    };
    let known = conn.snapshot::<K>().get(pk);
    let body = match known {
        Some(body) => Some(body),
        None => fetch::<K>(conn, pk).await?,
    };
    let Some(body) = body else {
        return Ok(None);
    };
    body.get("slug")
        .and_then(Value::as_str)
        .map(|s| Some(s.to_string()))
        .ok_or_else(|| Error::Protocol(format!("authentik's {} {pk} has no slug", K::NOUN)))
}

/// The error of a kind this authentik does not serve: its list endpoint answered 404.
pub async fn unsupported<K: Kind>(conn: &Connection) -> Error {
    conn.set_supported(K::ENDPOINT, false);
    let release = match conn.release().await {
        Ok((y, m)) => format!("authentik {y}.{m}"),
        Err(_) => "this authentik".to_string(),
    };
    Error::UnsupportedKind(format!(
        "{release} has no {}: {} answers 404 (an older release); the resource waits, and is reconciled once authentik serves it (an upgrade)",
        crate::crd::kind::kind_name::<K>(),
        K::ENDPOINT
    ))
}
