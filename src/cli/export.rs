//! `authentik-operator export`: what authentik holds, as manifests of the registered kinds.
//! Fetching is [`fetch`]; everything after it is the pure [`render`], so the naming, the
//! order and the reference mapping are tested without a server.

use super::export_options::Options;
use super::export_output::{Document, stream, write_folder};
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
];

/// What authentik holds, as fetched.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Per kind (by kind name): its objects.
    pub objects: BTreeMap<&'static str, Vec<Value>>,
    /// Per lookup endpoint (see [`Target::lookup`]): pk → natural key (a flow's slug, a
    /// stage's name, a user's username): how references to objects not exported are written.
    pub names: BTreeMap<&'static str, BTreeMap<String, String>>,
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
        inv.objects
            .insert(k.kind, list(k.endpoint, k.ordering).await?);
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
struct Entry<'a> {
    kind: &'a KindInfo,
    pk: String,
    key: String,
    /// The spec, references still as `{pk}`.
    spec: Map<String, Value>,
    /// Comment lines.
    notes: Vec<String>,
    name: String,
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
fn resource(kind: &KindInfo, name: &str, ns: Option<&str>, spec: &Map<String, Value>) -> Value {
    let mut meta = json!({"name": name});
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    json!({"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec})
}

/// Moves spec fields the kind's type refuses (a value from a newer authentik, say) into
/// comments, one at a time, until the rest reads.
fn keep_readable(entry: &mut Entry) -> Result<(), String> {
    let doc = |spec: &Map<String, Value>| resource(entry.kind, "x", None, spec);
    let Err(first) = (entry.kind.check)(&doc(&entry.spec)) else {
        return Ok(());
    };
    let keys: Vec<String> = entry.spec.keys().cloned().collect();
    for key in keys {
        let mut without = entry.spec.clone();
        let Some(value) = without.remove(&key) else {
            continue;
        };
        if (entry.kind.check)(&doc(&without)).is_ok() {
            entry.notes.push(format!(
                "authentik holds a value of {key} this operator does not accept (left out, unmanaged): {value}"
            ));
            entry.spec = without;
            return Ok(());
        }
    }
    Err(format!(
        "cannot export the {} {}: {first}",
        entry.kind.kind,
        (entry.kind.describe_key)(&entry.key)
    ))
}

/// Validates the document as the API server will (the CRD's schema and rules): a field
/// whose value it refuses goes into a comment; what still fails is returned and noted.
fn check_as_applied(e: &mut Entry, doc: &mut Value, opts: &Options) -> Vec<String> {
    let errors = super::validate::validate(e.kind, doc).errors;
    let own_keys: Vec<&str> = e
        .kind
        .key
        .iter()
        .filter_map(|k| e.kind.spec_key(k))
        .collect();
    let mut moved = false;
    for error in &errors {
        let Some(rest) = error.strip_prefix("spec.") else {
            continue;
        };
        let field: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if own_keys.contains(&field.as_str()) {
            continue;
        }
        if let Some(value) = e.spec.remove(&field) {
            e.notes.push(format!(
                "authentik holds a value of {field} this operator's CRD refuses (left out, unmanaged): {value} ({error})"
            ));
            moved = true;
        }
    }
    if moved {
        *doc = resource(e.kind, &e.name, opts.namespace.as_deref(), &e.spec);
    }
    let left = if moved {
        super::validate::validate(e.kind, doc).errors
    } else {
        errors
    };
    for problem in &left {
        e.notes.push(format!(
            "kubectl apply will refuse this document: {problem}"
        ));
    }
    left
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
    if let Some(lookup) = target.lookup()
        && let Some(key) = inv.named(lookup, pk)
    {
        return json!({ lookup.by: key });
    }
    match target.pk_value(pk) {
        Value::String(_) => json!({"pk": pk}),
        number => json!({"pk": number}),
    }
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
/// resource name.
pub fn render(all: &[KindInfo], inv: &Inventory, opts: &Options) -> Result<Vec<Document>, String> {
    let mut entries: Vec<Entry> = Vec::new();
    for kind in all.iter().filter(|k| opts.wants(k.kind)) {
        for body in inv.objects.get(kind.kind).into_iter().flatten() {
            let Some(map) = body.as_object() else {
                return Err(format!(
                    "authentik listed a {} that is not an object",
                    kind.kind
                ));
            };
            let pk = pk_of(body).unwrap_or_default().to_string();
            let key = key_text(kind.key, map).ok_or_else(|| {
                format!("a {} without {} (pk {pk})", kind.kind, kind.key.join(", "))
            })?;
            let (mut spec, notes) = spec_of(kind, map);
            if let Some(policy) = &opts.deletion_policy {
                spec.insert("deletionPolicy".into(), json!(policy));
            }
            entries.push(Entry {
                kind,
                pk,
                key,
                spec,
                notes,
                name: String::new(),
            });
        }
    }
    // Names: objects keyed by one field first, since objects keyed by references (a
    // binding) are named after what they point at.
    let mut by_pk: BTreeMap<String, String> = BTreeMap::new();
    for single in [true, false] {
        for e in entries
            .iter_mut()
            .filter(|e| (e.kind.key.len() == 1) == single)
        {
            let parts: Vec<String> = e
                .kind
                .key
                .iter()
                .map(|field| {
                    let value = e.spec.get(e.kind.spec_key(field).unwrap_or(field));
                    match value.and_then(|v| v.get("pk")).and_then(Value::as_str) {
                        Some(pk) => by_pk
                            .get(pk)
                            .cloned()
                            .unwrap_or_else(|| resource_name(&target_name(pk, inv))),
                        None if single => e.key.clone(),
                        None => e.key_part(field),
                    }
                })
                .collect();
            e.name = resource_name(&parts.join("-"));
        }
        // Filters apply to the authentik name, or for objects keyed by references to
        // what they point at.
        if opts.has_name_filter() {
            entries.retain(|e| {
                if (e.kind.key.len() == 1) != single {
                    return true;
                }
                let texts = e.filter_texts(inv);
                texts.iter().any(|t| opts.name_matches(t))
            });
        }
        for kind in all {
            let mut group: Vec<&mut Entry> = entries
                .iter_mut()
                .filter(|e| e.kind.kind == kind.kind && (e.kind.key.len() == 1) == single)
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
    let exported: BTreeMap<&str, (&str, &str)> = entries
        .iter()
        .map(|e| (e.pk.as_str(), (e.kind.kind, e.name.as_str())))
        .collect();
    let mut docs = Vec::new();
    for mut e in entries.iter().map(Entry::cloned) {
        keep_readable(&mut e)?;
        let doc = resource(e.kind, &e.name, opts.namespace.as_deref(), &e.spec);
        for field in (e.kind.references)(&doc)? {
            let Some(values) = &field.values else {
                continue;
            };
            let mapped: Vec<Value> = values
                .iter()
                .map(|by| match by {
                    Some(By::Pk(pk)) => portable(field.target, pk, &exported, inv),
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
        let problems = check_as_applied(&mut e, &mut doc, opts);
        (e.kind.check)(&doc).map_err(|err| {
            format!(
                "the export of the {} {} does not read back: {err}",
                e.kind.kind, e.key
            )
        })?;
        let yaml = (e.kind.to_yaml)(&doc)?;
        let mut text = String::new();
        for note in &e.notes {
            text.push_str(&format!("# {note}\n"));
        }
        text.push_str(&yaml);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        docs.push(Document {
            kind: e.kind.kind,
            plural: e.kind.plural.clone(),
            name: e.name.clone(),
            text,
            problems,
        });
    }
    let order = |d: &Document| all.iter().position(|k| k.kind == d.kind);
    docs.sort_by(|a, b| (order(a), &a.name).cmp(&(order(b), &b.name)));
    Ok(docs)
}

impl Entry<'_> {
    fn cloned(&self) -> Self {
        Entry {
            kind: self.kind,
            pk: self.pk.clone(),
            key: self.key.clone(),
            spec: self.spec.clone(),
            notes: self.notes.clone(),
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

/// The whole command: fetch, render, write. Returns what to print on stdout.
pub async fn run(args: &super::ExportArgs) -> Result<Option<String>, String> {
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
    let docs = render(&all, &inv, &opts)?;
    for d in &docs {
        for p in &d.problems {
            eprintln!("warning: {} {}: {p}", d.kind, d.name);
        }
    }
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
            write_folder(dir, &docs, &prune)?;
            Ok(None)
        }
        _ => Ok(Some(stream(&docs))),
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
