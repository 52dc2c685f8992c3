//! `authentik-operator plan`: what applying a set of manifests would do to authentik. The
//! manifests are read and validated from the CRDs ([`super::manifests`]), references are resolved
//! within the set and against authentik, and each resource is decided by the reconciler's
//! own [`crate::reconcile::plan::plan`] from [`Facts`] built as the sync step builds them.
//! Nothing is written anywhere.

use super::manifests::{Loaded, Manifest, load, read};
use super::plan_report::{Action, Change, Report, ResourcePlan};
pub use super::plan_snapshot::{Snapshot, fetch};
use super::registry::kinds;
use crate::authentik::wire::pk_of;
use crate::crd::kind::key_text;
use crate::crd::refs::By;
use crate::reconcile::naming::{Claim, conflicting};
use crate::reconcile::plan::{Act, Facts, Plan, Record, Remote, plan};
use crate::reconcile::resolve::pk_text;
use serde_json::Value;
use std::collections::BTreeMap;

/// References resolved: spec field → body value, and spec field → the reference as written.
type Resolved = (BTreeMap<String, Value>, BTreeMap<String, String>);

/// The value a reference to a resource that is yet to be created resolves to.
const AFTER_APPLY: &str = "(known after apply)";

struct Planner<'a> {
    set: &'a [Manifest],
    /// The resources whose manifests are invalid (kind, namespace, name).
    rejected: &'a [(String, String, String)],
    snap: Option<&'a Snapshot>,
    applied: bool,
    claims: Vec<Claim>,
    /// Each manifest's plan once decided, or why it could not be.
    plans: Vec<Option<Result<ResourcePlan, String>>>,
    visiting: Vec<usize>,
    unchecked: Vec<String>,
}

/// Plans every manifest of the set against `snap` (none: validate and resolve within the
/// set only). `applied`: the resources already exist in the cluster and hold the objects
/// with their keys (a change to manifests applied before), so an object found is theirs
/// rather than one to adopt. A manifest that cannot be planned (a reference to nothing) is
/// in the report's errors; the others are planned all the same.
pub fn plan_all(loaded: &Loaded, snap: Option<&Snapshot>, applied: bool) -> Report {
    let set = loaded.set.as_slice();
    let claims = set
        .iter()
        .filter_map(|m| {
            (m.kind.desire)(&m.doc, &BTreeMap::new())
                .ok()
                .map(|d| d.claim)
        })
        .collect();
    let mut p = Planner {
        set,
        rejected: &loaded.rejected,
        snap,
        applied,
        claims,
        plans: vec![None; set.len()],
        visiting: Vec::new(),
        unchecked: Vec::new(),
    };
    let mut errors = loaded.errors.clone();
    for i in 0..set.len() {
        if let Err(e) = p.plan(i) {
            errors.push(e);
        }
    }
    errors.dedup();
    if snap.is_none() {
        p.unchecked.insert(
            0,
            "not compared with authentik (no --authentik-url): names, slugs and pks are not resolved, and creates, updates and adoptions are not known".into(),
        );
    }
    let mut unchecked = p.unchecked;
    unchecked.extend(loaded.unchecked.iter().cloned());
    unchecked.dedup();
    Report {
        resources: p.plans.into_iter().flatten().flatten().collect(),
        unchecked,
        errors,
    }
}

impl Planner<'_> {
    fn what(&self, i: usize) -> String {
        let m = &self.set[i];
        format!("{}: {} {}/{}", m.source, m.kind.kind, m.namespace, m.name)
    }

    /// The pk a `ref` (at `at`) to manifest `i` resolves to once applied.
    fn pk_of(&mut self, i: usize, at: &str) -> Result<String, String> {
        if let Err(e) = self.plan(i) {
            // A manifest that could not be planned has its own error; in a cycle, this is it.
            let m = &self.set[i];
            return Err(match self.plans[i] {
                Some(_) => format!(
                    "{at}: refers to {} {}/{}, which cannot be planned",
                    m.kind.kind, m.namespace, m.name
                ),
                None => e,
            });
        }
        let planned = self.plans[i].as_ref().and_then(|p| p.as_ref().ok());
        Ok(planned
            .and_then(|p| p.pk.clone())
            .unwrap_or_else(|| AFTER_APPLY.to_string()))
    }

    /// Resolves the references of manifest `i`: spec field → body value, and how each was
    /// written (for the output).
    fn resolve(&mut self, i: usize) -> Result<Resolved, String> {
        let m = &self.set[i];
        let fields = (m.kind.references)(&m.doc).map_err(|e| format!("{}: {e}", self.what(i)))?;
        let mut body = BTreeMap::new();
        let mut shown = BTreeMap::new();
        for field in fields {
            let Some(values) = &field.values else {
                continue;
            };
            let mut pks = Vec::new();
            for by in values {
                let at = format!("{}: spec.{}", self.what(i), field.spec_field);
                let by = by
                    .clone()
                    .ok_or_else(|| format!("{at}: set exactly one key of the reference"))?;
                let pk = match &by {
                    By::Pk(pk) => pk.to_ascii_lowercase(),
                    By::Ref(name) => {
                        let kind = field.target.custom_resource_kind().ok_or_else(|| {
                            format!(
                                "{at}: `ref` cannot name this kind of object; use `name` or `pk`"
                            )
                        })?;
                        self.pk_of(self.find(kind, &m.namespace, name, &at)?, &at)?
                    }
                    By::KindRef(kind, name) => {
                        self.pk_of(self.find(kind, &m.namespace, name, &at)?, &at)?
                    }
                    By::Name(_) | By::Slug(_) | By::Username(_) => {
                        self.lookup(field.target, &by, &at)?
                    }
                };
                pks.push(field.target.pk_value(&pk));
                shown.insert(field.spec_field.to_string(), by.to_string());
            }
            let value = if field.many {
                Value::Array(pks)
            } else {
                pks.pop().unwrap_or(Value::Null)
            };
            body.insert(field.spec_field.to_string(), value);
        }
        Ok((body, shown))
    }

    /// The manifest a `ref` names; a reference to nothing, or to an invalid manifest, is
    /// bad input.
    fn find(&self, kind: &str, namespace: &str, name: &str, at: &str) -> Result<usize, String> {
        let what = format!("{kind} {namespace}/{name}");
        if let Some(i) = self
            .set
            .iter()
            .position(|m| m.kind.kind == kind && m.namespace == namespace && m.name == name)
        {
            return Ok(i);
        }
        let broken = self
            .rejected
            .iter()
            .any(|(k, ns, n)| (k.as_str(), ns.as_str(), n.as_str()) == (kind, namespace, name));
        Err(if broken {
            format!("{at}: refers to {what}, whose manifest is invalid")
        } else {
            format!("{at}: refers to {what}, which is not in the manifests")
        })
    }

    /// A natural key (a name, a slug, a username), looked up in authentik as the reconciler
    /// does.
    fn lookup(
        &mut self,
        target: crate::crd::refs::Target,
        by: &By,
        at: &str,
    ) -> Result<String, String> {
        let Some(snap) = self.snap else {
            self.unchecked.push(format!("{at}: {by} not looked up"));
            return Ok(format!("({by})"));
        };
        let Some((lookup, value)) = target.lookup_of(by) else {
            return Err(format!(
                "{at}: {by} is not a way to name a {}",
                target.noun()
            ));
        };
        let found: Vec<&Value> = snap
            .list(lookup.endpoint)
            .iter()
            .filter(|o| o.get(lookup.field).and_then(Value::as_str) == Some(value))
            .collect();
        match found.as_slice() {
            [one] => {
                if let Some(model) = target.model()
                    && one.get("meta_model_name").and_then(Value::as_str) != Some(model)
                {
                    return Err(format!(
                        "{at}: the authentik stage named {value:?} is a {}, not the kind this field needs",
                        one.get("verbose_name")
                            .and_then(Value::as_str)
                            .unwrap_or("stage of another kind")
                    ));
                }
                Ok(pk_text(one).unwrap_or_default())
            }
            [] => Err(format!("{at}: no authentik {} with {by}", target.noun())),
            many => Err(format!(
                "{at}: {} authentik {}s match {by}; use pk",
                many.len(),
                target.noun()
            )),
        }
    }

    fn plan(&mut self, i: usize) -> Result<(), String> {
        if let Some(done) = &self.plans[i] {
            return done.as_ref().map(|_| ()).map_err(String::clone);
        }
        if self.visiting.contains(&i) {
            return Err(format!("{}: its references form a cycle", self.what(i)));
        }
        self.visiting.push(i);
        let result = self.decide(i);
        self.visiting.retain(|v| *v != i);
        self.plans[i] = Some(result.clone());
        result.map(|_| ())
    }

    fn decide(&mut self, i: usize) -> Result<ResourcePlan, String> {
        let (resolved, shown) = self.resolve(i)?;
        let m = &self.set[i];
        let kind = &m.kind;
        let desire =
            (kind.desire)(&m.doc, &resolved).map_err(|e| format!("{}: {e}", self.what(i)))?;
        let key = key_text(kind.key, &desire.body)
            .ok_or_else(|| format!("{}: the spec sets no {}", self.what(i), kind.key.join(", ")))?;
        // A key of pks (a binding's) reads better as the spec writes it.
        let object = if kind.key.len() > 1 {
            (kind.describe_identity)(&desire.claim.authentik_name)
        } else {
            (kind.describe_key)(&key)
        };
        let mut out = ResourcePlan {
            kind: kind.kind,
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            object: object.clone(),
            action: Action::NotCompared,
            pk: None,
            changes: Vec::new(),
            message: None,
        };
        let observe = desire.policies.management_policy == crate::crd::ManagementPolicy::Observe;
        if !observe && let Some(winner) = conflicting(&desire.claim, &self.claims) {
            out.action = Action::NameConflict;
            out.message = Some(format!(
                "{} is already claimed by {}; {}",
                (kind.describe_identity)(&desire.claim.authentik_name),
                winner.describe(),
                kind.uniqueness
            ));
            return Ok(out);
        }
        let Some(snap) = self.snap else {
            return Ok(out);
        };
        let holds_key = |o: &&Value| {
            o.as_object().and_then(|o| key_text(kind.key, o)).as_deref() == Some(key.as_str())
        };
        let status_pk = m.doc.pointer("/status/pk").and_then(Value::as_str);
        let found = match status_pk {
            Some(pk) => snap
                .list(kind.endpoint)
                .iter()
                .find(|o| pk_of(o) == Some(pk)),
            None => snap.list(kind.endpoint).iter().find(holds_key),
        };
        if found.is_none()
            && kind.key_scope != kind.endpoint
            && let Some(other) = snap.list(kind.key_scope).iter().find(holds_key)
        {
            out.action = Action::Refused;
            out.message = Some(format!(
                "{object} already exists in authentik as a {} (pk {}); {}",
                other
                    .get("verbose_name")
                    .and_then(Value::as_str)
                    .unwrap_or("object of another kind"),
                pk_of(other).unwrap_or("?"),
                kind.uniqueness
            ));
            return Ok(out);
        }
        let remote = match found {
            Some(body) => {
                let pk = pk_of(body).unwrap_or_default().to_string();
                if self.applied || status_pk.is_some() {
                    Remote::AtPk {
                        pk,
                        body: body.clone(),
                        fresh: true,
                    }
                } else {
                    Remote::Named {
                        pk,
                        body: body.clone(),
                    }
                }
            }
            None => Remote::Absent {
                after_vanished: status_pk.is_some(),
            },
        };
        let facts = Facts {
            management: desire.policies.management_policy,
            adoption: desire.policies.adoption_policy,
            record: Record::default(),
            generation: None,
            key: &key,
            what: &object,
            desired: &desire.body,
            shape: kind.shape,
            guarded_allowed: desire.guarded_allowed,
            remote: &remote,
            // A manifest carries no create marker of ours: an object found is judged as
            // the reconciler judges it once its view is confirmed current.
            view_confirmed: true,
            // Secrets are not read by plan (see `unchecked`).
            secrets: &BTreeMap::new(),
        };
        let spec_field = |body_key: &str| kind.shape.spec_field(body_key);
        let is_set = |field: &str| kind.shape.set_fields.iter().any(|b| spec_field(b) == field);
        let change = |field: String, current: Option<String>, desired: String| Change {
            set: is_set(&field),
            reference: shown.get(&field).cloned(),
            field,
            current,
            desired,
        };
        match plan(&facts) {
            Plan::Act(Act::Create(_)) => {
                out.action = Action::Create;
                out.changes = desire
                    .body
                    .iter()
                    .map(|(k, v)| change(spec_field(k), None, v.to_string()))
                    .collect();
            }
            Plan::Act(Act::Bind {
                pk,
                adopted,
                diff,
                write,
            }) => {
                out.action = match (adopted, write.is_some(), observe) {
                    (_, _, true) => Action::Observe,
                    (true, true, _) => Action::AdoptAndUpdate,
                    (true, false, _) => Action::Adopt,
                    (false, true, _) => Action::Update,
                    (false, false, _) => Action::Unchanged,
                };
                if observe && !diff.in_sync() {
                    out.message = Some(
                        "differs from authentik; Observe mode reports it and writes nothing".into(),
                    );
                }
                out.changes = diff
                    .drift
                    .into_iter()
                    .map(|d| change(d.field, Some(d.actual), d.desired))
                    .collect();
                out.pk = Some(pk);
            }
            Plan::Act(Act::Refuse { error, diff }) => {
                out.action = match error {
                    crate::Error::AdoptionMismatch(_) | crate::Error::AlreadyExists(_) => {
                        Action::RefuseToAdopt
                    }
                    _ => Action::Refused,
                };
                out.message = Some(error.to_string());
                out.changes = diff
                    .map(|d| d.drift)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| change(d.field, Some(d.actual), d.desired))
                    .collect();
            }
            Plan::Recheck(r) => {
                return Err(format!(
                    "{}: the decision asked for another look ({r:?}), which a plan cannot take",
                    self.what(i)
                ));
            }
        }
        Ok(out)
    }
}

/// Runs `plan`: what to print on stdout (the plan, when there is one), the errors for
/// stderr, and the exit code: 0 no changes, 2 changes, 1 errors (a manifest that cannot be
/// planned does not keep the others from being planned and shown) or nothing to compare
/// with (authentik unreachable, the token refused).
pub async fn run(args: &super::PlanArgs) -> (String, Vec<String>, u8) {
    let all = kinds();
    let fail = |errors: Vec<String>| (String::new(), errors, 1);
    if args.file.is_empty() {
        return fail(vec!["plan needs -f <files or folders>".into()]);
    }
    let (docs, unreadable) = read(&args.file);
    let mut loaded = load(&all, docs, &args.namespace);
    loaded.errors.splice(0..0, unreadable);
    let client = match super::connect::client(&args.authentik) {
        Ok(c) => c,
        Err(e) => return fail(vec![e]),
    };
    let snap = match &client {
        Some(c) => match fetch(c, &loaded.set).await {
            Ok(s) => Some(s),
            Err(e) => return fail(vec![e]),
        },
        None => None,
    };
    let report = plan_all(&loaded, snap.as_ref(), args.applied);
    let text = if report.resources.is_empty() && !report.errors.is_empty() {
        String::new()
    } else {
        match args.output {
            super::Output::Text => super::plan_output::text(&report),
            super::Output::Json => super::plan_output::json(&report),
        }
    };
    let code = match (report.errors.is_empty(), report.has_changes()) {
        (false, _) => 1,
        (true, true) => 2,
        (true, false) => 0,
    };
    (text, report.errors, code)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
