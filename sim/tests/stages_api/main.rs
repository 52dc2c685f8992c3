//! Stage endpoints: writes, validation messages, uniqueness, the identification rule,
//! PUT/POST semantics, references and delete cascades.

#[path = "../common/mod.rs"]
mod common;
mod create;
mod helpers;
mod identification;
mod references;
mod routing;
mod uniqueness;
mod updates;
mod validation;
