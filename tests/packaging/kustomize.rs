//! The kustomize base (`deploy/base`) and an overlay, rendered and applied.

use crate::helpers::{
    CHART, TMP, all_rules, apply, assert_can_i, assert_hardened, assert_pod_security_restricted,
    assert_same_crds, container, env_value, installed_release, kubectl_ok, lease_rules, of_kind,
    one, parse_docs, path, q, render, secret_rules, without_kind,
};
use serde_json::json;
use std::path::Path;

/// `to` relative to the folder `from` (kustomize refuses absolute paths).
fn relative(from: &Path, to: &Path) -> String {
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

#[test]
fn kustomize_base_renders_the_same_objects_and_is_accepted() {
    installed_release(); // the CRDs exist already; the base's are applied with a dry run
    let base = path("deploy/base").display().to_string();
    let docs = parse_docs(&kubectl_ok(["kustomize", &base]));
    let crds = of_kind(&docs, "CustomResourceDefinition");
    assert_same_crds(&crds, "kubectl kustomize deploy/base");

    let ns = "authentik-operator";
    let role = one(&docs, "ClusterRole", ns);
    assert_eq!(role["rules"], all_rules(), "the chart's rules");
    let reader = one(&docs, "ClusterRole", "authentik-operator-secret-reader");
    assert_eq!(reader["rules"], secret_rules());
    let reader_binding = one(&docs, "RoleBinding", "authentik-operator-secret-reader");
    assert_eq!(reader_binding["metadata"]["namespace"], ns);
    let lease_role = one(&docs, "Role", "authentik-operator-leader-election");
    assert_eq!(lease_role["rules"], lease_rules(ns));
    let binding = one(&docs, "ClusterRoleBinding", ns);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": ns, "namespace": ns}])
    );
    let deploy = one(&docs, "Deployment", ns);
    assert_hardened(deploy, "kustomize");
    assert_eq!(deploy["metadata"]["namespace"], ns);
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION_LEASE").as_deref(),
        Some(ns)
    );
    assert_eq!(
        container(deploy)["image"],
        "ghcr.io/authentik-operator/authentik-operator:0.1.0"
    );
    // The settings come from the generated ConfigMap, which the Deployment names with its hash.
    let cm_name = container(deploy)["envFrom"][0]["configMapRef"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cm_name.starts_with("authentik-operator-config-"),
        "{cm_name}"
    );
    let cm = one(&docs, "ConfigMap", &cm_name);
    assert_eq!(cm["data"]["WATCH_NAMESPACE"], "");
    assert!(cm["data"]["AUTHENTIK_URL"].is_string());
    // The same pod security settings and probes as the chart's defaults.
    let chart = render(
        "authentik-operator",
        ns,
        &[&format!("{CHART}/ci/default-values.yaml")],
        &[],
    );
    let chart_deploy = one(&chart, "Deployment", "authentik-operator");
    for field in [
        "securityContext",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "ports",
    ] {
        assert_eq!(
            container(deploy)[field],
            container(chart_deploy)[field],
            "{field} differs between the chart and the kustomize base"
        );
    }
    assert_eq!(
        deploy["spec"]["template"]["spec"]["securityContext"],
        chart_deploy["spec"]["template"]["spec"]["securityContext"]
    );
    // No Secret is shipped: the token is the user's to create.
    assert!(of_kind(&docs, "Secret").is_empty());

    // The overlay the README shows: another image, the URL and log format, two replicas.
    let overlay = Path::new(TMP).join(testenv::unique_namespace("overlay"));
    std::fs::create_dir_all(&overlay).unwrap();
    let base_rel = relative(&overlay, &path("deploy/base"));
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\n\
             kind: Kustomization\n\
             resources:\n  - {base_rel}\n\
             images:\n  - name: ghcr.io/authentik-operator/authentik-operator\n    \
             newName: registry.example.com/authentik-operator\n    newTag: v9\n\
             configMapGenerator:\n  - name: authentik-operator-config\n    behavior: merge\n    \
             literals:\n      - AUTHENTIK_URL=https://authentik.internal\n      - LOG_FORMAT=json\n\
             replicas:\n  - name: authentik-operator\n    count: 2\n"
        ),
    )
    .unwrap();
    let overlaid = parse_docs(&kubectl_ok(["kustomize", &overlay.display().to_string()]));
    let o_deploy = one(&overlaid, "Deployment", ns);
    assert_eq!(o_deploy["spec"]["replicas"], 2);
    assert_eq!(
        container(o_deploy)["image"],
        "registry.example.com/authentik-operator:v9"
    );
    let o_cm_name = container(o_deploy)["envFrom"][0]["configMapRef"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let o_cm = one(&overlaid, "ConfigMap", &o_cm_name);
    assert_eq!(o_cm["data"]["AUTHENTIK_URL"], "https://authentik.internal");
    assert_eq!(o_cm["data"]["LOG_FORMAT"], "json");
    assert_eq!(
        o_cm["data"]["RESYNC_INTERVAL"], "10m",
        "merged, not replaced"
    );

    // On the apiserver: the CRDs with a dry run (Helm owns them in this cluster), the rest for
    // real; the namespace enforces "restricted", so a Pod from the template must pass.
    apply("kustomize-crds", &crds, true);
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("kustomize", &rest, false);
    let labels = kubectl_ok([
        "get",
        "namespace",
        ns,
        "-o",
        "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}",
    ]);
    assert_eq!(labels, "restricted");
    assert_pod_security_restricted(ns, deploy);
    let who = format!("system:serviceaccount:{ns}:{ns}");
    assert_can_i(
        &who,
        &[
            (
                true,
                q("patch passwordstages.authentik-operator.io --subresource=status -n default"),
            ),
            (
                true,
                q("list userloginstages.authentik-operator.io --all-namespaces"),
            ),
            (true, format!("create leases.coordination.k8s.io -n {ns}")),
            (
                true,
                format!("patch leases.coordination.k8s.io/{ns} -n {ns}"),
            ),
            (false, q("create leases.coordination.k8s.io -n default")),
            (false, q("get secrets -n default")),
            (false, q("list secrets --all-namespaces")),
            (true, format!("get secrets -n {ns}")),
            (true, format!("watch secrets -n {ns}")),
            (false, format!("delete secrets -n {ns}")),
            (
                false,
                q("delete identificationstages.authentik-operator.io -n default"),
            ),
        ],
    );
}
