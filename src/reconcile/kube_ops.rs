//! The Kubernetes side of a reconcile, in one place: finalizer, create marker, status,
//! events.

use super::plan::Record;
use crate::crd::stage::Stage;
use crate::error::{Error, Result};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use serde_json::json;

pub const FINALIZER: &str = "authentik-operator.io/stage";
pub const FIELD_MANAGER: &str = "authentik-operator";
/// Annotation that lets a user delete a PasswordStage that others still reference.
pub const FORCE_DELETE_ANNOTATION: &str = "authentik-operator.io/force-delete";
/// Annotation the operator writes with its finalizer right before it creates the stage: the
/// name created. With no pk in the status it tells our own create whose answer was lost from
/// someone else's stage of that name.
pub const CREATED_NAME_ANNOTATION: &str = "authentik-operator.io/created-name";

pub fn api_for<K: Stage>(client: &kube::Client, obj: &K) -> Api<K> {
    Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
}

pub fn has_finalizer<K: Stage>(obj: &K) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// The resourceVersion a write is conditioned on: the one this reconcile's own last write
/// left (`written`), else the one it read.
pub fn condition_version<'a, K: Stage>(obj: &'a K, written: Option<&'a str>) -> Option<&'a str> {
    written.or(obj.meta().resource_version.as_deref())
}

/// What the resource records of its stage, for [`crate::reconcile::plan`].
pub fn record<K: Stage>(obj: &K) -> Record<'_> {
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
pub async fn mark_create<K: Stage>(
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
pub async fn unmark_create<K: Stage>(
    api: &Api<K>,
    obj: &K,
    version: Option<&str>,
) -> Result<Option<String>> {
    let metadata = json!({"annotations": {CREATED_NAME_ANNOTATION: null}});
    patch_metadata(api, obj, version, metadata).await
}

/// Adds the finalizer (before an adopted stage is bound).
pub async fn add_finalizer<K: Stage>(
    api: &Api<K>,
    obj: &K,
    version: Option<&str>,
) -> Result<Option<String>> {
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_metadata(api, obj, version, json!({"finalizers": finalizers})).await
}

pub async fn remove_finalizer<K: Stage>(api: &Api<K>, obj: &K) -> Result<()> {
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
async fn patch_metadata<K: Stage>(
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

/// Tells what happened to a resource: an event for `kubectl describe`, and one log line
/// with the resource, its authentik name and pk as fields (keys of the JSON logs). Callers
/// publish on changes and on a failure's start or change only, so both stay quiet while
/// nothing happens. A failure to publish is logged, never fails the reconcile.
pub async fn publish<K: Stage>(recorder: &Recorder, obj: &K, pk: Option<&str>, notice: &Notice) {
    let Notice {
        warning,
        reason,
        action,
        ref note,
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
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "could not publish event");
    }
}
