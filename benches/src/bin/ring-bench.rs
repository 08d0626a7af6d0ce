//! `ring-bench`: one run comparing our rings with the raw ping-pong and their peers.
//! Run `ring-bench --help` for flags; `--json PATH` writes the figures.

use std::path::PathBuf;
use std::process::ExitCode;

use benches::ring::run::{CANDIDATES, Plan, run};
use benches::ring::shm::{ChildArgs, child_main};
use clap::{Parser, Subcommand};

/// Ring latency and throughput against rtrb, crossbeam's ArrayQueue, std's
/// sync_channel and the raw cache-line ping-pong, producer and consumer pinned to
/// different CPUs, all in one run.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Write the figures as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// A short run (fewer samples and messages) to check that everything works.
    #[arg(long)]
    quick: bool,
    /// The two CPUs to pin the sides to, e.g. `2,3` [default: the first and last allowed CPU].
    #[arg(long, value_name = "A,B", value_delimiter = ',', num_args = 2)]
    cpus: Option<Vec<usize>>,
    /// Rounds: each measures every contender's latency and throughput once, so ratios
    /// compare contenders under the same host conditions [default: 20, or 3 with --quick].
    #[arg(long)]
    rounds: Option<usize>,
    /// Contenders to run [default: all]: pingpong, spsc, shm, broadcast1, broadcast2,
    /// stamped_prototype, rtrb, crossbeam_array_queue, std_sync_channel.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Debug, Subcommand)]
enum Child {
    /// Internal: the second process of the shared-memory contender.
    #[command(hide = true)]
    ShmChild(ChildArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Child::ShmChild(args)) = &cli.child {
        child_main(args);
        return ExitCode::SUCCESS;
    }
    let allowed = match tuning::allowed_cpus() {
        Ok(cpus) => cpus,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cpus = match cli.cpus.as_deref() {
        Some(&[a, b]) => (a, b),
        _ => (allowed[0], allowed[allowed.len() - 1]),
    };
    for cpu in [cpus.0, cpus.1] {
        if !allowed.contains(&cpu) {
            eprintln!("error: CPU {cpu} is not available to this process (allowed: {allowed:?})");
            return ExitCode::FAILURE;
        }
    }
    if cpus.0 == cpus.1 {
        eprintln!("warning: both sides on CPU {}: spinning peers will share one core", cpus.0);
    }
    if let Some(bad) = cli.only.iter().find(|n| !CANDIDATES.contains(&n.as_str())) {
        eprintln!("error: unknown contender {bad:?}; choose from {}", CANDIDATES.join(", "));
        return ExitCode::FAILURE;
    }
    let rounds = cli.rounds.unwrap_or(if cli.quick { 3 } else { 20 }).max(1);
    let plan = Plan {
        cpus,
        warmup: if cli.quick { 1_000 } else { 5_000 },
        samples: if cli.quick { 20_000 } else { 50_000 },
        messages: if cli.quick { 1_000_000 } else { 4_000_000 },
        rounds,
        capacity: 4096,
    };
    let names: Vec<&'static str> =
        CANDIDATES.into_iter().filter(|n| cli.only.is_empty() || cli.only.iter().any(|o| o == n)).collect();
    let mut report = run(&names, &plan, |round| eprintln!("round {} of {rounds} ...", round + 1));
    report.meta.insert("cpus".into(), format!("{},{}", cpus.0, cpus.1));
    report.meta.insert("latency_samples_per_round".into(), plan.samples.to_string());
    report.meta.insert("messages_per_measurement".into(), plan.messages.to_string());
    report.meta.insert("rounds".into(), plan.rounds.to_string());
    report.meta.insert("capacity".into(), plan.capacity.to_string());
    print!("{}", report.table());
    if let Some(path) = cli.json {
        let text = serde_json::to_string_pretty(&report.json()).unwrap_or_else(|e| unreachable!("plain data: {e}"));
        if let Err(e) = std::fs::write(&path, text + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
