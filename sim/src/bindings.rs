//! The `FlowStageBinding` table, indexed by flow and by stage so that a flow's bindings or a
//! stage's `flow_set` cost what they return, not a scan of every binding (lists of 10,000
//! stages render a `flow_set` each).
//!
//! Rows keep PostgreSQL's physical order: creation order, and an update moves the row to the
//! end (a new row version). Unordered joins come back in that order; the 2024.4.4 transcript
//! shows it (step 47: the binding moved to another flow is listed last in `flow_set`).

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

/// The writable fields of a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingData {
    pub target: Uuid,
    pub stage: Uuid,
    pub order: i64,
    pub evaluate_on_plan: bool,
    pub re_evaluate_policies: bool,
    pub policy_engine_mode: String,
    pub invalid_response_action: String,
}

impl BindingData {
    /// A binding with the model defaults.
    pub fn new(target: Uuid, stage: Uuid, order: i64) -> BindingData {
        BindingData {
            target,
            stage,
            order,
            evaluate_on_plan: false,
            re_evaluate_policies: true,
            policy_engine_mode: "any".into(),
            invalid_response_action: "retry".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub pk: Uuid,
    /// The parent `PolicyBindingModel` key.
    pub pbm: Uuid,
    pub data: BindingData,
    /// Physical position (see the module comment).
    pub seq: u64,
}

/// Binding pks by physical position.
type Rows = BTreeMap<u64, Uuid>;

#[derive(Debug, Default, Clone)]
pub struct Bindings {
    rows: HashMap<Uuid, Binding>,
    all: Rows,
    by_flow: HashMap<Uuid, Rows>,
    by_stage: HashMap<Uuid, Rows>,
    by_pbm: HashMap<Uuid, Uuid>,
    seq: u64,
}

fn unindex(index: &mut HashMap<Uuid, Rows>, key: Uuid, seq: u64) {
    if let Some(rows) = index.get_mut(&key) {
        rows.remove(&seq);
        if rows.is_empty() {
            index.remove(&key);
        }
    }
}

impl Bindings {
    pub fn get(&self, pk: Uuid) -> Option<&Binding> {
        self.rows.get(&pk)
    }

    /// Every binding, in physical order.
    pub fn iter(&self) -> impl Iterator<Item = &Binding> {
        self.resolve(Some(&self.all))
    }

    /// The bindings of a flow, in physical order.
    pub fn of_flow(&self, flow: Uuid) -> impl Iterator<Item = &Binding> {
        self.resolve(self.by_flow.get(&flow))
    }

    /// The bindings of a stage, in physical order.
    pub fn of_stage(&self, stage: Uuid) -> impl Iterator<Item = &Binding> {
        self.resolve(self.by_stage.get(&stage))
    }

    fn resolve<'a>(&'a self, rows: Option<&'a Rows>) -> impl Iterator<Item = &'a Binding> {
        rows.into_iter()
            .flat_map(|r| r.values())
            .filter_map(|pk| self.rows.get(pk))
    }

    /// Whether another binding already has this (target, stage, order).
    pub fn taken(&self, target: Uuid, stage: Uuid, order: i64, except: Option<Uuid>) -> bool {
        self.of_flow(target)
            .any(|b| b.data.stage == stage && b.data.order == order && Some(b.pk) != except)
    }

    #[cfg(test)]
    pub fn insert(&mut self, data: BindingData) -> Uuid {
        self.insert_with(Uuid::new_v4(), Uuid::new_v4(), data)
    }

    /// Insert with given keys (the seed keeps a real install's).
    pub fn insert_with(&mut self, pk: Uuid, pbm: Uuid, data: BindingData) -> Uuid {
        self.place(Binding {
            pk,
            pbm,
            data,
            seq: 0,
        });
        self.by_pbm.insert(pbm, pk);
        pk
    }

    /// The binding whose policy-binding-model id is `pbm`.
    pub fn by_pbm(&self, pbm: Uuid) -> Option<&Binding> {
        self.by_pbm.get(&pbm).and_then(|pk| self.rows.get(pk))
    }

    /// Replace a binding's fields; the row moves to the end.
    pub fn update(&mut self, pk: Uuid, data: BindingData) -> bool {
        match self.remove(pk) {
            Some(mut b) => {
                b.data = data;
                self.by_pbm.insert(b.pbm, b.pk);
                self.place(b);
                true
            }
            None => false,
        }
    }

    fn place(&mut self, mut b: Binding) {
        self.seq += 1;
        b.seq = self.seq;
        self.all.insert(b.seq, b.pk);
        self.by_flow
            .entry(b.data.target)
            .or_default()
            .insert(b.seq, b.pk);
        self.by_stage
            .entry(b.data.stage)
            .or_default()
            .insert(b.seq, b.pk);
        self.rows.insert(b.pk, b);
    }

    pub fn remove(&mut self, pk: Uuid) -> Option<Binding> {
        let b = self.rows.remove(&pk)?;
        self.by_pbm.remove(&b.pbm);
        self.all.remove(&b.seq);
        unindex(&mut self.by_flow, b.data.target, b.seq);
        unindex(&mut self.by_stage, b.data.stage, b.seq);
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_follow_updates_and_removals() {
        let (f1, f2, s1, s2) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let mut t = Bindings::default();
        let a = t.insert(BindingData::new(f1, s1, 10));
        let b = t.insert(BindingData::new(f1, s2, 20));
        let c = t.insert(BindingData::new(f2, s1, 10));
        let pks = |it: &mut dyn Iterator<Item = &Binding>| it.map(|b| b.pk).collect::<Vec<_>>();
        assert_eq!(pks(&mut t.of_flow(f1)), [a, b]);
        assert_eq!(pks(&mut t.of_stage(s1)), [a, c]);
        assert!(t.taken(f1, s1, 10, None));
        assert!(!t.taken(f1, s1, 10, Some(a)));
        assert!(!t.taken(f1, s1, 11, None));

        // Moving `a` to f2 takes it out of f1's index and puts it last everywhere.
        assert!(t.update(a, BindingData::new(f2, s1, 10)));
        assert_eq!(pks(&mut t.of_flow(f1)), [b]);
        assert_eq!(pks(&mut t.of_flow(f2)), [c, a]);
        assert_eq!(pks(&mut t.of_stage(s1)), [c, a]);
        assert_eq!(pks(&mut t.iter()), [b, c, a]);

        assert!(t.remove(a).is_some() && t.remove(c).is_some());
        assert_eq!(pks(&mut t.iter()), [b]);
        assert_eq!(t.of_flow(f2).count(), 0);
        assert!(t.remove(b).is_some());
        assert_eq!(t.iter().count(), 0);
        assert!(t.by_flow.is_empty() && t.by_stage.is_empty());
        assert!(!t.update(a, BindingData::new(f1, s1, 1)));
    }
}
