//! More than one authentik: AuthentikConnection and ClusterAuthentikConnection, their
//! status, token rotation without a restart, namespaces a cluster connection allows, and
//! references that would cross instances.

mod common;

use authentik_operator::crd::{AuthentikConnection, ClusterAuthentikConnection};
use authentik_operator::kinds::{IdentificationStage, PasswordStage};
use authentik_sim::Profile;
use common::{Env, TOKEN, another_sim, is_ready, put_token_secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn conn_ready(c: &AuthentikConnection) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn conn_reason(c: &AuthentikConnection) -> Option<String> {
    c.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.reason.clone())
}

#[tokio::test]
async fn a_rotated_token_takes_effect_without_a_restart() {
    let env = Env::started(Profile::Current).await;
    let other = another_sim(Profile::V2024_4, "the-right-token").await;
    put_token_secret(&env, &env.ns, "ak-token", "an-old-token").await;
    env.create::<AuthentikConnection>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "AuthentikConnection",
        "metadata": {"name": "staging"},
        "spec": {"url": format!("{}/api/v3", other.url()), "tokenSecretRef": {"name": "ak-token", "key": "token"}}
    }))
    .await;
    let conn = env
        .wait_for::<AuthentikConnection>("staging", "forbidden", |c| {
            conn_reason(c).as_deref() == Some("AuthentikForbidden")
        })
        .await;
    let text = serde_json::to_string(&conn.status).unwrap();
    assert!(
        !text.contains("an-old-token"),
        "the token never shows: {text}"
    );
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "pw"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "connectionRef": {"name": "staging"}}
    }))
    .await;
    env.wait_synced::<PasswordStage>("pw", "AuthentikForbidden")
        .await;
    put_token_secret(&env, &env.ns, "ak-token", "the-right-token").await;
    let conn = env
        .wait_for::<AuthentikConnection>("staging", "Ready", conn_ready)
        .await;
    assert_eq!(conn.status.unwrap().version.as_deref(), Some("2024.4.4"));
    let pw = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    let pk = pw.status.unwrap().pk.unwrap();
    assert!(
        other.control().stage(&pk).is_some(),
        "created in the connection's authentik"
    );
    assert!(
        env.sim.control().stage(&pk).is_none(),
        "not in the default one"
    );
}

#[tokio::test]
async fn a_missing_connection_or_secret_says_so() {
    let env = Env::started(Profile::Current).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "orphaned"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "connectionRef": {"name": "nowhere"}}
    }))
    .await;
    let msg = env
        .wait_synced::<PasswordStage>("orphaned", "ConnectionNotReady")
        .await;
    assert!(
        msg.contains("AuthentikConnection") && msg.contains("nowhere"),
        "{msg}"
    );
    env.create::<AuthentikConnection>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "AuthentikConnection",
        "metadata": {"name": "nowhere"},
        "spec": {"url": "http://127.0.0.1:9", "tokenSecretRef": {"name": "absent", "key": "token"}}
    }))
    .await;
    let conn = env
        .wait_for::<AuthentikConnection>("nowhere", "SecretNotFound", |c| {
            conn_reason(c).as_deref() == Some("SecretNotFound")
        })
        .await;
    let msg = conn.status.unwrap().conditions[0].message.clone();
    assert!(msg.contains("absent"), "{msg}");
}

#[tokio::test]
async fn cluster_connections_limit_namespaces_and_references_never_cross_instances() {
    let env = Env::started(Profile::Current).await;
    let other = another_sim(Profile::Current, "cluster-token").await;
    let secrets_ns = common::operator_namespace();
    put_token_secret(&env, secrets_ns, "cluster-token", "cluster-token").await;
    let name = format!("{}-shared", env.ns);
    let api: Api<ClusterAuthentikConnection> = Api::all(env.client.clone());
    let conn: ClusterAuthentikConnection = serde_json::from_value(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "ClusterAuthentikConnection",
        "metadata": {"name": name},
        "spec": {"url": other.url(), "allowedNamespaces": [env.ns.clone()],
                 "tokenSecretRef": {"name": "cluster-token", "key": "token", "namespace": secrets_ns}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &conn)
        .await
        .expect("cluster connection");
    // A stage on the default authentik...
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "pw-default"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    env.wait_for::<PasswordStage>("pw-default", "Ready", is_ready)
        .await;
    // ...and one on the cluster connection, which may not point at it.
    env.create::<IdentificationStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": "id-other"},
        "spec": {"userFields": ["email"], "passwordStage": {"ref": "pw-default"},
                 "connectionRef": {"kind": "ClusterAuthentikConnection", "name": name}}
    }))
    .await;
    let msg = env
        .wait_synced::<IdentificationStage>("id-other", "InvalidReference")
        .await;
    assert!(msg.contains("never cross"), "{msg}");
    // Without the cross reference it lands in the other authentik.
    env.delete::<IdentificationStage>("id-other").await;
    env.wait_gone::<IdentificationStage>("id-other").await;
    env.create::<IdentificationStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": "id-other2"},
        "spec": {"userFields": ["email"], "connectionRef": {"kind": "ClusterAuthentikConnection", "name": name}}
    }))
    .await;
    let obj = env
        .wait_for::<IdentificationStage>("id-other2", "Ready", is_ready)
        .await;
    assert!(
        other
            .control()
            .stage(obj.status.unwrap().pk.unwrap())
            .is_some()
    );
    // A namespace the connection does not allow.
    let api_conn: Api<ClusterAuthentikConnection> = Api::all(env.client.clone());
    let mut patched = api_conn.get(&name).await.unwrap();
    patched.spec.allowed_namespaces = vec!["somewhere-else".into()];
    patched.metadata.managed_fields = None;
    api_conn
        .replace(&name, &PostParams::default(), &patched)
        .await
        .expect("narrow");
    env.create::<IdentificationStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": "id-denied"},
        "spec": {"userFields": ["email"], "connectionRef": {"kind": "ClusterAuthentikConnection", "name": name}}
    }))
    .await;
    let msg = env
        .wait_synced::<IdentificationStage>("id-denied", "InvalidReference")
        .await;
    assert!(msg.contains("does not allow namespace"), "{msg}");
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn tls_verified_by_default_custom_ca_works_and_a_bad_certificate_says_so() {
    use authentik_sim::{SimConfig, Simulator};
    let env = Env::started(Profile::Current).await;
    let pki = testenv::LoopbackTls::generate("authentik test CA").expect("certificates");
    let tls_sim = Simulator::start_tls(
        SimConfig {
            token: "tls-token".into(),
            profile: Profile::Current,
            seed: true,
        },
        &pki.cert_pem,
        &pki.key_pem,
    )
    .await
    .expect("TLS simulator");
    assert!(tls_sim.url().starts_with("https://"));
    put_token_secret(&env, &env.ns, "tls-token", "tls-token").await;
    let ca = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "authentik-ca"},
        "data": {"ca.crt": pki.ca_pem}
    });
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(env.client.clone(), &env.ns);
    cms.create(&PostParams::default(), &serde_json::from_value(ca).unwrap())
        .await
        .expect("CA ConfigMap");
    let conn = |name: &str, extra: serde_json::Value| {
        let mut spec =
            json!({"url": tls_sim.url(), "tokenSecretRef": {"name": "tls-token", "key": "token"}});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        json!({"apiVersion": "authentik-operator.io/v1alpha1", "kind": "AuthentikConnection",
               "metadata": {"name": name}, "spec": spec})
    };
    // Verified by default: an unknown CA is refused, and the condition says why.
    env.create::<AuthentikConnection>(conn("untrusted", json!({})))
        .await;
    let bad = env
        .wait_for::<AuthentikConnection>("untrusted", "unreachable", |c| {
            conn_reason(c).as_deref() == Some("AuthentikUnreachable")
        })
        .await;
    let msg = bad.status.unwrap().conditions[0].message.to_lowercase();
    assert!(
        msg.contains("certificate"),
        "names the certificate problem: {msg}"
    );
    // The CA bundle makes it trusted.
    env.create::<AuthentikConnection>(conn(
        "trusted",
        json!({"caBundle": {"configMapRef": {"name": "authentik-ca", "key": "ca.crt"}}}),
    ))
    .await;
    env.wait_for::<AuthentikConnection>("trusted", "Ready", conn_ready)
        .await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "over-tls"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "connectionRef": {"name": "trusted"}}
    }))
    .await;
    let obj = env
        .wait_for::<PasswordStage>("over-tls", "Ready", is_ready)
        .await;
    assert!(
        tls_sim
            .control()
            .stage(obj.status.unwrap().pk.unwrap())
            .is_some()
    );
    // Skipping verification is possible, and explicit.
    env.create::<AuthentikConnection>(conn("insecure", json!({"insecureSkipTLSVerify": true})))
        .await;
    env.wait_for::<AuthentikConnection>("insecure", "Ready", conn_ready)
        .await;
}

#[tokio::test]
async fn deleting_a_connection_takes_it_out_of_use() {
    let env = Env::started(Profile::Current).await;
    let other = another_sim(Profile::Current, "gone-token").await;
    put_token_secret(&env, &env.ns, "gone-token", "gone-token").await;
    env.create::<AuthentikConnection>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "AuthentikConnection",
        "metadata": {"name": "soon-gone"},
        "spec": {"url": other.url(), "tokenSecretRef": {"name": "gone-token", "key": "token"}}
    }))
    .await;
    env.wait_for::<AuthentikConnection>("soon-gone", "Ready", conn_ready)
        .await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "pw"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "connectionRef": {"name": "soon-gone"}}
    }))
    .await;
    env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    env.delete::<AuthentikConnection>("soon-gone").await;
    let msg = env
        .wait_synced::<PasswordStage>("pw", "ConnectionNotReady")
        .await;
    assert!(msg.contains("soon-gone"), "{msg}");
}

#[tokio::test]
async fn a_cluster_connection_reads_secrets_only_from_the_operators_namespace() {
    let env = Env::started(Profile::Current).await;
    let cp = testenv::shared();
    let elsewhere = cp.create_namespace("elsewhere").expect("namespace");
    put_token_secret(&env, &elsewhere, "cluster-token", TOKEN).await;
    let api: Api<ClusterAuthentikConnection> = Api::all(env.client.clone());
    let name = format!("outside-{}", env.ns);
    let conn: ClusterAuthentikConnection = serde_json::from_value(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "ClusterAuthentikConnection",
        "metadata": {"name": name},
        "spec": {"url": env.sim.url(),
                 "tokenSecretRef": {"name": "cluster-token", "key": "token", "namespace": elsewhere}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &conn).await.unwrap();
    let reason = |c: &ClusterAuthentikConnection| {
        c.status
            .iter()
            .flat_map(|s| s.conditions.clone())
            .find(|c| c.type_ == "Ready")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    let refused = loop {
        let c = api.get(&name).await.unwrap();
        if let Some(r) = reason(&c).filter(|r| r.reason == "SecretNotAllowed") {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "{c:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        refused
            .message
            .contains(&format!("{elsewhere}/cluster-token"))
            && refused
                .message
                .contains(&format!("{:?}", common::operator_namespace())),
        "{}",
        refused.message
    );

    // Without a namespace, the reference reads from the operator's: there it works.
    let secret = format!("cluster-token-{}", env.ns);
    put_token_secret(&env, common::operator_namespace(), &secret, TOKEN).await;
    api.patch(
        &name,
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(json!([
                {"op": "replace", "path": "/spec/tokenSecretRef",
             "value": {"name": secret, "key": "token"}}
            ]))
            .unwrap(),
        ),
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let c = api.get(&name).await.unwrap();
        if reason(&c).is_some_and(|r| r.status == "True") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{c:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    api.delete(&name, &Default::default()).await.unwrap();
}
