//! `parse-bench`: venue decoders against serde_json, simd-json and sonic-rs on the
//! same frames in one run. `--json PATH` writes the figures.

use std::alloc::System;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use benches::parse::binance::{self, Binance};
use benches::parse::bybit::{self, Bybit};
use benches::parse::coinbase::{self, Coinbase};
use benches::parse::kraken::{self, Kraken};
use benches::parse::okx::{self, Okx};
use benches::parse::{Candidate, Figures, candidates, measure};
use clap::Parser;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Parse throughput and allocations of our decoders and their peers.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Write `{"sets": {SET: {CANDIDATE: {mb_s, msgs_s, allocs_per_msg,
    /// vs_serde_json, vs_sonic_rs}}}}` here (ratios: medians of per-round ratios).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// A short run to check that everything works.
    #[arg(long)]
    quick: bool,
    /// Interleaved rounds per set; medians are reported [default: 15, or 3 with --quick].
    #[arg(long)]
    rounds: Option<usize>,
    /// Sets to run [default: all]: binance_trade, binance_depth, binance_mix,
    /// coinbase, kraken, bybit, okx.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Candidates to run [default: all]: ours, serde_json, simd_json, sonic_rs. Fewer
    /// candidates leave their ratios out (NaN); the point is to profile one alone.
    #[arg(long, value_delimiter = ',')]
    candidates: Vec<String>,
}

/// Every set: its name, and how to make its frames and its contenders.
type Set = (&'static str, fn(usize) -> Vec<Vec<u8>>, fn() -> Vec<(&'static str, Candidate)>);

const SETS: [Set; 7] = [
    ("binance_trade", |n| binance::frames("trade", n), candidates::<Binance>),
    ("binance_depth", |n| binance::frames("depth", n), candidates::<Binance>),
    ("binance_mix", |n| binance::frames("mix", n), candidates::<Binance>),
    ("coinbase", coinbase::frames, candidates::<Coinbase>),
    ("kraken", kraken::frames, candidates::<Kraken>),
    ("bybit", bybit::frames, candidates::<Bybit>),
    ("okx", okx::frames, candidates::<Okx>),
];

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rounds = cli.rounds.unwrap_or(if cli.quick { 3 } else { 15 }).max(1);
    let frames_per_set = if cli.quick { 5_000 } else { 50_000 };
    let allocs = |run: &dyn Fn()| {
        let region = Region::new(GLOBAL);
        run();
        region.change().allocations as u64
    };
    let mut report: BTreeMap<&str, BTreeMap<&str, Figures>> = BTreeMap::new();
    let names = || SETS.iter().map(|(name, ..)| *name).collect::<Vec<_>>().join(", ");
    if let Some(bad) = cli.only.iter().find(|o| !SETS.iter().any(|(s, ..)| s == o)) {
        eprintln!("error: unknown set {bad:?}; choose from {}", names());
        return ExitCode::FAILURE;
    }
    const CANDIDATES: [&str; 4] = ["ours", "serde_json", "simd_json", "sonic_rs"];
    if let Some(bad) = cli.candidates.iter().find(|c| !CANDIDATES.contains(&c.as_str())) {
        eprintln!("error: unknown candidate {bad:?}; choose from {}", CANDIDATES.join(", "));
        return ExitCode::FAILURE;
    }
    for (set, frames, contenders) in
        SETS.into_iter().filter(|(s, ..)| cli.only.is_empty() || cli.only.iter().any(|o| o == s))
    {
        eprintln!("measuring {set} ...");
        let mut contenders = contenders();
        contenders.retain(|(name, _)| cli.candidates.is_empty() || cli.candidates.iter().any(|c| c == name));
        report.insert(set, measure(&frames(frames_per_set), &contenders, rounds, &allocs));
    }
    println!(
        "{:<15} {:<11} {:>9} {:>12} {:>12} {:>10} {:>10}",
        "set", "candidate", "MB/s", "msgs/s", "allocs/msg", "vs serde", "vs sonic"
    );
    for (set, figures) in &report {
        for (name, f) in figures {
            println!(
                "{set:<15} {name:<11} {:>9.0} {:>12.0} {:>12.2} {:>9.2}x {:>9.2}x",
                f.mb_s, f.msgs_s, f.allocs_per_msg, f.vs_serde_json, f.vs_sonic_rs
            );
        }
    }
    println!(
        "\n(medians of {rounds} interleaved rounds of {frames_per_set} frames; ratios are medians of each round's ratio to serde_json and sonic-rs)"
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
