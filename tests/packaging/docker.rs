//! The Docker build context that `.dockerignore` leaves.

use crate::helpers::{ROOT, TMP, path};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A `.dockerignore` pattern (Go `filepath.Match` per segment, `**` for any number of
/// segments) against a slash-separated path relative to the build context.
fn docker_ignore_matches(pattern: &[&str], path: &[&str]) -> bool {
    fn segment(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => segment(&p[1..], s) || (!s.is_empty() && segment(p, &s[1..])),
            (Some(b'?'), Some(_)) => segment(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => segment(&p[1..], &s[1..]),
            _ => false,
        }
    }
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            docker_ignore_matches(&pattern[1..], path)
                || (!path.is_empty() && docker_ignore_matches(pattern, &path[1..]))
        }
        (Some(p), Some(s)) => {
            segment(p.as_bytes(), s.as_bytes()) && docker_ignore_matches(&pattern[1..], &path[1..])
        }
        _ => false,
    }
}

#[test]
fn docker_build_context_holds_the_whole_workspace() {
    let ignore = std::fs::read_to_string(path(".dockerignore")).unwrap();
    let patterns: Vec<Vec<&str>> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            assert!(
                !l.starts_with('!'),
                "exceptions are not supported here: {l}"
            );
            l.trim_matches('/').split('/').collect()
        })
        .collect();
    // A path is left out when it or a parent folder matches.
    let ignored = |rel: &[&str]| {
        (1..=rel.len()).any(|n| patterns.iter().any(|p| docker_ignore_matches(p, &rel[..n])))
    };
    let context = Path::new(TMP).join(testenv::unique_namespace("docker-context"));
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if dir == root && (name == ".git" || name == "target") {
                continue; // ignored anyway, and large
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                out.push(entry.path());
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(ROOT), Path::new(ROOT), &mut files);
    let mut copied = 0;
    for file in files {
        let rel = file
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = rel.split('/').collect();
        if ignored(&parts) {
            continue;
        }
        let target = context.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
        copied += 1;
    }
    assert!(copied > 0);
    for kept in ["Cargo.toml", "Cargo.lock", "src/main.rs", "Dockerfile"] {
        assert!(
            context.join(kept).is_file(),
            "{kept} is not in the build context"
        );
    }
    for left_out in ["charts", "deploy", "target", "tests/packaging"] {
        assert!(
            !context.join(left_out).exists(),
            "{left_out} is in the build context"
        );
    }
    // What the Dockerfile's `cargo build --locked -p authentik-operator` needs first: every
    // workspace member's manifest and targets, and a Cargo.lock that is up to date. Only this
    // platform's packages are loaded: they are the ones the test build itself downloaded,
    // while other platforms' (Windows-only crates) are in a cache only by chance.
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(&context)
        .stdin(Stdio::null())
        .output()
        .expect("cargo metadata");
    let _ = std::fs::remove_dir_all(&context);
    assert!(
        out.status.success(),
        "the Docker build context does not hold a loadable workspace (check .dockerignore):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The platform this test runs on, as rustc names it.
fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}
