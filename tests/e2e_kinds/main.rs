//! The stage kinds of a fresh install's flows (MFA, enrollment, recovery, consent) and
//! prompts, end to end against the real kube-apiserver and the authentik simulator.
//!
//! `table.rs` holds one row per kind (a valid spec, a change, a change made in authentik,
//! a bad manifest); the tests in `lifecycle.rs`, `drift.rs` and `refusals.rs` run over
//! every row. The other files hold what is particular to some kinds: references between
//! them, write-only values from Secrets, fields older releases store differently, and the
//! example flow of `deploy/examples/`.

#[path = "../common/mod.rs"]
mod common;

mod drift;
mod dynamic;
mod example;
mod lifecycle;
mod references;
mod refusals;
mod secrets;
mod table;
mod versions;
