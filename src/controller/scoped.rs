//! What every controller here shares: an `Api` for one watched scope (all namespaces or
//! one), and driving a controller's output stream to its end.

use futures::{Stream, StreamExt};
use kube::Client;
use kube::api::Api;

/// The `Api` of a namespaced kind in one scope: `None` for every namespace.
pub(super) fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match namespace {
        None => Api::all(client.clone()),
        Some(ns) => Api::namespaced(client.clone(), ns),
    }
}

/// Runs a controller until its stream ends; its per-object errors are already handled by
/// the error policies, so they are only logged at debug here.
pub(super) async fn drive<S, T, E>(stream: S)
where
    S: Stream<Item = Result<T, E>>,
    E: std::fmt::Display,
{
    stream
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller");
            }
        })
        .await;
}
