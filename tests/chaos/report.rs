//! The figures of a run: operations, faults by type, checks, violations, convergence after
//! the faults, the quiet period, the teardown, and the operator's memory (peak and slope).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Shared;
use super::journal::Violation;
use super::replicas::Sample;

/// The leading time the memory slope needs before it is held to the bound: shorter stretches
/// show the allocator's steps, not a trend.
const MIN_COVERED: f64 = 300.0;

/// What the end of a run measured.
pub struct End {
    /// When the faults and the workload stopped (seconds into the run).
    pub ran: f64,
    /// Resources, and the run's objects in authentik, once converged after the faults.
    pub held: (usize, usize),
    pub converged: Option<f64>,
    pub quiet: f64,
    pub authentik_writes: usize,
    pub resource_writes: usize,
    pub teardown: Option<f64>,
    pub log_lines: usize,
    pub longest: f64,
    pub longest_subject: String,
    pub dir: PathBuf,
}

/// The leader's memory: its peak, and how it grows while one process leads.
pub struct Memory {
    pub peak_mib: f64,
    /// MiB per minute, weighted by the length of each stretch a process led.
    pub slope: Option<f64>,
    pub stretches: usize,
    pub covered_secs: f64,
    pub longest: Option<(f64, f64)>,
}

pub struct Report {
    pub seed: u64,
    pub replay: String,
    pub end: End,
    pub counters: BTreeMap<String, u64>,
    pub faults: BTreeMap<&'static str, usize>,
    /// The kinds registered and the kinds of fault the run was to inject.
    pub kinds_registered: usize,
    pub fault_kinds: usize,
    pub max_slope: f64,
    pub violations: Vec<Violation>,
    pub memory: Memory,
}

/// Least-squares slope of (seconds, KiB): KiB per second.
fn slope(samples: &[(f64, f64)]) -> f64 {
    let n = samples.len() as f64;
    let (mx, my) = samples
        .iter()
        .fold((0.0, 0.0), |(x, y), (a, b)| (x + a / n, y + b / n));
    let num: f64 = samples.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = samples.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    if den == 0.0 { 0.0 } else { num / den }
}

/// The stretches in which one process led, without their first 30 s (caches filling), of
/// at least a minute: each one's slope, weighted by its length.
fn memory(samples: &[Sample]) -> Memory {
    let peak = samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0);
    let mut stretches: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Option<(u32, f64)> = None;
    for s in samples {
        let led_by_it = current.is_some_and(|(pid, _)| pid == s.pid);
        if !s.leader {
            if led_by_it {
                current = None;
            }
            continue;
        }
        let Some((_, start)) = current.filter(|_| led_by_it) else {
            current = Some((s.pid, s.t));
            stretches.push(Vec::new());
            continue;
        };
        if s.t - start >= 30.0
            && let Some(stretch) = stretches.last_mut()
        {
            stretch.push((s.t, s.rss_kib as f64));
        }
    }
    let long: Vec<(f64, f64)> = stretches
        .iter()
        .filter(|s| s.len() >= 2 && s[s.len() - 1].0 - s[0].0 >= 60.0)
        .map(|s| (s[s.len() - 1].0 - s[0].0, slope(s) * 60.0 / 1024.0))
        .collect();
    let covered: f64 = long.iter().map(|(d, _)| d).sum();
    Memory {
        peak_mib: peak as f64 / 1024.0,
        slope: (covered > 0.0).then(|| long.iter().map(|(d, s)| d * s).sum::<f64>() / covered),
        stretches: long.len(),
        covered_secs: covered,
        longest: long.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0)),
    }
}

impl Report {
    pub fn build(shared: &Shared, end: End) -> Report {
        let memory = memory(&shared.replicas.samples());
        if let Some(s) = memory.slope
            && memory.covered_secs >= MIN_COVERED
            && s > shared.cfg.max_slope
        {
            shared.journal.violation(
                "the operator's memory is flat",
                "replicas",
                format!(
                    "the leader's memory grew {s:+.2} MiB/min over {:.0} min of leading (at most {:+.2})",
                    memory.covered_secs / 60.0,
                    shared.cfg.max_slope
                ),
            );
        }
        let mut faults = BTreeMap::new();
        for f in shared.journal.faults() {
            *faults.entry(f.kind).or_insert(0) += 1;
        }
        Report {
            seed: shared.cfg.seed,
            replay: shared.cfg.replay(),
            end,
            counters: shared.journal.counters(),
            faults,
            kinds_registered: shared.kinds.len(),
            fault_kinds: shared.cfg.faults.len(),
            max_slope: shared.cfg.max_slope,
            violations: shared.journal.violations(),
            memory,
        }
    }

    fn counter(&self, key: &str) -> u64 {
        self.counters.get(key).copied().unwrap_or(0)
    }

    pub fn print(&self) {
        let e = &self.end;
        let c = |k: &str| self.counter(k);
        let secs = |v: Option<f64>| v.map_or("not reached".into(), |v| format!("{v:.1} s"));
        println!(
            "== soak: seed {}, {:.0} s of workload and faults ({})",
            self.seed,
            e.ran,
            e.dir.display()
        );
        println!("replay: {}", self.replay);
        let ops = c("client creates") + c("client changes") + c("client deletes");
        println!(
            "operations: {ops} by the client ({} creates, {} changes, {} deletes, {} Secret rotations, {} retries, {} refused)",
            c("client creates"),
            c("client changes"),
            c("client deletes"),
            c("client secret rotations"),
            c("client retries"),
            c("client writes refused")
        );
        let kinds: Vec<String> = self
            .counters
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("created ").map(|k| format!("{k} {v}")))
            .collect();
        println!(
            "  created per kind ({} of {} kinds): {}",
            kinds.len(),
            self.kinds_registered,
            kinds.join(", ")
        );
        println!(
            "  by the authentik user: {} edits, {} renames, {} deletes",
            c("authentik user edits"),
            c("authentik user renames"),
            c("authentik user deletes")
        );
        let total: usize = self.faults.values().sum();
        let by_type: Vec<String> = self
            .faults
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "faults injected: {total}, {} of {} kinds ({})",
            self.faults.len(),
            self.fault_kinds,
            by_type.join(", ")
        );
        println!(
            "operator exits on its own (restarted): {}",
            c("operator exits on its own")
        );
        println!(
            "invariant checks: {} in {} rounds ({} rounds skipped while the API server was away); {} log lines scanned for the token",
            c("invariant checks"),
            c("check rounds"),
            c("check rounds skipped (API server away)"),
            e.log_lines
        );
        println!("violations: {}", self.violations.len());
        for v in &self.violations {
            println!(
                "  {:.1}s {} — {}: {}",
                v.at,
                v.invariant,
                v.subject,
                v.detail.lines().next().unwrap_or("")
            );
        }
        println!(
            "longest convergence after the last fault: {:.1} s ({})",
            e.longest, e.longest_subject
        );
        println!(
            "everything converged after the faults stopped in: {} ({} resources, {} objects of the run's in authentik)",
            secs(e.converged),
            e.held.0,
            e.held.1
        );
        println!(
            "quiet period {:.0} s: {} writes to authentik, {} to the resources",
            e.quiet, e.authentik_writes, e.resource_writes
        );
        println!(
            "teardown (every resource deleted, nothing left in authentik): {}",
            secs(e.teardown)
        );
        let m = &self.memory;
        let slope = m.slope.map_or("n/a (no stretch of a minute)".into(), |s| {
            format!("{s:+.2} MiB/min")
        });
        let longest = m.longest.map_or(String::new(), |(d, s)| {
            format!("; longest {:.1} min at {s:+.2} MiB/min", d / 60.0)
        });
        let checked = if m.covered_secs >= MIN_COVERED {
            "held to at most"
        } else {
            "too short to hold to"
        };
        println!(
            "operator memory: peak {:.1} MiB; leader RSS slope {slope} over {:.1} min in {} stretches{longest} ({checked} {:+.2} MiB/min)",
            m.peak_mib,
            m.covered_secs / 60.0,
            m.stretches,
            self.max_slope
        );
    }
}
