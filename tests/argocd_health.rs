//! The Argo CD health check (`deploy/argocd/health.lua`) run by a real Lua interpreter from
//! Debian's packages (`lua5.4`; also `lua5.1` when installed, the dialect of Argo CD's
//! gopher-lua) on sample stage resources, and the `argocd-cm` snippet carrying that script.
//!
//! Argo CD hands the script the resource as the global `obj` and reads `status` and `message`
//! of the table it returns; the harness here does the same.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TMP: &str = env!("CARGO_TARGET_TMPDIR");
/// The registered stage kinds.
fn kinds() -> Vec<String> {
    authentik_operator::kinds::kind_crds()
        .into_iter()
        .map(|c| c.spec.names.kind)
        .collect()
}

fn script() -> PathBuf {
    Path::new(ROOT).join("deploy/argocd/health.lua")
}

fn works(lua: &str) -> bool {
    Command::new(lua)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `lua5.4`, installed with apt-get when missing (as tests/run.sh does); fails otherwise.
fn lua54() -> &'static str {
    static LUA: OnceLock<&'static str> = OnceLock::new();
    LUA.get_or_init(|| {
        if !works("lua5.4") {
            eprintln!("lua5.4 is missing: installing it with apt-get");
            let root = Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0"));
            let sudo: &[&str] = if root { &[] } else { &["sudo", "-n"] };
            for args in [
                &["apt-get", "update", "-qq"][..],
                &["apt-get", "install", "-y", "-qq", "lua5.4"],
            ] {
                let mut all: Vec<&str> = sudo.to_vec();
                all.extend_from_slice(args);
                let _ = Command::new(all[0])
                    .args(&all[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .status();
            }
        }
        assert!(
            works("lua5.4"),
            "lua5.4 is required to test deploy/argocd/health.lua and could not be installed: \
             apt-get install lua5.4"
        );
        "lua5.4"
    })
}

/// The interpreters to run the script with: lua5.4 always, lua5.1 when present.
fn interpreters() -> Vec<&'static str> {
    let mut all = vec![lua54()];
    if works("lua5.1") {
        all.push("lua5.1");
    }
    all
}

/// A Lua expression that builds the same value as `v` (JSON null becomes nil).
fn lua_literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                let f = n.as_f64().unwrap();
                assert!(f.is_finite());
                format!("{f:?}")
            }
        }
        Value::String(s) => lua_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(lua_literal).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("[{}] = {}", lua_string(k), lua_literal(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// A double-quoted Lua string; every byte outside printable ASCII as a decimal escape
/// (`\ddd`, understood by Lua 5.1 to 5.4).
fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

#[derive(Debug)]
struct Health {
    status: String,
    message: String,
}

/// Runs `script` on `obj` with `lua` the way Argo CD does.
fn health_with(lua: &str, script: &Path, obj: &Value) -> Health {
    let harness = format!(
        "obj = {}\nlocal hs = dofile({})\nio.write(tostring(hs.status), \"\\n\", tostring(hs.message))\n",
        lua_literal(obj),
        lua_string(&script.display().to_string()),
    );
    let file = Path::new(TMP).join(format!(
        "argocd-health-{}-{}.lua",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&file, harness).unwrap();
    let out = Command::new(lua)
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {lua}: {e}"));
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{lua} failed on {obj}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, message) = text.split_once('\n').unwrap_or((&text, ""));
    Health {
        status: status.to_string(),
        message: message.to_string(),
    }
}

/// The health by every interpreter, which must agree.
fn health(obj: &Value) -> Health {
    let mut first: Option<Health> = None;
    for lua in interpreters() {
        let h = health_with(lua, &script(), obj);
        if let Some(f) = &first {
            assert_eq!(
                (&f.status, &f.message),
                (&h.status, &h.message),
                "{lua} disagrees on {obj}"
            );
        } else {
            first = Some(h);
        }
    }
    first.unwrap()
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": type_, "status": status, "reason": reason, "message": message,
        "observedGeneration": 3, "lastTransitionTime": "2025-01-01T00:00:00Z",
    })
}

/// A PasswordStage at `generation` with `status` (null for none).
fn stage(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1",
        "kind": "PasswordStage",
        "metadata": {"name": "login-password", "namespace": "team-a", "generation": generation,
                     "uid": "5b0a0f0e-1f5c-4a53-9f4e-0c6b1f0e8a11"},
        "spec": {"name": "login-password", "backends": ["authentik.core.auth.InbuiltBackend"]},
        "status": status,
    })
}

fn in_sync() -> Value {
    json!({
        "pk": "8f3a1c2e-7d4b-4e8a-9c1f-2b3d4e5f6a7b",
        "name": "login-password",
        "observedGeneration": 3,
        "conditions": [
            condition("Ready", "True", "InSync", "the stage in authentik matches the spec"),
            condition("Synced", "True", "ReconcileSuccess", "authentik is in line with the spec"),
        ],
    })
}

/// The status after a failed reconcile of generation 3 with `reason`.
fn failed(reason: &str, message: &str, ready_stays: bool) -> Value {
    let ready = if ready_stays {
        condition(
            "Ready",
            "True",
            "InSync",
            "the stage in authentik matches the spec",
        )
    } else {
        condition("Ready", "False", reason, message)
    };
    json!({
        "observedGeneration": 3,
        "conditions": [ready, condition("Synced", "False", reason, message)],
    })
}

fn expect(obj: &Value, status: &str, message_has: &str) {
    let h = health(obj);
    assert_eq!(h.status, status, "{h:?} for {obj}");
    assert!(
        h.message.contains(message_has),
        "message {:?} lacks {message_has:?} for {obj}",
        h.message
    );
}

#[test]
fn healthy_when_ready_for_the_current_generation() {
    expect(&stage(3, in_sync()), "Healthy", "matches the spec");
    expect(
        &stage(3, in_sync()),
        "Healthy",
        "8f3a1c2e-7d4b-4e8a-9c1f-2b3d4e5f6a7b",
    );
    // Observe mode, nothing drifted.
    let mut observed = in_sync();
    observed["conditions"][1] = condition("Synced", "True", "Observed", "observed the stage");
    expect(&stage(3, observed), "Healthy", "matches the spec");
}

#[test]
fn progressing_until_the_operator_has_reconciled_the_current_spec() {
    expect(
        &stage(1, Value::Null),
        "Progressing",
        "Waiting for the operator",
    );
    expect(
        &stage(1, json!({})),
        "Progressing",
        "Waiting for the operator",
    );
    expect(
        &stage(1, json!({"conditions": []})),
        "Progressing",
        "Waiting for the operator",
    );
    // Ready for generation 3, but the spec is at 4 now.
    expect(
        &stage(4, in_sync()),
        "Progressing",
        "generation 4 (observed: 3)",
    );
    // Only the name written before a create, no conditions yet.
    expect(
        &stage(1, json!({"name": "login-password"})),
        "Progressing",
        "Waiting for the operator",
    );
    // A failure that needs a person, but for an older spec: the new one may fix it.
    expect(
        &stage(
            4,
            failed(
                "AuthentikRejected",
                "authentik rejected the stage: x",
                false,
            ),
        ),
        "Progressing",
        "generation 4",
    );
}

#[test]
fn progressing_while_retrying_failures_that_can_clear_by_themselves() {
    let cases = [
        (
            "AuthentikUnreachable",
            "authentik is unreachable: connection refused",
            true,
        ),
        (
            "AuthentikUnreachable",
            "authentik is unreachable: connection refused",
            false,
        ),
        (
            "AuthentikServerError",
            "authentik answered HTTP 503: unavailable",
            true,
        ),
        (
            "ReferenceNotReady",
            "PasswordStage team-a/login-password has no pk yet",
            false,
        ),
        (
            "ReferenceNotFound",
            "no flow with slug default-password-change",
            false,
        ),
        ("NotFound", "not found in authentik: 8f3a", false),
        ("KubernetesError", "Kubernetes API error: timeout", false),
        (
            "ConnectionNotReady",
            "AuthentikConnection team-a/main is not ready",
            false,
        ),
        (
            "SomethingNew",
            "a reason this script does not know yet",
            false,
        ),
    ];
    for (reason, message, ready_stays) in cases {
        expect(
            &stage(3, failed(reason, message, ready_stays)),
            "Progressing",
            &format!("Retrying: {reason}: {message}"),
        );
    }
    // Ready=False for a reason other than drift, with Synced fine: progressing.
    let status = json!({
        "observedGeneration": 3,
        "conditions": [
            condition("Ready", "False", "Pending", "waiting"),
            condition("Synced", "True", "ReconcileSuccess", "ok"),
        ],
    });
    expect(&stage(3, status), "Progressing", "Pending: waiting");
}

#[test]
fn degraded_on_failures_that_need_a_person() {
    let cases = [
        (
            "AuthentikRejected",
            "authentik rejected the stage: backends: invalid choice",
            "change the spec",
        ),
        (
            "AuthentikForbidden",
            "authentik refused the request (HTTP 403): token",
            "check the token",
        ),
        (
            "NameConflict",
            "PasswordStage team-b/other already manages login-password",
            "another resource",
        ),
        (
            "AlreadyExists",
            "a stage named login-password exists in authentik",
            "adoption policy",
        ),
        (
            "AdoptionMismatch",
            "the existing stage differs in: backends",
            "IfMatch",
        ),
        (
            "InvalidReference",
            "passwordStage must reference a PasswordStage",
            "never resolve",
        ),
        ("InvalidSpec", "invalid spec: x", "the spec is invalid"),
        (
            "AuthentikProtocolError",
            "unexpected answer from authentik: 404 on list",
            "version",
        ),
        (
            "ConfigurationError",
            "configuration error: x",
            "misconfigured",
        ),
    ];
    for (reason, message, hint) in cases {
        let obj = stage(3, failed(reason, message, false));
        expect(&obj, "Degraded", &format!("{reason}: {message}"));
        expect(&obj, "Degraded", hint);
    }
}

#[test]
fn degraded_when_observe_mode_finds_drift() {
    let status = json!({
        "pk": "8f3a",
        "observedGeneration": 3,
        "conditions": [
            condition("Ready", "False", "Drifted", "authentik differs from the spec in: backends"),
            condition("Synced", "True", "Observed", "observed the stage in authentik (Observe mode writes nothing)"),
        ],
        "drift": [{"field": "backends", "desired": "[]", "actual": "[1]"}],
    });
    expect(
        &stage(3, status),
        "Degraded",
        "differs from the spec in: backends",
    );
}

#[test]
fn deletion_progresses_unless_blocked_by_references() {
    let mut obj = stage(3, in_sync());
    obj["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
    obj["metadata"]["finalizers"] = json!(["authentik-operator.io/stage"]);
    expect(&obj, "Progressing", "Being deleted");
    let mut blocked = stage(
        3,
        failed(
            "DeleteBlocked",
            "still referenced by IdentificationStage team-a/login-identification",
            true,
        ),
    );
    blocked["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
    expect(&blocked, "Degraded", "login-identification");
}

#[test]
fn messages_with_quotes_newlines_and_unicode_pass_through() {
    let message = "authentik rejected the stage: name: \"ünïcode\" \\ not allowed\nsecond line";
    let obj = stage(3, failed("AuthentikRejected", message, false));
    expect(&obj, "Degraded", message);
}

#[test]
fn argocd_cm_snippet_carries_the_script_for_every_stage_kind() {
    let script = std::fs::read_to_string(script()).unwrap();
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("deploy/argocd/argocd-cm.yaml")).unwrap();
    let cm: Value = serde_saphyr::from_str(&text).expect("argocd-cm.yaml parses");
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    let data = cm["data"].as_object().expect("data");
    let kinds = kinds();
    assert_eq!(data.len(), kinds.len(), "{:?}", data.keys());
    for kind in kinds {
        let key = format!("resource.customizations.health.authentik-operator.io_{kind}");
        assert_eq!(
            data.get(&key).and_then(Value::as_str),
            Some(script.as_str()),
            "{key} in deploy/argocd/argocd-cm.yaml is not deploy/argocd/health.lua \
             (run `cargo xtask generate`)"
        );
    }
}
