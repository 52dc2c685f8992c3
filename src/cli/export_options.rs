//! Which objects `export` writes (kinds, a name prefix or glob) and what it sets in every
//! document (namespace, deletionPolicy).

use super::registry::KindInfo;

/// Which objects, and how the documents are written.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Kind names to export; empty for all.
    pub kinds: Vec<String>,
    pub name_prefix: Option<String>,
    /// A glob (`*`, `?`) the name must match.
    pub name_pattern: Option<String>,
    pub namespace: Option<String>,
    /// `deletionPolicy` of every document (the CRD's default when `None`).
    pub deletion_policy: Option<String>,
}

impl Options {
    pub(super) fn has_name_filter(&self) -> bool {
        self.name_prefix.is_some() || self.name_pattern.is_some()
    }

    pub(super) fn name_matches(&self, name: &str) -> bool {
        self.name_prefix
            .as_ref()
            .is_none_or(|p| name.starts_with(p))
            && self.name_pattern.as_ref().is_none_or(|p| glob(p, name))
    }

    /// Checks the kind names against the registry.
    pub fn check_kinds(&self, all: &[KindInfo]) -> Result<(), String> {
        for k in &self.kinds {
            if !all.iter().any(|i| i.kind.eq_ignore_ascii_case(k)) {
                let known: Vec<&str> = all.iter().map(|i| i.kind).collect();
                return Err(format!(
                    "--kind {k:?}: not a kind this operator manages (one of {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    pub(super) fn wants(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k.eq_ignore_ascii_case(kind))
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}
