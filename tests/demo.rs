//! The README's quick-start command works: `deploy/demo.sh` brings up the control plane, the
//! simulator and the operator, applies deploy/examples, and shows every resource Ready.

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
    let examples =
        std::fs::read_to_string(format!("{root}/deploy/examples/login-flow.yaml")).unwrap();
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
}
