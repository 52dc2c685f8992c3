//! A fresh install of each release: `seed/fresh-install-<version>.json` are the reference
//! dumps of real installs (every object of a fresh install's flows, as the API lists them),
//! loaded through the kind tables with their keys and field values.
//!
//! Physical order matters where the API answers in it: objects are inserted in the order the
//! dumps' unordered lists show (`stages/all/`), flow-stage bindings in an order that gives
//! every stage's `flow_set` as the dump shows it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use uuid::Uuid;

use crate::bindings::BindingData;
use crate::model::{KINDS, Kind, Ty};
use crate::policy_bindings::PolicyBindingData;
use crate::profile::Profile;
use crate::serializers::with_defaults;
use crate::state::{FlowData, Rule, State};

const DUMP_2023_10: &str = include_str!("../seed/fresh-install-2023.10.7.json");
const DUMP_2024_4: &str = include_str!("../seed/fresh-install-2024.4.4.json");
const DUMP_2026_2: &str = include_str!("../seed/fresh-install-2026.2.2.json");

/// Objects in a dump that an earlier transcript run left on the server (the 2026.2.2 flows
/// transcript's step 10 creates this flow; the same server had 14 flows before it).
pub const LEFTOVER_FLOW_SLUGS: &[&str] = &["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"];

pub fn dump(profile: Profile) -> &'static str {
    match profile {
        Profile::V2023_10 => DUMP_2023_10,
        Profile::V2024_4 => DUMP_2024_4,
        Profile::Current => DUMP_2026_2,
    }
}

fn uuid(v: &Value) -> Option<Uuid> {
    v.as_str().and_then(|s| s.parse().ok())
}

fn text(o: &Value, k: &str) -> String {
    o[k].as_str().unwrap_or_default().to_string()
}

fn list<'a>(d: &'a Value, endpoint: &str) -> &'a [Value] {
    d[endpoint].as_array().map_or(&[], Vec::as_slice)
}

/// Add the fresh-install objects of `profile`'s release to `state`.
pub fn seed(state: &mut State, profile: Profile) {
    let Ok(d) = serde_json::from_str::<Value>(dump(profile)) else {
        return;
    };
    flows(state, &d);
    for s in list(&d, "sources/all/") {
        if let Some(pk) = uuid(&s["pk"]) {
            let managed = s["managed"].as_str();
            state.insert_source_with(pk, &text(s, "name"), &text(s, "slug"), managed);
        }
    }
    objects(state, profile, &d);
    bindings(state, &d);
    policy_bindings(state, &d);
    // Every install runs blueprints/system/bootstrap.yaml, which creates this group
    // (superuser); the dumps hold no groups.
    let admins = state.insert_group("authentik Admins");
    state.update_group(admins, None, Some(true), None);
    state.forget_changes();
}

fn flows(state: &mut State, d: &Value) {
    for f in list(d, "flows/instances/") {
        let (Some(pk), Some(pbm)) = (uuid(&f["pk"]), uuid(&f["policybindingmodel_ptr_id"])) else {
            continue;
        };
        if LEFTOVER_FLOW_SLUGS.contains(&f["slug"].as_str().unwrap_or_default()) {
            continue;
        }
        let mut data = FlowData::new(
            &text(f, "name"),
            &text(f, "slug"),
            &text(f, "title"),
            &text(f, "designation"),
        );
        // Before 2025.12 `background` was the read-only URL; the stored value is empty.
        if f.get("background_url").is_some() {
            data.background = text(f, "background");
        }
        data.policy_engine_mode = text(f, "policy_engine_mode");
        data.compatibility_mode = f["compatibility_mode"].as_bool().unwrap_or(false);
        data.layout = text(f, "layout");
        data.denied_action = text(f, "denied_action");
        data.authentication = text(f, "authentication");
        state.insert_flow_with(pk, pbm, data);
    }
}

/// Stages (in `stages/all/` order), prompts and policies (in `policies/all/` order).
fn objects(state: &mut State, profile: Profile, d: &Value) {
    let mut found: HashMap<Uuid, (Kind, &Value)> = HashMap::new();
    for kind in KINDS {
        for o in list(d, &format!("{}/", kind.path())) {
            if let Some(pk) = uuid(&o["pk"]) {
                found.insert(pk, (kind, o));
            }
        }
    }
    let order = list(d, "stages/all/")
        .iter()
        .chain(list(d, "stages/prompt/prompts/"))
        .chain(list(d, "policies/all/"));
    for o in order {
        let Some(pk) = uuid(&o["pk"]) else { continue };
        let Some((kind, full)) = found.get(&pk).copied() else {
            continue;
        };
        if state.obj(pk).is_some() {
            continue;
        }
        let mut sent = BTreeMap::new();
        for spec in kind
            .fields(profile)
            .filter(|f| f.writable() && f.readable())
        {
            let Some(v) = full.get(spec.name) else {
                continue;
            };
            let v = match (spec.ty, v) {
                (Ty::IntChoice(_), Value::String(s)) => {
                    s.parse::<i64>().map_or(v.clone(), Value::from)
                }
                _ => v.clone(),
            };
            sent.insert(spec.name, v);
        }
        let fields = with_defaults(kind, profile, sent);
        state.insert_obj(kind, Some(pk), text(full, "name"), fields);
    }
}

/// Flow-stage bindings, inserted in an order that gives every stage's `flow_set` as the
/// dump shows it (ties in the dump's list order).
fn bindings(state: &mut State, d: &Value) {
    let listed: Vec<&Value> = list(d, "flows/bindings/")
        .iter()
        .filter(|b| uuid(&b["target"]).is_some_and(|t| state.flows.contains_key(&t)))
        .collect();
    let index: HashMap<(Uuid, Uuid), usize> = listed
        .iter()
        .enumerate()
        .filter_map(|(i, b)| Some(((uuid(&b["target"])?, uuid(&b["stage"])?), i)))
        .collect();
    let mut before: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); listed.len()];
    let mut chain = |pairs: Vec<(Uuid, Uuid)>| {
        let idx: Vec<usize> = pairs.iter().filter_map(|p| index.get(p).copied()).collect();
        for w in idx.windows(2) {
            before[w[1]].insert(w[0]);
        }
    };
    for s in list(d, "stages/all/") {
        let Some(spk) = uuid(&s["pk"]) else { continue };
        let set = s["flow_set"].as_array().map_or(&[][..], Vec::as_slice);
        chain(
            set.iter()
                .filter_map(|f| uuid(&f["pk"]))
                .map(|f| (f, spk))
                .collect(),
        );
    }
    let mut done = vec![false; listed.len()];
    for _ in 0..listed.len() {
        // The first binding (in list order) whose predecessors are in; list order if none.
        let next = (0..listed.len())
            .find(|i| !done[*i] && before[*i].iter().all(|p| done[*p]))
            .or_else(|| (0..listed.len()).find(|i| !done[*i]));
        let Some(i) = next else { break };
        done[i] = true;
        let b = listed[i];
        let (Some(pk), Some(pbm), Some(target), Some(stage)) = (
            uuid(&b["pk"]),
            uuid(&b["policybindingmodel_ptr_id"]),
            uuid(&b["target"]),
            uuid(&b["stage"]),
        ) else {
            continue;
        };
        let mut data = BindingData::new(target, stage, b["order"].as_i64().unwrap_or(0));
        data.evaluate_on_plan = b["evaluate_on_plan"].as_bool().unwrap_or(false);
        data.re_evaluate_policies = b["re_evaluate_policies"].as_bool().unwrap_or(true);
        data.policy_engine_mode = text(b, "policy_engine_mode");
        data.invalid_response_action = text(b, "invalid_response_action");
        state.bindings.insert_with(pk, pbm, data);
    }
}

/// Policy bindings; a target that is neither a flow nor a flow-stage binding is one of the
/// install's notification rules, kept as a bare target whose policy-binding-model id is its
/// pk (which keeps the listing order of the dumps).
fn policy_bindings(state: &mut State, d: &Value) {
    for b in list(d, "policies/bindings/") {
        let (Some(pk), Some(target)) = (uuid(&b["pk"]), uuid(&b["target"])) else {
            continue;
        };
        let pbm = match state.resolve_pbm(target) {
            Some(pbm) => pbm,
            None => {
                state.rules.insert(
                    target,
                    Rule {
                        pk: target,
                        pbm: target,
                        name: String::new(),
                    },
                );
                target
            }
        };
        let mut data = PolicyBindingData::new(pbm, b["order"].as_i64().unwrap_or(0));
        data.policy = uuid(&b["policy"]);
        data.group = uuid(&b["group"]);
        data.user = b["user"].as_i64();
        data.negate = b["negate"].as_bool().unwrap_or(false);
        data.enabled = b["enabled"].as_bool().unwrap_or(true);
        data.timeout = b["timeout"].as_i64().unwrap_or(30);
        data.failure_result = b["failure_result"].as_bool().unwrap_or(false);
        state.insert_policy_binding(Some(pk), data);
    }
}
