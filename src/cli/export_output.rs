//! How `export` hands its documents over: one YAML stream, or a folder of one file per
//! object, from which objects deleted in authentik disappear; and what it warns about.

/// One exported object.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: &'static str,
    pub plural: String,
    pub name: String,
    /// Why `kubectl apply` would refuse the document as it is (also in its comments).
    pub problems: Vec<String>,
    /// Values authentik holds that the document leaves out because they are refused (also
    /// in its comments).
    pub unmanaged: Vec<String>,
    /// The document: comments about what authentik holds that the spec does not, then the
    /// YAML of the resource.
    pub text: String,
}

/// An object no valid document can be written of (its identity is refused, or it does not
/// read as the kind at all): left out of the export, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftOut {
    pub kind: &'static str,
    /// The object as messages name it (`flow with slug "x"`).
    pub object: String,
    /// Its file (`<plural>/<name>.yaml`) when it was named: an earlier export's file of it
    /// is kept, since removing it would delete the resource on the next sync.
    pub file: Option<String>,
    pub reason: String,
}

/// What an export found: the documents, and the objects left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    pub docs: Vec<Document>,
    pub left_out: Vec<LeftOut>,
}

impl Rendered {
    /// One line for stderr per thing not exported as authentik holds it: an object left
    /// out, a document that would be refused, a value left out of a document.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .left_out
            .iter()
            .map(|l| {
                format!(
                    "warning: {} {}: left out, no valid resource can hold it: {}",
                    l.kind, l.object, l.reason
                )
            })
            .collect();
        for d in &self.docs {
            for p in &d.problems {
                out.push(format!(
                    "warning: {} {}: kubectl apply will refuse this document: {p}",
                    d.kind, d.name
                ));
            }
            for u in &d.unmanaged {
                out.push(format!("warning: {} {}: {u}", d.kind, d.name));
            }
        }
        out
    }
}

/// All documents as one multi-document YAML stream.
pub fn stream(docs: &[Document]) -> String {
    docs.iter().map(|d| format!("---\n{}", d.text)).collect()
}

/// Writes one file per document under `dir/<plural>/<name>.yaml`. `prune` lists the
/// folders whose other YAML files go (objects deleted in authentik disappear from git too),
/// except the files `keep` names (`<plural>/<name>.yaml`: objects left out this time).
pub fn write_folder(
    dir: &std::path::Path,
    docs: &[Document],
    prune: &[String],
    keep: &[String],
) -> Result<(), String> {
    let mut written: std::collections::BTreeSet<_> = keep.iter().map(|f| dir.join(f)).collect();
    for d in docs {
        let folder = dir.join(&d.plural);
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        let path = folder.join(format!("{}.yaml", d.name));
        std::fs::write(&path, &d.text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.insert(path);
    }
    for plural in prune {
        let Ok(listing) = std::fs::read_dir(dir.join(plural)) else {
            continue;
        };
        for entry in listing.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "yaml") && !written.contains(&path) {
                std::fs::remove_file(&path)
                    .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}
