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
    let updated = at_path::<K, _, _, _>(conn, pk, |at| async move {
        // Recorded before the write: its event may be read before the answer arrives.
        conn.own_writes.record(K::MODEL, pk, Write::Updated);
        conn.client.patch(K::ENDPOINT, &at, body).await
    })
    .await?;
    let snapshot = conn.snapshot::<K>();
    match &updated {
        Some(v) => snapshot.upsert(pk, v.clone()),
        None => snapshot.remove(pk),
    }
    Ok(updated)
}

/// One DELETE; `false` when it was already gone.
pub async fn delete<K: Kind>(conn: &Connection, pk: &str) -> Result<bool> {
    let deleted = at_path::<K, _, _, _>(conn, pk, |at| async move {
        conn.own_writes.record(K::MODEL, pk, Write::Deleted);
        Ok(conn.client.delete(K::ENDPOINT, &at).await?.then_some(()))
    })
    .await?;
    conn.snapshot::<K>().remove(pk);
    Ok(deleted.is_some())
}

/// One write to the object at `pk`, at the path its URL names it by; `None` when authentik
/// has no such object. A slug comes from the snapshot (the reconcile that writes has just
/// read or listed it), but someone may have renamed the flow in the UI since, its event not
/// yet read: the 404 at the old slug is checked against authentik by pk, and the write goes
/// once more at the slug it holds now. Taken as gone, a delete left the renamed flow behind
/// (a PATCH failed its reconcile, and the retry found the flow by pk).
async fn at_path<K: Kind, T, W, F>(conn: &Connection, pk: &str, write: W) -> Result<Option<T>>
where
    W: Fn(String) -> F,
    F: Future<Output = Result<Option<T>>>,
{
    let Lookup::Slug { .. } = K::LOOKUP else {
        return write(pk.to_string()).await;
    };
    let known = conn.snapshot::<K>().get(pk);
    let fresh = known.is_none();
    let body = match known {
        Some(body) => Some(body),
        None => fetch::<K>(conn, pk).await?,
    };
    let Some(slug) = body.as_ref().map(slug_of::<K>).transpose()? else {
        return Ok(None);
    };
    if let Some(done) = write(slug.clone()).await? {
        return Ok(Some(done));
    }
    if fresh {
        return Ok(None);
    }
    match fetch::<K>(conn, pk)
        .await?
        .as_ref()
        .map(slug_of::<K>)
        .transpose()?
    {
        Some(now) if now != slug => write(now).await,
        _ => Ok(None),
    }
}

fn slug_of<K: Kind>(body: &Value) -> Result<String> {
    body.get("slug")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::Protocol(format!("authentik's {} has no slug", K::NOUN)))
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
