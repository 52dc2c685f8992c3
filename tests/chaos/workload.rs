//! The client: creates, changes and deletes resources of every registered kind, a few per
//! second, keeping the population near its target. Each write is retried until the API
//! server gives a definite answer (it may be restarting), so the client's model stays exact.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::specs::{self, Ctx, Need};

type Key = (&'static str, String);

#[derive(Default)]
struct Model {
    live: BTreeMap<Key, Value>,
    /// Deleted, not yet gone (their specs still refer to others).
    deleting: BTreeMap<Key, Value>,
    next: u64,
}

impl Model {
    fn names(&self, kind: &str) -> Vec<String> {
        self.live
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.clone())
            .collect()
    }

    fn referrers(&self, shared: &Shared, target: &Key) -> usize {
        let t = (target.0.to_string(), target.1.clone());
        self.live
            .iter()
            .chain(self.deleting.iter())
            .filter(|(k, spec)| shared.kind(k.0).refs_named(spec).contains(&t))
            .count()
    }
}

pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut rng = fastrand::Rng::with_seed(shared.cfg.seed ^ 0xc11e);
    let mut model = Model::default();
    let every = Duration::from_secs_f64(1.0 / shared.cfg.rate);
    // Kinds are dealt from a shuffled deck, so that every kind comes up, even in a short run.
    let mut deck: Vec<&'static str> = Vec::new();
    while !stop.is_cancelled() {
        forget_deleted(&shared, &mut model);
        let population = model.live.len();
        let target = shared.cfg.population;
        let roll = rng.f64();
        if population < target / 2 || (population <= target && roll < 0.35) {
            if deck.is_empty() {
                deck = shared.kinds.iter().map(|k| k.kind).collect();
                rng.shuffle(&mut deck);
            }
            let kind = deck.pop().expect("a dealt kind");
            if create(&shared, &mut model, &mut rng, kind, 0).await != Some(kind) {
                // What it needed came first (or it was refused): its turn comes again.
                deck.insert(0, kind);
            }
        } else if population > target || roll < 0.55 {
            delete(&shared, &mut model, &mut rng).await;
        } else if roll < 0.97 {
            change(&shared, &mut model, &mut rng).await;
        } else {
            rotate_secret(&shared, &mut rng).await;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Drops the deleted resources the API server no longer has.
fn forget_deleted(shared: &Shared, model: &mut Model) {
    if let Some(snap) = shared.snapshot() {
        model
            .deleting
            .retain(|(k, n), _| snap.resources.contains_key(&(k.to_string(), n.clone())));
    }
}

async fn create(
    shared: &Shared,
    model: &mut Model,
    rng: &mut fastrand::Rng,
    kind: &'static str,
    depth: u32,
) -> Option<&'static str> {
    model.next += 1;
    let n = model.next;
    let name = format!("{}-{n}", kind.to_ascii_lowercase());
    let spec = {
        let names = |k: &str| model.names(k);
        let mut cx = Ctx {
            rng: &mut *rng,
            live: &names,
            fresh: n,
        };
        specs::fresh(kind, &mut cx, &name)
    };
    let spec = match spec {
        Ok(spec) => spec,
        Err(Need(first)) if depth < 3 => {
            return Box::pin(create(shared, model, rng, first, depth + 1)).await;
        }
        Err(_) => return None,
    };
    let info = shared.kind(kind);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": info.api.api_version, "kind": kind,
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("an object");
    let api = shared.dynamic(kind);
    let subject = format!("{kind}/{name}");
    let outcome = write(shared, &subject, "create", || async {
        match api.create(&PostParams::default(), &obj).await {
            // An earlier try went through.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await;
    if outcome {
        shared
            .journal
            .note(&subject, format!("client: created, spec {spec}"));
        shared.journal.count("client creates", 1);
        shared.journal.count(format!("created {kind}"), 1);
        model.live.insert((kind, name), spec);
        return Some(kind);
    }
    None
}

async fn change(shared: &Shared, model: &mut Model, rng: &mut fastrand::Rng) {
    let keys: Vec<Key> = model.live.keys().cloned().collect();
    if keys.is_empty() {
        return;
    }
    let key = keys[rng.usize(..keys.len())].clone();
    model.next += 1;
    let spec = model.live[&key].clone();
    let patch = {
        let names = |k: &str| model.names(k);
        let mut cx = Ctx {
            rng,
            live: &names,
            fresh: model.next,
        };
        specs::change(key.0, &mut cx, &key.1, &spec)
    };
    if patch.as_object().is_none_or(|o| o.is_empty()) {
        return;
    }
    let api = shared.dynamic(key.0);
    let subject = format!("{}/{}", key.0, key.1);
    let body = json!({"spec": patch});
    let done = write(shared, &subject, "change", || async {
        api.patch(&key.1, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map(|_| ())
    })
    .await;
    if done {
        shared
            .journal
            .note(&subject, format!("client: changed {patch}"));
        shared.journal.count("client changes", 1);
        let mut merged = spec;
        merge(&mut merged, &patch);
        model.live.insert(key, merged);
    }
}

/// A JSON merge patch (RFC 7386) applied to `target`.
pub fn merge(target: &mut Value, patch: &Value) {
    if patch.is_object() && !target.is_object() {
        *target = Value::Object(Default::default());
    }
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

async fn delete(shared: &Shared, model: &mut Model, rng: &mut fastrand::Rng) {
    let keys: Vec<Key> = model.live.keys().cloned().collect();
    // Mostly what nothing refers to; sometimes what something does (the delete then waits).
    let leaves: Vec<Key> = keys
        .iter()
        .filter(|k| model.referrers(shared, k) == 0)
        .cloned()
        .collect();
    let from = if rng.f64() < 0.75 && !leaves.is_empty() {
        &leaves
    } else {
        &keys
    };
    if from.is_empty() {
        return;
    }
    let key = from[rng.usize(..from.len())].clone();
    let api = shared.dynamic(key.0);
    let subject = format!("{}/{}", key.0, key.1);
    let done = write(shared, &subject, "delete", || async {
        match api.delete(&key.1, &DeleteParams::default()).await {
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await;
    if done {
        let referrers = model.referrers(shared, &key);
        shared.journal.note(
            &subject,
            format!("client: deleted ({referrers} resources refer to it)"),
        );
        shared.journal.count("client deletes", 1);
        if let Some(spec) = model.live.remove(&key) {
            model.deleting.insert(key, spec);
        }
    }
}

/// New values for the write-only fields' Secret (the operator sends them again).
async fn rotate_secret(shared: &Shared, rng: &mut fastrand::Rng) {
    let api: Api<Secret> = Api::namespaced(shared.env.client.clone(), &shared.env.ns);
    let value = format!("rotated-{}", rng.u32(..));
    let body = json!({"stringData": {"captcha": value, "smtp": value}});
    if write(shared, "client", "secret rotation", || async {
        api.patch(specs::SECRET, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map(|_| ())
    })
    .await
    {
        shared.journal.count("client secret rotations", 1);
    }
}

/// Runs `call` until the API server answers it definitely; `false` when it refused it.
async fn write<F, Fut>(shared: &Shared, subject: &str, what: &str, call: F) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), kube::Error>>,
{
    let began = shared.journal.now();
    loop {
        match call().await {
            Ok(()) => return true,
            Err(kube::Error::Api(e)) if (400..500).contains(&e.code) && e.code != 429 => {
                // The table wrote something the API refuses: the harness's bug, shown.
                eprintln!("client {what} of {subject} refused: {}", e.message);
                shared
                    .journal
                    .note(subject, format!("client: {what} refused: {}", e.message));
                shared.journal.count("client writes refused", 1);
                return false;
            }
            Err(e) => {
                if shared.journal.now() - began > 300.0 {
                    shared
                        .journal
                        .note(subject, format!("client: {what} given up: {e}"));
                    return false;
                }
                shared.journal.count("client retries", 1);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
