//! Stage names and flow/source slugs already looked up in one authentik, kept for a resync
//! interval, so 500 resources naming one flow cost one request, not 500.

use crate::crd::refs::{By, Target};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Lookups {
    ttl: Duration,
    cache: Mutex<HashMap<(Target, By), (String, Instant)>>,
}

impl Lookups {
    pub fn new(ttl: Duration) -> Self {
        Lookups {
            ttl,
            cache: Mutex::default(),
        }
    }

    /// The pk `by` resolved to, if looked up within the last resync interval.
    pub fn get(&self, key: &(Target, By)) -> Option<String> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(pk, _)| pk.clone())
    }

    pub fn insert(&self, key: (Target, By), pk: String) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        // Expired lookups go when new ones come, so the cache does not only grow.
        cache.retain(|_, (_, at)| at.elapsed() < self.ttl);
        cache.insert(key, (pk, Instant::now()));
    }

    /// Forgets every lookup (after authentik said a resolved pk does not exist).
    pub fn forget(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
