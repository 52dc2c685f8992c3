use authentik_operator::config::{Cli, Command, CrdgenArgs};
use authentik_operator::{controller, telemetry};
use clap::Parser;
use kube::ResourceExt;
use tokio_util::sync::CancellationToken;

/// Longest a SIGTERM waits for in-flight work.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One glibc malloc arena, unless MALLOC_ARENA_MAX says otherwise; before any thread starts.
/// With one arena per thread (up to 8 per core), memory freed by one thread (a drift sweep's
/// pages, a watch's events) was not reused by another, and the resident size grew by half
/// again over the live data; the operator waits on the network, not on malloc.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

async fn run() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Crdgen(args) => crdgen(&args),
        Command::Export(args) => authentik_operator::cli::export(&args).await,
        Command::Plan(args) => authentik_operator::cli::plan(&args).await,
        Command::Run(args) => {
            telemetry::init(args.log_format);
            let stop = CancellationToken::new();
            tokio::spawn(stop_on_signal(stop.clone()));
            // A stop is graceful up to a point: with the API server or authentik gone, in-flight
            // calls could otherwise hold the process for minutes.
            let deadline = {
                let stop = stop.clone();
                async move {
                    stop.cancelled().await;
                    tokio::time::sleep(SHUTDOWN_DEADLINE).await;
                }
            };
            let outcome = tokio::select! {
                outcome = controller::run(*args, stop) => outcome,
                () = deadline => {
                    tracing::warn!("shutdown took longer than {SHUTDOWN_DEADLINE:?}; exiting anyway");
                    Ok(())
                }
            };
            match outcome {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "operator stopped");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

async fn stop_on_signal(stop: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
    stop.cancel();
}

fn crdgen(args: &CrdgenArgs) -> std::process::ExitCode {
    for crd in authentik_operator::kinds::crds() {
        let yaml = match serde_saphyr::to_string(&crd) {
            Ok(y) => y,
            Err(e) => {
                eprintln!("cannot render {}: {e}", crd.name_any());
                return std::process::ExitCode::FAILURE;
            }
        };
        if args.out.as_os_str() == "-" {
            println!("---\n{yaml}");
            continue;
        }
        let path = args.out.join(format!("{}.yaml", crd.spec.names.plural));
        if let Err(e) =
            std::fs::create_dir_all(&args.out).and_then(|()| std::fs::write(&path, yaml))
        {
            eprintln!("cannot write {}: {e}", path.display());
            return std::process::ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    std::process::ExitCode::SUCCESS
}
