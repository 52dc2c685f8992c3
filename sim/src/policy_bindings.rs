//! The `PolicyBinding` table. `target` holds the policy-binding-model id of the flow,
//! flow-stage binding or rule; rows keep PostgreSQL's physical order as flow-stage bindings
//! do (an update moves the row to the end).

use std::collections::HashMap;

use uuid::Uuid;

/// The writable fields of a policy binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyBindingData {
    pub policy: Option<Uuid>,
    pub group: Option<Uuid>,
    pub user: Option<i64>,
    /// A policy-binding-model id.
    pub target: Uuid,
    pub negate: bool,
    pub enabled: bool,
    pub order: i64,
    pub timeout: i64,
    pub failure_result: bool,
}

impl PolicyBindingData {
    /// A binding with the model defaults.
    pub fn new(target: Uuid, order: i64) -> PolicyBindingData {
        PolicyBindingData {
            policy: None,
            group: None,
            user: None,
            target,
            negate: false,
            enabled: true,
            order,
            timeout: 30,
            failure_result: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PolicyBinding {
    pub pk: Uuid,
    pub data: PolicyBindingData,
    pub seq: u64,
}

#[derive(Debug, Default, Clone)]
pub struct PolicyBindings {
    rows: HashMap<Uuid, PolicyBinding>,
    seq: u64,
}

impl PolicyBindings {
    pub fn get(&self, pk: Uuid) -> Option<&PolicyBinding> {
        self.rows.get(&pk)
    }

    /// Every binding, in physical order.
    pub fn iter(&self) -> Vec<&PolicyBinding> {
        let mut rows: Vec<&PolicyBinding> = self.rows.values().collect();
        rows.sort_by_key(|b| b.seq);
        rows
    }

    pub fn of_target(&self, pbm: Uuid) -> Vec<&PolicyBinding> {
        let mut rows: Vec<&PolicyBinding> = self
            .rows
            .values()
            .filter(|b| b.data.target == pbm)
            .collect();
        rows.sort_by_key(|b| b.seq);
        rows
    }

    /// How many bindings bind this policy.
    pub fn count_policy(&self, policy: Uuid) -> usize {
        self.rows
            .values()
            .filter(|b| b.data.policy == Some(policy))
            .count()
    }

    /// The `(policy, target, order)` unique-together rule (a null policy never collides).
    pub fn taken(&self, d: &PolicyBindingData, except: Option<Uuid>) -> bool {
        d.policy.is_some()
            && self.rows.values().any(|b| {
                Some(b.pk) != except
                    && b.data.policy == d.policy
                    && b.data.target == d.target
                    && b.data.order == d.order
            })
    }

    pub fn insert(&mut self, pk: Option<Uuid>, data: PolicyBindingData) -> Uuid {
        let pk = pk.unwrap_or_else(Uuid::new_v4);
        self.seq += 1;
        self.rows.insert(
            pk,
            PolicyBinding {
                pk,
                data,
                seq: self.seq,
            },
        );
        pk
    }

    /// Replace a binding's fields; the row moves to the end.
    pub fn update(&mut self, pk: Uuid, data: PolicyBindingData) -> bool {
        self.seq += 1;
        let seq = self.seq;
        match self.rows.get_mut(&pk) {
            Some(b) => {
                b.data = data;
                b.seq = seq;
                true
            }
            None => false,
        }
    }

    pub fn remove(&mut self, pk: Uuid) -> Option<PolicyBinding> {
        self.rows.remove(&pk)
    }

    /// The pks of the bindings matching `f`, sorted by pk (the order Django's deletion
    /// collector handles them in).
    pub fn matching(&self, f: impl Fn(&PolicyBindingData) -> bool) -> Vec<Uuid> {
        let mut pks: Vec<Uuid> = self
            .rows
            .values()
            .filter(|b| f(&b.data))
            .map(|b| b.pk)
            .collect();
        pks.sort_unstable();
        pks
    }
}
