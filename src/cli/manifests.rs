//! The manifests `plan` is given: read from files and folders (YAML or JSON, several
//! documents each), validated from the CRDs as the API server would, and checked as a set.

use super::registry::KindInfo;
use super::validate::{drop_nulls, validate};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One manifest of the set, validated.
#[derive(Clone)]
pub struct Manifest {
    /// Where it was read (`file`, document number).
    pub source: String,
    pub kind: KindInfo,
    pub doc: Value,
    pub namespace: String,
    pub name: String,
}

/// Every YAML or JSON file under `paths` (folders recursively, in name order).
fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            for e in entries {
                let manifest = e
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json");
                if e.is_dir() || manifest {
                    walk(&e, out)?;
                }
            }
        } else {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

/// The documents of the files under `paths`, each with where it came from, and the files
/// that could not be read (the others are read all the same).
pub fn read(paths: &[PathBuf]) -> (Vec<(String, Value)>, Vec<String>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let found = files(paths).unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    });
    for file in found {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        match serde_saphyr::from_multiple::<Value>(&text) {
            Ok(parsed) => {
                for (i, doc) in parsed.into_iter().enumerate() {
                    if !doc.is_null() {
                        docs.push((format!("{} (document {})", file.display(), i + 1), doc));
                    }
                }
            }
            Err(e) => errors.push(format!("{}: not valid YAML: {e}", file.display())),
        }
    }
    (docs, errors)
}

/// The manifests of a set: the valid ones, and what was wrong with the others.
#[derive(Default)]
pub struct Loaded {
    pub set: Vec<Manifest>,
    /// What could not be checked (a rule not evaluated, a connection not followed).
    pub unchecked: Vec<String>,
    /// One message per problem, with the file, the document and the field.
    pub errors: Vec<String>,
    /// The resources whose manifests are invalid, as (kind, namespace, name): a `ref` to one
    /// is to a broken manifest, not to nothing.
    pub rejected: Vec<(String, String, String)>,
}

/// Validates the documents as the API server would and checks the set (known kinds, no
/// resource twice). Every problem is reported, not only the first, and a manifest with
/// problems does not keep the others from the set.
pub fn load(all: &[KindInfo], docs: Vec<(String, Value)>, default_namespace: &str) -> Loaded {
    let mut out: Vec<Manifest> = Vec::new();
    let mut errors = Vec::new();
    let mut unchecked = Vec::new();
    let mut rejected = Vec::new();
    let known: Vec<&str> = all.iter().map(|k| k.kind).collect();
    for (source, mut doc) in docs {
        let text = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (kind_name, api_version) = (text("kind"), text("apiVersion"));
        let Some(kind) = all
            .iter()
            .find(|k| k.kind == kind_name && k.api_version == api_version)
        else {
            errors.push(format!(
                "{source}: unknown kind {kind_name:?} (apiVersion {api_version:?}); this operator manages {} ({})",
                known.join(", "),
                all.first().map(|k| k.api_version.as_str()).unwrap_or_default()
            ));
            continue;
        };
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !super::names::is_valid(&name) {
            errors.push(format!(
                "{source}: {kind_name} metadata.name {name:?} is not a valid resource name"
            ));
            continue;
        }
        let namespace = doc
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(default_namespace)
            .to_string();
        doc["metadata"]["namespace"] = Value::String(namespace.clone());
        drop_nulls(&mut doc);
        let what = format!("{source}: {kind_name} {namespace}/{name}");
        let verdict = validate(kind, &doc);
        errors.extend(verdict.errors.iter().map(|e| format!("{what}: {e}")));
        unchecked.extend(verdict.unchecked.iter().map(|e| format!("{what}: {e}")));
        if !verdict.errors.is_empty() {
            rejected.push((kind.kind.to_string(), namespace, name));
            continue;
        }
        if let Some(conn) = doc.pointer("/spec/connectionRef") {
            unchecked.push(format!(
                "{what}: its connectionRef {conn} is not followed; it is compared with the authentik of --authentik-url"
            ));
        }
        if let Some(first) = out
            .iter()
            .find(|m| m.kind.kind == kind.kind && m.namespace == namespace && m.name == name)
        {
            errors.push(format!("{what}: the same resource as {}", first.source));
            continue;
        }
        out.push(Manifest {
            source,
            kind: kind.clone(),
            doc,
            namespace,
            name,
        });
    }
    Loaded {
        set: out,
        unchecked,
        errors,
        rejected,
    }
}
