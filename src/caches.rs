//! The operator watches all namespaces or a list of them. With a list there is one
//! controller (and one informer cache) per namespace and kind; these types make the set look
//! like one cache and one queue to the rest of the code.

use futures::channel::mpsc::UnboundedSender;
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The informer caches of one kind, one per watched scope.
pub struct Caches<K: Resource<DynamicType = ()> + 'static> {
    stores: Vec<Store<K>>,
}

// A derived Clone would demand `K: Clone`; the stores are shared handles either way.
impl<K: Resource<DynamicType = ()> + 'static> Clone for Caches<K> {
    fn clone(&self) -> Self {
        Caches {
            stores: self.stores.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Caches<K> {
    pub fn new(stores: Vec<Store<K>>) -> Self {
        Caches { stores }
    }

    /// Every cached object, across scopes.
    pub fn state(&self) -> Vec<Arc<K>> {
        self.stores.iter().flat_map(Store::state).collect()
    }

    pub fn get(&self, key: &ObjectRef<K>) -> Option<Arc<K>> {
        self.stores.iter().find_map(|s| s.get(key))
    }

    /// Waits until every cache has its initial list. A fresh wait each time round: a
    /// `wait_until_ready` future polled before the first list was seen not to wake up.
    pub async fn synced(&self) {
        for store in &self.stores {
            // Ok(Err(_)): the writer is gone (shutting down); nothing left to wait for.
            while tokio::time::timeout(Duration::from_millis(250), store.wait_until_ready())
                .await
                .is_err()
            {}
        }
    }
}

/// The queues of one kind's controllers: one for all namespaces, or one per namespace.
pub struct Queues<K: Resource<DynamicType = ()> + 'static> {
    all: Option<UnboundedSender<ObjectRef<K>>>,
    by_namespace: HashMap<String, UnboundedSender<ObjectRef<K>>>,
}

impl<K: Resource<DynamicType = ()> + 'static> Clone for Queues<K> {
    fn clone(&self) -> Self {
        Queues {
            all: self.all.clone(),
            by_namespace: self.by_namespace.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()> + 'static> Default for Queues<K> {
    fn default() -> Self {
        Queues {
            all: None,
            by_namespace: HashMap::new(),
        }
    }
}

impl<K: Resource<DynamicType = ()> + 'static> Queues<K> {
    /// Adds the queue of the controller for `namespace` (`None`: all namespaces).
    pub fn add(&mut self, namespace: Option<&str>, tx: UnboundedSender<ObjectRef<K>>) {
        match namespace {
            None => self.all = Some(tx),
            Some(ns) => {
                self.by_namespace.insert(ns.to_string(), tx);
            }
        }
    }

    /// Queues a reconcile of `obj` with the controller that watches its namespace.
    pub fn send(&self, obj: ObjectRef<K>) {
        let tx = self.all.as_ref().or_else(|| {
            obj.namespace
                .as_ref()
                .and_then(|ns| self.by_namespace.get(ns))
        });
        if let Some(tx) = tx {
            // A closed channel means the controller is shutting down; nothing to do.
            let _ = tx.unbounded_send(obj);
        }
    }
}
