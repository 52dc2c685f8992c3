//! Running helm and kubectl, rendering the chart, applying objects.

use crate::helpers::{CHART, TMP, path};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut cmd: Command, what: &str) -> Out {
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
pub fn helm_bin() -> &'static Path {
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

pub fn helm<I, S>(args: I) -> Out
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

pub fn helm_ok<I, S>(args: I) -> String
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
pub fn template_args(
    release: &str,
    namespace: &str,
    values: &[&str],
    sets: &[&str],
) -> Vec<String> {
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
pub fn render(release: &str, namespace: &str, values: &[&str], sets: &[&str]) -> Vec<Value> {
    parse_docs(&helm_ok(template_args(release, namespace, values, sets)))
}

pub fn parse_docs(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .unwrap_or_else(|e| panic!("rendered YAML does not parse: {e}\n{yaml}"));
    docs.into_iter().filter(Value::is_object).collect()
}

pub fn kubectl_out<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = testenv::shared().kubectl();
    cmd.args(args);
    run(cmd, "kubectl")
}

pub fn kubectl_ok<I, S>(args: I) -> String
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
pub fn write_list(name: &str, objects: &[&Value]) -> PathBuf {
    let file = Path::new(TMP).join(format!("{}.yaml", testenv::unique_namespace(name)));
    let docs: Vec<String> = objects
        .iter()
        .map(|o| serde_json::to_string_pretty(o).unwrap())
        .collect();
    std::fs::write(&file, docs.join("\n---\n")).expect("write objects");
    file
}

/// Server-side apply of `objects` for real (or with `--dry-run=server`).
pub fn apply(name: &str, objects: &[&Value], dry_run: bool) {
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
