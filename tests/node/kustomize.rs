//! The kustomize base on the node, through an overlay like the README's.

use crate::helpers::*;
use std::time::Duration;

#[test]
fn kustomize_base_runs_restricted_and_reconciles() {
    crds();
    let _ = operator_image();
    let sim = Sim::start();
    // The base's namespace; the Secret first, as the README says.
    let ns = "authentik-operator";
    kubectl(["create", "namespace", ns]);
    token_secret(ns);
    // Stages in a namespace of their own: the operator watches only it, so that it never
    // meets the Helm tests' stages.
    let stages = cluster()
        .control_plane()
        .create_namespace("node-kustomize")
        .expect("namespace");
    let overlay = std::path::Path::new(TMP).join(testenv::unique_namespace("overlay"));
    std::fs::create_dir_all(&overlay).expect("overlay folder");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\n\
             kind: Kustomization\n\
             resources:\n  - {base}\n\
             images:\n  - name: ghcr.io/authentik-operator/authentik-operator\n    \
             newName: {REPOSITORY}\n    newTag: {TAG}\n\
             configMapGenerator:\n  - name: authentik-operator-config\n    behavior: merge\n    \
             literals:\n      - AUTHENTIK_URL={url}\n      - WATCH_NAMESPACE={stages}\n      \
             - LOG_FORMAT=json\n      - RESYNC_INTERVAL=5s\n",
            base = relative(&overlay, &std::path::Path::new(ROOT).join("deploy/base")),
            url = sim.url(),
        ),
    )
    .expect("kustomization.yaml");
    kubectl(["apply", "-k", &overlay.display().to_string()]);
    let labels = kubectl_json(&["get", "namespace", ns]);
    assert_eq!(
        labels["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
        "the base's namespace enforces restricted"
    );
    let available = wait_available(ns, "authentik-operator", Duration::from_secs(180));
    println!("kubectl apply -k: Deployment Available in {available:?}");
    reconcile_stage(&stages, "kustomize-password", &sim);
    let _ = std::fs::remove_dir_all(&overlay);
}

/// `to` relative to the folder `from` (kustomize takes no absolute path to a base).
fn relative(from: &std::path::Path, to: &std::path::Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
