//! What the tests share: a simulator on the current profile, a backend, a missing pk.

use crate::common::Api;
use authentik_sim::Profile;

pub const INBUILT: &str = "authentik.core.auth.InbuiltBackend";
pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

pub async fn api() -> Api {
    Api::start(Profile::Current, false).await
}
