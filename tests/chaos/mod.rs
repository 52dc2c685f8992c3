//! The chaos soak (issue 26): two replicas of the real operator binary with leader election,
//! the real kube-apiserver and etcd of testenv and the authentik simulator; a client writing
//! resources of every registered kind, an authentik user changing their objects behind the
//! operator's back, and faults of every part, drawn from a seed; invariants checked
//! throughout and at the end. `tests/soak.rs` runs a short form on every test run,
//! `benches/soak.rs` a long one (`SOAK_*` settings, see [`Config`]).

mod alice;
mod checker;
mod expect;
mod faults;
mod finish;
mod journal;
mod registry;
mod replicas;
mod report;
mod specs;
mod workload;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authentik_sim::Profile;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};

use crate::common::{Env, TOKEN};
pub use faults::FaultKind;
pub use report::Report;

/// A run's settings. [`Config::from_env`] reads `SOAK_*` variables over the defaults.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// How long the client, the authentik user and the faults run (then: quiet, teardown).
    pub duration: Duration,
    /// Client writes per second.
    pub rate: f64,
    /// The number of resources the client keeps about.
    pub population: usize,
    /// The authentik user acts about this often.
    pub alice_every: Duration,
    /// Faults come in storms of this length, a fault every `gap` seconds (a range)…
    pub storm: Duration,
    pub gap: (f64, f64),
    /// …followed by a calm of this length.
    pub calm: Duration,
    /// How long a problem may last after the last fault ended (or after it appeared).
    pub bound: Duration,
    pub check_every: Duration,
    /// How long the quiet period lasts in which no write may happen.
    pub quiet: Duration,
    pub faults: Vec<FaultKind>,
    /// The operator's flags beyond those every replica gets.
    pub operator_flags: Vec<String>,
    /// The most the leader's memory may grow, in MiB per minute (checked on long runs).
    pub max_slope: f64,
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Config {
    /// The defaults for a run of `secs` seconds with `seed`, overridden by `SOAK_*`:
    /// `SOAK_SEED`, `SOAK_SECS`, `SOAK_RATE`, `SOAK_RESOURCES`, `SOAK_ALICE_SECS`,
    /// `SOAK_STORM_SECS`, `SOAK_CALM_SECS`, `SOAK_FAULT_GAP` (`lo,hi` seconds),
    /// `SOAK_BOUND_SECS`, `SOAK_QUIET_SECS`, `SOAK_FAULTS` (comma list of fault names, see
    /// `FaultKind::name`; default all), `SOAK_OPERATOR_FLAGS`, `SOAK_MAX_SLOPE`, and
    /// `SOAK_RUST_LOG` (the replicas' log filter; default: the operator at debug level).
    pub fn from_env(secs: u64, seed: u64) -> Config {
        let bound = env_f64("SOAK_BOUND_SECS", 45.0);
        let gap = std::env::var("SOAK_FAULT_GAP")
            .ok()
            .and_then(|v| {
                let (lo, hi) = v.split_once(',')?;
                Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?))
            })
            .unwrap_or((2.0, 7.0));
        let faults = match std::env::var("SOAK_FAULTS") {
            Ok(list) => faults::ALL
                .into_iter()
                .filter(|k| list.split(',').any(|n| k.name().contains(n.trim())))
                .collect(),
            Err(_) => faults::ALL.to_vec(),
        };
        let operator_flags = std::env::var("SOAK_OPERATOR_FLAGS")
            .map(|f| f.split_whitespace().map(str::to_string).collect())
            .unwrap_or_else(|_| {
                [
                    "--resync-interval",
                    "10s",
                    "--backoff-max",
                    "30s",
                    "--lease-duration",
                    "6s",
                ]
                .map(str::to_string)
                .to_vec()
            });
        Config {
            seed: std::env::var("SOAK_SEED")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(seed),
            duration: Duration::from_secs_f64(env_f64("SOAK_SECS", secs as f64)),
            rate: env_f64("SOAK_RATE", 3.0),
            population: env_f64("SOAK_RESOURCES", 60.0) as usize,
            alice_every: Duration::from_secs_f64(env_f64("SOAK_ALICE_SECS", 3.0)),
            storm: Duration::from_secs_f64(env_f64("SOAK_STORM_SECS", 50.0)),
            gap,
            calm: Duration::from_secs_f64(env_f64("SOAK_CALM_SECS", bound + 15.0)),
            bound: Duration::from_secs_f64(bound),
            check_every: Duration::from_secs(2),
            quiet: Duration::from_secs_f64(env_f64("SOAK_QUIET_SECS", 30.0)),
            faults,
            operator_flags,
            max_slope: env_f64("SOAK_MAX_SLOPE", 1.0),
        }
    }

    /// The settings as the variables that reproduce the run.
    pub fn replay(&self) -> String {
        format!(
            "SOAK_SEED={} SOAK_SECS={} SOAK_RATE={} SOAK_RESOURCES={} SOAK_ALICE_SECS={} \
             SOAK_STORM_SECS={} SOAK_CALM_SECS={} SOAK_FAULT_GAP={},{} SOAK_BOUND_SECS={} \
             SOAK_OPERATOR_FLAGS='{}' cargo bench --bench soak",
            self.seed,
            self.duration.as_secs(),
            self.rate,
            self.population,
            self.alice_every.as_secs_f64(),
            self.storm.as_secs(),
            self.calm.as_secs(),
            self.gap.0,
            self.gap.1,
            self.bound.as_secs(),
            self.operator_flags.join(" "),
        )
    }
}

/// What the parts of a run share.
pub struct Shared {
    pub cfg: Config,
    pub env: Env,
    pub kinds: Vec<registry::KindInfo>,
    pub journal: Arc<journal::Journal>,
    pub replicas: Arc<replicas::Replicas>,
    /// The pks of the objects of the fresh install (not the run's).
    pub baseline: HashSet<String>,
    /// What references by slug, name or username resolve to (`slug:…`, `group:…`, …).
    pub fixed: HashMap<String, Value>,
    snapshot: Mutex<Option<Arc<checker::Snapshot>>>,
}

impl Shared {
    pub fn kind(&self, kind: &str) -> &registry::KindInfo {
        self.kinds
            .iter()
            .find(|k| k.kind == kind)
            .unwrap_or_else(|| panic!("{kind} is not registered"))
    }

    pub fn dynamic(&self, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.env.client.clone(), &self.env.ns, &self.kind(kind).api)
    }

    /// The checker's latest snapshot.
    pub fn snapshot(&self) -> Option<Arc<checker::Snapshot>> {
        self.snapshot.lock().unwrap().clone()
    }

    fn set_snapshot(&self, snap: checker::Snapshot) {
        *self.snapshot.lock().unwrap() = Some(Arc::new(snap));
    }
}

/// Runs the soak and reports it.
pub async fn run(cfg: Config) -> Report {
    let kinds = registry::all();
    for k in &kinds {
        assert!(
            specs::covers(k.kind),
            "tests/chaos/specs.rs has no specs for {}",
            k.kind
        );
    }
    let env = Env::new(Profile::Current).await;
    let (baseline, fixed) = setup(&env, &kinds).await;
    let dir = std::env::temp_dir().join(format!("soak-{}", env.ns));
    std::fs::create_dir_all(&dir).expect("run folder");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let journal = Arc::new(journal::Journal::new(cfg.seed, cfg.replay()));
    eprintln!(
        "soak: seed {}, logs in {}\nreplay: {}",
        cfg.seed,
        dir.display(),
        cfg.replay()
    );
    let replicas = replicas::Replicas::start(
        replicas::Launch {
            binary: std::env::var("SOAK_OPERATOR")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_authentik-operator").into()),
            kubeconfig: testenv::shared().kubeconfig().to_path_buf(),
            namespace: env.ns.clone(),
            authentik_url: env.sim.url(),
            token_file,
            dir: dir.clone(),
            flags: cfg.operator_flags.clone(),
            log_filter: std::env::var("SOAK_RUST_LOG").unwrap_or_else(|_| {
                "info,authentik_operator=debug,kube_runtime=warn,kube_client=warn".into()
            }),
        },
        journal.clone(),
    );
    let shared = Arc::new(Shared {
        cfg,
        env,
        kinds,
        journal,
        replicas,
        baseline,
        fixed,
        snapshot: Mutex::new(None),
    });
    finish::run(shared, dir).await
}

/// The run's group, Secret and authentik user; what the fresh install holds.
async fn setup(
    env: &Env,
    kinds: &[registry::KindInfo],
) -> (HashSet<String>, HashMap<String, Value>) {
    let control = env.sim.control();
    control.add_token(alice::USER, alice::TOKEN);
    let group = control.api("POST", "core/groups/", Some(json!({"name": specs::GROUP})));
    assert_eq!(group.status, 201, "{:?}", group.body);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": specs::SECRET},
        "stringData": {"captcha": "captcha-private-key", "smtp": "smtp-password"}
    }))
    .expect("a Secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("the run's Secret");
    let mut fixed = HashMap::new();
    fixed.insert(format!("group:{}", specs::GROUP), group.body["pk"].clone());
    let list = |path: &str| {
        control
            .peek(path)
            .and_then(|b| b["results"].as_array().cloned())
            .unwrap_or_default()
    };
    for u in list("core/users/?page_size=100") {
        fixed.insert(
            format!("user:{}", u["username"].as_str().unwrap_or_default()),
            u["pk"].clone(),
        );
    }
    for s in list("sources/all/?page_size=100") {
        fixed.insert(
            format!("source:{}", s["slug"].as_str().unwrap_or_default()),
            s["pk"].clone(),
        );
    }
    for f in control.flows() {
        fixed.insert(
            format!("slug:{}", f["slug"].as_str().unwrap_or_default()),
            f["pk"].clone(),
        );
    }
    let mut baseline = HashSet::new();
    for info in kinds {
        let all = list(&format!("{}?page_size=100", info.endpoint));
        assert!(
            all.len() < 100,
            "{}: more than a page in the fresh install",
            info.endpoint
        );
        baseline.extend(all.iter().filter_map(checker::pk_of));
    }
    (baseline, fixed)
}

/// The last operator log lines that name `subject` (a resource's name or an object's pk).
pub fn log_context(shared: &Shared, subject: &str) -> String {
    let needle = subject.rsplit('/').next().unwrap_or(subject);
    let mut lines = Vec::new();
    for log in shared.replicas.logs() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let file = log
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        for line in text.lines().filter(|l| l.contains(needle)) {
            let mut line = line.to_string();
            line.truncate(500);
            lines.push(format!("  [{file}] {line}"));
        }
    }
    let from = lines.len().saturating_sub(15);
    lines[from..].join("\n")
}
