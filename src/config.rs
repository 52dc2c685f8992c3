//! Command line: every setting is a flag with an environment variable.

use crate::authentik::{ClientConfig, RetryPolicy, Token};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "authentik-operator",
    version,
    about = "authentik flow stages as Kubernetes custom resources"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the operator.
    Run(Box<RunArgs>),
    /// Write the CustomResourceDefinitions as YAML, one file per kind.
    Crdgen(CrdgenArgs),
    /// Write authentik's objects of the managed kinds as manifests (adoptable as they are).
    ///
    /// An object that cannot be written as a valid resource does not stop the export: it is
    /// written with the reason in a comment, or left out where no valid document of it is
    /// possible, with a warning on stderr either way. Exit code 0: everything exported;
    /// 3: exported with warnings (an object left out, a document kubectl apply would refuse,
    /// a value left out of a document); 1: an error, nothing exported.
    Export(Box<crate::cli::ExportArgs>),
    /// Show what applying manifests would do to authentik, writing nothing.
    ///
    /// Exit code 0: no changes; 2: changes; 1: errors (on stderr; the manifests without
    /// errors are planned and printed all the same) or authentik could not be read.
    Plan(Box<crate::cli::PlanArgs>),
}

#[derive(Args, Debug)]
pub struct CrdgenArgs {
    /// Folder to write `<plural>.yaml` files into; `-` prints all to stdout.
    #[arg(long, default_value = "crds")]
    pub out: PathBuf,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Plain,
    Json,
}

/// How to reach an authentik: the flags `run`, `export` and `plan` share.
#[derive(Args, Debug, Clone)]
pub struct AuthentikArgs {
    /// authentik's base URL (with or without a trailing /api/v3). For `run`: the default
    /// authentik, for resources without a connectionRef (without it, each needs one).
    #[arg(long, env = "AUTHENTIK_URL")]
    pub authentik_url: Option<String>,
    /// API token. Prefer --authentik-token-file (a mounted Secret).
    #[arg(long, env = "AUTHENTIK_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub authentik_token: Option<Token>,
    /// File holding the API token (e.g. a mounted Secret key); read at start.
    #[arg(long, env = "AUTHENTIK_TOKEN_FILE", conflicts_with = "authentik_token")]
    pub authentik_token_file: Option<PathBuf>,
    /// PEM file with extra CA certificates to trust for authentik.
    #[arg(long, env = "AUTHENTIK_CA_FILE")]
    pub authentik_ca_file: Option<PathBuf>,
    /// Skip TLS verification of authentik (never in production).
    #[arg(
        long,
        env = "AUTHENTIK_INSECURE_SKIP_TLS_VERIFY",
        default_value_t = false
    )]
    pub authentik_insecure_skip_tls_verify: bool,
    /// Timeout of each request to authentik (e.g. 10s, 500ms).
    #[arg(long, env = "AUTHENTIK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub authentik_timeout: Duration,
    /// Retries of a failed idempotent request to authentik.
    #[arg(long, env = "AUTHENTIK_RETRIES", default_value_t = 3)]
    pub authentik_retries: u32,
}

impl AuthentikArgs {
    /// The client settings for `url`: the token read from the flag or the file (never
    /// logged, never in an error), timeout, retries, TLS.
    pub fn client_config(&self, url: &str) -> crate::error::Result<ClientConfig> {
        use crate::error::Error;
        let token = match (&self.authentik_token, &self.authentik_token_file) {
            (Some(t), _) => t.clone(),
            (None, Some(path)) => Token::new(std::fs::read_to_string(path).map_err(|e| {
                Error::Config(format!(
                    "cannot read the token file {}: {e}",
                    path.display()
                ))
            })?),
            (None, None) => {
                return Err(Error::Config(
                    "no authentik token: set --authentik-token-file (or AUTHENTIK_TOKEN_FILE) or AUTHENTIK_TOKEN".into(),
                ));
            }
        };
        if token.is_empty() {
            return Err(Error::Config("the authentik token is empty".into()));
        }
        let mut cfg = ClientConfig::new(url.to_string(), token);
        cfg.timeout = self.authentik_timeout;
        cfg.retry = RetryPolicy {
            retries: self.authentik_retries,
            ..RetryPolicy::default()
        };
        cfg.insecure_skip_tls_verify = self.authentik_insecure_skip_tls_verify;
        if let Some(path) = &self.authentik_ca_file {
            cfg.ca_pem = Some(std::fs::read(path).map_err(|e| {
                Error::Config(format!("cannot read the CA file {}: {e}", path.display()))
            })?);
        }
        Ok(cfg)
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub authentik: AuthentikArgs,
    /// Namespaces to watch, comma-separated (or the flag repeated); empty for all.
    #[arg(
        long = "namespace",
        env = "WATCH_NAMESPACE",
        value_delimiter = ',',
        default_value = ""
    )]
    pub namespaces: Vec<String>,
    /// How often every kind is listed to find drift the event log does not show (e.g. 10m,
    /// 60s): the safety net behind --event-interval. Default: 10m while the event log is
    /// followed, 60s when it is not (--event-interval 0).
    #[arg(long = "resync-interval", env = "RESYNC_INTERVAL", value_parser = parse_duration)]
    pub resync: Option<Duration>,
    /// How often authentik's event log is read for changes made behind the operator's back
    /// (one small request per connection); 0 turns it off.
    #[arg(long, env = "EVENT_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub event_interval: Duration,
    /// Longest wait between retries of a failing resource.
    #[arg(long, env = "BACKOFF_MAX", default_value = "5m", value_parser = parse_duration)]
    pub backoff_max: Duration,
    /// Resources reconciled at once per kind.
    #[arg(long, env = "CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,
    /// Run the AuthentikConnection and ClusterAuthentikConnection controllers (they watch
    /// Secret metadata to re-read rotated tokens). Off: only the default authentik is used
    /// and the operator needs no access to Secrets.
    #[arg(long, env = "ENABLE_CONNECTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub enable_connections: bool,
    /// The one namespace the Secrets and ConfigMaps of ClusterAuthentikConnections are read
    /// from (a reference to any other is refused). Defaults to the operator's own namespace.
    #[arg(long, env = "CLUSTER_SECRET_NAMESPACE")]
    pub cluster_secret_namespace: Option<String>,
    /// Address of /metrics, /livez and /readyz.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// Elect a leader through a Lease so that only one replica reconciles.
    #[arg(long, env = "LEADER_ELECTION", default_value_t = false)]
    pub leader_election: bool,
    /// Name of the Lease used for leader election.
    #[arg(
        long,
        env = "LEADER_ELECTION_LEASE",
        default_value = "authentik-operator"
    )]
    pub lease_name: String,
    /// Namespace of the Lease (defaults to the pod's namespace, else `default`).
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// How long a lease lasts without renewal.
    #[arg(long, env = "LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// This replica's identity (the pod name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

/// The namespace the operator runs in (its pod's), else `default` (a local run).
pub fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// The drift sweep's interval when the event log is followed: at 1,000 resources, the
/// follower's 30 requests a minute and a sweep every ten minutes cost authentik no more than
/// a sweep every minute without it (README, Performance).
pub const RESYNC_FOLLOWING: Duration = Duration::from_secs(600);
/// The drift sweep's interval without the event log.
pub const RESYNC_ALONE: Duration = Duration::from_secs(60);

impl RunArgs {
    /// The drift sweep's interval (see `--resync-interval`).
    pub fn resync_interval(&self) -> Duration {
        self.resync.unwrap_or(if self.event_interval.is_zero() {
            RESYNC_ALONE
        } else {
            RESYNC_FOLLOWING
        })
    }

    /// Where ClusterAuthentikConnections' Secrets live (see `--cluster-secret-namespace`).
    pub fn cluster_secret_namespace(&self) -> String {
        self.cluster_secret_namespace
            .clone()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(own_namespace)
    }

    /// What the controllers watch: `[None]` for all namespaces, else one scope per namespace.
    pub fn scopes(&self) -> Vec<Option<String>> {
        let mut listed: Vec<String> = self
            .namespaces
            .iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        listed.sort();
        listed.dedup();
        if listed.is_empty() {
            vec![None]
        } else {
            listed.into_iter().map(Some).collect()
        }
    }
}

/// The token goes straight into the redacting wrapper, so printing the arguments (they
/// derive Debug) cannot show it.
fn parse_token(s: &str) -> Result<Token, String> {
    Ok(Token::new(s))
}

/// `500ms`, `10s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 500ms, 10s, 5m, 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("").is_err());
    }

    fn run(args: &[&str]) -> RunArgs {
        let mut argv = vec!["authentik-operator", "run"];
        argv.extend(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(a) => *a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_sweep_is_the_safety_net_while_the_event_log_is_followed() {
        assert_eq!(run(&[]).resync_interval(), RESYNC_FOLLOWING);
        assert_eq!(
            run(&["--event-interval", "0"]).resync_interval(),
            RESYNC_ALONE
        );
        assert_eq!(
            run(&["--resync-interval", "30s"]).resync_interval(),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn namespaces_all_one_or_a_list() {
        assert_eq!(run(&[]).scopes(), vec![None]);
        assert_eq!(run(&["--namespace", ""]).scopes(), vec![None]);
        assert_eq!(
            run(&["--namespace", "a"]).scopes(),
            vec![Some("a".to_string())]
        );
        assert_eq!(
            run(&["--namespace", "b, a,b"]).scopes(),
            vec![Some("a".to_string()), Some("b".to_string())]
        );
        assert_eq!(
            run(&["--namespace", "a", "--namespace", "c"]).scopes(),
            vec![Some("a".to_string()), Some("c".to_string())]
        );
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let args = run(&["--authentik-token", "s3cr3t-token-value"]);
        assert!(args.authentik.authentik_token.is_some());
        assert!(!format!("{args:?}").contains("s3cr3t"));
    }

    #[test]
    fn token_env_value_is_hidden_from_help() {
        use clap::CommandFactory;
        let help = Cli::command()
            .find_subcommand_mut("run")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        assert!(help.contains("AUTHENTIK_TOKEN"));
    }
}
