//! What a change of one resource wakes in other kinds: the resources that `ref` it (it got
//! or changed its pk, or went), and the deletes of those it names, which wait while it does.
//!
//! Told from the kind's own informer stream, after the cache has applied the change: a
//! referrer woken by a watch of its own could read the referenced pk from a cache that had
//! not caught up yet, write the old pk, and not be woken again (found by the chaos soak).
//! One watch per kind, too, where each pair of kinds that refer to each other had two.

use crate::crd::kind::{Kind, kind_name};
use crate::reconcile::Stores;
use crate::reconcile::kinds::Which;
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use kube::ResourceExt;
use kube::runtime::watcher::Event;
use std::sync::Arc;

/// One resource the cache of its kind has just applied a change of (or its deletion).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Touched {
    kind: &'static str,
    namespace: String,
    name: String,
    /// What its `ref`s name: (kind, name), in its namespace.
    names: Vec<(&'static str, String)>,
}

/// Follows one kind's informer events and tells what each touched.
pub(super) struct Tap<K: Kind> {
    tx: UnboundedSender<Touched>,
    refers_to: Arc<[&'static str]>,
    /// The initial list: the cache shows it only once it is whole.
    listing: Vec<Touched>,
    _kind: std::marker::PhantomData<fn(K)>,
}

impl<K: Kind> Tap<K> {
    pub(super) fn new(tx: UnboundedSender<Touched>) -> Self {
        Tap {
            tx,
            refers_to: crate::kinds::referenced_kinds::<K>().into(),
            listing: Vec::new(),
            _kind: std::marker::PhantomData,
        }
    }

    /// Called after the cache applied `event`.
    pub(super) fn seen(&mut self, event: &Event<K>) {
        for t in self.touched(event) {
            // A closed channel: the operator is stopping.
            let _ = self.tx.unbounded_send(t);
        }
    }

    /// What `event` touched, once the cache shows it.
    fn touched(&mut self, event: &Event<K>) -> Vec<Touched> {
        match event {
            Event::Apply(obj) | Event::Delete(obj) => vec![self.of(obj)],
            Event::Init => {
                self.listing.clear();
                Vec::new()
            }
            Event::InitApply(obj) => {
                let t = self.of(obj);
                self.listing.push(t);
                Vec::new()
            }
            Event::InitDone => std::mem::take(&mut self.listing),
        }
    }

    fn of(&self, obj: &K) -> Touched {
        let fields = obj.references();
        let names = self
            .refers_to
            .iter()
            .flat_map(|kind| {
                fields
                    .iter()
                    .flat_map(|f| f.refs_to(kind).map(|n| (*kind, n.to_string())))
                    .collect::<Vec<_>>()
            })
            .collect();
        Touched {
            kind: kind_name::<K>(),
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
            names,
        }
    }
}

/// Queues what each touched resource wakes, until the taps are gone.
pub(super) async fn wake(mut rx: UnboundedReceiver<Touched>, stores: Stores) {
    while let Some(t) = rx.next().await {
        stores.queue(Which::ReferringTo(t.kind, &t.namespace, &t.name));
        for (kind, name) in &t.names {
            if let Some(ops) = stores.kind(kind) {
                ops.queue(Which::Leaving(&t.namespace, name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{IdentificationStage, PasswordStage};
    use futures::channel::mpsc;

    fn stage<K: Kind>(name: &str) -> K {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": kind_name::<K>(),
            "metadata": {"name": name, "namespace": "team"},
            "spec": {"userFields": ["email"], "passwordStage": {"ref": "pw"}}
        }))
        .expect("a resource")
    }

    #[test]
    fn a_change_is_told_at_once_and_the_initial_list_once_whole() {
        let (tx, mut rx) = mpsc::unbounded();
        let mut tap = Tap::<IdentificationStage>::new(tx);
        let id = stage::<IdentificationStage>("id");
        tap.seen(&Event::Apply(id.clone()));
        let t = rx.try_recv().expect("told at once");
        assert_eq!((t.kind, t.name.as_str()), ("IdentificationStage", "id"));
        assert_eq!(t.names, [(kind_name::<PasswordStage>(), "pw".to_string())]);
        tap.seen(&Event::Delete(id.clone()));
        assert_eq!(rx.try_recv().expect("a delete too").name, "id");

        // The cache shows a relist only when it is whole, and so is it told.
        tap.seen(&Event::Init);
        tap.seen(&Event::InitApply(stage("a")));
        tap.seen(&Event::InitApply(stage("b")));
        assert!(rx.try_recv().is_err(), "nothing before the list is whole");
        tap.seen(&Event::InitDone);
        let names: Vec<String> = [rx.try_recv(), rx.try_recv()]
            .into_iter()
            .map(|t| t.expect("told").name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        // A relist that broke off and started again tells only the one that finished.
        tap.seen(&Event::Init);
        tap.seen(&Event::InitApply(stage("c")));
        tap.seen(&Event::Init);
        tap.seen(&Event::InitDone);
        assert!(rx.try_recv().is_err());
    }
}
