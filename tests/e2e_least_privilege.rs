//! Least privilege, proven: the operator runs with nothing but the RBAC the project ships
//! (deploy/base/rbac.yaml, which tests/packaging/ holds equal to the Helm chart's), as a
//! ServiceAccount with a token from the TokenRequest API, and the whole happy path passes:
//! create, reference, update, drift, connections, leader election, events, delete. Calls
//! outside those rules are refused.

mod common;

use authentik_operator::crd::AuthentikConnection;
use authentik_operator::kinds::{
    Flow, FlowStageBinding, IdentificationStage, PasswordStage, UserLoginStage,
};
use authentik_sim::Profile;
use common::{Env, TOKEN, authentik, body, is_ready, put_token_secret};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

const SA: &str = "authentik-operator";

/// The shipped RBAC, bound to a ServiceAccount in `ns` (names made unique per test).
fn install_rbac(ns: &str) {
    let cp = testenv::shared();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/base/rbac.yaml"
    ))
    .expect("rbac.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("rbac.yaml parses");
    let mut objects = Vec::new();
    for mut doc in docs {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = format!(
            "{}-{ns}",
            doc["metadata"]["name"].as_str().unwrap_or_default()
        );
        match kind.as_str() {
            "ClusterRole" => doc["metadata"]["name"] = json!(name),
            "ClusterRoleBinding" => {
                doc["metadata"]["name"] = json!(name);
                doc["roleRef"]["name"] = json!(name);
                doc["subjects"] = json!([{"kind": "ServiceAccount", "name": SA, "namespace": ns}]);
            }
            "Role" => doc["metadata"]["namespace"] = json!(ns),
            "RoleBinding" => {
                doc["metadata"]["namespace"] = json!(ns);
                if doc["roleRef"]["kind"] == "ClusterRole" {
                    doc["roleRef"]["name"] = json!(format!(
                        "{}-{ns}",
                        doc["roleRef"]["name"].as_str().unwrap_or_default()
                    ));
                }
                doc["subjects"] = json!([{"kind": "ServiceAccount", "name": SA, "namespace": ns}]);
            }
            other => panic!("unexpected {other} in rbac.yaml"),
        }
        objects.push(doc);
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let file = std::env::temp_dir().join(format!("rbac-{ns}.json"));
    std::fs::write(&file, list.to_string()).unwrap();
    cp.run_kubectl(["apply", "-f", &file.display().to_string()])
        .expect("apply RBAC");
    let _ = std::fs::remove_file(file);
}

async fn client_for(token: &str) -> kube::Client {
    let cp = testenv::shared();
    let kc = Kubeconfig::from_yaml(&cp.kubeconfig_with_token(token)).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(cfg).expect("client")
}

fn lease_name() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/base/rbac.yaml"
    ))
    .unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    docs.iter()
        .filter(|d| d["kind"] == "Role")
        .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
        .find_map(|r| r["resourceNames"][0].as_str().map(str::to_string))
        .expect("the Role names the Lease")
}

#[tokio::test]
async fn the_happy_path_runs_on_the_shipped_rbac_alone() {
    let mut env = Env::new(Profile::Current).await;
    install_rbac(&env.ns);
    let token = testenv::shared()
        .service_account_token(&env.ns, SA)
        .expect("token");
    let sa_client = client_for(&token).await;
    // A second watched namespace whose Secrets the operator was not granted.
    let ungranted = testenv::shared()
        .create_namespace("ungranted")
        .expect("namespace");
    env.extra_args = vec![
        "--namespace".into(),
        format!("{},{ungranted}", env.ns),
        // The RBAC's own namespace is the test's.
        "--cluster-secret-namespace".into(),
        env.ns.clone(),
        "--leader-election".into(),
        "--lease-name".into(),
        lease_name(),
        "--lease-namespace".into(),
        env.ns.clone(),
    ];
    env.start_operator_as(sa_client.clone()).await;

    // The example login flow: three stages referencing each other.
    let manifests = include_str!("../deploy/examples/login-flow.yaml");
    let out = env.kubectl(&["apply", "-f", "-"], Some(manifests));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pw = env
        .wait_for::<PasswordStage>("login-password", "Ready", is_ready)
        .await;
    env.wait_for::<IdentificationStage>("login-identification", "Ready", is_ready)
        .await;
    env.wait_for::<UserLoginStage>("login-session", "Ready", is_ready)
        .await;
    env.wait_for::<FlowStageBinding>("example-login-100-session", "Ready", is_ready)
        .await;
    env.wait_event("login-password", "Created").await;

    // An update, and drift corrected.
    env.api::<UserLoginStage>()
        .patch(
            "login-session",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"sessionDuration": "hours=4"}})),
        )
        .await
        .unwrap();
    env.wait_for::<UserLoginStage>("login-session", "Ready at generation 2", |o| {
        is_ready(o) && o.metadata.generation == Some(2)
    })
    .await;
    let pk = pw.status.unwrap().pk.unwrap();
    authentik(&env)
        .patch(
            "stages/password/",
            &pk,
            &body(json!({"failed_attempts_before_cancel": 99})),
        )
        .await
        .unwrap();
    env.wait_event("login-password", "DriftCorrected").await;

    // A connection: its token Secret is readable, its status writable.
    put_token_secret(&env, &env.ns, "conn-token", TOKEN).await;
    env.create::<AuthentikConnection>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "AuthentikConnection",
        "metadata": {"name": "same-authentik"},
        "spec": {"url": env.sim.url(), "tokenSecretRef": {"name": "conn-token", "key": "token"}}
    }))
    .await;
    env.wait_for::<AuthentikConnection>("same-authentik", "Ready", |c| {
        c.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    })
    .await;

    // A connection in a namespace whose Secrets were not granted says so, and how to grant.
    put_token_secret(&env, &ungranted, "conn-token", TOKEN).await;
    let elsewhere: Api<AuthentikConnection> = Api::namespaced(env.client.clone(), &ungranted);
    let conn: AuthentikConnection = serde_json::from_value(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "AuthentikConnection",
        "metadata": {"name": "not-granted"},
        "spec": {"url": env.sim.url(), "tokenSecretRef": {"name": "conn-token", "key": "token"}}
    }))
    .unwrap();
    elsewhere
        .create(&PostParams::default(), &conn)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    let ready = loop {
        let c = elsewhere.get("not-granted").await.unwrap();
        let ready = c
            .status
            .iter()
            .flat_map(|s| s.conditions.clone())
            .find(|c| c.type_ == "Ready");
        if let Some(r) = ready.filter(|r| r.reason == "SecretForbidden") {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "{c:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(ready.status, "False");
    assert!(
        ready.message.contains(&format!("namespace {ungranted:?}"))
            && ready.message.contains("RoleBinding")
            && ready.message.contains("secret-reader"),
        "{}",
        ready.message
    );
    assert!(!ready.message.contains(TOKEN));

    // Delete: the flow and its bindings, then the stages; the referenced PasswordStage waits
    // for its referrer, then both go.
    for b in [
        "example-login-10-identification",
        "example-login-20-password",
        "example-login-100-session",
    ] {
        env.delete::<FlowStageBinding>(b).await;
    }
    env.delete::<Flow>("example-login").await;
    env.wait_gone::<Flow>("example-login").await;
    env.delete::<IdentificationStage>("login-identification")
        .await;
    env.delete::<PasswordStage>("login-password").await;
    env.wait_gone::<IdentificationStage>("login-identification")
        .await;
    env.wait_gone::<PasswordStage>("login-password").await;
    assert!(env.sim.control().stage(&pk).is_none());
    env.stop_operator().await;

    // And what the rules do not allow is refused for the same identity.
    let forbidden =
        |r: Result<(), kube::Error>| matches!(r, Err(kube::Error::Api(s)) if s.code == 403);
    let stages: Api<UserLoginStage> = Api::namespaced(sa_client.clone(), &env.ns);
    assert!(forbidden(
        stages
            .delete("login-session", &DeleteParams::default())
            .await
            .map(|_| ())
    ));
    let fresh: UserLoginStage = serde_json::from_value(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": "not-mine"}, "spec": {}
    }))
    .unwrap();
    assert!(forbidden(
        stages
            .create(&PostParams::default(), &fresh)
            .await
            .map(|_| ())
    ));
    let secrets: Api<Secret> = Api::namespaced(sa_client.clone(), &env.ns);
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "x"}, "stringData": {"a": "b"}}))
            .unwrap();
    assert!(forbidden(
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .map(|_| ())
    ));
    let elsewhere: Api<Secret> = Api::namespaced(sa_client.clone(), &ungranted);
    assert!(forbidden(elsewhere.get("conn-token").await.map(|_| ())));
    let everywhere: Api<Secret> = Api::all(sa_client.clone());
    assert!(forbidden(
        everywhere.list(&ListParams::default()).await.map(|_| ())
    ));
    let configmaps: Api<ConfigMap> = Api::namespaced(sa_client, &env.ns);
    assert!(forbidden(
        configmaps.list(&ListParams::default()).await.map(|_| ())
    ));
}
