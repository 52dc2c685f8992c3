//! The objects of a fresh authentik install (the default blueprints) that matter for the
//! three stage kinds: the default flows (all 13 of 2023.10/2024.4), the default stages of the
//! authentication flow and their bindings, a few more stages, and the built-in source.
//!
//! Names, titles and bindings are those the real servers of the transcripts returned; the
//! binding order reproduces their `flow_set` order, the stage order the default flow's
//! `stages`. The other flows' stages (prompts, consent, logout…) are not modelled.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::Kind;
use crate::profile::Profile;
use crate::serializers::default_value;
use crate::state::{FlowData, State};

fn flow(
    state: &mut State,
    name: &str,
    slug: &str,
    title: &str,
    designation: &str,
    auth: &str,
) -> uuid::Uuid {
    let mut data = FlowData::new(name, slug, title, designation);
    data.authentication = auth.into();
    state.insert_flow(data)
}

fn stage(
    state: &mut State,
    kind: Kind,
    name: &str,
    overrides: &[(&'static str, Value)],
) -> uuid::Uuid {
    let mut fields: BTreeMap<&'static str, Value> = kind
        .all_fields()
        .iter()
        .map(|f| (f.name, default_value(f.default)))
        .collect();
    for (k, v) in overrides {
        fields.insert(k, v.clone());
    }
    state.insert_stage(kind, name.into(), fields)
}

/// Add the fresh-install objects to `state`.
pub fn seed(state: &mut State, profile: Profile) {
    let auth_flow = flow(
        state,
        "Welcome to authentik!",
        "default-authentication-flow",
        "Welcome to authentik!",
        "authentication",
        "none",
    );
    let static_setup = flow(
        state,
        "default-authenticator-static-setup",
        "default-authenticator-static-setup",
        "Setup Static OTP Tokens",
        "stage_configuration",
        "require_authenticated",
    );
    // Not observed beyond their slugs (count and order of the flows list).
    flow(
        state,
        "default-authenticator-totp-setup",
        "default-authenticator-totp-setup",
        "Setup Two-Factor authentication",
        "stage_configuration",
        "require_authenticated",
    );
    flow(
        state,
        "default-authenticator-webauthn-setup",
        "default-authenticator-webauthn-setup",
        "Setup WebAuthn",
        "stage_configuration",
        "require_authenticated",
    );
    flow(
        state,
        "Pre-Authentication",
        "default-source-pre-authentication",
        "Pre-authentication",
        "stage_configuration",
        "none",
    );
    let password_change = flow(
        state,
        "Change Password",
        "default-password-change",
        "Change password",
        "stage_configuration",
        "require_authenticated",
    );
    let oobe = flow(
        state,
        "default-oobe-setup",
        "initial-setup",
        "Welcome to authentik!",
        "stage_configuration",
        "none",
    );
    let source_auth = flow(
        state,
        "Welcome to authentik!",
        "default-source-authentication",
        "Welcome to authentik!",
        "authentication",
        "require_unauthenticated",
    );
    let source_enroll = flow(
        state,
        "Welcome to authentik! Please select a username.",
        "default-source-enrollment",
        "Welcome to authentik! Please select a username.",
        "enrollment",
        "require_unauthenticated",
    );
    flow(
        state,
        "Logout",
        "default-invalidation-flow",
        "Default Invalidation Flow",
        "invalidation",
        "none",
    );
    flow(
        state,
        "User settings",
        "default-user-settings-flow",
        "Update your info",
        "stage_configuration",
        "require_authenticated",
    );
    flow(
        state,
        "Authorize Application",
        "default-provider-authorization-explicit-consent",
        "Redirecting to %(app)s",
        "authorization",
        "require_authenticated",
    );
    flow(
        state,
        "Authorize Application",
        "default-provider-authorization-implicit-consent",
        "Redirecting to %(app)s",
        "authorization",
        "require_authenticated",
    );
    if profile == Profile::Current {
        flow(
            state,
            "Logged out of application",
            "default-provider-invalidation-flow",
            "You've logged out of %(app)s.",
            "invalidation",
            "none",
        );
    }

    let backends: Vec<&str> = if profile == Profile::Current {
        vec![
            "authentik.core.auth.InbuiltBackend",
            "authentik.sources.kerberos.auth.KerberosBackend",
            "authentik.sources.ldap.auth.LDAPBackend",
            "authentik.core.auth.TokenBackend",
        ]
    } else {
        vec![
            "authentik.core.auth.InbuiltBackend",
            "authentik.sources.ldap.auth.LDAPBackend",
            "authentik.core.auth.TokenBackend",
        ]
    };
    // Created in the default authentication flow blueprint's order, which its `stages` shows.
    let password = stage(
        state,
        Kind::Password,
        "default-authentication-password",
        &[
            ("backends", json!(backends)),
            ("configure_flow", json!(password_change.to_string())),
        ],
    );
    let mfa = stage(
        state,
        Kind::AuthenticatorValidate,
        "default-authentication-mfa-validation",
        &[],
    );
    let ident = stage(
        state,
        Kind::Identification,
        "default-authentication-identification",
        &[("user_fields", json!(["email", "username"]))],
    );
    let login = stage(state, Kind::UserLogin, "default-authentication-login", &[]);
    let source_auth_login = stage(
        state,
        Kind::UserLogin,
        "default-source-authentication-login",
        &[],
    );
    let source_enroll_login = stage(
        state,
        Kind::UserLogin,
        "default-source-enrollment-login",
        &[],
    );
    let static_stage = stage(
        state,
        Kind::AuthenticatorStatic,
        "default-authenticator-static-setup",
        &[],
    );

    // The out-of-box setup flow binds the login stage before the authentication flow does.
    state.bind(oobe, login, 100);
    state.bind(auth_flow, ident, 10);
    state.bind(auth_flow, password, 20);
    state.bind(auth_flow, mfa, 30);
    state.bind(auth_flow, login, 100);
    state.bind(static_setup, static_stage, 0);
    state.bind(source_auth, source_auth_login, 0);
    state.bind(source_enroll, source_enroll_login, 100);

    state.insert_source(
        "authentik Built-in",
        "authentik-built-in",
        Some("goauthentik.io/sources/inbuilt"),
    );
}
