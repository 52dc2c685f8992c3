//! What `kubectl apply` refuses, naming the rule.

use crate::common::Env;
use authentik_sim::Profile;

/// What authentik would refuse is refused at `kubectl apply`, naming the rule.
#[tokio::test]
async fn kubectl_apply_refuses_what_authentik_would() {
    let env = Env::new(Profile::Current).await;
    let head = "apiVersion: authentik-operator.io/v1alpha1";
    let refused = [
        (
            format!(
                "{head}\nkind: ReputationPolicy\nmetadata: {{name: r}}\nspec: {{threshold: -5}}\n"
            ),
            "set checkIp or checkUsername (or both) to true",
        ),
        (
            format!(
                "{head}\nkind: ReputationPolicy\nmetadata: {{name: r}}\nspec: {{checkIp: false, checkUsername: false}}\n"
            ),
            "set checkIp or checkUsername (or both) to true",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: Flow, name: f}}}}\n  policy: {{name: p}}\n  group: {{name: g}}\n  order: 0\n"
            ),
            "set exactly one of policy, group or user",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: Flow, name: f}}}}\n  order: 0\n"
            ),
            "set exactly one of policy, group or user",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: Flow, name: f}}, pk: 0b7a0c51-0000-4000-8000-000000000001}}\n  user: {{username: u}}\n  order: 0\n"
            ),
            "exactly one of ref or pk must be set",
        ),
        (
            format!(
                "{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{ref: {{kind: PasswordStage, name: f}}}}\n  user: {{username: u}}\n  order: 0\n"
            ),
            "spec.target.ref.kind",
        ),
    ];
    for (manifest, rule) in &refused {
        let out = env.kubectl(&["apply", "-f", "-"], Some(manifest));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted:\n{manifest}");
        assert!(stderr.contains(rule), "{rule:?} not in:\n{stderr}");
    }
    let fine = format!(
        "{head}\nkind: ReputationPolicy\nmetadata: {{name: r}}\nspec: {{checkUsername: true}}\n---\n{head}\nkind: PolicyBinding\nmetadata: {{name: b}}\nspec:\n  target: {{pk: 0b7a0c51-0000-4000-8000-000000000001}}\n  user: {{pk: 7}}\n  order: 0\n"
    );
    let out = env.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&fine));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
