//! How `export` hands its documents over: one YAML stream, or a folder of one file per
//! object, from which objects deleted in authentik disappear.

/// One exported object.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: &'static str,
    pub plural: String,
    pub name: String,
    /// Why `kubectl apply` would refuse the document as it is (also in its comments).
    pub problems: Vec<String>,
    /// The document: comments about what authentik holds that the spec does not, then the
    /// YAML of the resource.
    pub text: String,
}

/// All documents as one multi-document YAML stream.
pub fn stream(docs: &[Document]) -> String {
    docs.iter().map(|d| format!("---\n{}", d.text)).collect()
}

/// Writes one file per document under `dir/<plural>/<name>.yaml`. `prune` lists the
/// folders whose other YAML files go (objects deleted in authentik disappear from git too).
pub fn write_folder(
    dir: &std::path::Path,
    docs: &[Document],
    prune: &[String],
) -> Result<(), String> {
    let mut written = std::collections::BTreeSet::new();
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
