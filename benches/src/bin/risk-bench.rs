//! The pre-trade check set, ours against a naive baseline in the same run.
//!
//! Ours is `engine::risk::Risk::check`: limits scaled once at start-up, integer
//! comparisons, state owned by the risk stage. The baseline does what a first
//! version typically does: limits in a `HashMap` keyed by symbol string, state behind
//! a `Mutex`, the reason as a `String`. Both see the same 20 instruments (4 symbols
//! at each of 5 venues, each venue with its own circuit breaker for ours, each
//! instrument with limits of its own), the same books and the same order stream
//! (every check passes or fails the same way: the harness fails unless both accept
//! the same number of orders over the run, and agree on a sample order of each batch
//! checked afresh). Ours also runs the checks the baseline lacks, set so that none
//! refuses (the order-to-trade ratio among them: the stream has no fills). Orders are checked in batches of 64; each batch is timed, so the
//! percentiles are of ns per check within a batch. The fixture is
//! `benches::risk`, shared with the `risk_check` criterion bench.
//!
//! `cargo run --release -p benches --bin risk-bench -- [--quick] [--json PATH]`

#![allow(clippy::disallowed_methods, reason = "a benchmark measures wall time")]

use std::time::Instant;

use benches::risk::{Fixture, INSTRUMENTS, VENUES};
use clap::Parser;
use hdrhistogram::Histogram;

#[derive(Debug, Parser)]
struct Args {
    /// A short run.
    #[arg(long)]
    quick: bool,
    /// Write results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

const BATCH: usize = 64;

fn main() -> Result<(), String> {
    let args = Args::parse();
    let batches: usize = if args.quick { 20_000 } else { 200_000 };
    let fixture = Fixture::new();
    let (orders, symbols) = (&fixture.orders, &fixture.symbols);
    let naive = fixture.naive();
    let mut ours = fixture.ours();
    let mut hist_ours = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let mut hist_naive = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let (mut total_ours, mut total_naive) = (0f64, 0f64);
    let mut now = 1_000_000_000u64;
    let mut disagreements = 0u64;
    // Accepted orders per side: equal, or the two did unlike work.
    let mut accepted_by = [0u64; 2];
    for b in 0..batches {
        let start = (b * BATCH) % orders.len();
        let batch = &orders[start..(start + BATCH).min(orders.len())];
        // Alternate which goes first, so neither always runs on a warmer cache.
        for round in 0..2 {
            let run_ours = (b + round) % 2 == 0;
            let t = Instant::now();
            let mut accepted = 0u32;
            for (i, o) in batch {
                now += 1_000_000; // 1 ms apart: no duplicates unless the same order repeats
                let inputs = fixture.inputs(*i, now);
                let ok = if run_ours {
                    ours.check(o, &inputs).reject.is_none()
                } else {
                    naive.check(&symbols[*i], o, &inputs).is_none()
                };
                accepted += u32::from(ok);
            }
            let ns = t.elapsed().as_nanos() as f64 / batch.len() as f64;
            accepted_by[usize::from(!run_ours)] += u64::from(std::hint::black_box(accepted));
            if run_ours {
                let _ = hist_ours.record(ns.round().max(1.0) as u64);
                total_ours += ns * batch.len() as f64;
            } else {
                let _ = hist_naive.record(ns.round().max(1.0) as u64);
                total_naive += ns * batch.len() as f64;
            }
        }
        // Same verdicts on one order from the batch (state differs in time only).
        if let Some((i, o)) = batch.first() {
            let inputs = fixture.inputs(*i, now + 10_000_000_000);
            let a = ours.check(o, &inputs).reject.is_none();
            let n = naive.check(&symbols[*i], o, &inputs).is_none();
            disagreements += u64::from(a != n);
        }
    }
    if accepted_by[0] != accepted_by[1] {
        return Err(format!(
            "ours accepted {} orders and the baseline {}: they did unlike work",
            accepted_by[0], accepted_by[1]
        ));
    }
    if disagreements > 0 {
        return Err(format!("ours and the baseline disagreed on {disagreements} orders"));
    }
    let checks = (batches * BATCH) as f64;
    let row = |h: &Histogram<u64>, total_ns: f64| serde_json::json!({"p50_ns": h.value_at_quantile(0.5), "p99_ns": h.value_at_quantile(0.99), "checks_per_s": checks / (total_ns / 1e9)});
    let (o, n) = (row(&hist_ours, total_ours), row(&hist_naive, total_naive));
    println!(
        "{} checks in batches of {BATCH}, {INSTRUMENTS} instruments over {VENUES} venues; ns per check within a batch",
        checks as u64
    );
    println!("{:<8} {:>8} {:>8} {:>14}", "", "p50 ns", "p99 ns", "checks/s");
    for (name, r) in [("ours", &o), ("naive", &n)] {
        let n = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!("{name:<8} {:>8} {:>8} {:>14.0}", n("p50_ns"), n("p99_ns"), n("checks_per_s"));
    }
    println!(
        "ours is {:.1}x the baseline's throughput",
        o["checks_per_s"].as_f64().unwrap_or(0.0) / n["checks_per_s"].as_f64().unwrap_or(1.0)
    );
    if let Some(path) = args.json {
        let v = serde_json::json!({"ours": o, "naive": n});
        std::fs::write(&path, serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
