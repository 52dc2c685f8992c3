//! The Kubernetes side of a reconcile, in one place: finalizer, status, events.

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

pub fn api_for<K: Stage>(client: &kube::Client, obj: &K) -> Api<K> {
    Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
}

pub fn has_finalizer<K: Stage>(obj: &K) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds the finalizer and returns the object as written (the view later writes build on).
/// The merge patch carries the resourceVersion, so a concurrent change makes it fail
/// ([`Error::StaleView`]) instead of silently dropping another finalizer.
pub async fn add_finalizer<K: Stage>(api: &Api<K>, obj: &K) -> Result<Option<K>> {
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_finalizers(api, obj, finalizers).await
}

pub async fn remove_finalizer<K: Stage>(api: &Api<K>, obj: &K) -> Result<()> {
    let finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(api, obj, finalizers).await.map(drop)
}

async fn patch_finalizers<K: Stage>(
    api: &Api<K>,
    obj: &K,
    finalizers: Vec<String>,
) -> Result<Option<K>> {
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(written) => Ok(Some(written)),
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
    let authentik_name = obj.authentik_name();
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
