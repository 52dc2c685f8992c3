//! `/_sim/`: the control interface over HTTP (no token; test-only).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::control::{Control, Fault, LostAnswer};

#[derive(Deserialize)]
struct Down {
    down: bool,
}

#[derive(Deserialize)]
struct Latency {
    ms: u64,
}

#[derive(Deserialize)]
struct NewSource {
    name: String,
    slug: String,
}

#[derive(Deserialize)]
struct NewFlow {
    name: String,
    slug: String,
    designation: String,
}

#[derive(Deserialize)]
struct NewToken {
    username: String,
    token: String,
}

#[derive(Deserialize)]
struct Switch {
    #[serde(alias = "recording", alias = "forbidden")]
    on: bool,
}

#[derive(Deserialize, Default)]
struct Expire {
    /// RFC 3339 (`2026-12-06T00:35:34.269332Z`); absent: every event.
    before: Option<String>,
}

#[derive(Deserialize)]
struct ApiCall {
    method: String,
    path: String,
    body: Option<serde_json::Value>,
    /// Call as this user (default: akadmin).
    #[serde(rename = "as")]
    as_user: Option<String>,
}

#[derive(Deserialize)]
struct PathOnly {
    path: String,
}

#[derive(Deserialize)]
struct SetFields {
    pk: String,
    fields: serde_json::Value,
}

#[derive(Deserialize)]
struct NewBinding {
    /// The flow's slug or pk.
    flow: String,
    stage: String,
    #[serde(default)]
    order: i64,
}

pub fn router(control: Control) -> Router {
    Router::new()
        .route("/_sim/reset", post(reset))
        .route("/_sim/down", post(down))
        .route("/_sim/upgrade", post(upgrade))
        .route("/_sim/latency", post(latency))
        .route("/_sim/capacity", post(capacity))
        .route(
            "/_sim/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route(
            "/_sim/lost-answers",
            post(lose_answers)
                .get(list_lost_answers)
                .delete(clear_lost_answers),
        )
        .route("/_sim/requests", get(requests).delete(clear_requests))
        .route("/_sim/counters", get(counters).delete(clear_counters))
        .route("/_sim/sources", post(create_source))
        .route("/_sim/flows", post(create_flow).get(flows))
        .route("/_sim/flows/{slug}", delete(delete_flow))
        .route("/_sim/flows/{slug}/bindings", get(flow_bindings))
        .route("/_sim/bindings", post(create_binding))
        .route("/_sim/bindings/{pk}", get(binding).delete(delete_binding))
        .route("/_sim/stages/{kind}", get(stages))
        .route("/_sim/stages/all/{pk}", delete(delete_stage))
        .route("/_sim/tokens", post(add_token))
        .route("/_sim/events", get(events))
        .route("/_sim/events/recording", post(event_recording))
        .route("/_sim/events/forbidden", post(events_forbidden))
        .route("/_sim/events/expire", post(expire_events))
        .route("/_sim/api", post(api))
        .route("/_sim/delete", post(delete_quietly))
        .route("/_sim/fields", post(set_fields))
        .with_state(control)
}

async fn reset(State(c): State<Control>) -> StatusCode {
    c.reset();
    StatusCode::NO_CONTENT
}

async fn down(State(c): State<Control>, Json(d): Json<Down>) -> StatusCode {
    c.set_down(d.down);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Upgrade {
    profile: String,
}

async fn upgrade(State(c): State<Control>, Json(u): Json<Upgrade>) -> Response {
    match u.profile.parse::<crate::profile::Profile>() {
        Ok(p) => {
            c.upgrade(p);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "detail": e.to_string() })),
        )
            .into_response(),
    }
}

async fn latency(State(c): State<Control>, Json(l): Json<Latency>) -> StatusCode {
    c.set_latency(Duration::from_millis(l.ms));
    StatusCode::NO_CONTENT
}

/// `{"workers": 2, ...}` (omitted fields take their defaults) or `null` to turn it off.
async fn capacity(
    State(c): State<Control>,
    Json(cap): Json<Option<crate::capacity::Capacity>>,
) -> StatusCode {
    c.set_capacity(cap);
    StatusCode::NO_CONTENT
}

async fn add_fault(State(c): State<Control>, Json(f): Json<Fault>) -> Response {
    if !(0.0..=1.0).contains(&f.rate) || !(f.status == 0 || (200..=599).contains(&f.status)) {
        let msg = "status must be 0 or 200..=599 and rate within 0..=1";
        return (StatusCode::BAD_REQUEST, Json(json!({ "detail": msg }))).into_response();
    }
    c.inject_fault(f);
    StatusCode::NO_CONTENT.into_response()
}

async fn lose_answers(State(c): State<Control>, Json(l): Json<LostAnswer>) -> Response {
    if !(0.0..=1.0).contains(&l.rate) {
        let msg = "rate must be within 0..=1";
        return (StatusCode::BAD_REQUEST, Json(json!({ "detail": msg }))).into_response();
    }
    c.lose_answers(l);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_lost_answers(State(c): State<Control>) -> StatusCode {
    c.clear_lost_answers();
    StatusCode::NO_CONTENT
}

async fn list_lost_answers(State(c): State<Control>) -> Response {
    Json(c.lost_answers()).into_response()
}

async fn clear_faults(State(c): State<Control>) -> StatusCode {
    c.clear_faults();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(c): State<Control>) -> Response {
    Json(c.faults()).into_response()
}

async fn requests(State(c): State<Control>) -> Response {
    Json(c.requests()).into_response()
}

async fn clear_requests(State(c): State<Control>) -> StatusCode {
    c.clear_requests();
    StatusCode::NO_CONTENT
}

async fn counters(State(c): State<Control>) -> Response {
    Json(c.counters()).into_response()
}

async fn clear_counters(State(c): State<Control>) -> StatusCode {
    c.clear_counters();
    StatusCode::NO_CONTENT
}

async fn create_source(State(c): State<Control>, Json(s): Json<NewSource>) -> Response {
    let pk = c.create_source(&s.name, &s.slug);
    (StatusCode::CREATED, Json(json!({ "pk": pk }))).into_response()
}

async fn create_flow(State(c): State<Control>, Json(f): Json<NewFlow>) -> Response {
    let pk = c.create_flow(&f.name, &f.slug, &f.designation);
    (StatusCode::CREATED, Json(json!({ "pk": pk }))).into_response()
}

async fn create_binding(State(c): State<Control>, Json(b): Json<NewBinding>) -> Response {
    let flow = crate::py::parse_uuid(&b.flow).or_else(|| {
        c.flow(&b.flow)
            .and_then(|f| crate::py::parse_uuid(f["pk"].as_str()?))
    });
    let stage = crate::py::parse_uuid(&b.stage);
    match flow
        .zip(stage)
        .and_then(|(f, s)| c.bind_stage(f, s, b.order))
    {
        Some(pk) => (StatusCode::CREATED, Json(json!({ "pk": pk }))).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "detail": "no such flow or stage" })),
        )
            .into_response(),
    }
}

async fn stages(State(c): State<Control>, Path(kind): Path<String>) -> Response {
    Json(c.stages(&kind)).into_response()
}

async fn flows(State(c): State<Control>) -> Response {
    Json(c.flows()).into_response()
}

async fn flow_bindings(State(c): State<Control>, Path(slug): Path<String>) -> Response {
    Json(c.bindings(&slug)).into_response()
}

async fn binding(State(c): State<Control>, Path(pk): Path<String>) -> Response {
    match c.binding(pk) {
        Some(b) => Json(b).into_response(),
        None => gone(),
    }
}

/// The answer to a control request about an object that does not exist.
fn gone() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "detail": "no such object" })),
    )
        .into_response()
}

/// 204 when something was deleted, else 404.
fn deleted(done: bool) -> Response {
    if done {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}

async fn delete_flow(State(c): State<Control>, Path(slug): Path<String>) -> Response {
    deleted(c.delete_flow(&slug))
}

async fn delete_binding(State(c): State<Control>, Path(pk): Path<String>) -> Response {
    deleted(c.delete_binding(pk))
}

async fn delete_stage(State(c): State<Control>, Path(pk): Path<String>) -> Response {
    deleted(c.delete_stage(pk))
}

async fn add_token(State(c): State<Control>, Json(t): Json<NewToken>) -> Response {
    let pk = c.add_token(&t.username, &t.token);
    (StatusCode::CREATED, Json(json!({ "pk": pk }))).into_response()
}

async fn events(State(c): State<Control>) -> Response {
    Json(c.events()).into_response()
}

/// `{"recording": false}` drops new events until `{"recording": true}`.
async fn event_recording(State(c): State<Control>, Json(s): Json<Switch>) -> StatusCode {
    c.set_event_recording(s.on);
    StatusCode::NO_CONTENT
}

/// `{"forbidden": true}` makes `/events/events/` answer 403.
async fn events_forbidden(State(c): State<Control>, Json(s): Json<Switch>) -> StatusCode {
    c.set_events_forbidden(s.on);
    StatusCode::NO_CONTENT
}

async fn expire_events(State(c): State<Control>, body: Option<Json<Expire>>) -> Response {
    let before = body.and_then(|Json(e)| e.before);
    let before = match before.as_deref().map(crate::events::parse_timestamp) {
        Some(None) => {
            let msg = "before must look like 2026-12-06T00:35:34.269332Z";
            return (StatusCode::BAD_REQUEST, Json(json!({ "detail": msg }))).into_response();
        }
        Some(Some(t)) => Some(t),
        None => None,
    };
    let n = c.expire_events(before);
    Json(json!({ "expired": n })).into_response()
}

/// An API call in-process, as akadmin or `as` another user: `{"status", "body"}`.
async fn api(State(c): State<Control>, Json(a): Json<ApiCall>) -> Response {
    let r = match &a.as_user {
        Some(u) => c.api_as(u, &a.method, &a.path, a.body),
        None => c.api(&a.method, &a.path, a.body),
    };
    Json(json!({ "status": r.status, "body": r.body })).into_response()
}

async fn delete_quietly(State(c): State<Control>, Json(p): Json<PathOnly>) -> Response {
    deleted(c.delete_quietly(&p.path))
}

async fn set_fields(State(c): State<Control>, Json(f): Json<SetFields>) -> Response {
    deleted(c.set_fields_quietly(&f.pk, &f.fields))
}
