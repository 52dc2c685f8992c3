//! The authentik user: a person with their own token who, in authentik's UI, edits, renames
//! and deletes the objects the operator manages, behind its back. Over HTTP, so the faults
//! reach them as they reach the operator; now and then "in the database" (no event), so
//! only the drift sweep can notice.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::checker::pk_of;
use super::registry::KindInfo;
use super::specs::{self, Ctx};

pub const USER: &str = "alice";
pub const TOKEN: &str = "alice-soak-token-9f8e7d6c5b4a";

pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut rng = fastrand::Rng::with_seed(shared.cfg.seed ^ 0xa11ce);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    // Orders of her own, far from the client's.
    let mut fresh = 1_000_000_000;
    while !stop.is_cancelled() {
        let pause = shared.cfg.alice_every.as_secs_f64() * (0.5 + rng.f64());
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs_f64(pause)) => {}
        }
        fresh += 1;
        act(&shared, &http, &mut rng, fresh).await;
    }
}

async fn act(shared: &Shared, http: &reqwest::Client, rng: &mut fastrand::Rng, fresh: u64) {
    let Some(snap) = shared.snapshot() else {
        return;
    };
    let candidates: Vec<_> = snap
        .resources
        .values()
        .filter(|r| !r.deleting && r.pk().is_some())
        .collect();
    if candidates.is_empty() {
        return;
    }
    let res = candidates[rng.usize(..candidates.len())];
    let info = shared.kind(res.kind);
    let Some(object) = snap
        .object(res.kind, &res.pk().unwrap_or_default())
        .cloned()
    else {
        return;
    };
    let id = match info.by_slug {
        true => object["slug"].as_str().unwrap_or_default().to_string(),
        false => pk_of(&object).unwrap_or_default(),
    };
    let path = format!("{}{id}/", info.endpoint);
    let subject = res.subject();
    let control = shared.env.sim.control();
    let roll = rng.f64();
    let quietly_editable = !info.endpoint.starts_with("flows/") && info.named();
    if roll < 0.2 {
        let done = control.delete_quietly(&path);
        note(
            shared,
            &subject,
            format!("deleted {path} in the database (no event): {done}"),
        );
        shared.journal.count("authentik user deletes", 1);
        return;
    }
    if roll < 0.3 && quietly_editable {
        let fields = edit(info, res.kind, &res.name, &res.spec, rng, fresh);
        if !fields.is_empty() {
            let done = control.set_fields_quietly(&id, &Value::Object(fields.clone()));
            note(
                shared,
                &subject,
                format!("changed {fields:?} of {path} in the database (no event): {done}"),
            );
            shared.journal.count("authentik user edits", 1);
            return;
        }
    }
    let (method, body, counter) = if roll < 0.45 {
        ("DELETE", None, "authentik user deletes")
    } else if roll < 0.65 {
        let mut body = Map::new();
        match info.key {
            ["name"] => body.insert(
                "name".into(),
                json!(format!("{}-ui{fresh}", text(&object["name"]))),
            ),
            ["slug"] => body.insert(
                "slug".into(),
                json!(format!("{}-ui{fresh}", text(&object["slug"]))),
            ),
            _ => body.insert("order".into(), json!(fresh)),
        };
        (
            "PATCH",
            Some(with_form(info, &object, body)),
            "authentik user renames",
        )
    } else {
        let fields = edit(info, res.kind, &res.name, &res.spec, rng, fresh);
        if fields.is_empty() {
            return;
        }
        (
            "PATCH",
            Some(with_form(info, &object, fields)),
            "authentik user edits",
        )
    };
    let url = format!("{}/api/v3/{path}", shared.env.sim.url());
    let mut req = http
        .request(method.parse().expect("method"), &url)
        .bearer_auth(TOKEN);
    if let Some(b) = &body {
        req = req.json(b);
    }
    let outcome = match req.send().await {
        Ok(r) => r.status().as_u16().to_string(),
        Err(e) => format!("no answer ({e})"),
    };
    let shown = body.map_or(String::new(), |b| b.to_string());
    note(
        shared,
        &subject,
        format!("{method} {path} {shown} → {outcome}"),
    );
    shared.journal.count(counter, 1);
}

fn note(shared: &Shared, subject: &str, text: String) {
    shared
        .journal
        .note(subject, format!("authentik user: {text}"));
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Fields as a person would change them: a change from the client's table, as body fields,
/// without references (they pick from lists in the UI, which the table cannot know).
fn edit(
    info: &KindInfo,
    kind: &str,
    name: &str,
    spec: &Value,
    rng: &mut fastrand::Rng,
    fresh: u64,
) -> Map<String, Value> {
    let none = |_: &str| Vec::new();
    let mut cx = Ctx {
        rng,
        live: &none,
        fresh,
    };
    let patch = specs::change(kind, &mut cx, name, spec);
    let mut out = Map::new();
    for (key, value) in patch.as_object().into_iter().flatten() {
        if value.is_null()
            || info.ref_spec(key).is_some()
            || info.secrets.contains(&key.as_str())
            || key == "name"
        {
            continue;
        }
        out.insert(info.body_key(key), value.clone());
    }
    out
}

/// The body a form in the UI sends: the fields a write must carry, as they are now, and
/// the changed ones.
fn with_form(info: &KindInfo, object: &Value, changed: Map<String, Value>) -> Value {
    let mut body = Map::new();
    for key in info.always_send {
        if let Some(v) = object.get(*key) {
            body.insert(key.to_string(), v.clone());
        }
    }
    body.extend(changed);
    Value::Object(body)
}
