//! What persistence costs the hot core: `engine run` on the simulator with
//! persistence off; with records handed over the ring to a cold core that drops
//! them (the hand-over alone); and with the journal under each fsync policy, and
//! under the default policy at other drain intervals; interleaved round by round in
//! one process, comparing tick-to-order percentiles. Ratios are taken
//! within a round (this host's latency regime drifts between rounds), and the median
//! over rounds is reported.
//!
//! `cargo run --release -p benches --bin persist-cost -- [--rounds N] [--seconds S] [--json PATH]`

use std::time::Duration;

use clap::Parser;
use engine::{
    cli::{Cli, Command},
    run::{DRAIN_EVERY, PersistTarget, run},
    run_cli::options,
};
use persist::journal::FsyncPolicy;

#[derive(Debug, Parser)]
struct Args {
    /// Interleaved rounds (each runs every variant once).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds per variant per round.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Offered frames per second.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Run the hot thread SCHED_FIFO at this priority, as `engine run --sched-fifo`
    /// does (turn RT throttling off first, or the spinning thread is stopped for
    /// 50 ms each second: `engine tune check --sched-fifo` says how).
    #[arg(long, value_name = "PRIO")]
    sched_fifo: Option<u8>,
    /// Write results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// Where a variant's records go.
#[derive(Debug, Clone, Copy)]
enum Persist {
    Off,
    Discard,
    Journal(FsyncPolicy),
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let every_100ms = FsyncPolicy::Interval(Duration::from_millis(100));
    let ms = Duration::from_millis;
    let variants: [(&str, Persist, Duration); 7] = [
        ("off", Persist::Off, DRAIN_EVERY),
        ("ring_only", Persist::Discard, DRAIN_EVERY),
        ("journal_fsync_none", Persist::Journal(FsyncPolicy::Never), DRAIN_EVERY),
        ("journal_fsync_100ms", Persist::Journal(every_100ms), DRAIN_EVERY),
        ("journal_fsync_batch", Persist::Journal(FsyncPolicy::EveryBatch), DRAIN_EVERY),
        ("journal_fsync_100ms_drain_1ms", Persist::Journal(every_100ms), ms(1)),
        ("journal_fsync_100ms_drain_20ms", Persist::Journal(every_100ms), ms(20)),
    ];
    let fifo = args.sched_fifo.map(|p| p.to_string());
    let mut argv = vec!["engine", "run", "--quiet"];
    if let Some(prio) = &fifo {
        argv.extend(["--sched-fifo", prio]);
    }
    let Command::Run(run_args) = <Cli as clap::Parser>::try_parse_from(argv).map_err(|e| e.to_string())?.command else {
        return Err("engine run flags".into());
    };
    let mut base = options(&run_args)?;
    base.rate = args.rate;
    base.duration = Duration::from_secs(args.seconds);
    // (variant, round) -> [p50, p99, p99.9]
    let mut results: Vec<Vec<[f64; 3]>> = vec![Vec::new(); variants.len()];
    for round in 0..args.rounds {
        for (v, (name, persist, drain_every)) in variants.iter().enumerate() {
            let mut o = base.clone();
            o.drain_every = *drain_every;
            o.persist = match persist {
                Persist::Off => PersistTarget::None,
                Persist::Discard => PersistTarget::Discard,
                Persist::Journal(policy) => PersistTarget::Journal(dir.path().join(format!("{name}-{round}")), *policy),
            };
            let outcome = run(&o).map_err(|e| e.to_string())?;
            let t = outcome.summary.tick_to_order_ns;
            eprintln!("round {round} {name:<31} p50 {:>6} p99 {:>7} p99.9 {:>8} ns", t.p50, t.p99, t.p999);
            if let Some(r) = results.get_mut(v) {
                r.push([t.p50 as f64, t.p99 as f64, t.p999 as f64]);
            }
        }
    }
    let column =
        |v: usize, k: usize| results.get(v).map(|r| r.iter().map(|x| x[k]).collect::<Vec<_>>()).unwrap_or_default();
    let ratio = |v: usize, k: usize| {
        let (on, off) = (column(v, k), column(0, k));
        median(on.iter().zip(&off).map(|(a, b)| a / b.max(1.0)).collect())
    };
    let policy = fifo.map_or("SCHED_OTHER".to_owned(), |p| format!("SCHED_FIFO {p}"));
    println!(
        "tick-to-order, median of {} rounds at {} frames/s, hot thread {policy} (ratio: same round, / persistence off)",
        args.rounds, args.rate
    );
    println!(
        "{:<31} {:>8} {:>8} {:>9} {:>10} {:>10}",
        "variant", "p50 ns", "p99 ns", "p99.9 ns", "p99 ratio", "p99.9 ratio"
    );
    let mut json = serde_json::Map::new();
    for (v, (name, ..)) in variants.iter().enumerate() {
        let (p50, p99, p999) = (median(column(v, 0)), median(column(v, 1)), median(column(v, 2)));
        let (r99, r999) = (ratio(v, 1), ratio(v, 2));
        println!("{name:<31} {p50:>8.0} {p99:>8.0} {p999:>9.0} {r99:>10.2} {r999:>10.2}");
        json.insert(
            (*name).into(),
            serde_json::json!({"p50_ns": p50, "p99_ns": p99, "p999_ns": p999, "p99_ratio_vs_off": r99, "p999_ratio_vs_off": r999}),
        );
    }
    if let Some(path) = args.json {
        let text = serde_json::to_string_pretty(&serde_json::Value::Object(json)).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
