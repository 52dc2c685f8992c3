//! The chaos soak's short form, on every test run: two operator replicas with leader
//! election, the real kube-apiserver, the simulator, a client writing resources of every
//! kind, an authentik user changing their objects behind the operator's back, and every
//! kind of fault, from a fixed seed for about two minutes (`tests/chaos/`). Fails on any
//! violated invariant, printing what is needed to replay it; `SOAK_SEED` and the other
//! `SOAK_*` settings replay another run. `cargo bench --bench soak` runs a long one.

mod chaos;
mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_keeps_every_promise() {
    let report = chaos::run(chaos::Config::from_env(75, 26)).await;
    report.print();
    assert!(
        report.violations.is_empty(),
        "{} violations (each printed above with its seed, faults and history)",
        report.violations.len()
    );
    // The client's table writes only what the API accepts (a refusal is the harness's bug).
    assert_eq!(
        report.counters.get("client writes refused"),
        None,
        "the API server refused some of the client's writes (printed above)"
    );
    // The run did what it says: every kind created, every kind of fault injected.
    let kinds = report
        .counters
        .keys()
        .filter(|k| k.starts_with("created "))
        .count();
    assert_eq!(
        kinds, report.kinds_registered,
        "not every registered kind was created: {:?}",
        report.counters
    );
    assert_eq!(
        report.faults.len(),
        report.fault_kinds,
        "not every kind of fault was injected: {:?}",
        report.faults
    );
}
