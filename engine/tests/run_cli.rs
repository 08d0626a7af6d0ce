//! `engine run` and `engine journal` as an operator uses them: the JSON summary and
//! `.hgrm` files, verify on a good and a corrupted journal, SIGINT for an orderly
//! stop, injected panics and stalls, and clear errors for bad flags.

mod common;

use common::engine;
use engine::oms::OrderState;
use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

fn journal_arg(dir: &Path) -> String {
    format!("journal:{}", dir.join("journal").display())
}

#[test]
fn a_run_writes_its_summary_and_histograms_and_its_journal_verifies() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let hgrm = dir.path().join("hgrm");
    let persist = journal_arg(dir.path());
    let (code, stdout, stderr) = engine(&[
        "run",
        "--quiet",
        "--frames",
        "60000",
        "--rate",
        "300000",
        "--persist",
        &persist,
        "--json",
        json.to_str().unwrap(),
        "--latency-out",
        hgrm.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("tick_to_order") && stdout.contains("p99.99"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for key in ["events", "orders", "fills", "rejects", "gaps", "tick_to_order_ns", "hops", "topology", "persist"] {
        assert!(summary.get(key).is_some(), "summary lacks {key}: {summary}");
    }
    assert_eq!(summary["events"], 60_000);
    assert!(summary["hot_thread"]["cpu"].is_u64(), "{summary}");
    assert_eq!(summary["hot_thread"]["name"], "hot-fused");
    let t2o = &summary["tick_to_order_ns"];
    assert!(t2o["p50"].as_u64().unwrap() <= t2o["p99"].as_u64().unwrap());
    for hop in ["parse", "book", "strategy", "risk", "route", "tick_to_order"] {
        let text = std::fs::read_to_string(hgrm.join(format!("{hop}.hgrm"))).unwrap();
        assert!(text.contains("#[Max"), "{hop}.hgrm: {text}");
    }

    let journal = dir.path().join("journal");
    let (code, stdout, stderr) = engine(&["journal", "verify", journal.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["sequences_intact"], true);
    assert_eq!(report["records"].as_u64(), summary["journaled"].as_u64());

    // Flip one byte early in the segment: corruption before good data, never skipped.
    let segment = std::fs::read_dir(&journal).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[64 + 16 + 3] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let (code, _, stderr) = engine(&["journal", "verify", journal.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("corrupt at byte 64"), "{stderr}");
    let (code, _, stderr) = engine(&["run", "--quiet", "--frames", "1000", "--persist", &persist]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a torn tail, so nothing was truncated"), "{stderr}");
}

#[test]
fn sigint_stops_the_run_in_order_and_prints_the_report() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let persist = journal_arg(dir.path());
    let child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--duration", "10m", "--persist", &persist])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("tick_to_order"), "{stdout}");
    let journal = dir.path().join("journal");
    let (code, stdout, _) = engine(&["journal", "verify", journal.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["records"].as_u64().unwrap() > 1_000, "{report}");
}

/// A reader that has gone (`engine run | head -3`) is no failure of the run: it
/// exits as it would have, and still writes the files that come after its table.
#[test]
fn a_closed_stdout_does_not_fail_the_run_or_skip_its_files() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let persist = journal_arg(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--frames", "20000", "--persist", &persist, "--json", json.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the pipe's only reader closes it before the table
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(summary["events"], 20_000);
}

#[test]
fn a_panicking_or_stalled_stage_exits_4_with_everything_handed_over_journaled() {
    let _one = common::one_engine_at_a_time();
    let (mut trades, mut cancelled) = (0, 0);
    for (fault, message) in [("panic-after=20000", "panicked"), ("stall-after=20000", "no heartbeat")] {
        let dir = tempfile::tempdir().unwrap();
        let persist = journal_arg(dir.path());
        let (code, _, stderr) = engine(&[
            "run",
            "--quiet",
            "--persist",
            &persist,
            "--rate",
            "200000",
            "--watchdog",
            "300ms",
            "--inject-fault",
            fault,
        ]);
        assert_eq!(code, Some(4), "{fault}: {stderr}");
        assert!(stderr.contains(message), "{fault}: {stderr}");
        let journal = dir.path().join("journal");
        let (code, stdout, _) = engine(&["journal", "verify", journal.to_str().unwrap(), "--json"]);
        assert_eq!(code, Some(0), "{fault}: the journal verifies");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert!(report["kinds"]["trade"].as_u64().unwrap() > 1_000, "{fault}: {report}");
        trades += report["records"].as_u64().unwrap();
        if fault.starts_with("panic") {
            // On the way out the panicking stage tripped the kill switch and
            // cancelled what was working: no order is left without an outcome.
            let (records, _) = persist::journal::JournalReader::open(&journal).unwrap().read_all().unwrap();
            let failed = engine::risk::TripReason::StageFailed as u16;
            let trip = records.iter().find(|r| r.kind() == Some(persist::RecordKind::Risk) && r.code == failed);
            assert!(trip.is_some(), "no stage_failed trip in the journal");
            assert_eq!(common::unfinished_orders(&records), [], "orders left working after the panic");
            cancelled = records
                .iter()
                .filter(|r| r.kind() == Some(persist::RecordKind::Order) && r.code == OrderState::Canceled as u16)
                .filter(|r| trip.is_some_and(|t| r.seq > t.seq))
                .count();
            // Whether quotes were working at that instant depends on the market:
            // when some were, the stage cancelled at least one (the rest may fill).
            let before: Vec<persist::Record> =
                records.iter().filter(|r| trip.is_some_and(|t| r.seq < t.seq)).copied().collect();
            let working_at_trip = common::unfinished_orders(&before).len();
            assert!(working_at_trip == 0 || cancelled > 0, "{working_at_trip} working at the panic, none cancelled");
        }
    }
    common::report::Found {
        injected: 2,
        journal: Some(trades),
        note: format!("a panic (kill switch, {cancelled} orders cancelled) and a stall: exit 4 each, journal verifies"),
        ..common::report::Found::default()
    }
    .report();
}

/// A hot stage that goes silent for longer than the watchdog but comes back within
/// its grace period (a core preempted for 1.4 s, watchdog 1 s) has still failed the
/// run: the engine stops it, it winds down (its orders cancelled, its records
/// journaled), the report is printed, and the run exits 4 saying how long it was gone.
#[test]
fn a_stage_back_from_a_stall_longer_than_the_watchdog_still_fails_the_run() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (persist, json) = (journal_arg(dir.path()), dir.path().join("run.json"));
    let (code, stdout, stderr) = engine(&[
        "run",
        "--quiet",
        "--persist",
        &persist,
        "--duration",
        "20s",
        "--watchdog",
        "1s",
        "--inject-fault",
        "pause=1400",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("sent no heartbeat for") && stderr.contains("answered the stop and wound down"),
        "{stderr}"
    );
    assert!(stdout.contains("tick_to_order"), "the report is printed: {stdout}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(summary["seconds"].as_f64().unwrap() < 15.0, "the run was stopped, not run out: {summary}");
    let gone = summary["watchdog_stop_ms"].as_u64().unwrap();
    assert!((1_000..2_000).contains(&gone), "{summary}");
    let journal = dir.path().join("journal");
    let (records, _) = persist::journal::JournalReader::open(&journal).unwrap().read_all().unwrap();
    assert_eq!(common::unfinished_orders(&records), [], "orders left working after the stop");
    let (code, _, _) = engine(&["journal", "verify", journal.to_str().unwrap()]);
    assert_eq!(code, Some(0), "the journal verifies");
}

#[test]
fn a_watchdog_shorter_than_three_heartbeats_is_refused() {
    let (code, _, stderr) = engine(&["run", "--watchdog", "100ms"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("at least 300ms"), "{stderr}");
}

/// A duration of centuries is a run that ends by other means (here `--frames`): its
/// deadline once wrapped into the past and ended the run at once.
#[test]
fn a_duration_of_centuries_does_not_end_the_run_at_once() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let args = ["run", "--quiet", "--persist", "none", "--duration", "5000000h", "--frames", "20000"];
    let (code, _, stderr) = engine(&[&args[..], &["--json", json.to_str().unwrap()]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(summary["events"], 20_000, "{summary}");
}

/// The cold core stops draining for 3 s (an injected stall: a slow disk, a preempted
/// thread) and the record ring fills. The hot core never waits for it: it holds
/// order, fill and risk records (journaled later, in order, gapless) and drops market
/// records (counted), and applies the backlog policy meanwhile: reduce-only, lifted
/// by itself once the cold core has caught up, or a kill-switch trip.
#[test]
fn a_stalled_persistence_core_costs_only_counted_market_records() {
    let _one = common::one_engine_at_a_time();
    let mut notes = Vec::new();
    let (mut dropped_all, mut held_all) = (0, 0);
    for (policy, exit) in [("reduce-only", 0), ("halt", 3)] {
        let dir = tempfile::tempdir().unwrap();
        let persist = journal_arg(dir.path());
        let (code, s, stderr) = common::run(&[
            "--rate",
            "200000",
            "--duration",
            "6s",
            "--persist",
            &persist,
            "--on-persist-backlog",
            policy,
            "--inject-fault",
            "persist-stall=3000",
        ]);
        assert_eq!(code, Some(exit), "{policy}: {stderr}");
        let dropped = s["dropped_market_records"].as_u64().unwrap();
        let held = s["persist_held"].as_u64().unwrap();
        assert!(dropped > 0, "{policy}: the ring filled and market records were dropped: {s}");
        assert!(held > 0, "{policy}: records were held for the cold core: {s}");
        assert_eq!(s["persist_waits"], 0, "{policy}: the hot core never waited: {s}");
        // It kept reading the market: the worst tick-to-order stayed far below the stall.
        let worst = s["tick_to_order_ns"]["max"].as_u64().unwrap();
        assert!(worst < 1_000_000_000, "{policy}: the hot core froze with the cold one: {worst} ns");
        let journal = dir.path().join("journal");
        let (code, stdout, _) = engine(&["journal", "verify", journal.to_str().unwrap(), "--json"]);
        assert_eq!(code, Some(0), "{stdout}");
        let verify: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(verify["sequences_intact"], true, "{policy}: a dropped record never leaves a gap: {verify}");
        assert_eq!(verify["records"], s["journaled"], "{policy}: {verify} vs {s}");
        let (records, _) = persist::journal::JournalReader::open(&journal).unwrap().read_all().unwrap();
        assert_eq!(common::unfinished_orders(&records), [], "{policy}: every order has its outcome");
        let audit = |code: u16| {
            records.iter().find(|r| r.kind() == Some(persist::RecordKind::Risk) && r.code == code).map(|r| r.seq)
        };
        let behind = audit(engine::pipeline::PERSIST_BEHIND).expect("the hold is audited");
        let caught_up = audit(engine::pipeline::PERSIST_CAUGHT_UP).expect("so is its end");
        assert!(behind < caught_up);
        let sent_after = |seq: u64| {
            records
                .iter()
                .filter(|r| r.seq > seq && r.kind() == Some(persist::RecordKind::Order))
                .any(|r| r.code == OrderState::Submitted as u16)
        };
        if policy == "reduce-only" {
            // Held to reduce-only meanwhile: the market maker's position-growing quotes refused.
            assert!(s["risk_rejects"]["reduce_only"].as_u64().unwrap_or(0) > 0, "{s}");
        }
        if policy == "halt" {
            let trip = audit(engine::risk::TripReason::PersistBacklog as u16).expect("the trip is audited");
            assert!(!sent_after(trip), "an order was sent after the kill switch tripped");
        } else {
            assert!(sent_after(caught_up), "trading resumed once the cold core caught up");
        }
        dropped_all += dropped;
        held_all += held;
        notes.push(format!("{policy}: exit {exit}"));
    }
    common::report::Found {
        injected: 2,
        recovered: 2,
        note: format!(
            "{dropped_all} market records dropped (counted), {held_all} records held then journaled in order; {}",
            notes.join(", ")
        ),
        ..common::report::Found::default()
    }
    .report();
}

/// The run ends (its --frames) while the cold core is stalled and records are
/// held on the hot core: the stage hands every held record over before it ends, so
/// the journal holds every order's outcome and what the engine says it journaled.
#[test]
fn a_run_ending_while_records_are_held_journals_them_all() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let persist = journal_arg(dir.path());
    // The hot core stops itself after 2 s of frames, 1 s into the cold core's stall.
    let args =
        ["--rate", "200000", "--frames", "400000", "--persist", &persist, "--inject-fault", "persist-stall=3000"];
    let (code, s, stderr) = common::run(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(s["persist_held"].as_u64().unwrap() > 0, "the run ended with records held: {s}");
    let journal = dir.path().join("journal");
    let (records, _) = persist::journal::JournalReader::open(&journal).unwrap().read_all().unwrap();
    assert_eq!(records.len() as u64, s["journaled"].as_u64().unwrap(), "{s}");
    assert_eq!(common::unfinished_orders(&records), [], "every order's outcome, held ones included");
    let count = |kind, code: Option<u16>| {
        records.iter().filter(|r| r.kind() == Some(kind) && code.is_none_or(|c| r.code == c)).count() as u64
    };
    let sent = count(persist::RecordKind::Order, Some(OrderState::Submitted as u16));
    assert_eq!(sent, s["orders"].as_u64().unwrap(), "every order sent is journaled: {s}");
    assert_eq!(count(persist::RecordKind::Fill, None), s["fills"].as_u64().unwrap(), "and every fill: {s}");
    let (code, stdout, _) = engine(&["journal", "verify", journal.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{stdout}");
}

#[test]
fn bad_flags_are_named_with_what_would_be_accepted() {
    let _one = common::one_engine_at_a_time();
    let symbols_22: Vec<String> = (0..22).map(|i| format!("SYM{i}")).collect();
    let symbols_22 = symbols_22.join(",");
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--frobnicate"], "unexpected argument '--frobnicate'"),
        (&["run", "--strategy", "arb"], "unknown strategy `arb`"),
        (&["run", "--strategy", "mm:size=-3"], "`size` must be > 0"),
        (&["run", "--duration", "0s"], "must be longer than zero"),
        (&["run", "--duration", "10 parsecs"], "unknown unit ` parsecs`"),
        (&["run", "--duration", "soon"], "expected a number and a unit"),
        (&["run", "--cores", "1,1"], "must differ"),
        (&["run", "--cores", "0,1", "--persist", "none"], "CPU 0 takes housekeeping work"),
        (&["run", "--cores", "banana"], "expected CPU numbers `HOT,COLD` (fused) or `FEED,TRADE,COLD`"),
        (&["run", "--cores", "1,0,0"], "the fused topology takes `HOT,COLD`, got 3 CPUs"),
        (&["run", "--topology", "pipelined", "--cores", "1,0"], "the pipelined topology takes `FEED,TRADE,COLD`"),
        (&["run", "--topology", "pipelined", "--cores", "1,1,0", "--force-cpu0"], "CPU 1 is listed twice"),
        (&["run", "--topology", "pipelined", "--cores", "0,1,1", "--force-cpu0"], "cannot share the trading core"),
        (&["run", "--topology", "pipelined", "--cores", "0,1,0"], "CPU 0 takes housekeeping work"),
        (&["run", "--topology", "pipelined", "--feed", "replay:x.cap"], "a replay runs fused"),
        (&["run", "--topology", "ring"], "possible values: fused, pipelined"),
        (&["run", "--orders-per-sec", "0"], "0 is not in 1..="),
        (&["run", "--correlation-cap", "1.5"], "expected a correlation from 0 to 1"),
        (&["run", "--max-order-notional", "0"], "0 is not in 1.."),
        (&["run", "--persist", "s3:bucket"], "expected `journal:DIR`, `none` or a postgres:// URL"),
        (&["run", "--db", "postgres://u:hunter2@h:notaport/d"], "--db: bad PostgreSQL connection string"),
        (&["run", "--persist", "none", "--db", "env", "--frames", "10"], "needs --persist journal:DIR"),
        (&["run", "--persist", "postgres://h/d", "--db", "env"], "not both"),
        (&["run", "--symbols", "BTC-USD"], "is not a venue symbol"),
        (&["run", "--symbols", "BTCUSDT,ETHUSDT,BTCUSDT"], "`BTCUSDT` is listed twice (again as symbol 3)"),
        (&["run", "--scales", "BTCUSDT"], "expected SYMBOL=PRICE:SIZE"),
        (&["run", "--scales", "BTCUSDT=1:11"], "`11` is not a number of decimals from 0 to 10"),
        (&["run", "--scales", "DOGEUSDT=1:2"], "--scales: DOGEUSDT is not one of --symbols (BTCUSDT)"),
        (&["sim", "--scales", "DOGEUSDT=1:2", "--port", "0"], "--scales: DOGEUSDT is not one of --symbols"),
        (&["run", "--fsync", "sometimes"], "expected `batch`, `none` or milliseconds"),
        (&["run", "--db-writers", "0"], "`0` is not a number of connections from 1 to 16"),
        (&["journal", "load", ".", "--writers", "17"], "`17` is not a number of connections from 1 to 16"),
        (&["run", "--sched-fifo", "0"], "0 is not in 1..=99"),
        (&["run", "--feed", "carrier-pigeon"], "expected `sim`, `replay:PATH`, `ws://host:port/path` or `wss://…`"),
        (&["run", "--tls-ca", "/nonexistent/ca.pem"], "--tls-ca: cannot read TLS CA file /nonexistent/ca.pem"),
        (&["run", "--feed", "ws://127.0.0.1:1/", "--persist", "none"], "feed: cannot connect to 127.0.0.1:1"),
        (&["run", "--cores", "1,4000", "--frames", "10", "--persist", "none"], "CPU 4000"),
        (&["journal", "inspect", "/nonexistent/journal"], "not a journal directory"),
        (&["run", "--venue", "fix://venue"], "expected `sim`, `ws://host:port/orders` or `wss://…`"),
        (&["run", "--venue", "wss://venue/orders"], "ENGINE_API_KEY is not set"),
        (&["run", "--venue", "ws://127.0.0.1:1/orders", "--persist", "none"], "ENGINE_API_KEY is not set"),
        (
            &["replay", "/nonexistent.cap", "--venue", "ws://127.0.0.1:1/orders"],
            "a replay trades against the simulated venue",
        ),
        (&["run", "--on-mismatch", "shrug"], "possible values: reduce-only, halt, trust-venue"),
        (&["run", "--feed", "sim,replay:x.cap"], "a replay is one venue's capture; give it alone"),
        (&["run", "--feed", "sim,ws://127.0.0.1:1/"], "give every venue the same kind of feed"),
        (
            &["run", "--feed", "sim,sim", "--venue", "ws://127.0.0.1:1/orders"],
            "--venue: 1 order-entry URL for 2 feeds; give one per --feed, in the same order",
        ),
        (&["run", "--venue", "ws://127.0.0.1:1/orders,sim"], "`sim`: expected `sim`, `ws://host:port/orders`"),
        (
            &[
                "run",
                "--feed",
                "ws://127.0.0.1:1/?a=k,ws://127.0.0.1:2/",
                "--venue",
                "ws://127.0.0.1:2/o,ws://127.0.0.1:1/o",
            ],
            "--venue: venue 0's order entry (ws://127.0.0.1:2/o) is at venue 1's feed server; give --venue in --feed's order",
        ),
        (
            &["run", "--feed", "ws://LOCALHOST/,ws://[::1]:9/", "--venue", "ws://[::1]:9/o,ws://127.0.0.1:80/o"],
            "--venue: venue 0's order entry (ws://[::1]:9/o) is at venue 1's feed server",
        ),
        (
            &["replay", "/nonexistent.cap", "--venue", "ws://127.0.0.1:1/orders,ws://127.0.0.1:2/orders"],
            "a replay trades against the simulated venue",
        ),
        (&["run", "--feed", "sim,sim", "--record", "x.cap"], "a capture holds one venue's frames"),
        (&["run", "--feed", "sim,sim,sim", "--symbols", &symbols_22], "3 venues × 22 symbols is more than the 64"),
        (&["run", "--route", "cheapest"], "possible values: off, best-price, lowest-fee, smart"),
        (&["run", "--limit", "BTCUSDT:collar=5"], "unknown limit `collar`: one of max-order-notional"),
        (&["run", "--limit", "BTCUSDT:orders-per-sec=5"], "is a venue's rate: set it on a venue"),
        (&["run", "--limit", "ETHUSDT:collar-bps=5"], "--limit ETHUSDT:collar-bps=5: ETHUSDT is not one of --symbols"),
        (&["run", "--limit", "@1:orders-per-sec=5"], "no venue @1 (the run has @0 to @0)"),
        (&["run", "--limit", "BTCUSDT:max-qty=0.000001"], "expected a size over 0 with at most 5 decimals"),
    ];
    for (args, expected) in cases {
        let (code, _, stderr) = engine(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: expected `{expected}` in: {stderr}");
    }
    common::report::Found {
        injected: cases.len() as u64,
        note: format!("{} bad command lines: each exit 2, naming the flag and what it accepts", cases.len()),
        ..common::report::Found::default()
    }
    .report();
}

#[test]
fn a_run_with_db_ships_exactly_its_journal_into_postgres() {
    let _one = common::one_engine_at_a_time();
    let url = common::fresh_database("engine_run_db");
    let var = |k: &str| std::env::var(k).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let persist = journal_arg(dir.path());
    let json = dir.path().join("run.json");
    let run = || {
        let (code, stdout, stderr) = engine(&[
            "run",
            "--quiet",
            "--frames",
            "80000",
            "--rate",
            "200000",
            "--persist",
            &persist,
            "--db",
            &url,
            "--json",
            json.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains("rows shipped"), "{stdout}");
        assert!(!stderr.contains("carries a password"), "{stderr}");
        assert!(!stdout.contains(&var("PGPASSWORD")) && !stderr.contains(&var("PGPASSWORD")));
        let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(summary["db"]["behind_at_exit"], false, "{summary}");
        assert_eq!(summary["db"]["shipped"], summary["journaled"], "{summary}");
    };
    run();
    let mut db = persist::pg::connect(Some(&url)).unwrap();
    let first: (i64, i64) =
        db.query_one("SELECT max(seq), max(client_id) FROM order_events", &[]).map(|r| (r.get(0), r.get(1))).unwrap();
    // A second run on the same journal numbers its orders above the first run's.
    run();
    let lowest_new: Option<i64> =
        db.query_one("SELECT min(client_id) FROM order_events WHERE seq > $1", &[&first.0]).unwrap().get(0);
    assert!(lowest_new.is_some_and(|id| id > first.1), "second run's ids {lowest_new:?} vs first's max {}", first.1);
    // `orders` holds each order's latest event, and every order has its row.
    let (orders, matching, distinct): (i64, i64, i64) = db
        .query_one(
            "SELECT (SELECT count(*) FROM orders), \
             (SELECT count(*) FROM orders o JOIN (SELECT DISTINCT ON (client_id) client_id, state, filled, seq \
               FROM order_events ORDER BY client_id, ts_ns DESC, seq DESC) e \
               ON o.client_id = e.client_id AND o.state = e.state AND o.filled = e.filled AND o.seq = e.seq), \
             (SELECT count(DISTINCT client_id) FROM order_events)",
            &[],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert!(orders > 0 && orders == matching && orders == distinct, "{orders} {matching} {distinct}");

    let journal = dir.path().join("journal");
    let (_, inspect, _) = engine(&["journal", "inspect", journal.to_str().unwrap(), "--json"]);
    let kinds: serde_json::Value = serde_json::from_str::<serde_json::Value>(&inspect).unwrap()["kinds"].clone();
    for (kind, table) in [
        ("trade", "market_trades"),
        ("book_top", "book_tops"),
        ("order", "order_events"),
        ("fill", "fills"),
        ("position", "position_snapshots"),
        ("risk", "risk_events"),
    ] {
        let n: i64 = db.query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0);
        assert_eq!(n, kinds[kind].as_i64().unwrap_or(0), "{table}");
    }
    // A second load of the same journal adds nothing.
    let (code, stdout, stderr) = engine(&["journal", "load", journal.to_str().unwrap(), "--db", &url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("loaded 0 rows"), "{stdout}");
    let wrong = format!("postgres://{}:wrong-pass-42@{}:{}/engine_run_db", var("PGUSER"), var("PGHOST"), var("PGPORT"));
    let (code, _, stderr) = engine(&["journal", "load", journal.to_str().unwrap(), "--db", &wrong]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("password authentication failed"), "{stderr}");
    assert!(stderr.contains("warning: the database URL carries a password"), "{stderr}");
    assert!(!stderr.contains("wrong-pass-42"), "the password leaked: {stderr}");
}

/// `journal export` writes what `journal load` stores: the CSV files, copied into a
/// second database, hold the same rows as the first one's load, table by table; an
/// existing file is not overwritten, and a corrupt journal is exit 2 with the files
/// holding every record before the damage.
#[test]
fn an_exported_journal_copies_into_postgres_as_journal_load_stores_it() {
    let _one = common::one_engine_at_a_time();
    let loaded = common::fresh_database("engine_export_loaded");
    let copied = common::fresh_database("engine_export_copied");
    let dir = tempfile::tempdir().unwrap();
    let persist = journal_arg(dir.path());
    let (code, _, stderr) = engine(&["run", "--quiet", "--frames", "30000", "--rate", "200000", "--persist", &persist]);
    assert_eq!(code, Some(0), "{stderr}");
    let journal = dir.path().join("journal");
    let journal = journal.to_str().unwrap();
    let (code, _, stderr) = engine(&["journal", "load", journal, "--db", &loaded]);
    assert_eq!(code, Some(0), "{stderr}");
    let out = dir.path().join("csv");
    let (code, stdout, stderr) = engine(&["journal", "export", journal, "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("market_trades.csv") && stdout.contains("risk_events.csv"), "{stdout}");

    let mut a = persist::pg::connect(Some(&loaded)).unwrap();
    let mut b = persist::pg::connect(Some(&copied)).unwrap();
    persist::pg::migrate(&mut b).unwrap();
    for table in ["market_trades", "book_tops", "order_events", "fills", "position_snapshots", "risk_events"] {
        let csv = std::fs::read(out.join(format!("{table}.csv"))).unwrap();
        let mut tx = b.transaction().unwrap();
        let mut w = tx.copy_in(&format!("COPY {table} FROM STDIN (FORMAT csv, HEADER true)")).unwrap();
        std::io::Write::write_all(&mut w, &csv).unwrap();
        w.finish().unwrap_or_else(|e| panic!("{table}: {}", persist::pg::render(&e)));
        tx.commit().unwrap();
        let digest = format!("SELECT count(*), md5(string_agg(t::text, '|' ORDER BY stream, seq)) FROM {table} t");
        let expected: (i64, Option<String>) = a.query_one(&digest, &[]).map(|r| (r.get(0), r.get(1))).unwrap();
        let got: (i64, Option<String>) = b.query_one(&digest, &[]).map(|r| (r.get(0), r.get(1))).unwrap();
        assert_eq!(got, expected, "{table}");
        if table != "position_snapshots" {
            assert!(expected.0 > 0, "{table} is empty: the test shows nothing for it");
        }
    }

    let (code, _, stderr) = engine(&["journal", "export", journal, "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("market_trades.csv") && stderr.contains("exists"), "{stderr}");
    // Damage mid-segment: the files hold exactly the records before the bad batch.
    let segment = std::fs::read_dir(journal).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let again = dir.path().join("csv-corrupt");
    let (code, _, stderr) = engine(&["journal", "export", journal, "--out", again.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    let held: u64 = stderr
        .split("the files hold the ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    // Each file is the intact export's file cut short: the same rows, in order, up
    // to the damage, and fewer of them in all.
    let (mut kept, mut all) = (0, 0);
    for f in std::fs::read_dir(&again).unwrap() {
        let path = f.unwrap().path();
        let cut = std::fs::read_to_string(&path).unwrap();
        let whole = std::fs::read_to_string(out.join(path.file_name().unwrap())).unwrap();
        assert!(whole.starts_with(&cut), "{} is not a prefix of the intact export", path.display());
        kept += cut.lines().count() as u64 - 1;
        all += whole.lines().count() as u64 - 1;
    }
    assert!(stderr.contains("corrupt") && held > 1_000, "{held} records: {stderr}");
    assert!(kept == held && kept < all, "{kept} of {all} rows kept, {held} reported");
}

#[test]
fn a_full_disk_stops_the_engine_counts_what_was_not_journaled_and_corrupts_nothing() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    // A size-limited file: past 512 KiB every write fails with EFBIG, as on a full disk.
    let script = format!(
        "trap '' XFSZ; ulimit -f 512; exec {} run --quiet --rate 200000 --duration 30s --persist journal:{}",
        env!("CARGO_BIN_EXE_engine"),
        journal.display()
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("journal failed during the run"), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(stderr.contains("handed over after the failure were not"), "{stderr}");
    // What the engine says it journaled, and what it could not.
    let number_before = |text: &str| -> u64 {
        let head = &stderr[..stderr.find(text).unwrap_or_else(|| panic!("no `{text}` in {stderr}"))];
        head.trim_end().rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (journaled, lost) = (number_before(" records were journaled"), number_before(" handed over after the failure"));
    // What was written is intact: at most a torn tail, which the next open truncates.
    let (code, stdout, stderr) = engine(&["journal", "verify", journal.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["sequences_intact"], true);
    assert!(report["records"].as_u64().unwrap() > 1_000, "{report}");
    let found = report["records"].as_u64().unwrap();
    assert_eq!(found, journaled, "every record the engine said it journaled is there: {report}");
    let persist = format!("journal:{}", journal.display());
    let (code, _, stderr) = engine(&["run", "--quiet", "--frames", "2000", "--persist", &persist]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, _) = engine(&["journal", "verify", journal.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0));
    let after: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(after["torn_tail"], serde_json::Value::Null, "{after}");
    assert_eq!(after["sequences_intact"], true, "numbering resumes after the last journaled record");
    common::report::Found {
        injected: 1,
        recovered: 1,
        expected: Some(journaled),
        journal: Some(found),
        duplicates: Some(after["streams"]["1"]["repeated"].as_u64().unwrap_or(0)),
        note: format!(
            "exit 5, orders cancelled; {lost} records after the failure counted as lost; next run resumed cleanly"
        ),
        ..common::report::Found::default()
    }
    .report();
}

#[test]
fn require_tuned_host_refuses_exactly_when_the_audit_fails_for_the_hot_core() {
    let _one = common::one_engine_at_a_time();
    let (_, json, _) = engine(&["tune", "check", "--json", "--irq-sample-ms", "0", "--cores", "1"]);
    let findings: serde_json::Value = serde_json::from_str(&json).unwrap();
    let fails = findings.as_array().unwrap().iter().filter(|f| f["status"] == "fail").count();
    let (code, _, stderr) =
        engine(&["run", "--quiet", "--frames", "1000", "--persist", "none", "--cores", "1,0", "--require-tuned-host"]);
    if fails > 0 {
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("--require-tuned-host: host audit for hot CPU 1"), "{stderr}");
        assert!(stderr.contains(&format!("{fails} fail")), "{stderr}");
    } else {
        assert_eq!(code, Some(0), "{stderr}");
    }
}

#[test]
fn the_latency_lab_writes_results_histograms_and_a_plot_per_rate() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (json, plot, hgrm) = (dir.path().join("e2e.json"), dir.path().join("e2e.svg"), dir.path().join("hgrm"));
    let (code, stdout, stderr) = engine(&[
        "bench",
        "e2e",
        "--rates",
        "50000,200000",
        "--seconds",
        "1",
        "--persist",
        "none",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--hgrm-dir",
        hgrm.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("fused") && stdout.contains("pipelined") && stdout.contains("200000"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let results = v["results"].as_array().unwrap();
    // Both topologies at each rate, sorted by rate; pipelined shares a CPU on 2-CPU hosts.
    let piped = if tuning::allowed_cpus().unwrap().len() >= 3 { "pipelined" } else { "pipelined-shared" };
    let rows: Vec<(u64, &str)> =
        results.iter().map(|r| (r["offered_rate"].as_u64().unwrap(), r["topology"].as_str().unwrap())).collect();
    assert_eq!(rows, vec![(50_000, "fused"), (50_000, piped), (200_000, "fused"), (200_000, piped)], "{v}");
    for r in results {
        // Loose on purpose: this checks the pacing, not the host's speed (a slow or
        // busy CI machine can fall well short of 200k/s in this build).
        assert!(r["achieved_rate"].as_f64().unwrap() > 0.3 * r["offered_rate"].as_f64().unwrap(), "{v}");
        assert!(r["tick_to_order_ns"]["count"].as_u64().unwrap() > 0, "{v}");
    }
    for name in ["fused-50000", "fused-200000", &format!("{piped}-50000"), &format!("{piped}-200000")] {
        assert!(hgrm.join(format!("{name}-tick_to_order.hgrm")).exists(), "{name}");
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 4, "{svg}");
    assert_eq!(svg.matches("stroke-dasharray").count(), 2, "pipelined lines are dashed: {svg}");
    let (code, _, stderr) = engine(&["bench", "e2e", "--rates", "0"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--rates"), "{stderr}");
}

/// The record ring is built on the hot thread and the report says where the kernel
/// put it. Whether huge pages come depends on the host's THP setting, read here too.
#[test]
fn the_record_ring_lands_on_the_hot_cores_node_and_on_huge_pages_when_the_host_allows() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let args = ["run", "--quiet", "--frames", "20000", "--persist", "none", "--huge-pages", "--json"];
    let (code, stdout, stderr) = engine(&[&args[..], &[json.to_str().unwrap()]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("record ring: 5.0 MiB, built and prefaulted on the hot thread"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let ring = &summary["ring_memory"];
    assert_eq!(ring["ring_bytes"], 65536 * 80, "{ring}");
    assert_eq!(ring["huge_pages_requested"], true);
    let placement = &ring["placement"];
    assert!(placement["mapping_bytes"].as_u64().unwrap() >= 65536 * 80, "{ring}");
    if let Some(hot_node) = ring["hot_cpu_node"].as_u64() {
        let nodes: Vec<u64> = placement["bytes_per_node"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|pair| pair[1].as_u64() > Some(0))
            .map(|pair| pair[0].as_u64().unwrap())
            .collect();
        assert_eq!(nodes, vec![hot_node], "first touch on the hot thread puts the ring on its node: {ring}");
    }
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    let huge = placement["huge_page_bytes"].as_u64().unwrap();
    if thp.contains("[always]") || thp.contains("[madvise]") {
        assert!(huge >= 2 << 20, "THP is on ({thp}) yet the ring got no huge pages: {ring}");
    } else {
        assert!(stderr.contains("no huge pages"), "THP off must be reported: {stderr}");
    }
}

/// The pipelined topology end to end: feed core → ring → trading core, the journal
/// written by the cold core, every hop measured. On a 2-CPU host the cold core shares
/// the feed core's CPU, which the engine warns about.
#[test]
fn a_pipelined_run_journals_everything_and_measures_the_ring_hop() {
    let _one = common::one_engine_at_a_time();
    let allowed = tuning::allowed_cpus().unwrap();
    let (first, last) = (allowed[0], allowed[allowed.len() - 1]);
    let cores = if allowed.len() >= 3 {
        format!("{},{last},{first}", allowed[allowed.len() - 2])
    } else {
        format!("{first},{last},{first}")
    };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let persist = journal_arg(dir.path());
    let args = ["run", "--quiet", "--topology", "pipelined", "--cores", &cores, "--force-cpu0", "--frames", "60000"];
    let (code, stdout, stderr) =
        engine(&[&args[..], &["--rate", "200000", "--persist", &persist, "--json", json.to_str().unwrap()]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    if allowed.len() < 3 {
        assert!(stderr.contains("shares CPU"), "sharing a core must be warned about: {stderr}");
    }
    assert!(stdout.contains("hot thread hot-feed") && stdout.contains("hot thread hot-trade"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(summary["topology"].as_str().unwrap().starts_with("pipelined: feed cpu"), "{summary}");
    assert_eq!(summary["events"], 60_000);
    assert!(summary["orders"].as_u64().unwrap() > 100, "{summary}");
    assert_eq!(summary["hops"]["ring"]["count"], 60_000, "every frame crossed the ring: {summary}");
    assert_eq!(summary["feed_thread"]["name"], "hot-feed");
    let (code, out, _) = engine(&["journal", "verify", dir.path().join("journal").to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let verify: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verify["records"], summary["journaled"], "{verify} vs {summary}");
}

/// `--config FILE.toml`: the file's settings apply, the command line overrides them,
/// a switch may appear in both, and a bad file is refused before anything starts.
#[test]
fn a_config_file_sets_flags_and_the_command_line_overrides_it() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("engine.toml");
    let json = dir.path().join("run.json");
    std::fs::write(
        &config,
        "# a desk's defaults\nframes = 20000\nrate = 50_000\npersist = \"none\"\nquiet = true\n\
         symbols = [\"BTCUSDT\", \"ETHUSDT\"]\nmax_order_notional = 20000\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let (code, _, stderr) =
        engine(&["run", "--config", config, "--rate", "80000", "--quiet", "--json", json.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(summary["offered_rate"], 80_000, "the command line wins: {summary}");
    assert_eq!(summary["events"], 20_000, "the file's frames apply: {summary}");
    assert_eq!(summary["persist"], "none");

    let bad = dir.path().join("bad.toml");
    let bad_files = [
        ("collar_bps = \"wide\"\n", "invalid value 'wide' for '--collar-bps"),
        ("max-drawdown-pct = 300\n", "300 is not in 0..=100"),
        ("sched-fifo = 0\n", "0 is not in 1..=99"),
        ("cores = \"9999,0\"\n", "CPU 9999 is not available"),
        ("rate = 1\nrate = 2\n", "invalid TOML"),
        ("colar_bps = 5\n", "unknown setting `colar_bps`"),
        ("[limits.SOLUSDT]\ncollar-bps = 5\n", "--limit SOLUSDT:collar-bps=5: SOLUSDT is not one of --symbols"),
        ("[limits.BTCUSDT]\ncollar-bps = 0\n", "collar-bps=0: expected a whole number of basis points"),
        ("[limits.\"@0\"]\nbogus = 1\n", "unknown limit `bogus`"),
    ];
    for (text, expected) in bad_files {
        std::fs::write(&bad, text).unwrap();
        let (code, stdout, stderr) = engine(&["run", "--config", bad.to_str().unwrap(), "--frames", "10"]);
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(stderr.contains(expected), "{text}: expected `{expected}` in {stderr}");
        assert!(stdout.is_empty(), "nothing starts on a bad config: {stdout}");
    }
    let (code, _, stderr) = engine(&["run", "--config", "/nonexistent/engine.toml"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--config /nonexistent/engine.toml: cannot read it"), "{stderr}");
    // A path that exists but cannot be read as a file (as root, permissions do not stop a read).
    let unreadable = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = engine(&["run", "--config", unreadable]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("--config {unreadable}: cannot read it")), "{stderr}");
    assert!(stdout.is_empty(), "nothing starts on an unreadable config: {stdout}");
    common::report::Found {
        injected: bad_files.len() as u64 + 2,
        note: "invalid TOML, unknown and out-of-range settings, missing and unreadable files: exit 2, nothing started"
            .into(),
        ..common::report::Found::default()
    }
    .report();
}

/// The cold core estimates return correlations from the records it journals and
/// publishes them to the risk core once a second; the report shows the last ones.
#[test]
fn the_cold_core_publishes_return_correlations_for_every_pair() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let persist = journal_arg(dir.path());
    let args = ["run", "--quiet", "--duration", "2500ms", "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--persist"];
    let (code, stdout, stderr) = engine(&[&args[..], &[&persist, "--json", json.to_str().unwrap()]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("return correlations (last published): BTCUSDT/ETHUSDT"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let pairs = summary["correlations"].as_array().unwrap();
    assert_eq!(pairs.len(), 3, "{summary}");
    for p in pairs {
        let rho = p[2].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&rho) && rho != 0.0, "a published estimate, not the empty snapshot: {p}");
    }
}
