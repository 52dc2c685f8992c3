//! What the node tests share: the cluster, kubectl and helm, the operator's image, a simulator
//! the pods can reach, and polling with a deadline.

use authentik_sim::{Profile, SimConfig, Simulator};
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const TMP: &str = env!("CARGO_TARGET_TMPDIR");
pub const TOKEN: &str = "node-test-token-0123456789";
pub const REPOSITORY: &str = "localhost/authentik-operator";
pub const TAG: &str = "node-test";

pub fn cluster() -> &'static testenv::Cluster {
    testenv::shared_cluster()
}

pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
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

pub fn kubectl_out<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = cluster().control_plane().kubectl();
    cmd.args(args);
    run(cmd, "kubectl")
}

pub fn kubectl<I, S>(args: I) -> String
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
        "kubectl {} failed:\n{}{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    out.stdout
}

pub fn kubectl_json(args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(&args)).expect("kubectl -o json")
}

/// Applies JSON objects (JSON is YAML) with kubectl.
pub fn apply(objects: &[Value]) {
    let file = Path::new(TMP).join(format!("{}.json", testenv::unique_namespace("objects")));
    let text: Vec<String> = objects.iter().map(Value::to_string).collect();
    std::fs::write(&file, text.join("\n---\n")).expect("write objects");
    kubectl(["apply", "-f", &file.display().to_string()]);
    let _ = std::fs::remove_file(file);
}

/// helm, built once per version into the user's cache (`tests/helm/build.sh`), or `$HELM_BIN`.
fn helm_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("HELM_BIN").filter(|b| !b.is_empty()) {
            return PathBuf::from(bin);
        }
        let out = Command::new("bash")
            .arg(Path::new(ROOT).join("tests/helm/build.sh"))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("running tests/helm/build.sh");
        assert!(out.status.success(), "tests/helm/build.sh failed");
        let dir = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        Path::new(&dir).join("helm")
    })
}

pub fn helm(args: &[&str]) -> String {
    let home = Path::new(TMP).join("node-helm-home");
    let mut cmd = Command::new(helm_bin());
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(cluster().control_plane().kubeconfig())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("KUBECONFIG")
        .env_remove("HELM_NAMESPACE");
    let out = run(cmd, "helm");
    assert!(
        out.ok,
        "helm {} failed:\n{}{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// The operator's image (`tests/node/operator-image.sh`), built once per test binary and
/// imported into the node as `REPOSITORY:TAG`. Returns the archive.
pub fn operator_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let archive = Path::new(TMP).join("operator-image.tar");
        let started = Instant::now();
        let status = Command::new("bash")
            .arg(Path::new(ROOT).join("tests/node/operator-image.sh"))
            .arg(&archive)
            .arg(TAG)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("running tests/node/operator-image.sh");
        assert!(status.success(), "tests/node/operator-image.sh failed");
        cluster()
            .node()
            .import_image(&archive, REPOSITORY)
            .expect("importing the operator image");
        println!(
            "operator image built and imported in {:?}",
            started.elapsed()
        );
        archive
    })
}

/// Gives the imported operator image a second tag (a "new release" for upgrades).
pub fn tag_image(tag: &str) {
    let _ = operator_image();
    let out = cluster()
        .node()
        .ctr()
        .args(["images", "tag", "--force"])
        .arg(format!("{REPOSITORY}:{TAG}"))
        .arg(format!("{REPOSITORY}:{tag}"))
        .output()
        .expect("ctr images tag");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The CRDs of this checkout, applied once (the Helm releases here leave them alone, so that
/// several releases and the kustomize base can share them).
pub fn crds() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        kubectl(["apply", "--server-side", "-f", &format!("{ROOT}/crds")]);
        kubectl([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd",
            "--all",
        ]);
    });
}

/// An authentik simulator the pods reach: it listens on the host's address on the pod network.
pub struct Sim {
    pub sim: Simulator,
    _rt: tokio::runtime::Runtime,
}

impl Sim {
    pub fn start() -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let addr = SocketAddr::new(IpAddr::V4(cluster().node().host_ip()), 0);
        let sim = rt
            .block_on(Simulator::start_on(
                addr,
                SimConfig {
                    token: TOKEN.into(),
                    profile: Profile::Current,
                    seed: true,
                },
            ))
            .expect("simulator");
        Sim { sim, _rt: rt }
    }

    pub fn url(&self) -> String {
        self.sim.url()
    }

    /// The password stages named `name` in authentik.
    pub fn password_stages(&self, name: &str) -> usize {
        self.sim
            .control()
            .stages("password")
            .iter()
            .filter(|s| s["name"] == name)
            .count()
    }
}

/// A namespace enforcing the "restricted" Pod Security Standard, with the token Secret.
pub fn restricted_namespace(prefix: &str) -> String {
    let ns = cluster()
        .control_plane()
        .create_namespace(prefix)
        .expect("namespace");
    kubectl([
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    token_secret(&ns);
    ns
}

pub fn token_secret(ns: &str) {
    // Through a file, so the token is in no command line.
    apply(&[json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "authentik-operator-token", "namespace": ns},
        "stringData": {"token": TOKEN},
    })]);
}

/// Polls `check` every 250 ms until it gives a value; panics with `what` and the state of
/// `ns` after `timeout`.
pub fn wait_for<T>(
    what: &str,
    ns: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                diagnostics(ns)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What a failure message needs: the namespace's pods and events, and the kubelet's errors.
pub fn diagnostics(ns: &str) -> String {
    let pods = kubectl_out(["get", "pods", "-n", ns, "-o", "wide"]);
    let events = kubectl_out(["get", "events", "-n", ns, "--sort-by=.lastTimestamp"]);
    let kubelet: Vec<String> = cluster()
        .node()
        .log_tail("kubelet", 400)
        .lines()
        .filter(|l| l.starts_with('E'))
        .map(str::to_string)
        .collect();
    format!(
        "--- pods in {ns}\n{}{}\n--- events\n{}{}\n--- kubelet errors\n{}",
        pods.stdout,
        pods.stderr,
        events.stdout,
        events.stderr,
        kubelet[kubelet.len().saturating_sub(15)..].join("\n")
    )
}

/// The pods of `ns` with label selector `selector`.
pub fn pods(ns: &str, selector: &str) -> Vec<Value> {
    kubectl_json(&["get", "pods", "-n", ns, "-l", selector])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn is_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Waits until Deployment `name` is Available with all its replicas updated and ready.
pub fn wait_available(ns: &str, name: &str, timeout: Duration) -> Duration {
    let started = Instant::now();
    wait_for(
        &format!("deployment {ns}/{name} Available"),
        ns,
        timeout,
        || {
            let d = kubectl_json(&["get", "deployment", name, "-n", ns]);
            let want = d["spec"]["replicas"].as_i64()?;
            let s = &d["status"];
            let available = s["conditions"]
                .as_array()?
                .iter()
                .any(|c| c["type"] == "Available" && c["status"] == "True");
            (available
                && s["observedGeneration"] == d["metadata"]["generation"]
                && s["updatedReplicas"].as_i64() == Some(want)
                && s["readyReplicas"].as_i64() == Some(want)
                && s["replicas"].as_i64() == Some(want))
            .then_some(())
        },
    );
    started.elapsed()
}

pub fn password_stage(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]},
    })
}

/// Creates a PasswordStage and waits until it is Ready (reconciled by the pod against `sim`),
/// then checks authentik has it exactly once.
pub fn reconcile_stage(ns: &str, name: &str, sim: &Sim) {
    apply(&[password_stage(ns, name)]);
    wait_for(
        &format!("PasswordStage {ns}/{name} Ready"),
        ns,
        Duration::from_secs(90),
        || {
            let s = kubectl_json(&["get", "passwordstage", name, "-n", ns]);
            s["status"]["conditions"]
                .as_array()?
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                .then_some(())
        },
    );
    assert_eq!(
        sim.password_stages(name),
        1,
        "{name} exists once in authentik"
    );
}

/// The host's pid of the pod's (first) container, from containerd.
pub fn container_pid(pod: &Value) -> u32 {
    let id = pod["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .and_then(|s| s.strip_prefix("containerd://"))
        .expect("a containerd container id")
        .to_string();
    let out = cluster()
        .node()
        .ctr()
        .args(["tasks", "ls"])
        .output()
        .expect("ctr tasks ls");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with(&id))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no task for container {id}"))
}

/// `GET path` from the pod's IP (the host reaches the pod network), body if 200.
pub fn pod_http_get(pod: &Value, port: u16, path: &str) -> Option<String> {
    let ip: IpAddr = pod["status"]["podIP"].as_str()?.parse().ok()?;
    let mut s =
        TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

pub fn name(obj: &Value) -> String {
    obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
