//! The checked-in CRDs are exactly what the code generates (`authentik-operator crdgen`).

use authentik_operator::crd;

#[test]
fn checked_in_crds_are_up_to_date() {
    for def in crd::all() {
        let path = format!(
            "{}/crds/{}.yaml",
            env!("CARGO_MANIFEST_DIR"),
            def.spec.names.plural
        );
        let generated = serde_saphyr::to_string(&def).expect("render");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            generated == on_disk,
            "{path} is stale: run `cargo run -- crdgen` and commit the result"
        );
    }
}
