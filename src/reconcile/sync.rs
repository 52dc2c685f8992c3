//! The authentik side of a reconcile, as one pipeline:
//! [`desire`] (spec, key claim, references → the body) → [`look`] (the object by trusted pk,
//! else by key: a stage's name, a flow's slug, a binding's flow, stage and order) → [`decide`] (the pure [`plan::plan`], with the rechecks it asks for) →
//! [`execute`] (create, or bind and patch) → a [`Report`] the status is computed from.

use super::context::Context;
use super::diff::shape;
use super::execute::{On, execute, key_taken_by_other_kind};
use super::naming::{claim_of, conflicting};
use super::objects;
use super::plan::{self, Act, Create, Facts, Plan, Recheck, Remote};
use super::record::Report;
use super::status::Observation;
use crate::authentik::wire::pk_of;
use crate::connections::{ConnKey, Connection};
use crate::crd::ManagementPolicy;
use crate::crd::kind::{ALLOW_GUARDED_ANNOTATION, Kind, desired_body, key_text};
use crate::error::{Error, Result};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Brings authentik in line with `obj` (Manage) or observes it (Observe). `learnt`: a pk of
/// this connection an earlier view of the same reconcile recorded but could not write (see
/// `apply`), trusted before the status's.
pub async fn sync<K: Kind>(
    obj: &K,
    ctx: &Context,
    conn: &Connection,
    api: &Api<K>,
    learnt: Option<&str>,
) -> Report {
    // The key is known once the references resolve (a binding's holds pks).
    let on = On {
        obj,
        ctx,
        conn,
        api,
        key: "",
    };
    let observe = obj.policies().management_policy == ManagementPolicy::Observe;
    let mut obs = Observation {
        observe,
        ..Default::default()
    };
    let Desire {
        body: desired,
        shown,
        secrets,
        leaving,
    } = match desire(&on, observe).await {
        Ok(d) => d,
        Err(e) => return Report::failed(obs, e),
    };
    obs.resolved = shown;
    obs.secrets_now = secrets;
    let Some(key) = key_text(K::KEY, &desired) else {
        let e = Error::InvalidSpec(format!("the spec sets no {}", K::KEY.join(", ")));
        return Report::failed(obs, e);
    };
    let on = On { key: &key, ..on };
    let connection = ConnKey::of_stage(obj).id();
    // A pk from another authentik, or one only observed, is no authority for this write.
    let trusted = learnt.or_else(|| {
        obj.status()
            .and_then(|s| s.trusted_pk(&connection, observe))
    });
    obs.connection = Some(connection.clone());
    let remote = match look(&on, trusted, observe).await {
        Ok(r) => r,
        Err(e) => return Report::failed(obs, e),
    };
    let act = match decide(&on, &desired, &obs.secrets_now, remote, false).await {
        Ok(act) => act,
        Err(e) => return Report::failed(obs, e),
    };
    if let (Act::Create(_), Some(gone)) = (&act, leaving_error::<K>(&leaving)) {
        return Report::failed(obs, gone);
    }
    let unchecked = matches!(act, Act::Create(Create { checked: false, .. }));
    let report = execute(&on, &desired, act, obs).await;
    match report.outcome {
        Err(Error::NameTaken(_)) if unchecked => taken_since_listed(&on, &desired, report).await,
        _ => report,
    }
}

/// The sweep's list held no object with the key, but authentik refused our create of it:
/// someone took the key since. Not our object (our create was just refused), so it is
/// judged as someone else's, by the adoption policy; or it is a stage of another kind.
async fn taken_since_listed<K: Kind>(
    on: &On<'_, K>,
    desired: &Map<String, Value>,
    refused: Report,
) -> Report {
    let Report { obs, outcome, .. } = refused;
    let holder = match by_key(on, false).await {
        Ok(Remote::Named { pk, body }) => Remote::Named { pk, body },
        Ok(_) => {
            let refusal = match outcome {
                Err(Error::NameTaken(msg)) => Error::Rejected(msg),
                other => other.err().unwrap_or(Error::StaleView),
            };
            let other_kind = key_taken_by_other_kind(on).await;
            return Report::failed(obs, other_kind.unwrap_or(refusal));
        }
        Err(e) => return Report::failed(obs, e),
    };
    match decide(on, desired, &obs.secrets_now, holder, true).await {
        Ok(act) => execute(on, desired, act, obs).await,
        Err(e) => Report::failed(obs, e),
    }
}

/// What the spec asks of authentik.
struct Desire {
    body: Map<String, Value>,
    /// The references as status shows them.
    shown: BTreeMap<String, String>,
    /// The hashes of the write-only values the body carries.
    secrets: BTreeMap<String, String>,
    /// The references to resources being deleted (their objects may be gone any moment).
    leaving: Vec<String>,
}

/// A create that would bind an object of a resource being deleted: authentik refuses it
/// once that object is gone (and it may be already: its delete only waits for us), so the
/// resource waits, naming the reference, instead of sending a pk about to be refused.
fn leaving_error<K: Kind>(leaving: &[String]) -> Option<Error> {
    (!leaving.is_empty()).then(|| {
        Error::ReferenceNotReady(format!(
            "{} being deleted; the {} is not created again on an object on its way out. Delete this resource too, or recreate what it refers to",
            leaving.join(", "),
            K::NOUN
        ))
    })
}

/// The body the spec asks for, once the spec is valid, its identity is not claimed by
/// another resource, and its references resolve; with the references as status shows them,
/// and the hashes of the write-only values it carries (read from their Secrets).
async fn desire<K: Kind>(on: &On<'_, K>, observe: bool) -> Result<Desire> {
    let obj = on.obj;
    crate::crd::kind::check(obj).map_err(Error::InvalidSpec)?;
    if !observe {
        let me = claim_of(obj);
        let claims = on.ctx.stores.claims_on(&me.authentik_name);
        if let Some(winner) = conflicting(&me, &claims) {
            return Err(Error::NameConflict(format!(
                "{} is already claimed by {}; {}",
                K::describe_identity(&me.authentik_name),
                winner.describe(),
                K::UNIQUENESS
            )));
        }
    }
    let resolved = super::resolve::resolve(obj, on.ctx, on.conn).await?;
    let mut body = desired_body(obj, &resolved.body);
    super::legacy::encode::<K>(&mut body, on.conn).await?;
    // Observe mode never writes: the Secrets are not read.
    let secrets = if observe {
        super::secrets::Secrets::default()
    } else {
        super::secrets::read(obj, &on.ctx.kube).await?
    };
    for (key, value) in secrets.values {
        body.insert(key, Value::String(value));
    }
    Ok(Desire {
        body,
        shown: resolved.shown,
        secrets: secrets.hashes,
        leaving: resolved.leaving,
    })
}

/// What authentik holds for the resource: the object at its trusted pk (from the sweep's
/// snapshot when it has it, else one GET), else the one holding its key (one GET).
async fn look<K: Kind>(on: &On<'_, K>, trusted: Option<&str>, observe: bool) -> Result<Remote> {
    let snapshot = on.conn.snapshot::<K>();
    let mut after_vanished = false;
    if let Some(pk) = trusted {
        if let Some(body) = snapshot.get(pk) {
            let pk = pk.to_string();
            return Ok(Remote::AtPk {
                pk,
                body,
                fresh: false,
            });
        }
        if let Some(body) = objects::fetch::<K>(on.conn, pk).await? {
            let pk = pk.to_string();
            return Ok(Remote::AtPk {
                pk,
                body,
                fresh: true,
            });
        }
        if observe {
            let pk = pk.to_string();
            return Ok(Remote::Vanished { pk });
        }
        after_vanished = true;
    }
    // A recent list that holds no object with the key spares the lookup: authentik refuses a
    // create of a key someone took since, and that refusal is handled.
    let max_age = on.ctx.settings.resync * 2;
    match snapshot.holds_key(on.key, max_age) {
        Some(false) => Ok(Remote::Unlisted { after_vanished }),
        Some(true) => Ok(Remote::Listed { after_vanished }),
        None => by_key(on, after_vanished).await,
    }
}

/// The object holding the resource's key, asked of authentik (one GET).
async fn by_key<K: Kind>(on: &On<'_, K>, after_vanished: bool) -> Result<Remote> {
    let found = objects::find_by_key::<K>(on.conn, K::ENDPOINT, on.key).await?;
    let Some(body) = found.into_iter().next() else {
        return Ok(Remote::Absent { after_vanished });
    };
    let pk = pk_of(&body)
        .ok_or_else(|| Error::Protocol(format!("a {} without pk", K::NOUN)))?
        .to_string();
    on.conn.snapshot::<K>().upsert(&pk, body.clone());
    Ok(Remote::Named { pk, body })
}

/// Plans, doing the rechecks the plan asks for until it says what to do. Each recheck
/// settles the fact that asked for it, so this ends after at most three of them.
async fn decide<K: Kind>(
    on: &On<'_, K>,
    desired: &Map<String, Value>,
    secrets: &BTreeMap<String, String>,
    mut remote: Remote,
    mut view_confirmed: bool,
) -> Result<Act> {
    let obj = on.obj;
    let policies = obj.policies();
    let what = K::describe_key(on.key);
    let guarded_allowed = obj
        .annotations()
        .get(ALLOW_GUARDED_ANNOTATION)
        .is_some_and(|v| v == "true");
    loop {
        let facts = Facts {
            management: policies.management_policy,
            adoption: policies.adoption_policy,
            record: super::kube_ops::record(obj),
            generation: obj.meta().generation,
            key: on.key,
            what: &what,
            desired,
            shape: shape::<K>(),
            guarded_allowed,
            remote: &remote,
            view_confirmed,
            secrets,
        };
        match plan::plan(&facts) {
            Plan::Act(act) => return Ok(act),
            Plan::Recheck(Recheck::View) => {
                // The informer cache can lag behind our own writes: the create marker or the
                // pk recorded moments ago may not be in `obj` yet, and deciding "foreign"
                // from it would refuse (and forget) our own stage.
                if lags_behind(on.api, obj).await? {
                    return Err(Error::StaleView);
                }
                view_confirmed = true;
            }
            Plan::Recheck(Recheck::Object { pk }) => {
                let Some(body) = objects::fetch::<K>(on.conn, &pk).await? else {
                    return Err(super::execute::vanished::<K>(&pk));
                };
                remote = Remote::AtPk {
                    pk,
                    body,
                    fresh: true,
                };
            }
            Plan::Recheck(Recheck::Name) => {
                let after_vanished = matches!(
                    remote,
                    Remote::Unlisted {
                        after_vanished: true
                    } | Remote::Listed {
                        after_vanished: true
                    }
                );
                remote = by_key(on, after_vanished).await?;
            }
        }
    }
}

/// Whether the API server holds a newer version of `obj` than the one this reconcile reads.
/// Metadata only: the resourceVersion is all this compares.
async fn lags_behind<K: Kind>(api: &Api<K>, obj: &K) -> Result<bool> {
    let current = api.get_metadata_opt(&obj.name_any()).await?;
    Ok(current.is_none_or(|c| c.metadata.resource_version != obj.meta().resource_version))
}
