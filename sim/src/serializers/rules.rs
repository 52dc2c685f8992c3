//! Object-level validation (`Serializer.validate`) of the kinds that have it. Like
//! authentik's, these rules look at the submitted data only, so a PATCH that leaves a field
//! out is judged as if the field were empty.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{WriteError, non_field};
use crate::model::Kind;

pub fn check(kind: Kind, sent: &BTreeMap<&'static str, Value>) -> Result<(), WriteError> {
    let empty = |k: &str| {
        sent.get(k)
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    };
    let truthy = |k: &str| match sent.get(k) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    let text = |k: &str| sent.get(k).and_then(Value::as_str);
    match kind {
        Kind::Identification if empty("user_fields") && empty("sources") => Err(non_field(
            "When no user fields are selected, at least one source must be selected",
        )),
        Kind::ReputationPolicy if !truthy("check_ip") && !truthy("check_username") => {
            Err(non_field("Either IP or Username must be checked"))
        }
        Kind::Redirect if text("mode") == Some("static") && !truthy("target_static") => Err(
            non_field("Target URL should be present when mode is Static."),
        ),
        Kind::Redirect if text("mode") == Some("flow") && !truthy("target_flow") => Err(non_field(
            "Target Flow should be present when mode is Flow.",
        )),
        _ => Ok(()),
    }
}
