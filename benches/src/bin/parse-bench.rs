//! `parse-bench`: venue decoders against serde_json, simd-json and sonic-rs on the
//! same frames in one run. `--json PATH` writes the figures.

use std::alloc::System;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use benches::parse::{Figures, measure, sets};
use clap::Parser;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Parse throughput and allocations of our decoders and their peers.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Write `{"sets": {SET: {CANDIDATE: {mb_s, msgs_s, allocs_per_msg}}}}` here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// A short run to check that everything works.
    #[arg(long)]
    quick: bool,
    /// Interleaved rounds per set; medians are reported [default: 15, or 3 with --quick].
    #[arg(long)]
    rounds: Option<usize>,
    /// Sets to run [default: all]: binance_trade, binance_depth, binance_mix.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rounds = cli.rounds.unwrap_or(if cli.quick { 3 } else { 15 }).max(1);
    let frames = if cli.quick { 5_000 } else { 50_000 };
    let allocs = |run: &dyn Fn()| {
        let region = Region::new(GLOBAL);
        run();
        region.change().allocations as u64
    };
    let mut report: BTreeMap<&str, BTreeMap<&str, Figures>> = BTreeMap::new();
    const SETS: [(&str, &str); 3] = [("binance_trade", "trade"), ("binance_depth", "depth"), ("binance_mix", "mix")];
    if let Some(bad) = cli.only.iter().find(|o| !SETS.iter().any(|(s, _)| s == o)) {
        eprintln!("error: unknown set {bad:?}; choose from binance_trade, binance_depth, binance_mix");
        return ExitCode::FAILURE;
    }
    for (set, kind) in SETS.into_iter().filter(|(s, _)| cli.only.is_empty() || cli.only.iter().any(|o| o == s)) {
        eprintln!("measuring {set} ...");
        report.insert(set, measure(&sets::binance(kind, frames), rounds, &allocs));
    }
    println!(
        "{:<15} {:<11} {:>9} {:>12} {:>12} {:>10} {:>10}",
        "set", "candidate", "MB/s", "msgs/s", "allocs/msg", "vs serde", "vs sonic"
    );
    for (set, figures) in &report {
        for (name, f) in figures {
            let ratio = |peer: &str| figures.get(peer).map_or(f64::NAN, |p| f.mb_s / p.mb_s);
            println!(
                "{set:<15} {name:<11} {:>9.0} {:>12.0} {:>12.2} {:>9.2}x {:>9.2}x",
                f.mb_s,
                f.msgs_s,
                f.allocs_per_msg,
                ratio("serde_json"),
                ratio("sonic_rs")
            );
        }
    }
    println!(
        "\n(medians of {rounds} interleaved rounds of {frames} frames; ratios are MB/s to serde_json and sonic-rs in this run)"
    );
    if let Some(path) = cli.json {
        let json = serde_json::json!({ "sets": report });
        let text = serde_json::to_string_pretty(&json).unwrap_or_else(|e| unreachable!("plain data: {e}"));
        if let Err(e) = std::fs::write(&path, text + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
