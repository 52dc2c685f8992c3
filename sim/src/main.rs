//! `authentik-sim`: run the simulator as a standalone server.

use std::net::SocketAddr;

use authentik_sim::{Capacity, Profile, SimConfig, Simulator};
use clap::Parser;

/// A stand-in for authentik's stages API, for tests and local runs.
#[derive(Debug, Parser)]
#[command(name = "authentik-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "AUTHENTIK_SIM_LISTEN", default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// API token clients must send as `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = "AUTHENTIK_SIM_TOKEN",
        default_value = "sim-token",
        hide_env_values = true
    )]
    token: String,
    /// Release to behave like: 2023.10, 2024.4 or current (2026.2.2).
    #[arg(long, env = "AUTHENTIK_SIM_PROFILE", default_value = "current")]
    profile: Profile,
    /// Start with what a fresh install of the release holds (flows, stages, prompts,
    /// policies, both kinds of bindings, the built-in source).
    #[arg(long, env = "AUTHENTIK_SIM_SEED", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    seed: bool,
    /// Capacity mode: serve at most this many API requests at once (the rest queue), each
    /// taking its service time below; 0 serves everything at once, in no time. The defaults
    /// are a real authentik 2024.4.4 with 2 gunicorn workers.
    #[arg(long, env = "AUTHENTIK_SIM_WORKERS", default_value_t = 0)]
    workers: usize,
    /// Capacity mode: milliseconds for a GET of one object.
    #[arg(long, default_value_t = Capacity::default().get_ms)]
    get_ms: f64,
    /// Capacity mode: milliseconds for a list or lookup that returns nothing...
    #[arg(long, default_value_t = Capacity::default().list_ms)]
    list_ms: f64,
    /// ...plus this much for each object it returns.
    #[arg(long, default_value_t = Capacity::default().list_item_ms)]
    list_item_ms: f64,
    /// Capacity mode: milliseconds for a create.
    #[arg(long, default_value_t = Capacity::default().create_ms)]
    create_ms: f64,
    /// Capacity mode: milliseconds for a PATCH or PUT.
    #[arg(long, default_value_t = Capacity::default().patch_ms)]
    patch_ms: f64,
    /// Capacity mode: milliseconds for a DELETE.
    #[arg(long, default_value_t = Capacity::default().delete_ms)]
    delete_ms: f64,
}

impl Args {
    fn capacity(&self) -> Option<Capacity> {
        (self.workers > 0).then_some(Capacity {
            workers: self.workers,
            get_ms: self.get_ms,
            list_ms: self.list_ms,
            list_item_ms: self.list_item_ms,
            create_ms: self.create_ms,
            patch_ms: self.patch_ms,
            delete_ms: self.delete_ms,
        })
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let cfg = SimConfig {
        token: args.token.clone(),
        profile: args.profile,
        seed: args.seed,
    };
    let sim = Simulator::start_on(args.listen, cfg).await?;
    sim.control().set_capacity(args.capacity());
    tracing::info!(url = %sim.url(), profile = %args.profile, seed = args.seed, workers = args.workers, "authentik-sim ready at {}", sim.url());
    shutdown_signal().await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
