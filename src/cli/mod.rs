//! The commands beside `run`: `export` (authentik's objects as manifests) and `plan`
//! (what applying manifests would do to authentik). Both reach the kinds only through the
//! registry, and `plan` decides with the reconciler's own pure [`crate::reconcile::plan`].

pub mod connect;
pub mod export;
mod export_checks;
pub mod export_options;
pub mod export_output;
pub mod manifests;
pub mod names;
pub mod plan;
pub mod plan_output;
pub mod plan_report;
pub mod plan_snapshot;
pub mod registry;
pub mod validate;

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub authentik: connect::AuthentikArgs,
    /// Folder to write `<plural>/<name>.yaml` into (files of objects no longer in authentik
    /// are removed there, unless a name filter is given); without it, or with `-`, one YAML
    /// stream on stdout.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Only these kinds (repeat the flag or separate with commas), e.g. PasswordStage.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Only objects whose authentik name (a flow's slug) starts with this; a binding
    /// matches through its flow or its stage.
    #[arg(long)]
    pub name_prefix: Option<String>,
    /// Only objects whose authentik name matches this glob (`*`, `?`).
    #[arg(long)]
    pub name_pattern: Option<String>,
    /// Namespace written into every document; without it the documents have none.
    #[arg(long)]
    pub namespace: Option<String>,
    /// `deletionPolicy` of every document. `Orphan` (the default here) keeps the objects in
    /// authentik when the resources are deleted: they existed before the operator (the
    /// default login flow among them), and deleting a resource must not take them by
    /// surprise. `Delete` hands them over entirely.
    #[arg(long, value_parser = ["Delete", "Orphan"], default_value = "Orphan")]
    pub deletion_policy: String,
}

/// `export`'s exit code when it exported, but not everything as authentik holds it: an
/// object left out, a document the API server or the operator would refuse, or a value left
/// out of a document (each warned about on stderr). Not 2, which clap uses for bad usage.
pub const EXPORT_INCOMPLETE: u8 = 3;

/// Runs `export`; the exit code: 0 everything exported, [`EXPORT_INCOMPLETE`] exported with
/// warnings, 1 nothing exported (an error).
pub async fn export(args: &ExportArgs) -> std::process::ExitCode {
    match export::run(args).await {
        Ok(outcome) => {
            if let Some(out) = outcome.stdout {
                print!("{out}");
            }
            if outcome.complete {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::from(EXPORT_INCOMPLETE)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Manifests: files (multi-document YAML or JSON) or folders (read recursively).
    #[arg(long, short = 'f', required = true)]
    pub file: Vec<PathBuf>,
    /// Without --authentik-url the manifests are validated and `ref`s resolved within the
    /// set only.
    #[command(flatten)]
    pub authentik: connect::AuthentikArgs,
    /// The namespace of manifests that name none.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// The resources already exist in the cluster and hold the objects with their keys (a
    /// change to manifests applied before): an object found is updated or unchanged, not
    /// adopted. A manifest with `status.pk` is taken as applied either way.
    #[arg(long)]
    pub applied: bool,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Runs `plan`; exit code 0 no changes, 2 changes, 1 errors (the plan of the manifests
/// without errors is printed all the same).
pub async fn plan(args: &PlanArgs) -> std::process::ExitCode {
    let (text, errors, code) = plan::run(args).await;
    print!("{text}");
    for e in errors {
        eprintln!("error: {e}");
    }
    std::process::ExitCode::from(code)
}
