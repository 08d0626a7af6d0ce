//! The `engine` command line. `--help` on every subcommand explains each flag and its
//! default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A thread-per-core trading engine for latency-tuned Linux hosts.
#[derive(Debug, Parser)]
#[command(name = "engine", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check or tune this host for hot cores.
    #[command(subcommand)]
    Tune(Tune),
    /// Decode raw venue messages (one per line) and print one JSON object per event,
    /// with prices and sizes as exact decimal strings. Exits 0 only if every line
    /// decoded; a failing line prints {"error", "line", "offset"}.
    Decode(DecodeArgs),
}

/// `engine decode` flags.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Which venue's format the file holds.
    #[arg(long, value_enum)]
    pub venue: VenueArg,
    /// The file: one raw WebSocket message per line.
    pub file: PathBuf,
}

/// Venues `engine decode` reads (more arrive with issue 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VenueArg {
    /// Binance spot: trade, aggTrade, bookTicker, depthUpdate (raw or combined stream).
    Binance,
}

/// `engine tune ...`
#[derive(Debug, Subcommand)]
pub enum Tune {
    /// Audit the host: a table of checks with what was found, what is wanted, why,
    /// and the exact fix. Exits 0 unless --strict and a check fails.
    Check(CheckArgs),
    /// Apply the runtime-changeable fixes (sysfs/procfs writes) for the chosen cores
    /// and report each result. Kernel command-line changes are printed, never made.
    Apply(ApplyArgs),
}

/// Which host and which cores an audit is about.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// CPUs that will run hot stages, as a kernel CPU list (e.g. `2,3` or `2-5`)
    /// [default: every CPU this process may use except CPU 0].
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,
    /// Hot threads will run SCHED_FIFO (adds the RT-throttling and rtprio checks).
    #[arg(long)]
    pub sched_fifo: bool,
    /// Watch /proc/interrupts this long for interrupts landing on the hot cores
    /// (0 skips the check).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub irq_sample_ms: u64,
    /// Audit the /proc and /sys found under this directory instead of the live host
    /// (a mounted image or a test fixture).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

/// `engine tune check` flags.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The host and cores.
    #[command(flatten)]
    pub target: Target,
    /// Exit 1 if any check fails (for deployment scripts).
    #[arg(long)]
    pub strict: bool,
    /// Print a JSON array of {check, status, found, want, why, fix} instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `engine tune apply` flags.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// The host and cores.
    #[command(flatten)]
    pub target: Target,
    /// Print the exact commands without running them.
    #[arg(long)]
    pub dry_run: bool,
}
