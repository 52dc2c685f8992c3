//! The Kubernetes side of a reconcile, in one place: finalizer, create marker, status,
//! events.

use super::plan::Record;
use crate::crd::kind::Kind;
use crate::error::{Error, Result};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::Reporter;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const FINALIZER: &str = "authentik-operator.io/stage";
pub const FIELD_MANAGER: &str = "authentik-operator";
/// Annotation that lets a user delete a PasswordStage that others still reference.
pub const FORCE_DELETE_ANNOTATION: &str = "authentik-operator.io/force-delete";
/// Annotation the operator writes with its finalizer right before it creates the stage: the
/// name created. With no pk in the status it tells our own create whose answer was lost from
/// someone else's stage of that name.
pub const CREATED_NAME_ANNOTATION: &str = "authentik-operator.io/created-name";

pub fn api_for<K: Kind>(client: &kube::Client, obj: &K) -> Api<K> {
    Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
}

pub fn has_finalizer<K: Kind>(obj: &K) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// The resourceVersion a write is conditioned on: the one this reconcile's own last write
/// left (`written`), else the one it read.
pub fn condition_version<'a, K: Kind>(obj: &'a K, written: Option<&'a str>) -> Option<&'a str> {
    written.or(obj.meta().resource_version.as_deref())
}

/// What the resource records of its stage, for [`crate::reconcile::plan`].
pub fn record<K: Kind>(obj: &K) -> Record<'_> {
    Record {
        status: obj.status(),
        created_name: obj
            .annotations()
            .get(CREATED_NAME_ANNOTATION)
            .map(String::as_str),
        finalized: has_finalizer(obj),
    }
}

/// The create marker (see [`crate::reconcile::plan::is_own_create`]) and the finalizer, in
/// one write, right before the create: the finalizer must hold the resource before anything
/// exists in authentik, and the marker must be there before the create is sent.
pub async fn mark_create<K: Kind>(
    api: &Api<K>,
    obj: &K,
    version: Option<&str>,
    name: &str,
) -> Result<Option<String>> {
    let mut finalizers = obj.finalizers().to_vec();
    if !has_finalizer(obj) {
        finalizers.push(FINALIZER.to_string());
    }
    let metadata =
        json!({"finalizers": finalizers, "annotations": {CREATED_NAME_ANNOTATION: name}});
    patch_metadata(api, obj, version, metadata).await
}

/// Takes the create marker back: authentik refused the create, the stage holding the name
/// is someone else's, and must never be taken (or deleted) as ours.
pub async fn unmark_create<K: Kind>(
    api: &Api<K>,
    obj: &K,
    version: Option<&str>,
) -> Result<Option<String>> {
    let metadata = json!({"annotations": {CREATED_NAME_ANNOTATION: null}});
    patch_metadata(api, obj, version, metadata).await
}

/// Adds the finalizer (before an adopted stage is bound).
pub async fn add_finalizer<K: Kind>(
    api: &Api<K>,
    obj: &K,
    version: Option<&str>,
) -> Result<Option<String>> {
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_metadata(api, obj, version, json!({"finalizers": finalizers})).await
}

pub async fn remove_finalizer<K: Kind>(api: &Api<K>, obj: &K) -> Result<()> {
    let finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    let version = obj.resource_version();
    patch_metadata(
        api,
        obj,
        version.as_deref(),
        json!({"finalizers": finalizers}),
    )
    .await
    .map(drop)
}

/// A merge patch of the metadata, on condition that the object is still at `version` (so a
/// concurrent change fails with [`Error::StaleView`] instead of being overwritten, another
/// finalizer dropped); the resourceVersion written, `None` if the object is gone.
async fn patch_metadata<K: Kind>(
    api: &Api<K>,
    obj: &K,
    version: Option<&str>,
    mut metadata: serde_json::Value,
) -> Result<Option<String>> {
    metadata["resourceVersion"] = json!(version);
    let patch = json!({ "metadata": metadata });
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(written) => Ok(written.resource_version()),
        // Gone already: nothing left to hold.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 409 => Err(Error::StaleView),
        Err(e) => Err(Error::Finalizer(e.to_string())),
    }
}

/// Writes the whole status with server-side apply (fields we no longer set are removed), on
/// condition that the object is still at `resource_version`: the status was computed from
/// that version, and written over a newer one it could drop what a later write recorded (the
/// create marker, the pk). A newer object answers [`Error::StaleView`]; `None` if it is gone.
/// Returns the resourceVersion written.
pub async fn apply_status<K, S>(
    api: &Api<K>,
    obj: &K,
    resource_version: Option<&str>,
    status: &S,
) -> Result<Option<String>>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: serde::Serialize,
{
    let mut body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    if let Some(rv) = resource_version {
        body["metadata"] = json!({ "resourceVersion": rv });
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api
        .patch_status(&obj.name_any(), &params, &Patch::Apply(&body))
        .await
    {
        Ok(written) => Ok(written.meta().resource_version.clone()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 409 => Err(Error::StaleView),
        Err(e) => Err(Error::Kube(e)),
    }
}

/// Something that happened to a resource, told by [`publish`].
#[derive(Debug)]
pub struct Notice {
    pub warning: bool,
    pub reason: &'static str,
    /// What the operator was doing (the event's `action`).
    pub action: &'static str,
    pub note: String,
}

impl Notice {
    /// A normal event whose action is its reason (`Created`, `Adopted`, ...).
    pub fn normal(reason: &'static str, note: String) -> Self {
        Notice {
            warning: false,
            reason,
            action: reason,
            note,
        }
    }

    pub fn warning(reason: &'static str, note: String) -> Self {
        Notice {
            warning: true,
            ..Notice::normal(reason, note)
        }
    }

    pub fn during(self, action: &'static str) -> Self {
        Notice { action, ..self }
    }
}

/// How long a published event is remembered: a repeat within it counts up the event's series
/// instead of creating a new event (kube-rs' `Recorder` does the same, for the same time).
const EVENT_SERIES_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(6);

/// Publishes events as kube-rs' `Recorder` does (a create; a repeat of the same reason and
/// action about the same object within [`EVENT_SERIES_TTL`] a merge patch of its series), but
/// remembers each event in a few dozen bytes: the `Recorder` keeps a whole `Event` and its
/// key per event, with one "Created" per resource that was most of the operator's memory
/// (about 5 KiB per resource at 5,000).
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    reporter: Reporter,
    recent: Arc<Mutex<HashMap<EventKey, Sent>>>,
}

/// The object (its uid), the event's reason, action and type.
#[derive(Clone, PartialEq, Eq, Hash)]
struct EventKey {
    regarding: Box<str>,
    reason: &'static str,
    action: &'static str,
    warning: bool,
}

/// An event created: when (its name's suffix), how many times it happened, when last.
#[derive(Clone, Copy)]
struct Sent {
    created: jiff::Timestamp,
    count: i32,
    last: jiff::Timestamp,
}

impl Recorder {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Recorder {
            client,
            reporter,
            recent: Arc::default(),
        }
    }

    async fn publish(
        &self,
        notice: &Notice,
        regarding: ObjectReference,
    ) -> std::result::Result<(), kube::Error> {
        let now = jiff::Timestamp::now();
        let namespace = regarding.namespace.clone().unwrap_or("default".into());
        let object_name = regarding
            .name
            .clone()
            .unwrap_or_else(|| self.reporter.controller.clone());
        let key = EventKey {
            regarding: regarding
                .uid
                .clone()
                .unwrap_or_else(|| format!("{namespace}/{object_name}"))
                .into(),
            reason: notice.reason,
            action: notice.action,
            warning: notice.warning,
        };
        let earlier = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            recent.retain(|_, sent| sent.last + EVENT_SERIES_TTL > now);
            recent.get(&key).copied()
        };
        let name =
            |created: jiff::Timestamp| format!("{object_name}.{:x}", created.as_nanosecond());
        let events: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let sent = match earlier {
            Some(sent) => {
                let count = sent.count + 1;
                let series =
                    json!({"series": {"count": count, "lastObservedTime": MicroTime(now)}});
                events
                    .patch(
                        &name(sent.created),
                        &PatchParams::default(),
                        &Patch::Merge(&series),
                    )
                    .await?;
                Sent {
                    count,
                    last: now,
                    ..sent
                }
            }
            None => {
                let event = K8sEvent {
                    action: Some(notice.action.to_string()),
                    reason: Some(notice.reason.to_string()),
                    event_time: Some(MicroTime(now)),
                    note: Some(notice.note.chars().take(1000).collect()),
                    metadata: ObjectMeta {
                        namespace: regarding.namespace.clone(),
                        name: Some(name(now)),
                        ..ObjectMeta::default()
                    },
                    regarding: Some(regarding),
                    reporting_controller: Some(self.reporter.controller.clone()),
                    reporting_instance: Some(
                        self.reporter
                            .instance
                            .clone()
                            .unwrap_or_else(|| self.reporter.controller.clone()),
                    ),
                    type_: Some(if notice.warning { "Warning" } else { "Normal" }.into()),
                    ..K8sEvent::default()
                };
                events.create(&PostParams::default(), &event).await?;
                Sent {
                    created: now,
                    count: 1,
                    last: now,
                }
            }
        };
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, sent);
        Ok(())
    }
}

/// Tells what happened to a resource: an event for `kubectl describe`, and one log line
/// with the resource, its authentik name and pk as fields (keys of the JSON logs). Callers
/// publish on changes and on a failure's start or change only, so both stay quiet while
/// nothing happens. A failure to publish is logged, never fails the reconcile.
pub async fn publish<K: Kind>(recorder: &Recorder, obj: &K, pk: Option<&str>, notice: &Notice) {
    let Notice {
        warning,
        reason,
        ref note,
        ..
    } = *notice;
    let kind = K::kind(&());
    let namespace = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let authentik_name = obj.identity();
    let pk = pk.unwrap_or_default();
    if warning {
        tracing::warn!(%kind, %namespace, %name, %authentik_name, %pk, %reason, "{note}");
    } else {
        tracing::info!(%kind, %namespace, %name, %authentik_name, %pk, %reason, "{note}");
    }
    if let Err(e) = recorder.publish(notice, obj.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "could not publish event");
    }
}
