//! The connection flags `export` and `plan` share with `run` (same names, same environment
//! variables), and the client they make.

use crate::authentik::{AuthentikClient, ClientConfig, RetryPolicy, Token};
use crate::config::parse_duration;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct AuthentikArgs {
    /// authentik's base URL (with or without a trailing /api/v3).
    #[arg(long, env = "AUTHENTIK_URL")]
    pub authentik_url: Option<String>,
    /// API token. Prefer --authentik-token-file.
    #[arg(long, env = "AUTHENTIK_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub authentik_token: Option<Token>,
    /// File holding the API token.
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
    /// Retries of a failed request to authentik.
    #[arg(long, env = "AUTHENTIK_RETRIES", default_value_t = 3)]
    pub authentik_retries: u32,
}

/// The token goes straight into the redacting wrapper (see `config::parse_token`).
fn parse_token(s: &str) -> Result<Token, String> {
    Ok(Token::new(s))
}

impl AuthentikArgs {
    /// The client, or `None` without `--authentik-url`. Errors never show the token.
    pub fn client(&self) -> Result<Option<AuthentikClient>, String> {
        let Some(url) = &self.authentik_url else {
            return Ok(None);
        };
        let token = match (&self.authentik_token, &self.authentik_token_file) {
            (Some(t), _) => t.clone(),
            (None, Some(path)) => Token::new(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
            ),
            (None, None) => {
                return Err("no authentik token: set --authentik-token-file (or AUTHENTIK_TOKEN_FILE) or AUTHENTIK_TOKEN".into());
            }
        };
        if token.is_empty() {
            return Err("the authentik token is empty".into());
        }
        let mut cfg = ClientConfig::new(url.clone(), token);
        cfg.timeout = self.authentik_timeout;
        cfg.retry = RetryPolicy {
            retries: self.authentik_retries,
            ..RetryPolicy::default()
        };
        cfg.insecure_skip_tls_verify = self.authentik_insecure_skip_tls_verify;
        if let Some(path) = &self.authentik_ca_file {
            cfg.ca_pem = Some(
                std::fs::read(path)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?,
            );
        }
        AuthentikClient::new(cfg, None)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}
