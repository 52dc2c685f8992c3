//! `authentik-operator plan` of policies and policy bindings against the simulator: a new
//! set is created; once it is in authentik, an order change of a binding applied before is
//! an update of that binding (the operator PATCHes it), not a create; nothing is written.

use authentik_sim::{Profile, SimConfig, Simulator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_authentik-operator");
const TOKEN: &str = "plan-policies-token-0123456789";

const SET: &str = "apiVersion: authentik-operator.io/v1alpha1
kind: Flow
metadata: {name: gated}
spec: {name: Gated, title: Gated, designation: authorization}
---
apiVersion: authentik-operator.io/v1alpha1
kind: ExpressionPolicy
metadata: {name: office-network}
spec:
  expression: |
    return ak_client_ip in ip_network(\"10.0.0.0/8\")
---
apiVersion: authentik-operator.io/v1alpha1
kind: PolicyBinding
metadata: {name: gated-office}
spec:
  target: {ref: {kind: Flow, name: gated}}
  policy: {ref: {kind: ExpressionPolicy, name: office-network}}
  order: 0
---
apiVersion: authentik-operator.io/v1alpha1
kind: PolicyBinding
metadata: {name: gated-admins}
spec:
  target: {ref: {kind: Flow, name: gated}}
  group: {name: admins}
  order: 10
  negate: true
";

struct Setup {
    sim: Simulator,
    dir: PathBuf,
    token: PathBuf,
}

impl Setup {
    async fn new() -> Setup {
        let sim = Simulator::start(SimConfig {
            token: TOKEN.into(),
            profile: Profile::Current,
            seed: true,
        })
        .await
        .expect("simulator");
        let dir = std::env::temp_dir().join(format!(
            "ak-plan-policies-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, TOKEN).unwrap();
        Setup { sim, dir, token }
    }

    async fn plan(&self, set: &str, extra: &[&str]) -> (String, String, Option<i32>) {
        let file = self.dir.join("set.yaml");
        std::fs::write(&file, set).unwrap();
        let out: Output = tokio::process::Command::new(BIN)
            .arg("plan")
            .arg("-f")
            .arg(&file)
            .args(["--namespace", "iam", "--authentik-url", &self.sim.url()])
            .arg("--authentik-token-file")
            .arg(&self.token)
            .args(extra)
            .env_remove("AUTHENTIK_TOKEN")
            .env_remove("AUTHENTIK_URL")
            .output()
            .await
            .expect("run plan");
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
            out.status.code(),
        )
    }

    fn api(&self, method: &str, path: &str, body: Value) -> Value {
        let r = self.sim.control().api(method, path, Some(body));
        assert!(r.status < 300, "{method} {path}: {r:?}");
        r.body
    }

    fn writes(&self) -> Vec<String> {
        self.sim
            .control()
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

#[tokio::test]
async fn a_policy_binding_set_is_created_then_an_order_change_is_an_update() {
    let s = Setup::new().await;
    let group = s.api("POST", "core/groups/", json!({"name": "admins"}));
    s.sim.control().clear_requests();

    let (stdout, stderr, code) = s.plan(SET, &[]).await;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    for line in [
        "Flow iam/gated (flow with slug \"gated\"): create",
        "ExpressionPolicy iam/office-network (policy named \"office-network\"): create",
        "PolicyBinding iam/gated-office (policy binding of policy ExpressionPolicy iam/office-network to Flow iam/gated at order 0): create",
        "    + policy: \"(known after apply)\"  (ref ExpressionPolicy \"office-network\")",
        "PolicyBinding iam/gated-admins (policy binding of group name \"admins\" to Flow iam/gated at order 10): create",
        &format!("    + group: {}  (name \"admins\")", group["pk"]),
        "    + negate: true",
        "Plan: 4 to create.",
    ] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}");
    }

    // What the operator made of the set: the same objects in authentik.
    let flow = s.api(
        "POST",
        "flows/instances/",
        json!({"name": "Gated", "slug": "gated", "title": "Gated", "designation": "authorization"}),
    );
    let policy = s.api(
        "POST",
        "policies/expression/",
        json!({"name": "office-network", "expression": "return ak_client_ip in ip_network(\"10.0.0.0/8\")\n"}),
    );
    let office = s.api(
        "POST",
        "policies/bindings/",
        json!({"target": flow["pk"], "policy": policy["pk"], "order": 0}),
    );
    s.api(
        "POST",
        "policies/bindings/",
        json!({"target": flow["pk"], "group": group["pk"], "order": 10, "negate": true}),
    );
    s.sim.control().clear_requests();
    let (stdout, stderr, code) = s.plan(SET, &["--applied"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("Plan: 4 unchanged."), "{stdout}");

    // The office policy first: the same binding at another order.
    let reordered = SET.replace("  order: 0\n", "  order: 20\n");
    let (stdout, stderr, code) = s.plan(&reordered, &["--applied"]).await;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let pk = office["pk"].as_str().expect("a pk");
    for line in [
        &format!(
            "PolicyBinding iam/gated-office (policy binding of policy ExpressionPolicy iam/office-network to Flow iam/gated at order 20, pk {pk}): update\n    ~ order: 0 → 20\n"
        ),
        "Plan: 1 to update, 3 unchanged.",
    ] {
        assert!(stdout.contains(line.as_str()), "{line:?} not in:\n{stdout}");
    }
    // Applied for the first time (no --applied), the binding found at another order is not
    // this one: a create.
    let (stdout, _, code) = s.plan(&reordered, &[]).await;
    assert_eq!(code, Some(2));
    assert!(
        stdout.contains("to Flow iam/gated at order 20): create"),
        "{stdout}"
    );
    assert!(s.writes().is_empty(), "plan wrote: {:?}", s.writes());
    let _ = std::fs::remove_dir_all(&s.dir);
}
