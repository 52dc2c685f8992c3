//! The client `export` and `plan` make from the connection flags they share with `run`
//! ([`AuthentikArgs`]).

use crate::authentik::AuthentikClient;

pub use crate::config::AuthentikArgs;

/// The client `export` and `plan` use, or `None` without `--authentik-url`. Errors never
/// show the token.
pub fn client(args: &AuthentikArgs) -> Result<Option<AuthentikClient>, String> {
    let Some(url) = &args.authentik_url else {
        return Ok(None);
    };
    let cfg = args.client_config(url).map_err(|e| e.to_string())?;
    AuthentikClient::new(cfg, None)
        .map(Some)
        .map_err(|e| e.to_string())
}
