//! Reaching one kind's objects in authentik: by pk, by key, and at the path its URLs name
//! them by (a flow's slug, everything else's pk). Writes keep the kind's snapshot current.

use crate::authentik::wire::pk_of;
use crate::connections::Connection;
use crate::crd::kind::{Kind, Lookup, key_query};
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
/// endpoint `scope` (the kind's own, or one across kinds whose keys are unique together).
pub async fn find_by_key<K: Kind>(conn: &Connection, scope: &str, key: &str) -> Result<Vec<Value>> {
    let ordering = if scope == K::ENDPOINT {
        K::ORDERING
    } else {
        "name"
    };
    conn.client
        .find_exact(scope, &key_query(K::KEY, key), ordering)
        .await
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
        Some(at) => conn.client.delete(K::ENDPOINT, &at).await?,
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
