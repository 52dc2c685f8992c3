//! The same manifests, applied in two namespaces whose AuthentikConnection points at two
//! different authentik instances, give two sets of stages with different pks. In its own
//! test binary: the operator here watches all namespaces.

mod common;

use authentik_operator::kinds::{
    Flow, FlowStageBinding, IdentificationStage, PasswordStage, UserLoginStage,
};
use authentik_sim::Profile;
use common::{Env, another_sim, is_ready, put_token_secret};
use kube::api::Api;

const MANIFESTS: &str = include_str!("../deploy/examples/login-flow.yaml");

#[tokio::test]
async fn same_manifests_two_authentiks_two_sets_of_stages() {
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = vec!["--namespace".into(), String::new()];
    env.start_operator().await;
    let cp = testenv::shared();
    let staging = another_sim(Profile::Current, "staging-token").await;
    let production = another_sim(Profile::V2024_4, "production-token").await;
    let mut pks = Vec::new();
    for (sim, token) in [
        (&staging, "staging-token"),
        (&production, "production-token"),
    ] {
        let ns = cp.create_namespace("two").expect("namespace");
        put_token_secret(&env, &ns, "authentik-token", token).await;
        let conn = format!(
            "apiVersion: authentik-operator.io/v1alpha1\nkind: AuthentikConnection\nmetadata:\n  name: authentik\nspec:\n  url: {}\n  tokenSecretRef: {{name: authentik-token, key: token}}\n",
            sim.url()
        );
        // The examples, each pointed at this namespace's connection.
        let manifests =
            MANIFESTS.replace("\nspec:\n", "\nspec:\n  connectionRef: {name: authentik}\n");
        for doc in [conn, manifests] {
            let out = cp
                .kubectl()
                .args(["apply", "-n", &ns, "-f", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin.take().expect("stdin").write_all(doc.as_bytes())?;
                    c.wait_with_output()
                })
                .expect("kubectl");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut set = Vec::new();
        let pw_api: Api<PasswordStage> = Api::namespaced(env.client.clone(), &ns);
        let id_api: Api<IdentificationStage> = Api::namespaced(env.client.clone(), &ns);
        let ul_api: Api<UserLoginStage> = Api::namespaced(env.client.clone(), &ns);
        set.push(wait_pk(&pw_api, "login-password").await);
        set.push(wait_pk(&id_api, "login-identification").await);
        set.push(wait_pk(&ul_api, "login-session").await);
        for pk in &set {
            assert!(
                sim.control().stage(pk).is_some(),
                "{pk} is in its own authentik"
            );
        }
        // The flow and its bindings, each in its own authentik, bound to its own stages.
        let flow_api: Api<Flow> = Api::namespaced(env.client.clone(), &ns);
        let binding_api: Api<FlowStageBinding> = Api::namespaced(env.client.clone(), &ns);
        set.push(wait_pk(&flow_api, "example-login").await);
        for b in [
            "example-login-10-identification",
            "example-login-20-password",
            "example-login-100-session",
        ] {
            let pk = wait_pk(&binding_api, b).await;
            let bound = sim.control().binding(&pk).expect("in its own authentik");
            assert!(set.contains(&bound["stage"].as_str().unwrap_or_default().to_string()));
            set.push(pk);
        }
        assert_eq!(sim.control().binding_count("example-login"), 3);
        pks.push(set);
    }
    for (a, b) in pks[0].iter().zip(&pks[1]) {
        assert_ne!(a, b, "pks differ per instance");
    }
    assert_eq!(
        env.sim.control().stages("password").len(),
        1,
        "the default authentik has only its seed"
    );
}

async fn wait_pk<K: authentik_operator::crd::kind::Kind>(api: &Api<K>, name: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(obj) = api.get_opt(name).await.expect("get")
            && is_ready(&obj)
        {
            return obj.status().and_then(|s| s.pk.clone()).expect("pk");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never became Ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
