//! What the tests share: a seeded simulator, and a flow with three bound stages.

use crate::common::Api;
use authentik_sim::Profile;
use serde_json::json;

pub const INBUILT: &str = "authentik.core.auth.InbuiltBackend";
pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

/// A flow `f` with a password stage at 10, an identification stage (using that password
/// stage) at 20 and a login stage at 30.
pub struct Fixture {
    pub api: Api,
    pub flow: String,
    pub password: String,
    pub ident: String,
    pub login: String,
    /// Binding pks, in the order above.
    pub bindings: Vec<String>,
}

pub async fn fixture(profile: Profile) -> Fixture {
    let api = Api::start(profile, true).await;
    let r = api
        .post(
            "flows/instances/",
            json!({"name": "F", "slug": "f", "title": "F", "designation": "authentication"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let flow = r.json["pk"].as_str().unwrap_or_default().to_string();
    let password = api
        .create("password", json!({"name": "pw", "backends": [INBUILT]}))
        .await;
    let ident = api
        .create(
            "identification",
            json!({"name": "id", "user_fields": ["email"], "password_stage": password}),
        )
        .await;
    let login = api.create("user_login", json!({"name": "login"})).await;
    let mut bindings = Vec::new();
    for (stage, order) in [(&password, 10), (&ident, 20), (&login, 30)] {
        let r = api
            .post(
                "flows/bindings/",
                json!({"target": flow, "stage": stage, "order": order}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        bindings.push(r.json["pk"].as_str().unwrap_or_default().to_string());
    }
    Fixture {
        api,
        flow,
        password,
        ident,
        login,
        bindings,
    }
}

impl Fixture {
    /// The pks of the bindings a list query returns, in order.
    pub async fn listed(&self, query: &str) -> Vec<String> {
        let r = self.api.get(&format!("flows/bindings/{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        r.json["results"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| b["pk"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}
