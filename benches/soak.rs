//! The chaos soak, long: `cargo bench --bench soak` runs it for `SOAK_SECS` (default 1800)
//! with `SOAK_SEED` (default: a random seed, printed) and the other `SOAK_*` settings (see
//! `tests/chaos/mod.rs`), and prints its figures: operations, faults by type, invariant
//! checks, violations, the longest convergence after the last fault, peak memory and its
//! slope. Exits non-zero on a violation. `SOAK_OPERATOR` runs another build of the binary.

#[path = "../tests/chaos/mod.rs"]
mod chaos;
#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..1 << 48));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(chaos::run(chaos::Config::from_env(1800, seed)));
    report.print();
    if !report.violations.is_empty() {
        // Exiting skips destructors: the operators go with this process (spawned tied to it).
        std::process::exit(1);
    }
}
