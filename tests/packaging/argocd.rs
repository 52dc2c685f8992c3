//! The Argo CD snippet (`deploy/argocd`) merged into an existing `argocd-cm`.

use crate::helpers::{kubectl_ok, kubectl_out, path};
use serde_json::Value;

#[test]
fn argocd_cm_snippet_merges_into_an_existing_argocd_cm() {
    let script = std::fs::read_to_string(path("deploy/argocd/health.lua")).unwrap();
    let snippet = path("deploy/argocd/argocd-cm.yaml").display().to_string();
    // Argo CD's own namespace and ConfigMap, with a setting of its own.
    let exists = kubectl_out(["get", "namespace", "argocd"]);
    if !exists.ok {
        kubectl_ok(["create", "namespace", "argocd"]);
    }
    kubectl_ok([
        "create",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "--from-literal=url=https://argocd.example.com",
    ]);
    // The command the README gives.
    kubectl_ok([
        "-n",
        "argocd",
        "patch",
        "configmap",
        "argocd-cm",
        "--type",
        "merge",
        "--patch-file",
        &snippet,
    ]);
    let cm: Value = serde_json::from_str(&kubectl_ok([
        "get",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(cm["data"]["url"], "https://argocd.example.com", "kept");
    for kind in ["PasswordStage", "IdentificationStage", "UserLoginStage"] {
        let key = format!("resource.customizations.health.authentik-operator.io_{kind}");
        assert_eq!(
            cm["data"][&key].as_str(),
            Some(script.as_str()),
            "{key} is not deploy/argocd/health.lua"
        );
    }
}
