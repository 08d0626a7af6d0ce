//! The engine against the simulator over a real WebSocket on loopback: `engine sim`
//! in one process, `engine run --feed ws://...` in another, every order and fill
//! journaled; gaps resynced from in-stream snapshots; the feed dropped mid-run and
//! brought back, with the engine reconnecting and resyncing by itself.

use std::{
    process::{Child, Command},
    time::Duration,
};

mod common;

use common::run;
use persist::{RecordKind, journal::JournalReader};

/// Starts `engine sim` and returns it with its URL.
fn sim(args: &[&str]) -> (Child, String) {
    common::start_sim(Command::new(env!("CARGO_BIN_EXE_engine")), args)
}

#[test]
fn orders_and_fills_from_a_websocket_feed_are_all_journaled() {
    let (mut server, url) = sim(&["--port", "0", "--rate", "150000", "--symbols", "BTCUSDT,ETHUSDT"]);
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) =
        run(&["--feed", &url, "--symbols", "BTCUSDT,ETHUSDT", "--frames", "100000", "--persist", &persist]);
    server.kill().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(s["counters"]["decode_errors"], 0, "{s}");
    assert!(s["counters"]["resyncs"].as_u64().unwrap() >= 2, "one snapshot per symbol at least: {s}");
    let (orders, fills) = (s["orders"].as_u64().unwrap(), s["fills"].as_u64().unwrap());
    assert!(orders > 20 && fills > 5, "{s}");

    let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    let submitted = records
        .iter()
        .filter(|r| r.kind() == Some(RecordKind::Order) && r.code == engine::oms::OrderState::Submitted as u16)
        .count() as u64;
    let journaled_fills = records.iter().filter(|r| r.kind() == Some(RecordKind::Fill)).count() as u64;
    assert_eq!((submitted, journaled_fills), (orders, fills));
}

#[test]
fn gaps_resync_from_in_stream_snapshots() {
    let (mut server, url) =
        sim(&["--port", "0", "--rate", "100000", "--gap-every", "3000", "--snapshot-every", "100ms"]);
    let (code, s, stderr) = run(&["--feed", &url, "--duration", "2s", "--persist", "none"]);
    server.kill().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    let c = &s["counters"];
    assert!(c["gaps"].as_u64().unwrap() >= 5, "{s}");
    assert!(c["resyncs"].as_u64().unwrap() >= 5, "{s}");
    assert_eq!(c["decode_errors"], 0);
}

#[test]
fn a_dropped_feed_is_reconnected_and_the_books_resynced() {
    let (mut server, url) = sim(&["--port", "0", "--rate", "50000"]);
    let port = url.trim_end_matches('/').rsplit(':').next().unwrap().to_owned();
    let engine = std::thread::spawn({
        let url = url.clone();
        move || run(&["--feed", &url, "--duration", "4s", "--persist", "none"])
    });
    std::thread::sleep(Duration::from_millis(1_200));
    server.kill().unwrap();
    server.wait().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let (mut again, url2) = sim(&["--port", &port, "--rate", "50000", "--seed", "2"]);
    assert_eq!(url2, url);
    let (code, s, stderr) = engine.join().unwrap();
    again.kill().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the feed connection dropped 1 time"), "{stderr}");
    let c = &s["counters"];
    assert_eq!(c["disconnects"], 1, "{s}");
    assert!(c["resyncs"].as_u64().unwrap() >= 2, "resynced after reconnecting: {s}");
    assert!(c["frames"].as_u64().unwrap() > 100_000, "frames kept coming after the reconnect: {s}");
}

/// `engine record` captures a live WebSocket feed without trading; the capture
/// replays through the whole pipeline, with the same decisions every time.
#[test]
fn a_recorded_live_feed_replays_the_same_way_twice() {
    let (mut server, url) = sim(&["--port", "0", "--rate", "20000", "--symbols", "BTCUSDT"]);
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("feed.cap");
    let record = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["record", capture.to_str().unwrap(), "--feed", &url, "--symbols", "BTCUSDT", "--frames", "20000"])
        .args(["--quiet", "--json", dir.path().join("rec.json").to_str().unwrap()])
        .output()
        .unwrap();
    server.kill().unwrap();
    assert_eq!(record.status.code(), Some(0), "{}", String::from_utf8_lossy(&record.stderr));
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("rec.json")).unwrap()).unwrap();
    assert_eq!(recorded["orders"], 0, "recording trades nothing: {recorded}");
    let replay = || {
        let feed = format!("replay:{}", capture.display());
        let (code, s, stderr) = run(&["--feed", &feed, "--persist", "none", "--symbols", "BTCUSDT"]);
        assert_eq!(code, Some(0), "{stderr}");
        s
    };
    let (a, b) = (replay(), replay());
    assert_eq!(a["events"], recorded["events"], "every recorded frame replays");
    assert!(a["orders"].as_u64().unwrap() > 0, "the replay trades: {a}");
    assert_eq!((&a["orders"], &a["fills"]), (&b["orders"], &b["fills"]), "the same decisions twice");
}

/// A server on loopback (a thread speaking the simulator's frames) for one client:
/// a snapshot and 2,000 frames of BTCUSDT, then 1.2 s of silence with the
/// connection open, then gone (its listener too, so reconnects are refused).
/// Returns its URL.
fn silent_then_gone() -> String {
    use engine::{
        run::sim_symbol_spec,
        sim::{MarketSim, SimSymbol},
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        let (ps, qs, start) = sim_symbol_spec("BTCUSDT");
        let symbol = SimSymbol::new("BTCUSDT", feeds::event::InstrumentId(0), (ps, qs), start);
        let mut market = MarketSim::new(vec![symbol], 7);
        let text = |b: &[u8]| tungstenite::Message::text(String::from_utf8_lossy(b).into_owned());
        ws.send(text(market.snapshot_frame(feeds::event::InstrumentId(0)))).unwrap();
        for _ in 0..2_000 {
            let ts = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos() as u64;
            ws.send(text(market.next_frame(ts))).unwrap();
        }
        std::thread::sleep(Duration::from_millis(1_200)); // silent, connection open
        drop(ws);
    });
    url
}

/// Feed-status events end to end: a server (a thread here, speaking the simulator's
/// frames) that streams, goes silent with the connection open, then drops it. The
/// engine reports `connected`, then `stale` once the silence passes
/// --feed-stale-after (its books invalidated), then `disconnected`; each is
/// journaled as an audit record (171, 175, 172) in that order.
#[test]
fn a_silent_then_dropped_feed_is_reported_stale_then_disconnected() {
    let url = silent_then_gone();
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) = run(&[
        "--feed",
        &url,
        "--symbols",
        "BTCUSDT",
        "--duration",
        "2500ms",
        "--feed-stale-after",
        "300ms",
        "--persist",
        &persist,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let status = &s["counters"]["feed_status"];
    assert!(status[0].as_u64().unwrap() >= 1 && status[1].as_u64().unwrap() >= 1, "connected, disconnected: {s}");
    assert_eq!(status[4], 1, "stale once for one silence: {s}");
    let (records, _) = persist::journal::JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    let codes: Vec<u16> = records
        .iter()
        .filter(|r| r.kind() == Some(persist::RecordKind::Risk) && (171..=175).contains(&r.code))
        .map(|r| r.code)
        .collect();
    let at = |code| codes.iter().position(|c| *c == code).unwrap_or_else(|| panic!("no {code} in {codes:?}"));
    assert!(at(171) < at(175) && at(175) < at(172), "connected, stale, disconnected: {codes:?}");
}

/// Two venues over two real sockets: `engine sim` streams on; a second server goes
/// silent, then drops. Only the silent venue is reported stale (its first
/// instrument and its venue named), the live venue's market keeps being journaled
/// after it went quiet, and the kill switch does not halt the engine for one
/// venue's invalid books.
#[test]
fn one_silent_venue_goes_stale_alone_while_the_other_trades_on() {
    let (mut server, live) = sim(&["--port", "0", "--rate", "2000"]);
    let quiet = silent_then_gone();
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let feeds = format!("{live},{quiet}");
    let (code, s, stderr) = run(&[
        "--feed",
        &feeds,
        "--symbols",
        "BTCUSDT",
        "--duration",
        "2500ms",
        "--feed-stale-after",
        "300ms",
        // Venue 1's books stay invalid for longer than this; venue 0's do not, so
        // the kill switch, which needs every venue's books down, stays put.
        "--max-book-invalid",
        "500ms",
        "--persist",
        &persist,
    ]);
    let _ = server.kill();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(s["halt"].is_null(), "one venue's dead feed must not halt the others: {s}");
    assert_eq!(s["counters"]["feed_status"][4], 1, "one venue stale, once: {s}");
    let (records, _) = persist::journal::JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    let stale = records
        .iter()
        .position(|r| r.kind() == Some(persist::RecordKind::Risk) && r.code == 175)
        .expect("a stale status");
    assert_eq!(records[stale].instrument, 1, "venue 1 (its first instrument, BTCUSDT@1) went stale");
    use persist::Fields as _;
    let venue = |r: &persist::Record| persist::record::RiskFields::from_record(r).unwrap().limit;
    assert_eq!(venue(&records[stale]), 1, "the status names its venue");
    let live_after =
        records[stale..].iter().filter(|r| r.kind() == Some(persist::RecordKind::BookTop) && r.instrument == 0).count();
    assert!(live_after > 10, "venue 0's market goes on after venue 1 went quiet: {live_after} tops");
    assert!(
        !records.iter().any(|r| r.kind() == Some(persist::RecordKind::Risk) && r.code == 175 && venue(r) == 0),
        "venue 0 is never stale"
    );
}
