//! What the tests share: running the tools, looking into what they render, the control plane.

mod cluster;
mod objects;
mod tools;

pub use cluster::*;
pub use objects::*;
pub use tools::*;

use std::path::{Path, PathBuf};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const TMP: &str = env!("CARGO_TARGET_TMPDIR");
pub const CHART: &str = "charts/authentik-operator";
/// The plurals of the registered kinds.
pub fn stages() -> Vec<String> {
    authentik_operator::kinds::kind_crds()
        .into_iter()
        .map(|c| c.spec.names.plural)
        .collect()
}

pub fn path(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}
