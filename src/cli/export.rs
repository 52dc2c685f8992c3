//! `authentik-operator export`: what authentik holds, as manifests of the registered kinds.
//! Fetching is [`fetch`]; everything after it is the pure [`render`], so the naming, the
//! order and the reference mapping are tested without a server.

use super::export_checks::{check_as_applied, keep_readable};
use super::export_options::Options;
use super::export_output::{Document, LeftOut, Rendered, stream, write_folder};
use super::names::{distinct, resource_name};
use super::registry::{KindInfo, kinds};
use crate::authentik::AuthentikClient;
use crate::authentik::wire::pk_of;
use crate::crd::kind::key_text;
use crate::crd::refs::{By, FLOW_SLUGS, KeyLookup, STAGE_NAMES, Target, USERNAMES};
use crate::reconcile::resolve::pk_text;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Fields of authentik's bodies that no spec sets because authentik computes them (the
/// serializers' read-only fields). Anything else a spec cannot hold is reported.
const READ_ONLY: &[&str] = &[
    "pk",
    "component",
    "verbose_name",
    "verbose_name_plural",
    "meta_model_name",
    "flow_set",
    "stage_obj",
    "stages",
    "policies",
    "policybindingmodel_ptr_id",
    "cache_count",
    "export_url",
    "background_url",
    "background_themed_urls",
    // A flow's background is an uploaded file: no spec can set it.
    "background",
    "bound_to",
    "policy_obj",
    "group_obj",
    "user_obj",
    "prompt_stages_obj",
    "promptstage_set",
    "webauthn_allowed_device_types_obj",
    "device_type_restrictions_obj",
];

/// What authentik holds, as fetched.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Per kind (by kind name): its objects.
    pub objects: BTreeMap<&'static str, Vec<Value>>,
    /// Per lookup endpoint (see [`Target::lookup`]): pk → natural key (a flow's slug, a
    /// stage's name, a user's username): how references to objects not exported are written.
    pub names: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// The pks of the flows and flow-stage bindings, when a policy binding is exported: the
    /// policy bindings of other objects (notification rules, applications) are not this
    /// operator's and are left out. `None`: not read, none left out.
    pub policy_targets: Option<std::collections::BTreeSet<String>>,
    /// Kinds this authentik has no endpoint for (an older release), with its answer.
    pub unserved: Vec<(&'static str, String)>,
}

impl Inventory {
    /// Records that the object `pk` of `lookup`'s endpoint is known by `key`.
    pub fn name(&mut self, lookup: KeyLookup, pk: &str, key: &str) {
        self.names
            .entry(lookup.endpoint)
            .or_default()
            .insert(pk.to_string(), key.to_string());
    }

    fn named(&self, lookup: KeyLookup, pk: &str) -> Option<&String> {
        self.names.get(lookup.endpoint)?.get(pk)
    }
}

/// Reads what the export needs from authentik. Errors name what was being read.
pub async fn fetch(
    client: &AuthentikClient,
    all: &[KindInfo],
    opts: &Options,
) -> Result<Inventory, String> {
    let list = |endpoint: &'static str, ordering: &'static str| async move {
        client
            .list_all(endpoint, &[], ordering)
            .await
            .map_err(|e| format!("cannot list {endpoint} at {}: {e}", client.api_url()))
    };
    let mut inv = Inventory::default();
    for k in all.iter().filter(|k| opts.wants(k.kind)) {
        match client.list_all(k.endpoint, &[], k.ordering).await {
            Ok(objects) => {
                inv.objects.insert(k.kind, objects);
            }
            // An older release without the kind (a redirect stage before 2024.12): there
            // is nothing of it to export.
            Err(crate::error::Error::NotFound(why)) => inv.unserved.push((k.kind, why)),
            Err(e) => {
                return Err(format!(
                    "cannot list {} at {}: {e}",
                    k.endpoint,
                    client.api_url()
                ));
            }
        }
    }
    let binds = all
        .iter()
        .any(|k| opts.wants(k.kind) && k.ref_targets.contains(&Target::PolicyTarget));
    if binds {
        let mut targets = std::collections::BTreeSet::new();
        for kind in crate::kinds::ref_kinds(Target::PolicyTarget) {
            let Some(k) = all.iter().find(|k| k.kind == kind) else {
                continue;
            };
            let objects = match inv.objects.get(k.kind) {
                Some(listed) => listed.clone(),
                None => list(k.endpoint, k.ordering).await?,
            };
            targets.extend(objects.iter().filter_map(|o| pk_of(o).map(str::to_string)));
        }
        inv.policy_targets = Some(targets);
    }
    // How each referenced object is named. Users are read one by one, by the pks referenced:
    // an installation may have many more users than policy bindings name.
    let referenced = referenced_pks(all, &inv);
    for lookup in Target::ALL_LOOKUPS {
        let Some(pks) = referenced.get(lookup.endpoint) else {
            continue;
        };
        let objects = if lookup == USERNAMES {
            let mut found = Vec::new();
            for pk in pks {
                let user = client.get(lookup.endpoint, pk).await.map_err(|e| {
                    format!(
                        "cannot read {}{pk}/ at {}: {e}",
                        lookup.endpoint,
                        client.api_url()
                    )
                })?;
                found.extend(user);
            }
            found
        } else {
            list(lookup.endpoint, lookup.ordering).await?
        };
        for o in &objects {
            if let (Some(pk), Some(key)) = (pk_text(o), o.get(lookup.field).and_then(Value::as_str))
            {
                inv.name(lookup, &pk, key);
            }
        }
    }
    Ok(inv)
}

/// The pks the listed objects reference by pk, per lookup endpoint of their targets.
fn referenced_pks(all: &[KindInfo], inv: &Inventory) -> BTreeMap<&'static str, Vec<String>> {
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for kind in all {
        for body in inv.objects.get(kind.kind).into_iter().flatten() {
            let Some(map) = body.as_object() else {
                continue;
            };
            let (spec, _) = spec_of(kind, map);
            let doc = resource(kind, "x", None, &spec);
            for field in (kind.references)(&doc).unwrap_or_default() {
                let Some(lookup) = field.target.lookup() else {
                    continue;
                };
                for by in field.values.iter().flatten().flatten() {
                    if let By::Pk(pk) = by {
                        let pks = out.entry(lookup.endpoint).or_default();
                        if !pks.contains(pk) {
                            pks.push(pk.clone());
                        }
                    }
                }
            }
        }
    }
    // Bindings are named after what they bind: the names of flows and stages.
    for lookup in [FLOW_SLUGS, STAGE_NAMES] {
        out.entry(lookup.endpoint).or_default();
    }
    out
}

/// One object on its way to a document.
pub(super) struct Entry<'a> {
    pub(super) kind: &'a KindInfo,
    pk: String,
    key: String,
    /// The spec, references still as `{pk}`.
    pub(super) spec: Map<String, Value>,
    /// Comment lines.
    pub(super) notes: Vec<String>,
    /// Values authentik holds that the document leaves out because they are refused.
    pub(super) unmanaged: Vec<String>,
    pub(super) name: String,
}

/// Whether a spec property holds references: an object (or a list of objects) in the
/// schema, where authentik's body has a pk string.
fn is_reference(schema: &Value) -> (bool, bool) {
    let ty = |s: &Value| s.get("type").and_then(Value::as_str).map(str::to_string);
    match ty(schema).as_deref() {
        Some("object") => (true, false),
        Some("array") => (
            schema.get("items").and_then(ty).as_deref() == Some("object"),
            true,
        ),
        _ => (false, false),
    }
}

/// The spec that sets exactly what authentik holds (references as `{pk}` for now), and
/// comments on what it cannot hold.
fn spec_of(kind: &KindInfo, body: &Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
    let mut spec = Map::new();
    let mut unset = Vec::new();
    for (spec_key, schema) in &kind.spec_props {
        let Some(value) = body.get(&(kind.body_key)(spec_key)) else {
            continue;
        };
        let value = match (value, is_reference(schema)) {
            (Value::Null, _) => {
                // One of a set of which the spec sets one (a policy binding's policy, group
                // or user): the others are null by nature, not unset.
                if !kind
                    .shape
                    .one_of
                    .contains(&(kind.body_key)(spec_key).as_str())
                {
                    unset.push(spec_key.clone());
                }
                continue;
            }
            (Value::String(pk), (true, false)) => json!({"pk": pk}),
            (Value::Number(pk), (true, false)) => json!({"pk": pk}),
            (Value::Array(pks), (true, true)) => {
                Value::Array(pks.iter().map(|pk| json!({"pk": pk})).collect())
            }
            (v, _) => v.clone(),
        };
        spec.insert(spec_key.clone(), value);
    }
    spec.insert("adoptionPolicy".into(), json!("IfMatch"));
    let mut notes = Vec::new();
    for (secret_ref, body_key) in kind.shape.secrets {
        notes.push(format!(
            "authentik never returns {body_key}: to manage it, set {secret_ref} to a Secret key holding it (sent once, then whenever the Secret changes)"
        ));
    }
    if !unset.is_empty() {
        notes.push(format!(
            "not set in authentik, so left out (unmanaged): {}",
            unset.join(", ")
        ));
    }
    let unknown: Vec<String> = body
        .iter()
        .filter(|(k, _)| !READ_ONLY.contains(&k.as_str()) && kind.spec_key(k).is_none())
        .map(|(k, v)| format!("  {k}: {v}"))
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "authentik holds fields this operator's {} does not know (kept here, not applied):",
            kind.kind
        ));
        notes.extend(unknown);
    }
    (spec, notes)
}

/// The object's metadata and spec as a whole resource.
pub(super) fn resource(
    kind: &KindInfo,
    name: &str,
    ns: Option<&str>,
    spec: &Map<String, Value>,
) -> Value {
    let mut meta = json!({"name": name});
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    json!({"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec})
}

/// How a reference to `pk` is written: `ref` to an exported object of a kind the field may
/// name, else the object's natural key (a flow's slug, a stage's name, …), else the pk.
fn portable(
    target: Target,
    pk: &str,
    exported: &BTreeMap<&str, (&str, &str)>,
    inv: &Inventory,
) -> Value {
    if let Some((kind, name)) = exported.get(pk)
        && crate::kinds::ref_kinds(target).contains(kind)
    {
        if target.custom_resource_kind() == Some(*kind) {
            return json!({"ref": name});
        }
        return json!({"ref": {"kind": kind, "name": name}});
    }
    // A key the reference's own schema refuses (a flow slug no CRD holds) is no way to name
    // it: the pk is.
    let fits = |key: &str, by: &str| {
        by != "slug"
            || (!key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    if let Some(lookup) = target.lookup()
        && let Some(key) = inv.named(lookup, pk)
        && fits(key, lookup.by)
    {
        return json!({ lookup.by: key });
    }
    match target.pk_value(pk) {
        Value::String(_) => json!({"pk": pk}),
        number => json!({"pk": number}),
    }
}

/// Whether an object whose kind binds to a flow or flow-stage binding (a policy binding)
/// binds to one; a binding of another object is not this operator's to export.
fn binds_a_policy_target(kind: &KindInfo, spec: &Map<String, Value>, inv: &Inventory) -> bool {
    let Some(targets) = &inv.policy_targets else {
        return true;
    };
    let doc = resource(kind, "x", None, spec);
    let fields = (kind.references)(&doc).unwrap_or_default();
    fields
        .iter()
        .filter(|f| f.target == Target::PolicyTarget)
        .flat_map(|f| f.values.iter().flatten().flatten())
        .all(|by| matches!(by, By::Pk(pk) if targets.contains(pk)))
}

/// The authentik name of what a key part points at (a flow's slug, a stage's name, …), for
/// naming objects keyed by references.
fn target_name(pk: &str, inv: &Inventory) -> String {
    Target::ALL_LOOKUPS
        .iter()
        .find_map(|l| inv.named(*l, pk))
        .cloned()
        .unwrap_or_else(|| pk.to_string())
}

/// The documents for what `inv` holds, in a stable order: kinds as registered, then by
/// resource name; an object no valid document can be written of is left out, with why.
pub fn render(all: &[KindInfo], inv: &Inventory, opts: &Options) -> Rendered {
    let mut entries: Vec<Entry> = Vec::new();
    let mut left_out = Vec::new();
    for kind in all.iter().filter(|k| opts.wants(k.kind)) {
        for body in inv.objects.get(kind.kind).into_iter().flatten() {
            let pk = pk_of(body).unwrap_or_default().to_string();
            let Some((map, key)) = body
                .as_object()
                .and_then(|map| Some((map, key_text(kind.key, map)?)))
            else {
                left_out.push(LeftOut {
                    kind: kind.kind,
                    object: format!("pk {pk:?}"),
                    file: None,
                    reason: format!(
                        "authentik listed it without {} (as {body})",
                        kind.key.join(", ")
                    ),
                });
                continue;
            };
            let (mut spec, notes) = spec_of(kind, map);
            if !binds_a_policy_target(kind, &spec, inv) {
                continue;
            }
            if let Some(policy) = &opts.deletion_policy {
                spec.insert("deletionPolicy".into(), json!(policy));
            }
            entries.push(Entry {
                kind,
                pk,
                key,
                spec,
                notes,
                unmanaged: Vec::new(),
                name: String::new(),
            });
        }
    }
    // Names: objects keyed by one field first, since objects keyed by references (a
    // binding) are named after what they point at.
    let mut by_pk: BTreeMap<String, String> = BTreeMap::new();
    // Objects keyed by one field first, then each kind keyed by references in the
    // registry's order (a policy binding is named after the flow-stage binding it binds to).
    let mut phases: Vec<Option<&str>> = vec![None];
    phases.extend(all.iter().filter(|k| k.key.len() > 1).map(|k| Some(k.kind)));
    for phase in phases {
        let single = phase.is_none();
        let in_phase = |e: &Entry| match phase {
            None => e.kind.key.len() == 1,
            Some(kind) => e.kind.kind == kind,
        };
        for e in entries.iter_mut().filter(|e| in_phase(e)) {
            let parts: Vec<String> = e
                .kind
                .key
                .iter()
                .map(|field| {
                    let value = e.spec.get(e.kind.spec_key(field).unwrap_or(field));
                    let pk = value.and_then(|v| v.get("pk")).map(|pk| match pk {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    match pk {
                        Some(pk) => by_pk
                            .get(&pk)
                            .cloned()
                            .unwrap_or_else(|| resource_name(&target_name(&pk, inv))),
                        None if single => e.key.clone(),
                        None => e.key_part(field),
                    }
                })
                // A key part that is not set (a policy binding binds one of a policy, a
                // group or a user) is left out of the name.
                .filter(|part| !part.is_empty())
                .collect();
            e.name = resource_name(&parts.join("-"));
        }
        // Filters apply to the authentik name, or for objects keyed by references to
        // what they point at.
        if opts.has_name_filter() {
            entries.retain(|e| {
                if !in_phase(e) {
                    return true;
                }
                let texts = e.filter_texts(inv);
                texts.iter().any(|t| opts.name_matches(t))
            });
        }
        for kind in all {
            let mut group: Vec<&mut Entry> = entries
                .iter_mut()
                .filter(|e| e.kind.kind == kind.kind && in_phase(e))
                .collect();
            group.sort_by(|a, b| (&a.name, &a.key).cmp(&(&b.name, &b.key)));
            let mut names: Vec<String> = group.iter().map(|e| e.name.clone()).collect();
            distinct(&mut names);
            for (e, n) in group.into_iter().zip(names) {
                e.name = n;
                by_pk.insert(e.pk.clone(), e.name.clone());
            }
        }
    }
    // A reference to an object left out must not name its resource: once some are left
    // out, the documents are written again without them (by slug, name or pk instead).
    let mut exported: BTreeMap<&str, (&str, &str)> = entries
        .iter()
        .map(|e| (e.pk.as_str(), (e.kind.kind, e.name.as_str())))
        .collect();
    let (mut docs, mut out) = documents(&entries, &exported, inv, opts);
    while out.iter().any(|(pk, _)| exported.contains_key(pk.as_str())) {
        for (pk, _) in &out {
            exported.remove(pk.as_str());
        }
        (docs, out) = documents(&entries, &exported, inv, opts);
    }
    left_out.extend(out.into_iter().map(|(_, l)| l));
    let order = |d: &Document| all.iter().position(|k| k.kind == d.kind);
    docs.sort_by(|a, b| (order(a), &a.name).cmp(&(order(b), &b.name)));
    Rendered { docs, left_out }
}

/// The documents of `entries`, and the objects left out (by pk).
fn documents(
    entries: &[Entry],
    exported: &BTreeMap<&str, (&str, &str)>,
    inv: &Inventory,
    opts: &Options,
) -> (Vec<Document>, Vec<(String, LeftOut)>) {
    let mut docs = Vec::new();
    let mut left_out = Vec::new();
    for e in entries.iter().map(Entry::cloned) {
        let (pk, kind, object) = (e.pk.clone(), e.kind.kind, (e.kind.describe_key)(&e.key));
        let file = format!("{}/{}.yaml", e.kind.plural, e.name);
        match document(e, exported, inv, opts) {
            Ok(doc) => docs.push(doc),
            Err(reason) => left_out.push((
                pk,
                LeftOut {
                    kind,
                    object,
                    file: Some(file),
                    reason,
                },
            )),
        }
    }
    (docs, left_out)
}

/// The document of one named object: its references made portable, checked as it will be
/// applied. `Err`: why no valid document of it can be written.
fn document(
    mut e: Entry,
    exported: &BTreeMap<&str, (&str, &str)>,
    inv: &Inventory,
    opts: &Options,
) -> Result<Document, String> {
    keep_readable(&mut e)?;
    let doc = resource(e.kind, &e.name, opts.namespace.as_deref(), &e.spec);
    for field in (e.kind.references)(&doc)? {
        let Some(values) = &field.values else {
            continue;
        };
        let mapped: Vec<Value> = values
            .iter()
            .map(|by| match by {
                Some(By::Pk(pk)) => portable(field.target, pk, exported, inv),
                _ => Value::Null,
            })
            .collect();
        let value = if field.many {
            Value::Array(mapped)
        } else {
            mapped.into_iter().next().unwrap_or(Value::Null)
        };
        e.spec.insert(field.spec_field.to_string(), value);
    }
    let mut doc = resource(e.kind, &e.name, opts.namespace.as_deref(), &e.spec);
    let problems = check_as_applied(&mut e, &mut doc, opts)?;
    let yaml = (e.kind.to_yaml)(&doc)?;
    let mut text = String::new();
    for note in &e.notes {
        text.push_str(&format!("# {note}\n"));
    }
    text.push_str(&yaml);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(Document {
        kind: e.kind.kind,
        plural: e.kind.plural.clone(),
        name: e.name.clone(),
        text,
        problems,
        unmanaged: e.unmanaged,
    })
}

impl Entry<'_> {
    fn cloned(&self) -> Self {
        Entry {
            kind: self.kind,
            pk: self.pk.clone(),
            key: self.key.clone(),
            spec: self.spec.clone(),
            notes: self.notes.clone(),
            unmanaged: self.unmanaged.clone(),
            name: self.name.clone(),
        }
    }

    /// The text of one key field as authentik holds it.
    fn key_part(&self, field: &str) -> String {
        match self.spec.get(self.kind.spec_key(field).unwrap_or(field)) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    }

    /// What the name filters look at: the key, or the names of what the key points at.
    fn filter_texts(&self, inv: &Inventory) -> Vec<String> {
        if self.kind.key.len() == 1 {
            return vec![self.key.clone()];
        }
        self.kind
            .key
            .iter()
            .filter_map(|f| {
                let v = self.spec.get(self.kind.spec_key(f).unwrap_or(f))?;
                Some(target_name(v.get("pk")?.as_str()?, inv))
            })
            .collect()
    }
}

/// What `export` did: what to print on stdout, and whether everything authentik holds was
/// exported as valid documents (else each exception was warned about on stderr).
pub struct Outcome {
    pub stdout: Option<String>,
    pub complete: bool,
}

/// The whole command: fetch, render, write. An error only for what stops the whole export
/// (authentik unreachable, the token refused, a folder not writable).
pub async fn run(args: &super::ExportArgs) -> Result<Outcome, String> {
    let all = kinds();
    let opts = Options {
        kinds: args.kind.clone(),
        name_prefix: args.name_prefix.clone(),
        name_pattern: args.name_pattern.clone(),
        namespace: args.namespace.clone(),
        deletion_policy: Some(args.deletion_policy.clone()),
    };
    opts.check_kinds(&all)?;
    let client = super::connect::client(&args.authentik)?
        .ok_or("export needs --authentik-url (or AUTHENTIK_URL)")?;
    let inv = fetch(&client, &all, &opts).await?;
    for (kind, why) in &inv.unserved {
        eprintln!("note: this authentik has no {kind} (an older release: {why}); none exported");
    }
    let rendered = render(&all, &inv, &opts);
    let warnings = rendered.warnings();
    for w in &warnings {
        eprintln!("{w}");
    }
    let complete = warnings.is_empty();
    let docs = &rendered.docs;
    match &args.out {
        Some(dir) if dir.as_os_str() != "-" => {
            // With name filters, files of objects filtered out stay: they are not stale.
            let prune: Vec<String> = if opts.has_name_filter() {
                Vec::new()
            } else {
                all.iter()
                    .filter(|k| opts.wants(k.kind))
                    .map(|k| k.plural.clone())
                    .collect()
            };
            let keep: Vec<String> = rendered
                .left_out
                .iter()
                .filter_map(|l| l.file.clone())
                .collect();
            write_folder(dir, docs, &prune, &keep)?;
            Ok(Outcome {
                stdout: None,
                complete,
            })
        }
        _ => Ok(Outcome {
            stdout: Some(stream(docs)),
            complete,
        }),
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
