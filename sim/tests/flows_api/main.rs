//! Flow and flow-stage binding endpoints beyond the transcripts: validation, list filters,
//! delete cascades, release differences and the control interface for them.

mod cascades;
#[path = "../common/mod.rs"]
mod common;
mod control;
mod helpers;
mod lists;
mod writes;
