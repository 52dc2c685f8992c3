//! Wire types. authentik objects stay as JSON maps so that fields unknown to us (newer authentik)
//! and fields missing from older versions are both tolerated; only the envelopes are typed,
//! and every field of them is optional or defaulted.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Debug, Default)]
pub struct Pagination {
    /// Next page number, 0 on the last page.
    #[serde(default)]
    pub next: u64,
    #[serde(default)]
    pub count: u64,
}

#[derive(Deserialize, Debug, Default)]
pub struct Page {
    #[serde(default)]
    pub pagination: Pagination,
    #[serde(default)]
    pub results: Vec<Value>,
}

/// `/api/v3/admin/version/`.
#[derive(Deserialize, Debug, Default)]
pub struct Version {
    #[serde(default)]
    pub version_current: String,
}

/// The `pk` of an authentik object as a string (stages, flows and sources use UUIDs).
pub fn pk_of(obj: &Value) -> Option<&str> {
    obj.get("pk").and_then(Value::as_str)
}

/// The `name` of an authentik object.
pub fn name_of(obj: &Value) -> Option<&str> {
    obj.get("name").and_then(Value::as_str)
}

/// Largest page size every authentik version accepts (current versions cap at 100).
pub const PAGE_SIZE: u32 = 100;
