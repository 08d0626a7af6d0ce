//! How fast the engine comes back from a dropped feed connection: `engine sim`
//! drops every connection `--drop-every` after it starts streaming and keeps
//! listening; `engine run` reads it over loopback, journaled. From the journal's feed
//! status records, for every drop: the time to the connection being up again, to
//! the first market event after it, and to the last book resynced.
//!
//! Issue 3's target: the first new event within 100 ms of a drop (backoff
//! permitting: the first attempt is immediate, so it always permits here) and a
//! resynced valid book within one snapshot round trip. There is no peer: the
//! target is absolute, so read the median and the spread over many drops.
//!
//! `cargo run --release -p benches --bin reconnect-bench -- [--seconds 20] [--json PATH]`

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use engine::cli::{Cli, Command};
use engine::pipeline::FEED_STATUS;
use feeds::event::StatusKind;
use persist::RecordKind;
use persist::journal::JournalReader;

#[derive(Debug, Parser)]
#[command(about = "Time from a dropped feed connection to the first new event and to resynced books")]
struct Args {
    /// How long the engine runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// How long each connection streams before the simulator drops it.
    #[arg(long, default_value = "500ms")]
    drop_every: String,
    /// The venue protocol both sides speak: binance (the snapshot is the first frame
    /// of a connection), bybit or okx (subscribe first, then the snapshot comes).
    #[arg(long, default_value = "binance")]
    dialect: String,
    /// Market updates per second from the simulator.
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

/// One drop and the way back, in ns after the drop was seen.
#[derive(Debug, Clone, Copy)]
struct Recovery {
    connected: u64,
    first_event: u64,
    resynced: u64,
}

fn parse<T: clap::Parser>(args: &[&str]) -> Result<T, String> {
    T::try_parse_from(args).map_err(|e| e.to_string())
}

fn recoveries(journal: &std::path::Path) -> Result<Vec<Recovery>, String> {
    let (mut records, _) =
        JournalReader::open(journal).and_then(|r| r.read_all()).map_err(|e| format!("{}: {e}", journal.display()))?;
    records.sort_by_key(|r| (r.ts, r.seq));
    let status = |r: &persist::Record, kind: StatusKind| {
        r.kind() == Some(RecordKind::Risk) && r.code == FEED_STATUS + kind as u16
    };
    let mut found = Vec::new();
    for (i, drop) in records.iter().enumerate().filter(|(_, r)| status(r, StatusKind::Disconnected)) {
        let later = records.get(i + 1..).unwrap_or_default();
        let Some(up) = later.iter().position(|r| status(r, StatusKind::Connected)) else { continue };
        let after_up = later.get(up..).unwrap_or_default();
        let next_drop = after_up.iter().position(|r| status(r, StatusKind::Disconnected)).unwrap_or(after_up.len());
        let window = after_up.get(..next_drop).unwrap_or_default();
        let market = window.iter().find(|r| matches!(r.kind(), Some(RecordKind::Trade | RecordKind::BookTop)));
        let resynced = window.iter().filter(|r| status(r, StatusKind::Resynced)).map(|r| r.ts).max();
        let (Some(market), Some(resynced), Some(up)) = (market, resynced, after_up.first()) else { continue };
        found.push(Recovery {
            connected: up.ts.saturating_sub(drop.ts),
            first_event: market.ts.saturating_sub(drop.ts),
            resynced: resynced.saturating_sub(drop.ts),
        });
    }
    Ok(found)
}

/// Waits up to 5 s for the simulator to accept connections.
fn listening(addr: &str) -> Result<(), String> {
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("the simulator did not listen on {addr}"))
}

fn percentile(mut values: Vec<u64>, p: f64) -> u64 {
    values.sort_unstable();
    let i = ((values.len() as f64 - 1.0) * p).round() as usize;
    values.get(i).copied().unwrap_or(0)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match measure(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn measure(args: &Args) -> Result<(), String> {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let port = port.to_string();
    let rate = args.rate.to_string();
    let dialect = args.dialect.as_str();
    let sim: Cli = parse(&[
        "engine",
        "sim",
        "--port",
        &port,
        "--rate",
        &rate,
        "--drop-every",
        &args.drop_every,
        "--dialect",
        dialect,
    ])?;
    let Command::Sim(sim) = sim.command else { return Err("not a sim command".into()) };
    std::thread::spawn(move || engine::simserver::run(&sim));
    let addr = format!("127.0.0.1:{port}");
    listening(&addr)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let journal = dir.path().join("journal");
    let (feed, persist) = (format!("ws://{addr}/"), format!("journal:{}", journal.display()));
    let duration = format!("{}s", args.seconds);
    let run: Cli = parse(&[
        "engine",
        "run",
        "--feed",
        &feed,
        "--dialect",
        dialect,
        "--duration",
        &duration,
        "--persist",
        &persist,
        "--quiet",
    ])?;
    let Command::Run(run) = run.command else { return Err("not a run command".into()) };
    engine::run_cli::run_command(&run)?;
    let found = recoveries(&journal)?;
    if found.is_empty() {
        return Err("no drop was followed by a reconnect in the journal".into());
    }
    let ms = |ns: u64| ns as f64 / 1e6;
    println!("{} drops ({dialect}), each measured from the drop being seen (ms):", found.len());
    println!("{:<28} {:>8} {:>8} {:>8}", "", "p50", "p90", "max");
    let mut json = serde_json::Map::new();
    for (name, pick) in [
        ("connected again", (|r: &Recovery| r.connected) as fn(&Recovery) -> u64),
        ("first market event", |r: &Recovery| r.first_event),
        ("every book resynced", |r: &Recovery| r.resynced),
    ] {
        let values: Vec<u64> = found.iter().map(pick).collect();
        let (p50, p90, max) =
            (percentile(values.clone(), 0.5), percentile(values.clone(), 0.9), percentile(values, 1.0));
        println!("{name:<28} {:>8.2} {:>8.2} {:>8.2}", ms(p50), ms(p90), ms(max));
        json.insert(name.replace(' ', "_"), serde_json::json!({ "p50_ns": p50, "p90_ns": p90, "max_ns": max }));
    }
    json.insert("drops".into(), found.len().into());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
