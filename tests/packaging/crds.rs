//! The CRD copies in the chart and the kustomize base.

use crate::helpers::{CHART, path};
use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn chart_and_kustomize_base_carry_the_checked_in_crds() {
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect()
    };
    let source = path("crds");
    for copy in [
        format!("{CHART}/files/crds"),
        "deploy/base/crds".to_string(),
    ] {
        let fix = "cargo xtask generate";
        assert_eq!(
            names(&path(&copy)),
            names(&source),
            "{copy} does not hold the CRDs of crds/: run `{fix}`"
        );
        for name in names(&source) {
            let a = std::fs::read(source.join(&name)).unwrap();
            let b = std::fs::read(path(&copy).join(&name)).unwrap();
            assert!(
                a == b,
                "{copy}/{name} differs from crds/{name}: run `{fix}`"
            );
        }
    }
}
