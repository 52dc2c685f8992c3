//! Looking into rendered objects: lookups, the checked-in CRDs, the expected RBAC rules
//! and the hardened pod template.

use crate::helpers::{path, stages};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;

pub fn kind_names(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

pub fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

pub fn one<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} among {:?}", kind_names(docs)))
}

/// The `kind`/`name` in `namespace` (namespaced objects share a name across namespaces).
pub fn one_in<'a>(docs: &'a [Value], kind: &str, name: &str, namespace: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"] == kind
                && d["metadata"]["name"] == name
                && d["metadata"]["namespace"] == namespace
        })
        .unwrap_or_else(|| {
            panic!(
                "no {kind}/{name} in {namespace} among {:?}",
                kind_names(docs)
            )
        })
}

/// The namespaces of every `kind`/`name`, in rendering order.
pub fn namespaces_of(docs: &[Value], kind: &str, name: &str) -> Vec<String> {
    docs.iter()
        .filter(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .map(|d| {
            d["metadata"]["namespace"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

pub fn without_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] != kind).collect()
}

pub fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// The container's env, by name.
pub fn env(deployment: &Value) -> BTreeMap<String, Value> {
    container(deployment)["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

pub fn env_value(deployment: &Value, name: &str) -> Option<String> {
    env(deployment)
        .get(name)
        .map(|e| e["value"].as_str().unwrap_or_default().to_string())
}

/// The checked-in CRDs (`crds/*.yaml`), by name.
pub fn checked_in_crds() -> BTreeMap<String, Value> {
    let mut crds = BTreeMap::new();
    for entry in std::fs::read_dir(path("crds")).expect("crds/") {
        let file = entry.unwrap().path();
        if file.extension() != Some(OsStr::new("yaml")) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let crd: Value = serde_saphyr::from_str(&text).unwrap();
        crds.insert(crd["metadata"]["name"].as_str().unwrap().to_string(), crd);
    }
    assert!(!crds.is_empty(), "no CRDs in crds/");
    crds
}

/// JSON numbers as f64, so that `2147483647.0` and `2147483647` compare equal, as they do for
/// the apiserver (Helm's `fromYaml | toYaml` turns one into the other).
pub fn numbers_as_f64(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(numbers_as_f64),
        Value::Object(map) => map.values_mut().for_each(numbers_as_f64),
        _ => {}
    }
}

/// The rendered CRDs are the checked-in ones, apart from labels and annotations.
pub fn assert_same_crds(rendered: &[&Value], what: &str) {
    // The README's clean-up selects them by this label.
    for crd in rendered {
        assert_eq!(
            crd["metadata"]["labels"]["app.kubernetes.io/part-of"], "authentik-operator",
            "{what}: {}",
            crd["metadata"]["name"]
        );
    }
    let strip = |crd: &Value| {
        let mut crd = crd.clone();
        numbers_as_f64(&mut crd);
        let meta = crd["metadata"].as_object_mut().unwrap();
        meta.remove("labels");
        meta.remove("annotations");
        crd
    };
    let want: BTreeMap<String, Value> = checked_in_crds()
        .into_iter()
        .map(|(k, v)| (k, strip(&v)))
        .collect();
    let got: BTreeMap<String, Value> = rendered
        .iter()
        .map(|c| {
            (
                c["metadata"]["name"].as_str().unwrap().to_string(),
                strip(c),
            )
        })
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: not the CRDs of crds/"
    );
    for (name, crd) in &want {
        assert!(
            &got[name] == crd,
            "{what}: CRD {name} differs from crds/{}.yaml",
            name.split('.').next().unwrap()
        );
    }
}

/// The rules for namespaced objects, the same in the chart and the kustomize base.
pub fn namespaced_rules() -> Vec<Value> {
    vec![
        json!({"apiGroups": ["authentik-operator.io"], "resources": stages(),
               "verbs": ["get", "list", "watch", "patch"]}),
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": stages().iter().map(|s| format!("{s}/status")).collect::<Vec<_>>(),
               "verbs": ["patch"]}),
        json!({"apiGroups": ["authentik-operator.io"], "resources": ["authentikconnections"],
               "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": ["authentikconnections/status"], "verbs": ["patch"]}),
        json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}),
        json!({"apiGroups": ["events.k8s.io"], "resources": ["events"],
               "verbs": ["create", "patch"]}),
    ]
}

/// Reading Secrets: a ClusterRole bound only by RoleBindings, namespace by namespace.
pub fn secret_rules() -> Value {
    json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}])
}

/// The rules for cluster-scoped objects: a ClusterRole in every mode.
pub fn cluster_rules() -> Vec<Value> {
    vec![
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": ["clusterauthentikconnections"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": ["clusterauthentikconnections/status"], "verbs": ["patch"]}),
    ]
}

/// The ClusterRole's rules when every namespace is watched.
pub fn all_rules() -> Value {
    let mut rules = namespaced_rules();
    rules.extend(cluster_rules());
    Value::Array(rules)
}

pub fn lease_rules(lease: &str) -> Value {
    json!([
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "resourceNames": [lease], "verbs": ["get", "patch"]},
    ])
}

/// What every pod template must have: non-root, read-only root file system, no privilege
/// escalation, no capabilities, RuntimeDefault seccomp, probes on /livez and /readyz.
pub fn assert_hardened(deployment: &Value, what: &str) {
    let pod = &deployment["spec"]["template"]["spec"];
    let c = container(deployment);
    let sc = &c["securityContext"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{what}");
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{what}"
    );
    assert_eq!(sc["runAsNonRoot"], true, "{what}");
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{what}");
    assert!(sc["capabilities"]["add"].is_null(), "{what}");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez", "{what}");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{what}");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], "metrics", "{what}: {probe}");
    }
    assert_eq!(
        c["ports"],
        json!([{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]),
        "{what}"
    );
    // The identity and namespace come from the downward API.
    let env = env(deployment);
    assert_eq!(
        env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
        "{what}"
    );
    assert_eq!(
        env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace",
        "{what}"
    );
    // The token is a file from the mounted Secret, never an environment variable.
    assert!(!env.contains_key("AUTHENTIK_TOKEN"), "{what}");
    if !env.contains_key("AUTHENTIK_URL") {
        return;
    }
    let token_file = env["AUTHENTIK_TOKEN_FILE"]["value"].as_str().unwrap();
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "authentik-token")
        .expect("token mount");
    assert_eq!(
        format!("{}/token", mount["mountPath"].as_str().unwrap()),
        token_file,
        "{what}"
    );
    assert_eq!(mount["readOnly"], true, "{what}");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "authentik-token")
        .expect("token volume");
    assert_eq!(volume["secret"]["defaultMode"], 0o440, "{what}");
    assert_eq!(volume["secret"]["items"][0]["path"], "token", "{what}");
}
