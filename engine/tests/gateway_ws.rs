//! The WebSocket order-entry gateway against the exchange simulator (`engine sim`, a
//! real second process) over loopback: signed logins, acks, fills, cancels, rejects
//! with reasons, the rate limit, fills racing a cancel, and cancel-on-disconnect
//! with reconnection that loses no report.
#![allow(clippy::disallowed_types, reason = "a test thread's stop flag, not a modelled protocol")]
#![allow(clippy::disallowed_methods, reason = "tests wait on wall-clock deadlines")]

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use engine::{
    fixed::Bounded,
    gateway::{GatewayError, VenueGateway, WsGateway, protocol::Credentials},
    oms::{Oms, OmsError, OrderEvent, OrderState},
    order::{ClientId, ExecKind, ExecReport, NewOrder, OrderType},
    run::sim_symbol_spec,
};
use feeds::{
    Events,
    binance::BinanceDecoder,
    book::Book,
    event::{Event, InstrumentId, Price, Qty, Side, UnixNanos},
    symbols::SymbolTable,
    ws::WsClient,
};

mod common;
#[path = "gateway_ws/scripted.rs"]
mod scripted;
#[path = "gateway_ws/venues.rs"]
mod venues;

#[global_allocator]
static GLOBAL: common::counting::Counting = common::counting::Counting;

const KEY: &str = "test-key";
const SECRET: &str = "test-secret-123";

/// `engine sim` with order entry for KEY/SECRET; killed on drop.
struct Sim {
    child: Child,
    url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim(args: &[&str]) -> Sim {
    let mut command = Command::new(env!("CARGO_BIN_EXE_engine"));
    command.env("ENGINE_API_KEY", KEY).env("ENGINE_API_SECRET", SECRET);
    let defaults = ["--port", "0", "--symbols", "BTCUSDT", "--rate", "20000"];
    let (child, url) = common::start_sim(command, &[&defaults[..], args].concat());
    Sim { child, url }
}

fn symbols() -> Vec<(String, u8, u8)> {
    let (ps, qs, _) = sim_symbol_spec("BTCUSDT");
    vec![("BTCUSDT".to_owned(), ps, qs)]
}

/// The account's market-data connection, read on a thread into a book (the venue
/// matches against this market, and a reader must keep it flowing).
struct Market {
    book: Arc<Mutex<Book>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Market {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Market {
    fn follow(url: &str) -> Self {
        let mut client = WsClient::connect(&format!("{url}?account={KEY}"), Duration::from_secs(2), 1 << 20).unwrap();
        let book = Arc::new(Mutex::new(Book::with_depth(64)));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (Arc::clone(&book), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut table = SymbolTable::new();
            let (ps, qs, _) = sim_symbol_spec("BTCUSDT");
            table.intern("BTCUSDT", ps, qs);
            let decoder = BinanceDecoder::new(table);
            let mut events = Events::with_capacity(256);
            while !s.load(Ordering::Relaxed) {
                match client.poll() {
                    Ok(Some(frame)) => {
                        events.clear();
                        if decoder.decode(frame, UnixNanos(0), &mut events).is_ok() {
                            let mut book = b.lock().unwrap();
                            for e in events.as_slice() {
                                if let Event::BookDelta(d) = e {
                                    let _ = book.apply(d);
                                }
                            }
                        }
                    }
                    Ok(None) => std::thread::sleep(Duration::from_micros(100)),
                    Err(_) => return,
                }
            }
        });
        let market = Self { book, stop };
        let deadline = Instant::now() + Duration::from_secs(5);
        while market.touch().is_none() {
            assert!(Instant::now() < deadline, "no book from the simulator");
            std::thread::sleep(Duration::from_millis(10));
        }
        market
    }

    fn touch(&self) -> Option<(i64, i64)> {
        let book = self.book.lock().unwrap();
        Some((book.best_bid()?.price.0, book.best_ask()?.price.0))
    }
}

fn gateway(url: &str, cancel_on_disconnect: bool) -> WsGateway {
    let creds = Credentials::new(KEY, SECRET.as_bytes());
    WsGateway::connect(&format!("{url}orders"), creds, symbols(), cancel_on_disconnect).unwrap()
}

/// Reconnects, waiting (up to 10 s) for the connection made off the hot core.
fn reconnect(g: &mut WsGateway) -> Result<(), GatewayError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match g.reconnect() {
            Err(GatewayError::Connecting) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            outcome => return outcome,
        }
    }
}

fn order(side: Side, price: i64, qty: i64, order_type: OrderType) -> NewOrder {
    NewOrder { instrument: InstrumentId(0), side, price: Price(price), qty: Qty(qty), order_type, stop: Price(0) }
}

/// Polls until `done` says the reports so far are enough (or 5 s pass).
fn collect(g: &mut WsGateway, reports: &mut Vec<ExecReport>, done: impl Fn(&[ExecReport]) -> bool) {
    let mut out = Bounded::with_capacity(64);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(reports) {
        assert!(Instant::now() < deadline, "timed out; reports so far: {reports:?}");
        g.poll(0, &mut out).unwrap();
        reports.extend(out.drain());
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn of(reports: &[ExecReport], id: u64) -> Vec<ExecKind> {
    reports.iter().filter(|r| r.client_id == ClientId(id)).map(|r| r.kind).collect()
}

#[test]
fn orders_are_acked_filled_and_cancelled_and_the_venue_agrees_on_what_is_open() {
    let sim = sim(&["--taker-fee-bps", "5"]);
    let market = Market::follow(&sim.url);
    let mut g = gateway(&sim.url, false);
    let book = Book::with_depth(1);
    let (bid, ask) = market.touch().unwrap();
    let mut reports = Vec::new();
    // A marketable IOC takes liquidity: ack, taker fills, then the rest cancelled or done.
    g.submit(ClientId(1), &order(Side::Buy, ask + 20, 3, OrderType::Ioc), &book, 0).unwrap();
    collect(&mut g, &mut reports, |r| {
        let k = of(r, 1);
        k.contains(&ExecKind::Canceled) || k.iter().filter(|k| matches!(k, ExecKind::Fill { .. })).count() > 0
    });
    let kinds = of(&reports, 1);
    assert_eq!(kinds.first(), Some(&ExecKind::Accepted), "{kinds:?}");
    let filled: i64 =
        kinds.iter().filter_map(|k| if let ExecKind::Fill { qty, .. } = k { Some(qty.0) } else { None }).sum();
    assert!(filled > 0, "a marketable order filled: {kinds:?}");
    // A resting order far from the touch: acked, listed open, then cancelled.
    g.submit(ClientId(2), &order(Side::Buy, bid - 500, 5, OrderType::Limit), &book, 0).unwrap();
    collect(&mut g, &mut reports, |r| of(r, 2).contains(&ExecKind::Accepted));
    let open = g.open_orders().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].id, open[0].price, open[0].qty, open[0].filled), (ClientId(2), Price(bid - 500), Qty(5), 0));
    g.cancel(ClientId(2), InstrumentId(0), 0).unwrap();
    collect(&mut g, &mut reports, |r| of(r, 2).contains(&ExecKind::Canceled));
    assert!(g.open_orders().unwrap().is_empty());
    g.cancel(ClientId(2), InstrumentId(0), 0).unwrap();
    collect(&mut g, &mut reports, |r| of(r, 2).contains(&ExecKind::CancelRejected));
    // The venue's position is what its fills said.
    let positions = g.positions().unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].net, filled);
    // A post-only order that would cross is refused; so is an unknown order's replace.
    g.submit(ClientId(3), &order(Side::Buy, ask + 5, 1, OrderType::PostOnly), &book, 0).unwrap();
    g.replace(ClientId(99), InstrumentId(0), (Price(bid), Qty(1)), &book, 0).unwrap();
    collect(&mut g, &mut reports, |r| {
        of(r, 3).contains(&ExecKind::WouldCross) && of(r, 99).contains(&ExecKind::ReplaceRejected)
    });
    assert_eq!(of(&reports, 3), [ExecKind::WouldCross], "post-only would have crossed, and the wire says so");
    assert_eq!(g.counters().bad_messages, 0);
}

#[test]
fn logins_with_a_wrong_secret_or_key_are_refused_with_the_reason() {
    let sim = sim(&[]);
    let bad_secret = Credentials::new(KEY, b"guess");
    match WsGateway::connect(&format!("{}orders", sim.url), bad_secret, symbols(), false) {
        Err(GatewayError::Login(reason)) => assert_eq!(reason, "bad signature"),
        other => panic!("{other:?}"),
    }
    let bad_key = Credentials::new("someone-else", SECRET.as_bytes());
    match WsGateway::connect(&format!("{}orders", sim.url), bad_key, symbols(), false) {
        Err(GatewayError::Login(reason)) => assert_eq!(reason, "unknown API key"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn orders_past_the_rate_limit_are_rejected_and_counted() {
    let sim = sim(&["--order-rate", "5"]);
    let market = Market::follow(&sim.url);
    let mut g = gateway(&sim.url, false);
    let (bid, _) = market.touch().unwrap();
    let book = Book::with_depth(1);
    for id in 1..=20 {
        g.submit(ClientId(id), &order(Side::Buy, bid - 1_000 - id as i64, 1, OrderType::PostOnly), &book, 0).unwrap();
    }
    let mut reports = Vec::new();
    collect(&mut g, &mut reports, |r| (1..=20).all(|id| !of(r, id).is_empty()));
    let rejected = (1..=20).filter(|id| of(&reports, *id) == [ExecKind::Rejected]).count();
    assert!(rejected >= 10, "{rejected} of 20 rejected");
    assert_eq!(g.counters().rate_limited, rejected as u64);
}

#[test]
fn cancel_on_disconnect_cancels_resting_orders_and_the_reconnect_delivers_every_missed_report() {
    let sim = sim(&[]);
    let market = Market::follow(&sim.url);
    let mut g = gateway(&sim.url, true);
    let (bid, _) = market.touch().unwrap();
    let book = Book::with_depth(1);
    let mut oms = Oms::new(16, 1);
    let mut ids = Vec::new();
    for k in 0..3 {
        let o = order(Side::Buy, bid - 800 - k, 2, OrderType::Limit);
        let id = oms.create(o).unwrap();
        oms.apply(id, OrderEvent::Send).unwrap();
        g.submit(id, &o, &book, 0).unwrap();
        ids.push(id);
    }
    let mut reports = Vec::new();
    collect(&mut g, &mut reports, |r| ids.iter().all(|id| of(r, id.0).contains(&ExecKind::Accepted)));
    for r in reports.drain(..) {
        oms.apply(r.client_id, OrderEvent::Accept).unwrap();
    }
    // The connection drops: the venue cancels our resting orders while we are away.
    g.disconnect();
    std::thread::sleep(Duration::from_millis(200));
    reconnect(&mut g).unwrap();
    collect(&mut g, &mut reports, |r| ids.iter().all(|id| of(r, id.0).contains(&ExecKind::Canceled)));
    for r in &reports {
        assert_eq!(r.kind, ExecKind::Canceled, "only the cancels were missed: {reports:?}");
        assert_eq!(oms.apply(r.client_id, OrderEvent::Cancel).unwrap().state, OrderState::Canceled);
    }
    assert_eq!(reports.len(), 3, "each missed report exactly once");
    assert_eq!(oms.live(), 0);
    assert!(g.open_orders().unwrap().is_empty(), "the venue agrees");
    assert_eq!(g.counters().reconnects, 1);
    common::report::Found {
        injected: 1,
        recovered: g.counters().reconnects,
        expected: Some(3),
        note: "3 resting orders cancelled by the venue; each missed report delivered once on reconnect".into(),
        ..common::report::Found::default()
    }
    .report();
}

#[test]
fn fills_that_race_a_cancel_are_applied_in_pending_cancel() {
    // The venue acts on cancels 300 ms late: a buy resting at the best bid fills
    // meanwhile (sellers hit the bid all the time at 20,000 frames/s).
    let sim = sim(&["--cancel-delay-ms", "300"]);
    let market = Market::follow(&sim.url);
    let mut g = gateway(&sim.url, false);
    let book = Book::with_depth(1);
    let mut oms = Oms::new(16, 1);
    for _attempt in 0..10 {
        let (bid, _) = market.touch().unwrap();
        let o = order(Side::Buy, bid, 1_000, OrderType::Limit);
        let id = oms.create(o).unwrap();
        oms.apply(id, OrderEvent::Send).unwrap();
        g.submit(id, &o, &book, 0).unwrap();
        let mut reports = Vec::new();
        collect(&mut g, &mut reports, |r| !of(r, id.0).is_empty());
        if of(&reports, id.0) != [ExecKind::Accepted] {
            continue; // the touch moved under us: try again
        }
        oms.apply(id, OrderEvent::Accept).unwrap();
        oms.apply(id, OrderEvent::RequestCancel).unwrap();
        g.cancel(id, InstrumentId(0), 0).unwrap();
        let mut raced = 0;
        let mut end = None;
        collect(&mut g, &mut reports, |r| {
            of(r, id.0).iter().any(|k| matches!(k, ExecKind::Canceled | ExecKind::CancelRejected))
        });
        for r in reports.iter().filter(|r| r.client_id == id).skip(1) {
            match r.kind {
                ExecKind::Fill { price, qty, trade_id, fee, .. } => {
                    let before = oms.get(id).map(|o| o.state);
                    match oms.fill(id, price.0, qty.0, trade_id, fee) {
                        Ok(after) => {
                            raced += usize::from(before == Some(OrderState::PendingCancel));
                            end = Some(after.state);
                        }
                        Err(OmsError::UnknownOrder(_)) => panic!("a fill after the order ended"),
                        Err(e) => panic!("{e}"),
                    }
                }
                ExecKind::Canceled => end = Some(oms.apply(id, OrderEvent::Cancel).unwrap().state),
                // Refused because fills had already completed it (it left the OMS then).
                ExecKind::CancelRejected => {
                    end = Some(oms.apply(id, OrderEvent::CancelReject).map_or(OrderState::Filled, |o| o.state));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        if raced > 0 {
            assert!(matches!(end, Some(OrderState::Canceled | OrderState::Filled)), "{end:?}");
            assert!(oms.position(InstrumentId(0)).net > 0, "the raced fills moved the position");
            common::report::Found {
                injected: 1,
                recovered: raced as u64,
                note: format!("{raced} fill(s) applied in PendingCancel, order ended {end:?}"),
                ..common::report::Found::default()
            }
            .report();
            return;
        }
    }
    panic!("no fill raced a cancel in 10 attempts");
}

/// `engine run` against the simulator at `url`: its feed for the test account and
/// its order entry, journaling into `journal`, the summary into `json`.
fn engine_against(url: &str, journal: &std::path::Path, json: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_engine"));
    command
        .args(["run", "--quiet", "--json", json.to_str().unwrap(), "--symbols", "BTCUSDT"])
        .args(["--feed", &format!("{url}?account={KEY}"), "--venue", &format!("{url}orders")])
        .args(["--persist", &format!("journal:{}", journal.display())])
        .env("ENGINE_API_KEY", KEY)
        .env("ENGINE_API_SECRET", SECRET)
        .stdout(Stdio::null());
    command
}

/// The `--json` summary a run wrote.
fn summary_of(json: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap()
}

/// `engine run --json` against the simulator's feed and order entry; (exit code,
/// summary, stderr).
fn engine_run(url: &str, journal: &std::path::Path, strategy: &str) -> (Option<i32>, serde_json::Value, String) {
    engine_run_with(url, journal, &["--frames", "20000", "--strategy", strategy])
}

/// [`engine_run`] with `args` of one's own.
fn engine_run_with(url: &str, journal: &std::path::Path, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = engine_against(url, journal, &json).args(args).output().unwrap();
    let summary = std::fs::read(&json).map(|b| serde_json::from_slice(&b).unwrap()).unwrap_or_default();
    (out.status.code(), summary, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The last position the journal holds (net quantity).
fn last_journaled_net(records: &[persist::Record]) -> i64 {
    records
        .iter()
        .rev()
        .find_map(<persist::record::PositionFields as persist::Fields>::from_record)
        .expect("a position snapshot")
        .net_qty
}

/// A venue that leaves a report out (its 30th, the first time it sends it): the gap
/// is seen, the report after it is not applied, and the reconnect asks for
/// everything after the last report applied, so no ack or fill is lost and the
/// venue's position is the journal's.
#[test]
fn a_report_missing_from_the_venues_sequence_is_fetched_again_not_skipped() {
    let _one = common::one_engine_at_a_time();
    let sim = sim(&["--rate", "40000", "--skip-report", "30"]);
    let journal = tempfile::tempdir().unwrap();
    let args = ["--duration", "4s", "--strategy", "taker:threshold_pct=30,max_inventory=300"];
    let (code, s, stderr) = engine_run_with(&sim.url, journal.path(), &args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(s["gateway"]["sequence_gaps"], 1, "{s}");
    assert!(s["counters"]["venue_reconnects"].as_u64().unwrap() >= 1, "{s}");
    assert!(s["fills"].as_u64().unwrap() > 0, "{s}");
    let (records, _) = persist::journal::JournalReader::open(journal.path()).unwrap().read_all().unwrap();
    assert_eq!(common::unfinished_orders(&records), [], "orders left unfinished");
    let mut g = gateway(&sim.url, false);
    let venue = g.positions().unwrap().first().map_or(0, |p| p.net);
    assert_eq!(venue, last_journaled_net(&records), "venue and journal agree");
}

/// The whole engine trading through the simulator's order entry over a real socket:
/// fills cross the wire and the venue's position is the journal's. The venue keeps
/// the account between runs, so a second run on the same journal reconciles clean,
/// and a run on a fresh journal finds the venue's position unexplained and starts
/// reduce-only, audited, with the venue's position taken over.
#[test]
fn the_engine_trades_over_the_socket_and_reconciles_with_the_venue_at_start_up() {
    let _one = common::one_engine_at_a_time();
    let sim = sim(&["--rate", "40000"]);
    let journal = tempfile::tempdir().unwrap();
    let (code, s, stderr) = engine_run(&sim.url, journal.path(), "taker:threshold_pct=30,max_inventory=300");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(s["orders"].as_u64().unwrap() > 5 && s["fills"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["counters"]["gateway_errors"], 0, "{s}");
    assert_eq!(s["reconciliation"]["mismatches"], serde_json::json!([]), "a fresh account and journal agree: {s}");
    // The venue's position is what the engine journaled last.
    let net = |s: &serde_json::Value| s["reconciliation"]["venue_positions"][0][1].as_i64().unwrap_or(0);
    let (records, _) = persist::journal::JournalReader::open(journal.path()).unwrap().read_all().unwrap();
    let last = last_journaled_net(&records);
    let mut g = gateway(&sim.url, false);
    let venue = g.positions().unwrap();
    assert_eq!(venue.first().map_or(0, |p| p.net), last, "venue and journal agree after the run");
    assert!(g.open_orders().unwrap().is_empty(), "nothing left working");
    drop(g);

    let (code, s, stderr) = engine_run(&sim.url, journal.path(), "taker:threshold_pct=30,max_inventory=300");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(net(&s), last, "the venue's position, taken over: {s}");
    assert_eq!(s["reconciliation"]["mismatches"], serde_json::json!([]), "{s}");
    assert!(s["halt"].is_null(), "{s}");

    // A fresh journal knows of no position: make sure the venue holds one.
    let mut g = gateway(&sim.url, false);
    if g.positions().unwrap().is_empty() {
        let market = Market::follow(&sim.url);
        let (_, ask) = market.touch().unwrap();
        g.submit(ClientId(1 << 60), &order(Side::Buy, ask + 20, 3, OrderType::Ioc), &Book::with_depth(1), 0).unwrap();
        let mut reports = Vec::new();
        collect(&mut g, &mut reports, |r| r.iter().any(|r| matches!(r.kind, ExecKind::Fill { .. })));
    }
    drop(g);
    let fresh = tempfile::tempdir().unwrap();
    let (code, s, stderr) = engine_run(&sim.url, fresh.path(), "taker:threshold_pct=30,max_inventory=300");
    assert_eq!(code, Some(0), "reduce-only is not a halt: {stderr}");
    assert!(stderr.contains("differ from the journal"), "{stderr}");
    assert_eq!(s["reconciliation"]["mismatches"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["reconciliation"]["policy"], "reduce-only");
    assert!(s["halt"].is_null(), "every other check stays live: {s}");
    assert_eq!(s["trading_state"], "ReduceOnly", "{s}");
    let (records, _) = persist::journal::JournalReader::open(fresh.path()).unwrap().read_all().unwrap();
    assert!(records.iter().any(|r| r.kind() == Some(persist::RecordKind::Risk) && r.code == 109), "audited");
}

/// The same over TLS: `engine sim` serves wss:// with a certificate from a private
/// CA; the engine, told to trust that CA, takes its feed and trades through its order
/// entry. Without the CA it refuses to connect and says why.
#[test]
fn the_engine_trades_over_tls_with_a_private_ca_and_refuses_an_unknown_one() {
    let _one = common::one_engine_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::pki_files(dir.path());
    let sim = sim(&["--tls-cert", &cert, "--tls-key", &key]);
    assert!(sim.url.starts_with("wss://127.0.0.1:"), "{}", sim.url);
    let journal = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = engine_against(&sim.url, journal.path(), &json)
        .args(["--tls-ca", &ca, "--frames", "20000", "--strategy", "taker:threshold_pct=30,max_inventory=300"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let s = summary_of(&json);
    assert_eq!(s["counters"]["frames"], 20_000, "every frame came through TLS: {s}");
    assert!(s["orders"].as_u64().unwrap() > 5 && s["fills"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["counters"]["gateway_errors"], 0, "{s}");

    let out = engine_against(&sim.url, journal.path(), &json).args(["--frames", "100"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("TLS handshake") && stderr.contains("UnknownIssuer"), "{stderr}");
}

/// The default market maker over the socket: its post-only quotes at the touch
/// often arrive after the market moved through them, and the venue refuses them as
/// `would_cross`. That is the market, not the venue failing: counted apart, and
/// the circuit breaker stays closed (it opened within the first second when these
/// counted as rejects, and the run then traded nothing).
#[test]
fn post_only_quotes_that_would_cross_do_not_open_the_breaker() {
    let _one = common::one_engine_at_a_time();
    let sim = sim(&["--order-rate", "100000"]);
    let journal = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = engine_against(&sim.url, journal.path(), &json).args(["--duration", "3s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s = summary_of(&json);
    assert!(s["counters"]["would_cross"].as_u64().unwrap() > 0, "quotes at the touch were overtaken: {s}");
    assert_eq!(s["counters"]["venue_rejects"], 0, "{s}");
    assert_eq!(s["venue_breaker"]["times_opened"], 0, "{s}");
    assert!(s["orders"].as_u64().unwrap() > 100, "quoting went on: {s}");
}

/// The venue goes away mid-run (the simulator process is killed): sends fail, the
/// gateway retries once a second, and after --max-venue-down the kill switch trips
/// with `venue_down`; the engine exits 3 with everything it had journaled intact.
#[test]
fn a_venue_that_disappears_trips_the_kill_switch() {
    let _one = common::one_engine_at_a_time();
    let mut sim = sim(&["--rate", "20000", "--order-rate", "100000"]);
    let journal = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let child = engine_against(&sim.url, journal.path(), &json)
        .args(["--duration", "6s", "--max-venue-down", "500ms"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    sim.child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = summary_of(&json);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(summary["halt"].as_str().unwrap().starts_with("kill switch: venue_down"), "{summary}");
    assert!(summary["counters"]["gateway_errors"].as_u64().unwrap() > 0, "{summary}");
    // The cause is kept and reported, not only counted.
    let cause = summary["last_gateway_error"].as_str().unwrap();
    assert!(cause.contains("venue"), "{cause}");
    let (records, report) = persist::journal::JournalReader::open(journal.path()).unwrap().read_all().unwrap();
    assert!(report.torn_tail.is_none(), "a clean journal");
    assert!(records.iter().any(|r| r.kind() == Some(persist::RecordKind::Risk) && r.code == 110));
}

/// The gateway's hot path allocates nothing once connected: requests are built and
/// signed in one buffer, framed in another, and answers are decoded in place.
#[test]
fn sending_orders_and_reading_answers_allocates_nothing() {
    let sim = sim(&["--order-rate", "100000"]);
    let market = Market::follow(&sim.url);
    let mut g = gateway(&sim.url, false);
    let (bid, _) = market.touch().unwrap();
    let book = Book::with_depth(1);
    let mut out = Bounded::with_capacity(256);
    // Warm-up: one order's whole round trip.
    g.submit(ClientId(1), &order(Side::Buy, bid - 700, 1, OrderType::Limit), &book, 0).unwrap();
    let mut reports = Vec::with_capacity(1024);
    collect(&mut g, &mut reports, |r| of(r, 1).contains(&ExecKind::Accepted));
    let mut answers = 0;
    common::counting::start();
    for id in 2..52u64 {
        g.submit(ClientId(id), &order(Side::Buy, bid - 700 - id as i64, 1, OrderType::Limit), &book, 0).unwrap();
        g.cancel(ClientId(id), InstrumentId(0), 0).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while answers < 100 && Instant::now() < deadline {
        g.poll(0, &mut out).unwrap();
        answers += out.len();
        out.clear();
    }
    let allocations = common::counting::stop();
    assert_eq!(answers, 100, "an ack and a cancel for each of 50 orders");
    assert_eq!(allocations, 0, "the gateway allocated on its hot path");
}

/// The venue restarts mid-run (a new simulator process on the same port: every order
/// and sequence it had is gone). The engine reconnects, asks the venue what it
/// holds, and settles each order it was waiting on; at the end every order in the
/// journal has finished, none left hanging on an answer that will never come.
#[test]
fn a_venue_that_restarts_is_reconnected_and_every_order_settled() {
    let _one = common::one_engine_at_a_time();
    // Usually orders are resting at the old venue when it goes; when by chance none
    // are, there is nothing to settle, and the run is tried again.
    for attempt in 1..=3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
        let args = ["--port", &port, "--order-rate", "100000"];
        let mut first = sim(&args);
        let journal = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("run.json");
        let child = engine_against(&first.url, journal.path(), &json)
            .args(["--duration", "6s"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1_500));
        first.child.kill().unwrap();
        let _ = first.child.wait();
        std::thread::sleep(Duration::from_millis(500));
        let _second = sim(&args);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let summary = summary_of(&json);
        assert_eq!(out.status.code(), Some(0), "{stderr}\nhalt: {}\n{summary}", summary["halt"]);
        assert!(summary["counters"]["venue_reconnects"].as_u64().unwrap() >= 1, "{summary}");
        let (records, _) = persist::journal::JournalReader::open(journal.path()).unwrap().read_all().unwrap();
        assert_eq!(common::unfinished_orders(&records), [], "orders left unfinished");
        let settled = summary["counters"]["settled"].as_u64().unwrap();
        if settled == 0 && attempt < 3 {
            continue;
        }
        assert!(settled >= 1, "orders were waiting on the old venue, in one of 3 runs: {summary}");
        common::report::Found {
            note: format!("{settled} orders settled by asking the restarted venue; none left unfinished"),
            ..common::journaled_row(
                journal.path(),
                &summary,
                1,
                summary["counters"]["venue_reconnects"].as_u64().unwrap(),
            )
        }
        .report();
        return;
    }
}

/// The hot stage stalls with orders working at the venue (an injected endless loop):
/// the watchdog stops the engine (exit 4) and, the stage being unable to cancel, the
/// venue's cancel-on-disconnect does it when the engine's connection closes. The
/// journal shows orders still working at the stall; the venue holds none of them.
#[test]
fn a_stalled_engine_leaves_nothing_resting_at_a_cancel_on_disconnect_venue() {
    let _one = common::one_engine_at_a_time();
    let sim = sim(&["--order-rate", "100000"]);
    let journal = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = engine_against(&sim.url, journal.path(), &json)
        .args(["--duration", "20s", "--cancel-on-disconnect", "true", "--watchdog", "300ms"])
        // Quotes $50 off the touch: they rest, rather than fill before anyone looks.
        .args(["--strategy", "mm:half_spread=5000,requote=50", "--inject-fault", "stall-after=20000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("no heartbeat") && stderr.contains("cancel-on-disconnect"), "{stderr}");
    let (records, _) = persist::journal::JournalReader::open(journal.path()).unwrap().read_all().unwrap();
    let working = common::unfinished_orders(&records);
    assert!(!working.is_empty(), "orders were working when the stage stalled");
    // The venue may take a moment to notice the connection close.
    let mut g = gateway(&sim.url, false);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut resting = g.open_orders().unwrap();
    while !resting.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        resting = g.open_orders().unwrap();
    }
    assert_eq!(resting, [], "orders left resting at the venue after the stall");
    common::report::Found {
        injected: 1,
        recovered: working.len() as u64,
        note: format!("exit 4; {} orders working at the stall, the venue cancelled them on disconnect", working.len()),
        ..common::report::Found::default()
    }
    .report();
}

/// The venue reports a fill for more than the order (`--overfill-every`): the engine
/// refuses it (the position never takes it), trips the kill switch (`over_fill`,
/// which no re-arm lifts), cancels what is working and sends nothing more; exit 3.
#[test]
fn an_over_fill_trips_the_kill_switch_and_never_reaches_the_position() {
    let _one = common::one_engine_at_a_time();
    let sim = sim(&["--order-rate", "100000", "--overfill-every", "5"]);
    let journal = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    // The trip does not end the run; 10 s leaves room for the fifth fill to come
    // even on a starved CI host (4 s once saw fewer than five fills there).
    let out = engine_against(&sim.url, journal.path(), &json).args(["--duration", "10s"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = summary_of(&json);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(summary["halt"].as_str().unwrap().contains("over"), "{summary}");
    let (records, _) = persist::journal::JournalReader::open(journal.path()).unwrap().read_all().unwrap();
    let over = engine::risk::TripReason::OverFill as u16;
    let trip = records
        .iter()
        .find(|r| r.kind() == Some(persist::RecordKind::Risk) && r.code == over)
        .expect("the over-fill trip is journaled");
    let sent_after = records
        .iter()
        .filter(|r| r.seq > trip.seq && r.kind() == Some(persist::RecordKind::Order))
        .filter(|r| r.code == OrderState::Submitted as u16)
        .count();
    assert_eq!(sent_after, 0, "an order left after the over-fill");
    // Every order finished but the over-filled one: the venue refuses its cancel (it
    // holds it filled) and the engine, refusing the fill, keeps the state the venue
    // last confirmed, for the operator to reconcile (an over-fill is never re-armed).
    let unfinished = common::unfinished_orders(&records);
    assert!(unfinished.len() <= 1, "orders left working after the trip: {unfinished:?}");
    assert!(unfinished.iter().all(|(_, state)| *state != OrderState::Submitted as u16), "{unfinished:?}");
    // The journaled fills are the good ones: none is as large as a whole quote x 1000.
    let fills: Vec<i64> =
        records.iter().filter(|r| r.kind() == Some(persist::RecordKind::Fill)).map(|r| r.fields[4]).collect();
    let largest = fills.iter().copied().max().unwrap_or(0);
    let largest_order =
        records.iter().filter(|r| r.kind() == Some(persist::RecordKind::Order)).map(|r| r.fields[3]).max().unwrap_or(0);
    assert!(largest <= largest_order, "a fill of {largest} journaled; no order was over {largest_order}");
    // The position is exactly the journaled fills: the refused one never reached it.
    let filled: i64 = records
        .iter()
        .filter(|r| r.kind() == Some(persist::RecordKind::Fill))
        .map(|r| if r.fields[2] == 1 { r.fields[4] } else { -r.fields[4] })
        .sum();
    let last_position = records.iter().rev().find(|r| r.kind() == Some(persist::RecordKind::Position));
    let net = last_position.map_or(0, |p| p.fields[0]);
    assert_eq!(net, filled, "the position is the sum of the journaled fills");
    common::report::Found {
        note: format!(
            "kill switch tripped (over_fill), exit 3; {} good fills journaled (largest {largest}), position {net}",
            fills.len()
        ),
        ..common::journaled_row(journal.path(), &summary, 1, 0)
    }
    .report();
}

/// The venue loses every third ack (`--drop-acks-every 3`): those orders stay
/// Submitted, with nothing assumed, until `--ack-timeout` (50 ms); then the engine
/// asks the venue which orders it holds and settles them from its answer. At the end
/// every order in the journal has finished.
#[test]
fn lost_acks_are_settled_by_asking_the_venue_not_by_a_timer() {
    let _one = common::one_engine_at_a_time();
    let sim = sim(&["--order-rate", "100000", "--drop-acks-every", "3"]);
    let journal = tempfile::tempdir().unwrap();
    // Quotes 10 ticks off the mid, moved once it is 10 ticks away: they rest tens of
    // ms, seldom filled (at the touch, one whose ack was lost was often filled
    // first, so nothing timed out: under CI's load, not once in 44 orders).
    let args = ["--duration", "3s", "--ack-timeout", "50ms", "--strategy", "mm:requote=10,half_spread=10"];
    let (code, summary, stderr) = engine_run_with(&sim.url, journal.path(), &args);
    assert_eq!(code, Some(0), "{stderr}");
    let c = &summary["counters"];
    assert!(c["ack_timeouts"].as_u64().unwrap() > 0 && c["settled"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(c["oms_errors"], 0, "{summary}");
    let (records, _) = persist::journal::JournalReader::open(journal.path()).unwrap().read_all().unwrap();
    assert_eq!(common::unfinished_orders(&records), [], "orders left unfinished");
    common::report::Found {
        note: "orders with lost acks stayed Submitted until the venue was asked; none invented".into(),
        ..common::journaled_row(
            journal.path(),
            &summary,
            c["ack_timeouts"].as_u64().unwrap(),
            c["settled"].as_u64().unwrap(),
        )
    }
    .report();
}

/// Order entry reconnects off the hot core: while the venue stalls the new
/// connection's handshake (here a proxy that carried the first connection to the
/// simulator, then holds the next without a word), `reconnect` answers at once that
/// it is connecting; the call after the handshake timed out says why. On the hot
/// core, the first call waited out the timeout.
#[test]
fn a_stalled_order_entry_reconnect_does_not_hold_up_the_caller() {
    let sim = sim(&[]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("ws://{}/", listener.local_addr().unwrap());
    let upstream = sim.url.trim_start_matches("ws://").trim_end_matches('/').to_owned();
    let (stalled, stall_started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // The first connection, carried to the simulator both ways.
        let (client, _) = listener.accept().unwrap();
        let venue = std::net::TcpStream::connect(&upstream).unwrap();
        for (mut from, mut to) in [(client.try_clone().unwrap(), venue.try_clone().unwrap()), (venue, client)] {
            std::thread::spawn(move || std::io::copy(&mut from, &mut to));
        }
        // The next, held open without a word until the test ends.
        let held = listener.accept().unwrap();
        stalled.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    let mut g = gateway(&proxy, false);
    g.disconnect();
    assert!(matches!(g.reconnect(), Err(GatewayError::Connecting)), "the connect is started, not waited on");
    assert!(g.is_reconnecting() && !g.is_connected());
    stall_started.recv_timeout(Duration::from_secs(10)).unwrap();
    match reconnect(&mut g) {
        Err(GatewayError::Unreachable(reason)) => assert!(reason.contains("handshake"), "{reason}"),
        other => panic!("expected the venue unreachable, got {other:?}"),
    }
    assert!(!g.is_reconnecting() && !g.is_connected());
}

/// Polls `g` (its reports into `reports`) until the open-orders question's answer
/// comes, for up to 5 s.
fn await_answer(
    g: &mut WsGateway,
    reports: &mut Vec<ExecReport>,
) -> Result<Vec<engine::gateway::VenueOrder>, GatewayError> {
    let mut out = Bounded::with_capacity(64);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        g.poll(0, &mut out).unwrap();
        reports.extend(out.drain());
        if let Some(answer) = g.open_orders_answer(0) {
            return answer;
        }
        assert!(Instant::now() < deadline, "no answer to the question");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The question that settles orders (which do you hold?) is sent without waiting,
/// and its answer comes in its place among the others: a venue slow to answer it
/// (`--query-delay-ms`) lists what it held when asked, and an order sent after the
/// question, whose ack is already here, is answered only once the answer is taken
/// (never ahead of it, so a settle sees exactly the reports before its answer).
#[test]
fn an_open_orders_question_is_answered_in_its_place_without_waiting() {
    let sim = sim(&["--query-delay-ms", "100"]);
    let market = Market::follow(&sim.url);
    let mut g = gateway(&sim.url, false);
    let book = Book::with_depth(1);
    let (bid, _) = market.touch().unwrap();
    let mut reports = Vec::new();
    g.submit(ClientId(1), &order(Side::Buy, bid - 500, 5, OrderType::Limit), &book, 0).unwrap();
    collect(&mut g, &mut reports, |r| of(r, 1).contains(&ExecKind::Accepted));

    assert!(matches!(g.ask_open_orders(0), Ok(None)), "asked, not waited on");
    assert!(matches!(g.ask_open_orders(0), Err(GatewayError::Protocol(_))), "one question at a time");
    g.submit(ClientId(2), &order(Side::Buy, bid - 400, 5, OrderType::Limit), &book, 0).unwrap();
    // The answer (after 100 ms) and order 2's ack behind it are both here by now.
    // Once read, the answer is kept for its taker, past the question's deadline.
    std::thread::sleep(Duration::from_millis(1_000));
    let mut out = Bounded::with_capacity(64);
    for _ in 0..3 {
        g.poll(0, &mut out).unwrap();
        reports.extend(out.drain());
    }
    assert!(of(&reports, 2).is_empty(), "order 2's ack was read ahead of the answer it follows: {reports:?}");
    let answer = await_answer(&mut g, &mut reports).unwrap();
    assert_eq!(answer.iter().map(|o| (o.id, o.price)).collect::<Vec<_>>(), [(ClientId(1), Price(bid - 500))]);
    assert!(g.open_orders_answer(0).is_none(), "taken once");
    collect(&mut g, &mut reports, |r| of(r, 2).contains(&ExecKind::Accepted));
    assert_eq!(g.counters().bad_messages, 0);
}

/// A question the venue answers too late (after 800 ms) is given up, and the
/// session kept (cancel-on-disconnect would take every resting order with it). Its
/// late answer, arriving while a second question is out, is told apart by its id
/// and dropped, not taken for the second's; the connection goes on carrying orders.
#[test]
fn a_late_answer_is_dropped_not_taken_for_the_next_question() {
    let sim = sim(&["--query-delay-ms", "1000"]);
    let market = Market::follow(&sim.url);
    let mut g = gateway(&sim.url, false);
    let mut reports = Vec::new();
    assert!(matches!(g.ask_open_orders(0), Ok(None)));
    let first = await_answer(&mut g, &mut reports);
    assert!(matches!(first, Err(GatewayError::Timeout(_))), "{first:?}");
    assert!(g.is_connected(), "the session is kept");
    // Asked at once: the first's answer comes 200 ms into this one's wait.
    assert!(matches!(g.ask_open_orders(0), Ok(None)));
    let second = await_answer(&mut g, &mut reports);
    assert!(matches!(second, Err(GatewayError::Timeout(_))), "the late answer was taken for this one: {second:?}");
    assert_eq!(g.counters().unanswered_questions, 2);
    let (bid, _) = market.touch().unwrap();
    g.submit(ClientId(1), &order(Side::Buy, bid - 500, 5, OrderType::Limit), &Book::with_depth(1), 0).unwrap();
    collect(&mut g, &mut reports, |r| of(r, 1).contains(&ExecKind::Accepted));
    assert_eq!(g.counters().bad_messages, 0, "both late answers were recognised");
}

/// The account may hold orders in symbols this session does not trade (another
/// run's, say). A settle question's answer leaves them out instead of failing on
/// them, which would leave the venue unsettled, refusing new orders, for good.
#[test]
fn a_settle_answer_leaves_out_orders_in_symbols_not_traded_here() {
    let sim = sim(&["--symbols", "ETHUSDT"]);
    let market = Market::follow(&sim.url);
    let creds = Credentials::new(KEY, SECRET.as_bytes());
    let (ps, qs, _) = sim_symbol_spec("ETHUSDT");
    let both = [symbols(), vec![("ETHUSDT".to_owned(), ps, qs)]].concat();
    let mut other = WsGateway::connect(&format!("{}orders", sim.url), creds, both, false).unwrap();
    let book = Book::with_depth(1);
    let mut reports = Vec::new();
    let eth = NewOrder { instrument: InstrumentId(1), ..order(Side::Buy, 1, 5, OrderType::Limit) };
    other.submit(ClientId(1), &eth, &book, 0).unwrap();
    collect(&mut other, &mut reports, |r| of(r, 1).contains(&ExecKind::Accepted));

    let mut g = gateway(&sim.url, false);
    let (bid, _) = market.touch().unwrap();
    g.submit(ClientId(2), &order(Side::Buy, bid - 500, 5, OrderType::Limit), &book, 0).unwrap();
    collect(&mut g, &mut reports, |r| of(r, 2).contains(&ExecKind::Accepted));
    assert!(matches!(g.ask_open_orders(0), Ok(None)));
    let answer = await_answer(&mut g, &mut reports).unwrap();
    assert_eq!(answer.iter().map(|o| o.id).collect::<Vec<_>>(), [ClientId(2)], "only this session's symbols");
}
