//! `helm install`, `helm upgrade` and `helm uninstall` against the apiserver.

use crate::helpers::{
    CHART, TMP, checked_in_crds, fullname, helm_ok, installed_release, kubectl_ok, kubectl_out,
    path,
};
use serde_json::Value;
use std::path::Path;

#[test]
fn helm_install_upgrade_uninstall_upgrades_and_keeps_the_crds() {
    let cp = testenv::shared();
    let release = installed_release();
    let kubeconfig = cp.kubeconfig().display().to_string();
    // Helm created the CRDs from the templates and owns them.
    for name in checked_in_crds().keys() {
        let crd = format!("crd/{name}");
        let meta: Value = serde_json::from_str(&kubectl_ok(["get", &crd, "-o", "json"])).unwrap();
        let ann = &meta["metadata"]["annotations"];
        assert_eq!(ann["meta.helm.sh/release-name"], release, "{crd}");
        assert_eq!(ann["helm.sh/resource-policy"], "keep", "{crd}");
    }
    let name = fullname(release);
    kubectl_ok(["get", "deployment", &name, "-n", release]);
    // The CRDs accept the example manifests.
    kubectl_ok([
        "apply",
        "--dry-run=server",
        "-n",
        release,
        "-f",
        &path("deploy/examples/login-flow.yaml")
            .display()
            .to_string(),
    ]);

    // A new chart version whose CRD changed: `helm upgrade` must bring the change.
    let marker = "UPGRADE-MARKER";
    let copy = Path::new(TMP).join(testenv::unique_namespace("chart-upgrade"));
    copy_dir(&path(CHART), &copy.join("authentik-operator"));
    let chart = copy.join("authentik-operator");
    let crd_file = chart.join("files/crds/passwordstages.yaml");
    let text = std::fs::read_to_string(&crd_file).unwrap();
    let needle = "A password stage in authentik";
    assert!(
        text.contains(needle),
        "the description changed: update this test"
    );
    std::fs::write(
        &crd_file,
        text.replacen(needle, &format!("{marker} {needle}"), 1),
    )
    .unwrap();
    let chart_yaml = chart.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).unwrap();
    let bumped: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("version:") {
                "version: 99.0.0".into()
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&chart_yaml, bumped.join("\n")).unwrap();
    helm_ok([
        "upgrade",
        release,
        &chart.display().to_string(),
        "--namespace",
        release,
        "-f",
        &path(&format!("{CHART}/ci/default-values.yaml"))
            .display()
            .to_string(),
        "--kubeconfig",
        &kubeconfig,
    ]);
    let description = kubectl_ok([
        "get",
        "crd/passwordstages.authentik-operator.io",
        "-o",
        "jsonpath={.spec.versions[0].schema.openAPIV3Schema.description}",
    ]);
    assert!(
        description.starts_with(marker),
        "helm upgrade did not upgrade the CRD: {description}"
    );

    // `helm uninstall` removes the operator and keeps the CRDs (and so every stage resource).
    let out = helm_ok([
        "uninstall",
        release,
        "--namespace",
        release,
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert!(
        out.contains("kept"),
        "uninstall did not report kept resources: {out}"
    );
    for name in checked_in_crds().keys() {
        kubectl_ok(["get", &format!("crd/{name}")]);
    }
    let gone = kubectl_out(["get", "deployment", &name, "-n", release]);
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );
    let gone = kubectl_out(["get", "clusterrole", &name]);
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );

    // Installing again under the same name adopts the kept CRDs.
    helm_ok([
        "install",
        release,
        &path(CHART).display().to_string(),
        "--namespace",
        release,
        "-f",
        &path(&format!("{CHART}/ci/default-values.yaml"))
            .display()
            .to_string(),
        "--kubeconfig",
        &kubeconfig,
    ]);
    let description = kubectl_ok([
        "get",
        "crd/passwordstages.authentik-operator.io",
        "-o",
        "jsonpath={.spec.versions[0].schema.openAPIV3Schema.description}",
    ]);
    assert!(
        !description.starts_with(marker),
        "the reinstall did not bring the chart's CRD back: {description}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
