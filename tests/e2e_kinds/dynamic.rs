//! Resources of any registered kind, untyped: the table of kinds is data, so each test runs
//! over every row through these helpers (the kind's endpoint and plural come from the
//! operator's registry, not from the test).

use crate::common::Env;
use authentik_operator::crd::kind::{Kind, kind_name};
use authentik_operator::kinds::{self, KindVisitor};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub const API_VERSION: &str = "authentik-operator.io/v1alpha1";

/// What the registry says of a kind.
#[derive(Clone, Debug)]
pub struct KindInfo {
    pub endpoint: &'static str,
    pub plural: String,
    /// Body keys every PATCH of the kind carries.
    pub always_send: &'static [&'static str],
}

/// The registered kind named `kind`.
pub fn info(kind: &str) -> KindInfo {
    struct Find<'a>(&'a str, Option<KindInfo>);
    impl KindVisitor for Find<'_> {
        fn visit<K: Kind>(&mut self) {
            if kind_name::<K>() == self.0 {
                self.1 = Some(KindInfo {
                    endpoint: K::ENDPOINT,
                    plural: <K as kube::Resource>::plural(&()).to_string(),
                    always_send: K::ALWAYS_SEND,
                });
            }
        }
    }
    let mut find = Find(kind, None);
    kinds::each(&mut find);
    find.1
        .unwrap_or_else(|| panic!("{kind} is not a registered kind"))
}

pub fn api(env: &Env, kind: &str) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "authentik-operator.io".into(),
        version: "v1alpha1".into(),
        api_version: API_VERSION.into(),
        kind: kind.into(),
        plural: info(kind).plural,
    };
    Api::namespaced_with(env.client.clone(), &env.ns, &ar)
}

pub fn manifest(kind: &str, name: &str, spec: &Value) -> Value {
    json!({"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec})
}

/// `base` with `overlay`'s keys set over it (a JSON merge patch: `null` removes a key).
pub fn merged(base: &Value, overlay: &Value) -> Value {
    let mut out = base.clone();
    if let (Some(o), Some(over)) = (out.as_object_mut(), overlay.as_object()) {
        for (k, v) in over {
            if v.is_null() {
                o.remove(k);
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

pub async fn create(env: &Env, kind: &str, name: &str, spec: &Value) {
    let obj: DynamicObject =
        serde_json::from_value(manifest(kind, name, spec)).expect("a valid object");
    api(env, kind)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {kind} {name}: {e}"));
}

/// A merge patch of the spec.
pub async fn patch_spec(env: &Env, kind: &str, name: &str, spec: &Value) {
    api(env, kind)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
        .unwrap_or_else(|e| panic!("patch {kind} {name}: {e}"));
}

pub async fn delete(env: &Env, kind: &str, name: &str) {
    api(env, kind)
        .delete(name, &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("delete {kind} {name}: {e}"));
}

pub fn status(o: &DynamicObject) -> &Value {
    &o.data["status"]
}

pub fn pk(o: &DynamicObject) -> Option<String> {
    status(o)["pk"].as_str().map(str::to_string)
}

fn condition<'a>(o: &'a DynamicObject, type_: &str) -> Option<&'a Value> {
    status(o)["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

pub fn reason(o: &DynamicObject, type_: &str) -> Option<String> {
    condition(o, type_).and_then(|c| c["reason"].as_str().map(str::to_string))
}

pub fn message(o: &DynamicObject, type_: &str) -> String {
    condition(o, type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Ready=True at the current generation, with a pk.
pub fn ready(o: &DynamicObject) -> bool {
    condition(o, "Ready").is_some_and(|c| c["status"] == "True")
        && status(o)["observedGeneration"].as_i64() == o.metadata.generation
        && pk(o).is_some()
}

/// Polls until `pred` holds for the object, or panics with the last state seen.
pub async fn wait(
    env: &Env,
    kind: &str,
    name: &str,
    what: &str,
    pred: impl Fn(&DynamicObject) -> bool,
) -> DynamicObject {
    let api = api(env, kind);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = api.get_opt(name).await.expect("get");
        if let Some(obj) = &current
            && pred(obj)
        {
            return obj.clone();
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {kind} {name} to be {what}; last seen: {current:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn wait_ready(env: &Env, kind: &str, name: &str) -> DynamicObject {
    wait(env, kind, name, "Ready", ready).await
}

/// Polls until the `Synced` condition has `want`; returns the object.
pub async fn wait_synced(env: &Env, kind: &str, name: &str, want: &str) -> DynamicObject {
    wait(env, kind, name, want, |o| {
        reason(o, "Synced").as_deref() == Some(want)
    })
    .await
}

pub async fn wait_gone(env: &Env, kind: &str, name: &str) {
    let api = api(env, kind);
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(o) = api.get_opt(name).await.expect("get") {
        assert!(
            Instant::now() < deadline,
            "{kind} {name} still exists: {o:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls the simulator until `pred` holds for the object at `pk`.
pub async fn wait_remote(env: &Env, pk: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let remote = env.sim.control().stage(pk);
        if let Some(r) = &remote
            && pred(r)
        {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "authentik's object {pk} never {what}: {remote:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The same value, allowing a number for its text (authentik renders TOTP `digits` as text).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        _ => a == b,
    }
}

/// [`same`], lists of plain values compared as sets.
pub fn same_set(a: &Value, b: &Value) -> bool {
    match (a.as_array(), b.as_array()) {
        (Some(x), Some(y)) => x.len() == y.len() && x.iter().all(|v| y.iter().any(|w| same(v, w))),
        _ => same(a, b),
    }
}

/// A spec key as authentik's body names it (the operator's own conversion).
pub use authentik_operator::case::snake_case as snake;

/// The simulator's requests that changed something at `endpoint` (POST, PATCH, PUT, DELETE).
pub fn writes_to(env: &Env, endpoint: &str) -> Vec<authentik_sim::RecordedRequest> {
    let prefix = format!("/api/v3/{endpoint}");
    env.sim_writes()
        .into_iter()
        .filter(|r| r.path.starts_with(&prefix))
        .collect()
}

/// Creates or replaces a Secret with one key.
pub async fn put_secret(env: &Env, name: &str, key: &str, value: &str) {
    use k8s_openapi::api::core::v1::Secret;
    let api: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name}, "stringData": {key: value}
    });
    api.patch(
        name,
        &PatchParams::apply("e2e-kinds").force(),
        &Patch::Apply(&secret),
    )
    .await
    .expect("secret");
}
