//! The README's quick-start command works: `deploy/demo.sh` brings up the control plane, the
//! simulator and the operator, applies deploy/examples, shows every resource Ready, then a
//! change in authentik put back and a bad manifest refused.

use std::process::Command;

#[test]
fn the_quick_start_demo_shows_every_example_ready() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/deploy/demo.sh"))
        .current_dir(root)
        .output()
        .expect("run deploy/demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Every example the demo applies (the whole folder).
    let mut examples = String::new();
    for entry in std::fs::read_dir(format!("{root}/deploy/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            examples.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let kinds = examples.lines().filter(|l| l.starts_with("kind:")).count();
    let ready_rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(".authentik-operator.io/"))
        .filter(|l| {
            l.split_whitespace().nth(1) == Some("True")
                && l.split_whitespace().nth(2) == Some("True")
        })
        .collect();
    assert_eq!(
        ready_rows.len(),
        kinds,
        "every example Ready and Synced:\n{stdout}"
    );
    assert!(
        stdout.contains("AUTHENTIK NAME"),
        "printer columns shown:\n{stdout}"
    );

    // The drift step really happened: authentik was changed, then put back, and the event
    // is what `kubectl describe` shows.
    let drift = stdout
        .split("--- 1. Drift")
        .nth(1)
        .unwrap_or_else(|| panic!("no drift step:\n{stdout}"));
    assert!(drift.contains("authentik now says 99"), "{drift}");
    assert!(drift.contains("authentik says 5 again"), "{drift}");
    let events = drift.split("Events:").nth(1).unwrap_or_default();
    assert!(
        events
            .lines()
            .any(|l| l.contains("DriftCorrected") && l.contains("failedAttemptsBeforeCancel")),
        "the DriftCorrected event in kubectl describe:\n{drift}"
    );

    // The refusal step: the API server's own message, naming the field; nothing created.
    let refusal = stdout
        .split("--- 2. A bad manifest")
        .nth(1)
        .unwrap_or_else(|| panic!("no refusal step:\n{stdout}"));
    assert!(
        refusal.contains("spec.backends[0]: Unsupported value"),
        "{refusal}"
    );
    assert!(
        refusal.contains("(nothing was created: Error from server (NotFound)"),
        "{refusal}"
    );
}
