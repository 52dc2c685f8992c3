//! Kubernetes resource names for exported objects. The rule, stated once:
//!
//! 1. A name that is already a valid Kubernetes resource name (an RFC 1123 subdomain:
//!    lower-case letters, digits, `-` and `.`, each dot-separated part starting and ending
//!    with a letter or digit, at most 253 characters) is used as it is.
//! 2. Any other name is lower-cased, every run of other characters becomes one `-`, each
//!    part is trimmed of `-`, the result is cut to fit, and `-` plus eight hex digits of a
//!    hash of the original name is appended: two authentik names that read alike after
//!    step 2 (`Login` and `login!`) still get different resource names, and a name never
//!    depends on which other objects exist, so a re-export diffs cleanly.
//! 3. Should two objects of one kind still end up with one name, the later one in the
//!    export's order gets `-2`, the next `-3`, and so on.

/// Longest resource name Kubernetes accepts for a custom resource.
pub const MAX_NAME: usize = 253;

/// Whether `name` is a valid resource name as it is.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
        })
}

/// FNV-1a, 32 bits: small, and stable across releases and platforms (unlike std's hasher),
/// which a name that ends up in git needs.
fn fnv1a(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The resource name for an object named `name` in authentik (see the module's rule).
pub fn resource_name(name: &str) -> String {
    if is_valid(name) {
        return name.to_string();
    }
    let lowered = name.to_lowercase();
    let parts: Vec<String> = lowered
        .split('.')
        .map(|part| {
            let mut out = String::new();
            for c in part.chars() {
                if c.is_ascii_lowercase() || c.is_ascii_digit() {
                    out.push(c);
                } else if !out.ends_with('-') {
                    out.push('-');
                }
            }
            out.trim_matches('-').to_string()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let suffix = format!("{:08x}", fnv1a(name));
    let mut base = parts.join(".");
    base.truncate(MAX_NAME - suffix.len() - 1);
    let base = base.trim_end_matches(['-', '.']);
    if base.is_empty() {
        format!("x-{suffix}")
    } else {
        format!("{base}-{suffix}")
    }
}

/// Makes the names in `names` distinct, in order: a repeat gets `-2`, `-3`, ... (step 3).
pub fn distinct(names: &mut [String]) {
    let mut seen = std::collections::BTreeSet::new();
    for name in names.iter_mut() {
        if seen.insert(name.clone()) {
            continue;
        }
        let mut n = 2;
        loop {
            let mut candidate = format!("-{n}");
            let mut base = name.clone();
            base.truncate(MAX_NAME - candidate.len());
            candidate.insert_str(0, base.trim_end_matches(['-', '.']));
            if seen.insert(candidate.clone()) {
                *name = candidate;
                break;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_name_is_kept_as_it_is() {
        for name in [
            "default-authentication-flow",
            "a",
            "login.v2",
            "x-1",
            &"a".repeat(253),
        ] {
            assert_eq!(resource_name(name), name);
        }
    }

    #[test]
    fn other_names_are_cleaned_and_get_a_stable_hash() {
        let n = resource_name("Welcome to authentik!");
        assert!(n.starts_with("welcome-to-authentik-"), "{n}");
        assert_eq!(n.len(), "welcome-to-authentik-".len() + 8);
        assert!(is_valid(&n));
        // Stable: the same input, the same name (a constant, so a change of hash shows).
        assert_eq!(
            resource_name("Login"),
            format!("login-{:08x}", fnv1a("Login"))
        );
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        // Names that read alike after cleaning differ.
        assert_ne!(resource_name("Login"), resource_name("login!"));
        for odd in [
            "_x_",
            "a..b",
            "-.-",
            "Ünïcode",
            "",
            "a.-b",
            &"Y".repeat(300),
        ] {
            let n = resource_name(odd);
            assert!(is_valid(&n), "{odd:?} → {n:?}");
        }
        assert!(resource_name("!!!").starts_with("x-"));
    }

    #[test]
    fn repeats_are_numbered_in_order() {
        let mut names = vec![
            "a".to_string(),
            "b".into(),
            "a".into(),
            "a".into(),
            "a-2".into(),
        ];
        distinct(&mut names);
        assert_eq!(names, ["a", "b", "a-2", "a-3", "a-2-2"]);
    }
}
