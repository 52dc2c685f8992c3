//! Packaging, proven with the real tools: the Helm chart (`charts/authentik-operator`), the
//! kustomize base (`deploy/base`) and the Argo CD snippet (`deploy/argocd`) are rendered by
//! `helm` and `kubectl` built from their Go modules (`tests/helm/build.sh`,
//! `tests/controlplane/build.sh`), and what they render goes to the real kube-apiserver of
//! `testenv`: `helm install`, `helm upgrade` (which must upgrade the CRDs) and `helm uninstall`
//! (which must keep them), server-side applies, Pod Security admission ("restricted") for the
//! pod template, and `kubectl auth can-i` plus real calls with the chart's ServiceAccount token
//! for the RBAC.
//!
//! `HELM_BIN` (a path to a helm binary) skips building helm.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TMP: &str = env!("CARGO_TARGET_TMPDIR");
const CHART: &str = "charts/authentik-operator";
const STAGES: [&str; 3] = ["passwordstages", "identificationstages", "userloginstages"];

fn path(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

// --- running helm and kubectl -------------------------------------------------------------

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command, what: &str) -> Out {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {what}: {e}"));
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// helm, built once per version into the user's cache (or `$HELM_BIN`).
fn helm_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("HELM_BIN").filter(|b| !b.is_empty()) {
            return PathBuf::from(bin);
        }
        let script = path("tests/helm/build.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("running tests/helm/build.sh");
        assert!(
            out.status.success(),
            "tests/helm/build.sh failed: it builds helm from its Go module and needs `go`"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = stdout.lines().last().unwrap_or_default().trim();
        let bin = Path::new(dir).join("helm");
        assert!(
            bin.is_file(),
            "tests/helm/build.sh printed {dir:?}, without helm in it"
        );
        bin
    })
}

fn helm<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let home = Path::new(TMP).join("helm-home");
    let mut cmd = Command::new(helm_bin());
    cmd.args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("KUBECONFIG")
        .env_remove("HELM_NAMESPACE");
    run(cmd, "helm")
}

fn helm_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let out = helm(&args);
    assert!(
        out.ok,
        "helm {} failed:\n{}\n{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// `helm template` arguments: values files (relative to the repository) and `--set`s.
fn template_args(release: &str, namespace: &str, values: &[&str], sets: &[&str]) -> Vec<String> {
    let mut args = vec![
        "template".to_string(),
        release.to_string(),
        path(CHART).display().to_string(),
        "--namespace".to_string(),
        namespace.to_string(),
    ];
    for v in values {
        args.push("-f".into());
        args.push(path(v).display().to_string());
    }
    for s in sets {
        args.push("--set".into());
        args.push((*s).to_string());
    }
    args
}

/// The objects `helm template` renders.
fn render(release: &str, namespace: &str, values: &[&str], sets: &[&str]) -> Vec<Value> {
    parse_docs(&helm_ok(template_args(release, namespace, values, sets)))
}

fn parse_docs(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .unwrap_or_else(|e| panic!("rendered YAML does not parse: {e}\n{yaml}"));
    docs.into_iter().filter(Value::is_object).collect()
}

fn kubectl_out<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = testenv::shared().kubectl();
    cmd.args(args);
    run(cmd, "kubectl")
}

fn kubectl_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let out = kubectl_out(&args);
    assert!(
        out.ok,
        "kubectl {} failed:\n{}\n{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// Writes `objects` into a fresh file, one JSON document each (JSON is YAML; a `kind: List`
/// would make kubectl's client-side validation trip over the `null` in a CRD's enum).
fn write_list(name: &str, objects: &[&Value]) -> PathBuf {
    let file = Path::new(TMP).join(format!("{}.yaml", testenv::unique_namespace(name)));
    let docs: Vec<String> = objects
        .iter()
        .map(|o| serde_json::to_string_pretty(o).unwrap())
        .collect();
    std::fs::write(&file, docs.join("\n---\n")).expect("write objects");
    file
}

/// Server-side apply of `objects` for real (or with `--dry-run=server`).
fn apply(name: &str, objects: &[&Value], dry_run: bool) {
    let file = write_list(name, objects);
    let mut args = vec![
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=packaging-test",
    ];
    if dry_run {
        args.push("--dry-run=server");
    }
    let file_s = file.display().to_string();
    args.extend(["-f", &file_s]);
    kubectl_ok(&args);
}

// --- looking into rendered objects ----------------------------------------------------------

fn kind_names(docs: &[Value]) -> BTreeSet<String> {
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

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} among {:?}", kind_names(docs)))
}

fn without_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] != kind).collect()
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// The container's env, by name.
fn env(deployment: &Value) -> BTreeMap<String, Value> {
    container(deployment)["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

fn env_value(deployment: &Value, name: &str) -> Option<String> {
    env(deployment)
        .get(name)
        .map(|e| e["value"].as_str().unwrap_or_default().to_string())
}

/// The checked-in CRDs (`crds/*.yaml`), by name.
fn checked_in_crds() -> BTreeMap<String, Value> {
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
fn numbers_as_f64(v: &mut Value) {
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
fn assert_same_crds(rendered: &[&Value], what: &str) {
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
fn namespaced_rules() -> Vec<Value> {
    vec![
        json!({"apiGroups": ["authentik-operator.io"], "resources": STAGES,
               "verbs": ["get", "list", "watch", "patch"]}),
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": STAGES.map(|s| format!("{s}/status")), "verbs": ["patch"]}),
        json!({"apiGroups": ["authentik-operator.io"], "resources": ["authentikconnections"],
               "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": ["authentikconnections/status"], "verbs": ["patch"]}),
        json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}),
        json!({"apiGroups": ["events.k8s.io"], "resources": ["events"],
               "verbs": ["create", "patch"]}),
    ]
}

/// The rules for cluster-scoped objects: a ClusterRole in every mode.
fn cluster_rules() -> Vec<Value> {
    vec![
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": ["clusterauthentikconnections"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": ["authentik-operator.io"],
               "resources": ["clusterauthentikconnections/status"], "verbs": ["patch"]}),
    ]
}

/// The ClusterRole's rules when every namespace is watched.
fn all_rules() -> Value {
    let mut rules = namespaced_rules();
    rules.extend(cluster_rules());
    Value::Array(rules)
}

fn lease_rules(lease: &str) -> Value {
    json!([
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "resourceNames": [lease], "verbs": ["get", "patch"]},
    ])
}

/// What every pod template must have: non-root, read-only root file system, no privilege
/// escalation, no capabilities, RuntimeDefault seccomp, probes on /livez and /readyz.
fn assert_hardened(deployment: &Value, what: &str) {
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

// --- the control plane ------------------------------------------------------------------

/// A release of the chart installed with `helm install` (default values), once per test
/// binary: it brings the CRDs the other tests need, created by Helm from the templates.
/// Returns the release name, which is also its namespace.
fn installed_release() -> &'static str {
    static RELEASE: OnceLock<String> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let cp = testenv::shared();
        let ns = cp.create_namespace("ao-helm").expect("namespace");
        helm_ok([
            "install",
            &ns,
            &path(CHART).display().to_string(),
            "--namespace",
            &ns,
            "-f",
            &path(&format!("{CHART}/ci/default-values.yaml"))
                .display()
                .to_string(),
            "--kubeconfig",
            &cp.kubeconfig().display().to_string(),
        ]);
        let crds: Vec<String> = checked_in_crds()
            .keys()
            .map(|name| format!("crd/{name}"))
            .collect();
        let mut args = vec!["wait", "--for=condition=Established", "--timeout=60s"];
        args.extend(crds.iter().map(String::as_str));
        kubectl_ok(&args);
        ns
    })
}

/// A minimal ServiceMonitor CRD (prometheus-operator's is large; the shape is all we need).
fn service_monitor_crd() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
            "spec": {
                "group": "monitoring.coreos.com",
                "names": {"kind": "ServiceMonitor", "plural": "servicemonitors",
                          "singular": "servicemonitor", "listKind": "ServiceMonitorList"},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object",
                            "x-kubernetes-preserve-unknown-fields": true}}}}
                }]
            }
        });
        apply("servicemonitor-crd", &[&crd], false);
        kubectl_ok([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com",
        ]);
    });
}

/// Creating a Pod from the Deployment's template in a namespace that enforces the
/// "restricted" Pod Security Standard succeeds (server-side dry run), and the same Pod with
/// privilege escalation allowed is refused (so the check is real).
fn assert_pod_security_restricted(namespace: &str, deployment: &Value) {
    kubectl_ok([
        "label",
        "namespace",
        namespace,
        "--overwrite",
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pod-security-check", "namespace": namespace},
        "spec": deployment["spec"]["template"]["spec"],
    });
    let file = write_list("pod", &[&pod]);
    let file = file.display().to_string();
    kubectl_ok(["create", "--dry-run=server", "-f", &file]);
    let mut bad = pod.clone();
    bad["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
    let file = write_list("pod-bad", &[&bad]);
    let out = kubectl_out([
        "create",
        "--dry-run=server",
        "-f",
        &file.display().to_string(),
    ]);
    assert!(
        !out.ok && out.stderr.contains("violates PodSecurity"),
        "a pod allowing privilege escalation was not refused: {}",
        out.stderr
    );
}

/// `kubectl auth can-i` as `who` for each `(expected, "verb resource [flags]")`; reports every
/// mismatch at once.
fn assert_can_i(who: &str, cases: &[(bool, String)]) {
    let mut wrong = Vec::new();
    for (expected, question) in cases {
        let mut args = vec!["auth", "can-i"];
        args.extend(question.split_whitespace());
        let as_ = format!("--as={who}");
        args.push(&as_);
        let out = kubectl_out(&args);
        let answer = out.stdout.trim();
        let got = if answer.starts_with("yes") {
            true
        } else if answer.starts_with("no") {
            false
        } else {
            panic!(
                "kubectl auth can-i {question}: {}{}",
                out.stdout, out.stderr
            );
        };
        if got != *expected {
            wrong.push(format!(
                "can-i {question}: expected {}, got {}",
                if *expected { "yes" } else { "no" },
                answer
            ));
        }
    }
    assert!(wrong.is_empty(), "RBAC of {who}:\n{}", wrong.join("\n"));
}

/// The chart's name for a release's objects (release names here never contain the chart's).
fn fullname(release: &str) -> String {
    format!("{release}-authentik-operator")
}

fn q(s: impl Into<String>) -> String {
    s.into()
}

fn forbidden(out: &Out) -> bool {
    !out.ok && out.stderr.contains("forbidden")
}

/// An events.k8s.io/v1 Event about a stage, as kube-rs' Recorder writes it.
fn event(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "eventTime": "2025-01-01T00:00:00.000000Z",
        "reportingController": "authentik-operator",
        "reportingInstance": "authentik-operator-0",
        "action": "Reconcile",
        "reason": "Created",
        "type": "Normal",
        "note": "created the stage in authentik",
        "regarding": {"apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
                      "name": "login-password", "namespace": namespace},
    })
}

// --- the tests ------------------------------------------------------------------------------

#[test]
fn chart_and_kustomize_base_carry_the_checked_in_crds() {
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect()
    };
    let source = path("crds");
    for copy in [
        format!("{CHART}/files/crds"),
        "deploy/base/crds".to_string(),
    ] {
        let fix = format!("cp crds/*.yaml {copy}/");
        assert_eq!(
            names(&path(&copy)),
            names(&source),
            "{copy} does not hold the CRDs of crds/: run `{fix}`"
        );
        for name in names(&source) {
            let a = std::fs::read(source.join(&name)).unwrap();
            let b = std::fs::read(path(&copy).join(&name)).unwrap();
            assert!(
                a == b,
                "{copy}/{name} differs from crds/{name}: run `{fix}`"
            );
        }
    }
}

#[test]
fn helm_lint_passes_for_the_defaults_and_every_ci_values_file() {
    let chart = path(CHART).display().to_string();
    let out = helm_ok(["lint", "--strict", &chart]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(path(&format!("{CHART}/ci")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "ci/ values files: {files:?}");
    for file in files {
        let out = helm([
            "lint",
            "--strict",
            &chart,
            "-f",
            &file.display().to_string(),
        ]);
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(out.ok, "helm lint with {}: {text}", file.display());
        for bad in ["[ERROR]", "[WARNING]", "level=WARN"] {
            assert!(
                !text.contains(bad),
                "helm lint with {}: {text}",
                file.display()
            );
        }
    }
}

#[test]
fn helm_refuses_missing_or_misspelt_values() {
    let fails = |values: &[&str], sets: &[&str], expected: &str| {
        let out = helm(template_args("ao", "ops", values, sets));
        assert!(
            !out.ok && out.stderr.contains(expected),
            "helm template {values:?} {sets:?}: expected a failure mentioning {expected:?}, got:\n{}",
            out.stderr
        );
    };
    fails(
        &[],
        &["authentik.url=https://a.example"],
        "authentik.tokenSecret.name is required",
    );
    let ci = format!("{CHART}/ci/default-values.yaml");
    // values.schema.json: unknown keys and bad values are refused.
    fails(&[&ci], &["watchNamespaces=team-a"], "watchNamespaces");
    fails(&[&ci], &["watchNamespace=Team_A"], "watchNamespace");
    fails(&[&ci], &["logFormat=xml"], "logFormat");
    fails(&[&ci], &["authentik.url=authentik.example.com"], "url");
    fails(&[&ci], &["resyncInterval=soon"], "resyncInterval");
}

#[test]
fn default_values_render_one_hardened_replica_watching_all_namespaces() {
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/default-values.yaml")],
        &[],
    );
    let mut expected: BTreeSet<String> = [
        "ServiceAccount/ao-authentik-operator",
        "ClusterRole/ao-authentik-operator",
        "ClusterRoleBinding/ao-authentik-operator",
        "Service/ao-authentik-operator-metrics",
        "Deployment/ao-authentik-operator",
    ]
    .map(String::from)
    .into();
    expected.extend(
        checked_in_crds()
            .into_keys()
            .map(|name| format!("CustomResourceDefinition/{name}")),
    );
    assert_eq!(kind_names(&docs), expected);

    // The CRDs: the checked-in ones, kept on uninstall.
    let crds = of_kind(&docs, "CustomResourceDefinition");
    assert_same_crds(&crds, "helm template");
    for crd in &crds {
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
            "{}",
            crd["metadata"]["name"]
        );
    }

    let role = one(&docs, "ClusterRole", "ao-authentik-operator");
    assert_eq!(role["rules"], all_rules());
    let binding = one(&docs, "ClusterRoleBinding", "ao-authentik-operator");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "ao-authentik-operator", "namespace": "operators"}])
    );
    assert_eq!(binding["roleRef"]["name"], "ao-authentik-operator");

    let deploy = one(&docs, "Deployment", "ao-authentik-operator");
    assert_hardened(deploy, "chart");
    assert_eq!(deploy["spec"]["replicas"], 1);
    // One replica, no leader election: the old pod must be gone before the new one starts.
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION").as_deref(),
        Some("false")
    );
    assert_eq!(env_value(deploy, "LEADER_ELECTION_LEASE"), None);
    assert_eq!(env_value(deploy, "WATCH_NAMESPACE").as_deref(), Some(""));
    assert_eq!(
        env_value(deploy, "AUTHENTIK_URL").as_deref(),
        Some("https://authentik.example.com")
    );
    assert_eq!(
        env_value(deploy, "METRICS_ADDR").as_deref(),
        Some("0.0.0.0:8080")
    );
    assert_eq!(env_value(deploy, "RESYNC_INTERVAL").as_deref(), Some("60s"));
    assert_eq!(env_value(deploy, "LOG_FORMAT").as_deref(), Some("plain"));
    assert_eq!(env_value(deploy, "AUTHENTIK_CA_FILE"), None);
    assert_eq!(
        container(deploy)["image"],
        "ghcr.io/authentik-operator/authentik-operator:0.1.0"
    );
    assert_eq!(
        deploy["spec"]["template"]["spec"]["serviceAccountName"],
        "ao-authentik-operator"
    );

    let svc = one(&docs, "Service", "ao-authentik-operator-metrics");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}])
    );
    assert_eq!(
        svc["spec"]["selector"],
        deploy["spec"]["selector"]["matchLabels"]
    );

    // installCRDs=false leaves them out.
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/default-values.yaml")],
        &["installCRDs=false"],
    );
    assert!(of_kind(&docs, "CustomResourceDefinition").is_empty());
}

#[test]
fn replicas_force_leader_election_and_watch_namespace_makes_rbac_namespaced() {
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/ha-namespaced-values.yaml")],
        &[],
    );
    // Cluster-wide, only the cluster-scoped connections.
    let cluster_role = one(&docs, "ClusterRole", "ao-authentik-operator");
    assert_eq!(cluster_role["rules"], Value::Array(cluster_rules()));
    one(&docs, "ClusterRoleBinding", "ao-authentik-operator");
    let role = one(&docs, "Role", "ao-authentik-operator");
    assert_eq!(role["metadata"]["namespace"], "team-a");
    assert_eq!(role["rules"], Value::Array(namespaced_rules()));
    let binding = one(&docs, "RoleBinding", "ao-authentik-operator");
    assert_eq!(binding["metadata"]["namespace"], "team-a");
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(binding["subjects"][0]["namespace"], "operators");

    let lease_role = one(&docs, "Role", "ao-authentik-operator-leader-election");
    assert_eq!(lease_role["metadata"]["namespace"], "operators");
    assert_eq!(lease_role["rules"], lease_rules("ao-authentik-operator"));
    let lease_binding = one(
        &docs,
        "RoleBinding",
        "ao-authentik-operator-leader-election",
    );
    assert_eq!(lease_binding["metadata"]["namespace"], "operators");

    let deploy = one(&docs, "Deployment", "ao-authentik-operator");
    assert_hardened(deploy, "chart, HA");
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(deploy["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 0);
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION_LEASE").as_deref(),
        Some("ao-authentik-operator")
    );
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION_NAMESPACE").as_deref(),
        Some("operators")
    );
    assert_eq!(
        env_value(deploy, "WATCH_NAMESPACE").as_deref(),
        Some("team-a")
    );
    assert_eq!(env_value(deploy, "LOG_FORMAT").as_deref(), Some("json"));
    assert_eq!(env_value(deploy, "RESYNC_INTERVAL").as_deref(), Some("5m"));
    assert_eq!(
        env_value(deploy, "AUTHENTIK_CA_FILE").as_deref(),
        Some("/var/run/secrets/authentik-operator/ca/ca.crt")
    );
    let volumes = &deploy["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["secret"]["items"][0]["key"], "api-token");
    assert_eq!(volumes[1]["secret"]["secretName"], "authentik-ca");
    assert_eq!(volumes[1]["secret"]["items"][0]["path"], "ca.crt");
    let pdb = one(&docs, "PodDisruptionBudget", "ao-authentik-operator");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert!(of_kind(&docs, "ServiceMonitor").is_empty());

    // Leader election on request with one replica; forced on with more than one.
    let ci = format!("{CHART}/ci/default-values.yaml");
    for sets in [
        &["leaderElection.enabled=true"][..],
        &["replicas=3", "leaderElection.enabled=false"][..],
    ] {
        let docs = render("ao", "operators", &[&ci], sets);
        let deploy = one(&docs, "Deployment", "ao-authentik-operator");
        assert_eq!(
            env_value(deploy, "LEADER_ELECTION").as_deref(),
            Some("true"),
            "{sets:?}"
        );
        one(&docs, "Role", "ao-authentik-operator-leader-election");
        one(&docs, "ClusterRole", "ao-authentik-operator");
    }
}

#[test]
fn service_monitor_only_when_asked_for_and_no_default_authentik() {
    let docs = render(
        "ao",
        "operators",
        &[&format!("{CHART}/ci/monitoring-values.yaml")],
        &[],
    );
    let sm = one(&docs, "ServiceMonitor", "ao-authentik-operator");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(
        sm["spec"]["endpoints"],
        json!([{"port": "metrics", "path": "/metrics", "interval": "30s"}])
    );
    assert_eq!(
        sm["spec"]["namespaceSelector"]["matchNames"],
        json!(["operators"])
    );
    // It selects the metrics Service, and only that.
    let svc = one(&docs, "Service", "ao-authentik-operator-metrics");
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&svc["metadata"]["labels"][k], v, "label {k}");
    }
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"],
        "metrics"
    );
    let role = one(&docs, "ClusterRole", "ao-authentik-operator");
    assert_eq!(role["rules"], all_rules());
    // No default authentik: no token to mount.
    let deploy = one(&docs, "Deployment", "ao-authentik-operator");
    assert_hardened(deploy, "chart without a default authentik");
    assert_eq!(env_value(deploy, "AUTHENTIK_URL"), None);
    assert!(deploy["spec"]["template"]["spec"]["volumes"].is_null());
}

#[test]
fn helm_install_upgrade_uninstall_upgrades_and_keeps_the_crds() {
    let cp = testenv::shared();
    let release = installed_release();
    let kubeconfig = cp.kubeconfig().display().to_string();
    // Helm created the CRDs from the templates and owns them.
    for name in checked_in_crds().keys() {
        let crd = format!("crd/{name}");
        let meta: Value = serde_json::from_str(&kubectl_ok(["get", &crd, "-o", "json"])).unwrap();
        let ann = &meta["metadata"]["annotations"];
        assert_eq!(ann["meta.helm.sh/release-name"], release, "{crd}");
        assert_eq!(ann["helm.sh/resource-policy"], "keep", "{crd}");
    }
    let name = fullname(release);
    kubectl_ok(["get", "deployment", &name, "-n", release]);
    // The CRDs accept the example manifests.
    kubectl_ok([
        "apply",
        "--dry-run=server",
        "-n",
        release,
        "-f",
        &path("deploy/examples/login-flow.yaml")
            .display()
            .to_string(),
    ]);

    // A new chart version whose CRD changed: `helm upgrade` must bring the change.
    let marker = "UPGRADE-MARKER";
    let copy = Path::new(TMP).join(testenv::unique_namespace("chart-upgrade"));
    copy_dir(&path(CHART), &copy.join("authentik-operator"));
    let chart = copy.join("authentik-operator");
    let crd_file = chart.join("files/crds/passwordstages.yaml");
    let text = std::fs::read_to_string(&crd_file).unwrap();
    let needle = "A password stage in authentik";
    assert!(
        text.contains(needle),
        "the description changed: update this test"
    );
    std::fs::write(
        &crd_file,
        text.replacen(needle, &format!("{marker} {needle}"), 1),
    )
    .unwrap();
    let chart_yaml = chart.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).unwrap();
    let bumped: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("version:") {
                "version: 99.0.0".into()
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&chart_yaml, bumped.join("\n")).unwrap();
    helm_ok([
        "upgrade",
        release,
        &chart.display().to_string(),
        "--namespace",
        release,
        "-f",
        &path(&format!("{CHART}/ci/default-values.yaml"))
            .display()
            .to_string(),
        "--kubeconfig",
        &kubeconfig,
    ]);
    let description = kubectl_ok([
        "get",
        "crd/passwordstages.authentik-operator.io",
        "-o",
        "jsonpath={.spec.versions[0].schema.openAPIV3Schema.description}",
    ]);
    assert!(
        description.starts_with(marker),
        "helm upgrade did not upgrade the CRD: {description}"
    );

    // `helm uninstall` removes the operator and keeps the CRDs (and so every stage resource).
    let out = helm_ok([
        "uninstall",
        release,
        "--namespace",
        release,
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert!(
        out.contains("kept"),
        "uninstall did not report kept resources: {out}"
    );
    for name in checked_in_crds().keys() {
        kubectl_ok(["get", &format!("crd/{name}")]);
    }
    let gone = kubectl_out(["get", "deployment", &name, "-n", release]);
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );
    let gone = kubectl_out(["get", "clusterrole", &name]);
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );

    // Installing again under the same name adopts the kept CRDs.
    helm_ok([
        "install",
        release,
        &path(CHART).display().to_string(),
        "--namespace",
        release,
        "-f",
        &path(&format!("{CHART}/ci/default-values.yaml"))
            .display()
            .to_string(),
        "--kubeconfig",
        &kubeconfig,
    ]);
    let description = kubectl_ok([
        "get",
        "crd/passwordstages.authentik-operator.io",
        "-o",
        "jsonpath={.spec.versions[0].schema.openAPIV3Schema.description}",
    ]);
    assert!(
        !description.starts_with(marker),
        "the reinstall did not bring the chart's CRD back: {description}"
    );
}

/// `to` relative to the folder `from` (kustomize refuses absolute paths).
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn chart_rbac_cluster_wide_grants_what_the_operator_needs_and_nothing_more() {
    let cp = testenv::shared();
    installed_release(); // the CRDs
    let ns = cp.create_namespace("ao-chart").expect("namespace");
    let other = cp.create_namespace("ao-other").expect("namespace");
    let docs = render(&ns, &ns, &[&format!("{CHART}/ci/default-values.yaml")], &[]);
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("chart-default", &rest, false);
    let name = fullname(&ns);
    let deploy = one(&docs, "Deployment", &name);
    assert_pod_security_restricted(&ns, deploy);

    let who = format!("system:serviceaccount:{ns}:{name}");
    let mut cases = Vec::new();
    for s in STAGES {
        let r = format!("{s}.authentik-operator.io");
        for verb in ["get", "list", "watch", "patch"] {
            cases.push((true, format!("{verb} {r} -n {other}")));
        }
        cases.push((true, format!("list {r} --all-namespaces")));
        cases.push((true, format!("patch {r} --subresource=status -n {other}")));
        for verb in ["create", "update", "delete", "deletecollection"] {
            cases.push((false, format!("{verb} {r} -n {other}")));
        }
        cases.push((false, format!("update {r} --subresource=status -n {other}")));
    }
    cases.extend([
        (true, q(format!("create events.events.k8s.io -n {other}"))),
        (true, q(format!("patch events.events.k8s.io -n {other}"))),
        (false, q(format!("delete events.events.k8s.io -n {other}"))),
        (false, q(format!("create events -n {other}"))), // the core/v1 API: not used
        // Connections and what they reference: read-only.
        (
            true,
            q("list authentikconnections.authentik-operator.io --all-namespaces"),
        ),
        (
            true,
            q(format!(
                "patch authentikconnections.authentik-operator.io --subresource=status -n {other}"
            )),
        ),
        (
            false,
            q(format!(
                "patch authentikconnections.authentik-operator.io -n {other}"
            )),
        ),
        (
            false,
            q(format!(
                "create authentikconnections.authentik-operator.io -n {other}"
            )),
        ),
        (
            true,
            q("watch clusterauthentikconnections.authentik-operator.io"),
        ),
        (
            true,
            q("patch clusterauthentikconnections.authentik-operator.io --subresource=status"),
        ),
        (
            false,
            q("delete clusterauthentikconnections.authentik-operator.io"),
        ),
        (true, q(format!("get secrets -n {other}"))),
        (true, q("watch secrets --all-namespaces")),
        (false, q(format!("create secrets -n {ns}"))),
        (false, q(format!("update secrets -n {ns}"))),
        (false, q(format!("patch secrets -n {ns}"))),
        (false, q(format!("delete secrets -n {ns}"))),
        (true, q(format!("get configmaps -n {other}"))),
        (false, q(format!("list configmaps -n {other}"))),
        (false, q(format!("update configmaps -n {other}"))),
        (
            false,
            q(format!("create leases.coordination.k8s.io -n {ns}")),
        ), // no leader election
        (false, q(format!("create pods -n {ns}"))),
        (false, q("list namespaces")),
        (
            false,
            q("create customresourcedefinitions.apiextensions.k8s.io"),
        ),
    ]);
    assert_can_i(&who, &cases);

    // Real calls with the ServiceAccount's token.
    let token = cp.service_account_token(&ns, &name).expect("token");
    let as_sa = |args: &[&str]| {
        let mut cmd = cp.kubectl_with_token(&token);
        cmd.args(args);
        run(cmd, "kubectl")
    };
    let out = as_sa(&[
        "get",
        "passwordstages.authentik-operator.io",
        "--all-namespaces",
    ]);
    assert!(out.ok, "listing stages: {}", out.stderr);
    let out = as_sa(&["create", "secret", "generic", "stolen", "-n", &other]);
    assert!(
        forbidden(&out),
        "creating a secret: {} {}",
        out.stdout,
        out.stderr
    );
    let out = as_sa(&["get", "configmaps", "-n", &other]);
    assert!(
        forbidden(&out),
        "listing configmaps: {} {}",
        out.stdout,
        out.stderr
    );
    let out = as_sa(&["delete", "passwordstage", "login-password", "-n", &other]);
    assert!(
        forbidden(&out),
        "deleting a stage: {} {}",
        out.stdout,
        out.stderr
    );
    // Events: created, then counted up with a patch, as the Recorder does.
    let file = write_list("event", &[&event(&other, "login-password.1")]);
    let out = as_sa(&["create", "-f", &file.display().to_string()]);
    assert!(out.ok, "creating an event: {}", out.stderr);
    // (A server-side apply: a PATCH without a GET first, like the Recorder's merge patch;
    // `kubectl patch` would GET the event first, which the operator never does.)
    let mut again = event(&other, "login-password.1");
    again["series"] = json!({"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"});
    let file = write_list("event-again", &[&again]);
    let out = as_sa(&[
        "apply",
        "--server-side",
        "--field-manager=authentik-operator",
        "-f",
        &file.display().to_string(),
    ]);
    assert!(out.ok, "patching an event: {}", out.stderr);
}

#[test]
fn chart_rbac_for_one_namespace_stays_in_it_and_leases_stay_in_the_release_namespace() {
    let cp = testenv::shared();
    installed_release(); // the CRDs
    let ns = cp.create_namespace("ao-ha").expect("namespace");
    let watched = cp.create_namespace("ao-watched").expect("namespace");
    let other = cp.create_namespace("ao-other").expect("namespace");
    let docs = render(
        &ns,
        &ns,
        &[&format!("{CHART}/ci/ha-namespaced-values.yaml")],
        &[&format!("watchNamespace={watched}")],
    );
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("chart-ha", &rest, false);
    let name = fullname(&ns);
    assert_pod_security_restricted(&ns, one(&docs, "Deployment", &name));

    let who = format!("system:serviceaccount:{ns}:{name}");
    let mut cases = Vec::new();
    for s in STAGES {
        let r = format!("{s}.authentik-operator.io");
        cases.push((true, format!("watch {r} -n {watched}")));
        cases.push((true, format!("patch {r} --subresource=status -n {watched}")));
        cases.push((false, format!("list {r} -n {other}")));
        cases.push((false, format!("list {r} -n {ns}")));
        cases.push((false, format!("list {r} --all-namespaces")));
    }
    let lease = "leases.coordination.k8s.io";
    cases.extend([
        (true, format!("create events.events.k8s.io -n {watched}")),
        (false, format!("create events.events.k8s.io -n {other}")),
        (true, format!("create {lease} -n {ns}")),
        (true, format!("get {lease}/{name} -n {ns}")),
        (true, format!("patch {lease}/{name} -n {ns}")),
        (false, format!("update {lease}/{name} -n {ns}")),
        (false, format!("delete {lease}/{name} -n {ns}")),
        (false, format!("get {lease}/someone-else -n {ns}")),
        (false, format!("patch {lease}/someone-else -n {ns}")),
        (false, format!("list {lease} -n {ns}")),
        (false, format!("create {lease} -n {watched}")),
        (true, format!("watch secrets -n {watched}")),
        (false, format!("get secrets -n {other}")),
        (false, q("list secrets --all-namespaces")),
        (true, format!("get configmaps -n {watched}")),
        (false, format!("get configmaps -n {other}")),
        (
            true,
            format!("list authentikconnections.authentik-operator.io -n {watched}"),
        ),
        (
            false,
            format!("list authentikconnections.authentik-operator.io -n {other}"),
        ),
        // Cluster-scoped: watched whatever the namespace.
        (
            true,
            q("watch clusterauthentikconnections.authentik-operator.io"),
        ),
    ]);
    assert_can_i(&who, &cases);

    // Real calls: the Lease life cycle of leader election, and a list outside the namespace.
    let token = cp.service_account_token(&ns, &name).expect("token");
    let as_sa = |args: &[&str]| {
        let mut cmd = cp.kubectl_with_token(&token);
        cmd.args(args);
        run(cmd, "kubectl")
    };
    let lease_obj = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15},
    });
    let file = write_list("lease", &[&lease_obj]);
    let out = as_sa(&["create", "-f", &file.display().to_string()]);
    assert!(out.ok, "creating the lease: {}", out.stderr);
    let out = as_sa(&[
        "patch",
        "lease",
        &name,
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"holderIdentity":"pod-b"}}"#,
    ]);
    assert!(out.ok, "taking the lease over: {}", out.stderr);
    let out = as_sa(&[
        "get",
        "lease",
        &name,
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert!(
        out.ok && out.stdout == "pod-b",
        "{} {}",
        out.stdout,
        out.stderr
    );
    let out = as_sa(&[
        "get",
        "passwordstages.authentik-operator.io",
        "-n",
        &watched,
    ]);
    assert!(
        out.ok,
        "listing stages in the watched namespace: {}",
        out.stderr
    );
    let out = as_sa(&["get", "passwordstages.authentik-operator.io", "-n", &other]);
    assert!(
        forbidden(&out),
        "listing elsewhere: {} {}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn chart_with_service_monitor_and_no_default_authentik_is_accepted() {
    let cp = testenv::shared();
    installed_release(); // the CRDs
    service_monitor_crd();
    let ns = cp.create_namespace("ao-mon").expect("namespace");
    let docs = render(
        &ns,
        &ns,
        &[&format!("{CHART}/ci/monitoring-values.yaml")],
        &[],
    );
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("chart-monitoring", &rest, false);
    let name = fullname(&ns);
    kubectl_ok(["get", "servicemonitor", &name, "-n", &ns]);
    let who = format!("system:serviceaccount:{ns}:{name}");
    assert_can_i(
        &who,
        &[
            (
                true,
                q("watch passwordstages.authentik-operator.io --all-namespaces"),
            ),
            (false, format!("delete secrets -n {ns}")),
            // Nothing more for the ServiceMonitor: Prometheus scrapes, the operator does not.
            (
                false,
                format!("get servicemonitors.monitoring.coreos.com -n {ns}"),
            ),
        ],
    );
}

#[test]
fn kustomize_base_renders_the_same_objects_and_is_accepted() {
    installed_release(); // the CRDs exist already; the base's are applied with a dry run
    let base = path("deploy/base").display().to_string();
    let docs = parse_docs(&kubectl_ok(["kustomize", &base]));
    let crds = of_kind(&docs, "CustomResourceDefinition");
    assert_same_crds(&crds, "kubectl kustomize deploy/base");

    let ns = "authentik-operator";
    let role = one(&docs, "ClusterRole", ns);
    assert_eq!(role["rules"], all_rules(), "the chart's rules");
    let lease_role = one(&docs, "Role", "authentik-operator-leader-election");
    assert_eq!(lease_role["rules"], lease_rules(ns));
    let binding = one(&docs, "ClusterRoleBinding", ns);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": ns, "namespace": ns}])
    );
    let deploy = one(&docs, "Deployment", ns);
    assert_hardened(deploy, "kustomize");
    assert_eq!(deploy["metadata"]["namespace"], ns);
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_value(deploy, "LEADER_ELECTION_LEASE").as_deref(),
        Some(ns)
    );
    assert_eq!(
        container(deploy)["image"],
        "ghcr.io/authentik-operator/authentik-operator:0.1.0"
    );
    // The settings come from the generated ConfigMap, which the Deployment names with its hash.
    let cm_name = container(deploy)["envFrom"][0]["configMapRef"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cm_name.starts_with("authentik-operator-config-"),
        "{cm_name}"
    );
    let cm = one(&docs, "ConfigMap", &cm_name);
    assert_eq!(cm["data"]["WATCH_NAMESPACE"], "");
    assert!(cm["data"]["AUTHENTIK_URL"].is_string());
    // The same pod security settings and probes as the chart's defaults.
    let chart = render(
        "authentik-operator",
        ns,
        &[&format!("{CHART}/ci/default-values.yaml")],
        &[],
    );
    let chart_deploy = one(&chart, "Deployment", "authentik-operator");
    for field in [
        "securityContext",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "ports",
    ] {
        assert_eq!(
            container(deploy)[field],
            container(chart_deploy)[field],
            "{field} differs between the chart and the kustomize base"
        );
    }
    assert_eq!(
        deploy["spec"]["template"]["spec"]["securityContext"],
        chart_deploy["spec"]["template"]["spec"]["securityContext"]
    );
    // No Secret is shipped: the token is the user's to create.
    assert!(of_kind(&docs, "Secret").is_empty());

    // The overlay the README shows: another image, the URL and log format, two replicas.
    let overlay = Path::new(TMP).join(testenv::unique_namespace("overlay"));
    std::fs::create_dir_all(&overlay).unwrap();
    let base_rel = relative(&overlay, &path("deploy/base"));
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\n\
             kind: Kustomization\n\
             resources:\n  - {base_rel}\n\
             images:\n  - name: ghcr.io/authentik-operator/authentik-operator\n    \
             newName: registry.example.com/authentik-operator\n    newTag: v9\n\
             configMapGenerator:\n  - name: authentik-operator-config\n    behavior: merge\n    \
             literals:\n      - AUTHENTIK_URL=https://authentik.internal\n      - LOG_FORMAT=json\n\
             replicas:\n  - name: authentik-operator\n    count: 2\n"
        ),
    )
    .unwrap();
    let overlaid = parse_docs(&kubectl_ok(["kustomize", &overlay.display().to_string()]));
    let o_deploy = one(&overlaid, "Deployment", ns);
    assert_eq!(o_deploy["spec"]["replicas"], 2);
    assert_eq!(
        container(o_deploy)["image"],
        "registry.example.com/authentik-operator:v9"
    );
    let o_cm_name = container(o_deploy)["envFrom"][0]["configMapRef"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let o_cm = one(&overlaid, "ConfigMap", &o_cm_name);
    assert_eq!(o_cm["data"]["AUTHENTIK_URL"], "https://authentik.internal");
    assert_eq!(o_cm["data"]["LOG_FORMAT"], "json");
    assert_eq!(
        o_cm["data"]["RESYNC_INTERVAL"], "60s",
        "merged, not replaced"
    );

    // On the apiserver: the CRDs with a dry run (Helm owns them in this cluster), the rest for
    // real; the namespace enforces "restricted", so a Pod from the template must pass.
    apply("kustomize-crds", &crds, true);
    let rest = without_kind(&docs, "CustomResourceDefinition");
    apply("kustomize", &rest, false);
    let labels = kubectl_ok([
        "get",
        "namespace",
        ns,
        "-o",
        "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}",
    ]);
    assert_eq!(labels, "restricted");
    assert_pod_security_restricted(ns, deploy);
    let who = format!("system:serviceaccount:{ns}:{ns}");
    assert_can_i(
        &who,
        &[
            (
                true,
                q("patch passwordstages.authentik-operator.io --subresource=status -n default"),
            ),
            (
                true,
                q("list userloginstages.authentik-operator.io --all-namespaces"),
            ),
            (true, format!("create leases.coordination.k8s.io -n {ns}")),
            (
                true,
                format!("patch leases.coordination.k8s.io/{ns} -n {ns}"),
            ),
            (false, q("create leases.coordination.k8s.io -n default")),
            (true, q("get secrets -n default")),
            (false, q("delete secrets -n default")),
            (
                false,
                q("delete identificationstages.authentik-operator.io -n default"),
            ),
        ],
    );
}

#[test]
fn argocd_cm_snippet_merges_into_an_existing_argocd_cm() {
    let script = std::fs::read_to_string(path("deploy/argocd/health.lua")).unwrap();
    let snippet = path("deploy/argocd/argocd-cm.yaml").display().to_string();
    // Argo CD's own namespace and ConfigMap, with a setting of its own.
    let exists = kubectl_out(["get", "namespace", "argocd"]);
    if !exists.ok {
        kubectl_ok(["create", "namespace", "argocd"]);
    }
    kubectl_ok([
        "create",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "--from-literal=url=https://argocd.example.com",
    ]);
    // The command the README gives.
    kubectl_ok([
        "-n",
        "argocd",
        "patch",
        "configmap",
        "argocd-cm",
        "--type",
        "merge",
        "--patch-file",
        &snippet,
    ]);
    let cm: Value = serde_json::from_str(&kubectl_ok([
        "get",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(cm["data"]["url"], "https://argocd.example.com", "kept");
    for kind in ["PasswordStage", "IdentificationStage", "UserLoginStage"] {
        let key = format!("resource.customizations.health.authentik-operator.io_{kind}");
        assert_eq!(
            cm["data"][&key].as_str(),
            Some(script.as_str()),
            "{key} is not deploy/argocd/health.lua"
        );
    }
}

/// A `.dockerignore` pattern (Go `filepath.Match` per segment, `**` for any number of
/// segments) against a slash-separated path relative to the build context.
fn docker_ignore_matches(pattern: &[&str], path: &[&str]) -> bool {
    fn segment(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => segment(&p[1..], s) || (!s.is_empty() && segment(p, &s[1..])),
            (Some(b'?'), Some(_)) => segment(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => segment(&p[1..], &s[1..]),
            _ => false,
        }
    }
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            docker_ignore_matches(&pattern[1..], path)
                || (!path.is_empty() && docker_ignore_matches(pattern, &path[1..]))
        }
        (Some(p), Some(s)) => {
            segment(p.as_bytes(), s.as_bytes()) && docker_ignore_matches(&pattern[1..], &path[1..])
        }
        _ => false,
    }
}

#[test]
fn docker_build_context_holds_the_whole_workspace() {
    let ignore = std::fs::read_to_string(path(".dockerignore")).unwrap();
    let patterns: Vec<Vec<&str>> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            assert!(
                !l.starts_with('!'),
                "exceptions are not supported here: {l}"
            );
            l.trim_matches('/').split('/').collect()
        })
        .collect();
    // A path is left out when it or a parent folder matches.
    let ignored = |rel: &[&str]| {
        (1..=rel.len()).any(|n| patterns.iter().any(|p| docker_ignore_matches(p, &rel[..n])))
    };
    let context = Path::new(TMP).join(testenv::unique_namespace("docker-context"));
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if dir == root && (name == ".git" || name == "target") {
                continue; // ignored anyway, and large
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                out.push(entry.path());
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(ROOT), Path::new(ROOT), &mut files);
    let mut copied = 0;
    for file in files {
        let rel = file
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = rel.split('/').collect();
        if ignored(&parts) {
            continue;
        }
        let target = context.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
        copied += 1;
    }
    assert!(copied > 0);
    for kept in ["Cargo.toml", "Cargo.lock", "src/main.rs", "Dockerfile"] {
        assert!(
            context.join(kept).is_file(),
            "{kept} is not in the build context"
        );
    }
    for left_out in ["charts", "deploy", "target", "tests/packaging.rs"] {
        assert!(
            !context.join(left_out).exists(),
            "{left_out} is in the build context"
        );
    }
    // What the Dockerfile's `cargo build --locked -p authentik-operator` needs first: every
    // workspace member's manifest and targets, and a Cargo.lock that is up to date.
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .current_dir(&context)
        .stdin(Stdio::null())
        .output()
        .expect("cargo metadata");
    let _ = std::fs::remove_dir_all(&context);
    assert!(
        out.status.success(),
        "the Docker build context does not hold a loadable workspace (check .dockerignore):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_connections_the_operator_gets_no_access_to_secrets() {
    for sets in [
        vec!["connections.enabled=false"],
        vec!["connections.enabled=false", "watchNamespace=team-a"],
    ] {
        let docs = render(
            "noconn",
            "authentik-operator",
            &[&format!("{CHART}/ci/default-values.yaml")],
            &sets,
        );
        let roles: Vec<&Value> = of_kind(&docs, "ClusterRole")
            .into_iter()
            .chain(of_kind(&docs, "Role"))
            .collect();
        assert!(!roles.is_empty(), "{sets:?}: some RBAC is rendered");
        for role in roles {
            let text = role["rules"].to_string();
            for forbidden in ["secrets", "configmaps", "authentikconnections"] {
                assert!(
                    !text.contains(forbidden),
                    "{sets:?}: {forbidden} granted in {role}"
                );
            }
        }
        let deployment = of_kind(&docs, "Deployment")[0];
        assert_eq!(
            env_value(deployment, "ENABLE_CONNECTIONS").as_deref(),
            Some("false")
        );
    }
    let docs = render(
        "conn",
        "authentik-operator",
        &[&format!("{CHART}/ci/default-values.yaml")],
        &[],
    );
    let deployment = of_kind(&docs, "Deployment")[0];
    assert_eq!(
        env_value(deployment, "ENABLE_CONNECTIONS").as_deref(),
        Some("true")
    );
}
