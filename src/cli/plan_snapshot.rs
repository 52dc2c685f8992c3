//! What `plan` reads of authentik: one paginated list per endpoint the set of manifests
//! needs, and users only by the usernames named.

use super::manifests::Manifest;
use crate::authentik::AuthentikClient;
use crate::crd::refs::USERNAMES;
use serde_json::Value;
use std::collections::BTreeMap;

/// What authentik holds, as far as the set needs it.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Objects per endpoint: each kind's own, and the endpoints keys are unique across
    /// (`stages/all/`), with `flows/instances/` and `sources/all/` for slugs.
    pub lists: BTreeMap<String, Vec<Value>>,
}

impl Snapshot {
    pub(super) fn list(&self, endpoint: &str) -> &[Value] {
        self.lists.get(endpoint).map_or(&[], Vec::as_slice)
    }
}

/// Reads what the plan of `set` needs: one paginated list per endpoint.
pub async fn fetch(client: &AuthentikClient, set: &[Manifest]) -> Result<Snapshot, String> {
    let mut wanted: BTreeMap<String, &'static str> = BTreeMap::new();
    for m in set {
        wanted.insert(m.kind.endpoint.to_string(), m.kind.ordering);
        wanted.insert(
            m.kind.key_scope.to_string(),
            if m.kind.key_scope == m.kind.endpoint {
                m.kind.ordering
            } else {
                "name"
            },
        );
    }
    // What natural keys name: whole lists, but users only by the usernames named (an
    // installation may have many more users than manifests name).
    let mut usernames: Vec<(&str, String)> = Vec::new();
    for m in set {
        for field in (m.kind.references)(&m.doc).unwrap_or_default() {
            for by in field.values.iter().flatten().flatten() {
                let Some((lookup, value)) = field.target.lookup_of(by) else {
                    continue;
                };
                if lookup == USERNAMES {
                    usernames.push((lookup.param, value.to_string()));
                } else {
                    wanted.insert(lookup.endpoint.to_string(), lookup.ordering);
                }
            }
        }
    }
    let mut snap = Snapshot::default();
    for (endpoint, ordering) in wanted {
        let objects = client
            .list_all(&endpoint, &[], ordering)
            .await
            .map_err(|e| format!("cannot list {endpoint} at {}: {e}", client.api_url()))?;
        snap.lists.insert(endpoint, objects);
    }
    for filter in usernames {
        let users = client
            .list_all(USERNAMES.endpoint, &[filter], USERNAMES.ordering)
            .await
            .map_err(|e| {
                format!(
                    "cannot list {} at {}: {e}",
                    USERNAMES.endpoint,
                    client.api_url()
                )
            })?;
        let list = snap
            .lists
            .entry(USERNAMES.endpoint.to_string())
            .or_default();
        for user in users {
            if !list.contains(&user) {
                list.push(user);
            }
        }
    }
    Ok(snap)
}
