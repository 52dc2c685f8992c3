//! A stateful simulator of the parts of authentik's REST API the operator uses: every stage
//! kind a fresh install's flows use (and redirect stages), prompts, expression, password,
//! reputation and event-matcher policies, `/stages/all/`, `/policies/all/`,
//! `/flows/instances/`, `/flows/bindings/`, `/policies/bindings/`, `/core/groups/`,
//! `/core/users/`, `/events/events/`, `/sources/all/` and `/admin/version/`, behaving like the
//! real server of a chosen release (see `../shared/reference/`), plus a test-only control
//! interface under `/_sim/`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use authentik_sim::{Profile, SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig { profile: Profile::V2024_4, seed: true, ..Default::default() }).await?;
//! let base = format!("{}/api/v3/", sim.url());
//! # let _ = base;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod bindings;
mod capacity;
mod control;
mod control_http;
mod duration;
mod errors;
mod events;
mod expression;
mod listing;
mod model;
mod options;
mod out;
mod pagination;
mod policy_bindings;
mod profile;
mod py;
mod pyjson;
mod query;
mod render;
mod routes;
mod seed;
mod serializers;
mod server;
mod state;
mod validate;

pub use capacity::Capacity;
pub use control::{ApiReply, Control, Fault, LostAnswer, RecordedRequest};
pub use profile::{Profile, UnknownProfile};
pub use server::{SimConfig, Simulator};
pub use uuid::Uuid;
