//! Several WebSocket venues, each with its own order entry (`--venue
//! ws://a/orders,ws://b/orders`), against `engine sim` processes: orders go to their
//! venue's connection, start-up reconciliation names a difference by venue, and a
//! venue lost (whole, or only its order entry) leaves the others trading.

use std::{
    net::{Shutdown, TcpListener, TcpStream},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use engine::{
    gateway::VenueGateway,
    order::{ClientId, ExecKind, OrderType},
};
use feeds::{book::Book, event::Side};

use super::{KEY, Market, Sim, collect, engine_against, gateway, order, sim, summary_of};
use crate::common;

/// Two `engine sim` processes for the test account (venue 1 seeded apart, so the
/// markets differ), and the journal and summary of an engine run against them.
struct TwoVenues {
    sims: [Sim; 2],
    journal: tempfile::TempDir,
    dir: tempfile::TempDir,
}

impl TwoVenues {
    /// Both quick to trade against: no rate limit to open a breaker when one venue
    /// takes every order. `extra[v]`: venue `v`'s further flags.
    fn start(extra: [&[&str]; 2]) -> Self {
        let fast = ["--rate", "20000", "--order-rate", "100000"];
        let sims = [sim(&[&fast[..], extra[0]].concat()), sim(&[&fast[..], &["--seed", "7"], extra[1]].concat())];
        Self { sims, journal: tempfile::tempdir().unwrap(), dir: tempfile::tempdir().unwrap() }
    }

    /// Venue `v`'s `host:port` (what a relay forwards to).
    fn server(&self, v: usize) -> String {
        self.sims[v].url.trim_start_matches("ws://").trim_end_matches('/').to_owned()
    }

    /// Venue `v`'s own order entry.
    fn orders(&self, v: usize) -> String {
        format!("{}orders", self.sims[v].url)
    }

    fn json(&self) -> std::path::PathBuf {
        self.dir.path().join("run.json")
    }

    /// `engine run` on both venues' feeds, sending orders to `venues` (one URL each,
    /// in feed order), with `args` after.
    fn engine(&self, venues: [String; 2], args: &[&str]) -> std::process::Command {
        let feeds = self.sims.iter().map(|s| format!("{}?account={KEY}", s.url)).collect::<Vec<_>>().join(",");
        let mut command = engine_against(&self.sims[0].url, self.journal.path(), &self.json());
        command.args(["--feed", &feeds, "--venue", &venues.join(",")]).args(args);
        command
    }

    /// Runs `command` with `during` done to the world once a second of it has gone;
    /// the summary of a run that exited 0.
    fn run_while(&self, mut command: std::process::Command, during: impl FnOnce()) -> serde_json::Value {
        let child = command.stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(1_000));
        during();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        summary_of(&self.json())
    }

    fn records(&self) -> Vec<persist::Record> {
        let (records, report) = persist::journal::JournalReader::open(self.journal.path()).unwrap().read_all().unwrap();
        assert!(report.torn_tail.is_none(), "a clean journal");
        records
    }
}

/// A risk record refusing an order because its venue's order entry was down.
fn refused_entry_down(r: &persist::Record) -> bool {
    r.kind() == Some(persist::RecordKind::Risk)
        && <persist::record::RiskFields as persist::Fields>::from_record(r).is_some_and(|f| {
            f.reason == engine::risk::Reject::VenueCircuitOpen.code() && f.observed == engine::risk::ORDER_ENTRY_DOWN
        })
}

const TAKER: &str = "taker:threshold_pct=30,max_inventory=300";
/// Quotes that rest tens of ms (as in lost_acks_are_settled_by_asking_the_venue_not_by_a_timer).
const RESTING_MM: &str = "mm:requote=10,half_spread=10";

/// Two WebSocket venues, and venue 1's simulator is killed mid-run: its feed and its
/// order entry go together. Venue 0 keeps trading; the engine does not halt (only
/// every venue down trips `venue_down`) and stops cleanly at the end of the run.
#[test]
fn one_venue_lost_leaves_the_other_trading() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&[], &[]]);
    let command = venues.engine([venues.orders(0), venues.orders(1)], &["--duration", "5s", "--strategy", TAKER]);
    let venue_1 = venues.sims[1].child.id().to_string();
    let s = venues.run_while(command, || {
        assert!(std::process::Command::new("kill").args(["-9", &venue_1]).status().unwrap().success());
    });
    assert!(s["halt"].is_null(), "one venue of two down is no halt: {s}");
    let records = venues.records();
    let fills_at = |instrument: u32| {
        records.iter().filter(move |r| r.kind() == Some(persist::RecordKind::Fill) && r.instrument == instrument)
    };
    let last_at_1 = fills_at(1).map(|r| r.ts).max().expect("venue 1 traded before it went");
    let after = fills_at(0).filter(|r| r.ts > last_at_1 + 1_000_000_000).count();
    assert!(after > 0, "venue 0 still fills a second after venue 1's last fill: {s}");
}

/// Two venues, each its own `engine sim` process with its own order entry: the engine
/// sends each instrument's orders to its venue's connection, so each venue ends with
/// the position the journal recorded for that venue's instrument. A trade made at
/// venue 1 behind the engine's back is then found at start-up and named by venue.
#[test]
fn each_venue_gets_its_own_order_entry_and_is_reconciled_on_its_own() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&[], &[]]);
    let two_venues = || {
        let args = ["--frames", "40000", "--strategy", TAKER];
        let out = venues.engine([venues.orders(0), venues.orders(1)], &args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "reduce-only is not a halt: {}", String::from_utf8_lossy(&out.stderr));
        summary_of(&venues.json())
    };
    let s = two_venues();
    assert_eq!(s["counters"]["gateway_errors"], 0, "{s}");
    assert_eq!(s["reconciliation"]["mismatches"], serde_json::json!([]), "fresh accounts, fresh journal: {s}");
    let records = venues.records();
    for instrument in 0..2 {
        let fills =
            records.iter().filter(|r| r.kind() == Some(persist::RecordKind::Fill) && r.instrument == instrument);
        assert!(fills.count() > 0, "instrument {instrument} traded at its venue: {s}");
    }
    let journaled = engine::run::reconcile::journal_positions(venues.journal.path()).unwrap();
    let journal_net = |i: u32| journaled.iter().find(|(j, _)| *j == i).map_or(0, |(_, n)| *n);
    let venue_net = |sim: &Sim| gateway(&sim.url, false).positions().unwrap().first().map_or(0, |p| p.net);
    for (v, sim) in venues.sims.iter().enumerate() {
        assert_eq!(venue_net(sim), journal_net(v as u32), "venue {v} holds what the journal says it traded there");
    }

    // Venue 1 fills an order the engine never sent.
    let market = Market::follow(&venues.sims[1].url);
    let (_, ask) = market.touch().unwrap();
    let mut g = gateway(&venues.sims[1].url, false);
    g.submit(ClientId(1 << 60), &order(Side::Buy, ask + 20, 3, OrderType::Ioc), &Book::with_depth(1), 0).unwrap();
    let mut reports = Vec::new();
    collect(&mut g, &mut reports, |r| r.iter().any(|r| matches!(r.kind, ExecKind::Fill { .. })));
    drop((g, market));
    let (net0, net1) = (venue_net(&venues.sims[0]), venue_net(&venues.sims[1]));
    assert_ne!(net1, journal_net(1), "the planted fill moved venue 1's position");

    let s = two_venues();
    let expected = format!("BTCUSDT@1: venue {net1} vs journal {}", journal_net(1));
    assert_eq!(s["reconciliation"]["mismatches"], serde_json::json!([expected]), "only venue 1 differs: {s}");
    assert_eq!(
        s["reconciliation"]["venue_positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect::<Vec<_>>(),
        [(0, net0), (1, net1)]
            .into_iter()
            .filter(|(_, net)| *net != 0)
            .map(|(v, net)| (serde_json::json!(format!("BTCUSDT@{v}")), serde_json::json!(net)))
            .collect::<Vec<_>>(),
        "each venue's position, taken over under its own name: {s}"
    );
    assert_eq!(s["trading_state"], "ReduceOnly", "{s}");
}

/// A TCP relay to `target` (`host:port`) that a test can cut: every connection
/// through it is closed and new ones are refused, as a broken network path to one
/// venue's order entry would (its market data, on another path, goes on).
struct Relay {
    port: u16,
    target: String,
    cut: Arc<AtomicBool>,
}

impl Relay {
    fn to(target: &str) -> Self {
        Self::on(0, target, None)
    }

    /// A relay listening on `port` (0: any free one). `answers`: the venue's answers
    /// stop after the WebSocket upgrade and that many WebSocket frames (a venue that
    /// accepts connections, perhaps answers a login, and hangs); `None`: they don't.
    fn on(port: u16, target: &str, answers: Option<usize>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let (target, stop) = (target.to_owned(), Arc::clone(&cut));
        let relay = Self { port, target: target.clone(), cut };
        std::thread::spawn(move || {
            let mut open = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let server = TcpStream::connect(&target).unwrap();
                let pipes = [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ];
                for (i, (mut from, mut to)) in pipes.into_iter().enumerate() {
                    std::thread::spawn(move || {
                        if let (Some(frames), 1) = (answers, i) {
                            pass_the_upgrade_and(frames, &mut from, &mut to);
                        } else {
                            let _ = std::io::copy(&mut from, &mut to);
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
                open.push((client, server));
            }
            for (client, server) in open {
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
            }
            // The listener goes with this thread: new connections are refused.
        });
        relay
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
    }

    /// The path mended: the same port relays again.
    fn restore(&mut self) {
        self.reopen(None);
    }

    /// The path back, but the venue behind it answers nothing after the upgrade.
    fn restore_muted(&mut self) {
        self.reopen(Some(0));
    }

    /// The path back, but the venue behind it answers only the login, nothing after.
    fn restore_answering_logins_only(&mut self) {
        self.reopen(Some(1));
    }

    fn reopen(&mut self, answers: Option<usize>) {
        self.cut();
        std::thread::sleep(Duration::from_millis(20)); // the old listener closes
        *self = Self::on(self.port, &self.target, answers);
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/orders", self.port)
    }
}

/// Copies the server's HTTP upgrade answer and its first `frames` WebSocket frames
/// to the client, then reads and drops everything else the server says.
fn pass_the_upgrade_and(frames: usize, from: &mut TcpStream, to: &mut TcpStream) {
    use std::io::{Read, Write};
    let (mut seen, mut chunk) = (Vec::new(), [0u8; 4096]);
    let mut upgraded = false;
    let mut left = frames;
    while let Ok(n) = from.read(&mut chunk) {
        if n == 0 {
            return;
        }
        if upgraded && left == 0 {
            continue;
        }
        seen.extend_from_slice(&chunk[..n]);
        if !upgraded && let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            upgraded = true;
            if to.write_all(&seen[..end + 4]).is_err() {
                return;
            }
            seen.drain(..end + 4);
        }
        while upgraded
            && left > 0
            && let Some(len) = server_frame_len(&seen)
        {
            if to.write_all(&seen[..len]).is_err() {
                return;
            }
            seen.drain(..len);
            left -= 1;
        }
    }
}

/// The length of the server's (unmasked) WebSocket frame at the start of `bytes`,
/// once all of it is there.
fn server_frame_len(bytes: &[u8]) -> Option<usize> {
    let (header, payload) = match *bytes.get(1)? & 0x7f {
        126 => (4, usize::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?))),
        127 => (10, usize::try_from(u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)).ok()?),
        n => (2, usize::from(n)),
    };
    (bytes.len() >= header + payload).then_some(header + payload)
}

/// Venue 1's order entry comes back hung: the WebSocket upgrade passes, then the
/// venue answers nothing, so every reconnect's login goes unanswered for its whole
/// timeout (800 ms). Waited for on the trading core, that froze every venue's
/// market data and orders each second, and the watchdog (500 ms here) stopped the
/// engine. The answer is looked for on each step instead: the run ends cleanly,
/// venue 0 trades on, and venue 1 never counts as back.
#[test]
fn a_venue_that_never_answers_its_login_does_not_stall_the_trading_core() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&[], &[]]);
    let mut relay = Relay::to(&venues.server(1));
    let args = ["--duration", "5s", "--strategy", TAKER, "--watchdog", "500ms"];
    let s = venues.run_while(venues.engine([venues.orders(0), relay.url()], &args), || relay.restore_muted());
    assert!(s["halt"].is_null(), "{s}");
    assert_eq!(s["counters"]["venue_reconnects"], 0, "venue 1 never answered a login: {s}");
    // The cut, then each login that timed out (about one a second), are counted.
    assert!(s["counters"]["gateway_errors"].as_u64().unwrap() >= 3, "venue 1's failures were counted: {s}");
    let records = venues.records();
    let down_at = records.iter().find(|r| r.instrument == 1 && refused_entry_down(r)).map(|r| r.ts);
    let down_at = down_at.expect("an order refused at venue 1 once its order entry went");
    let filled_at_0 = last_fill_at(&records, 0);
    assert!(filled_at_0 > down_at + 2_000_000_000, "venue 0 still fills 2 s after venue 1 went: {s}");
}

/// When the journal's last fill of `instrument` was (ns; 0: none).
fn last_fill_at(records: &[persist::Record], instrument: u32) -> u64 {
    let fills = records.iter().filter(|r| r.kind() == Some(persist::RecordKind::Fill) && r.instrument == instrument);
    fills.map(|r| r.ts).max().unwrap_or(0)
}

/// How long the journal spans, first record to last (ns): a run the watchdog
/// stopped early spans less than its `--duration`.
fn journal_span(records: &[persist::Record]) -> u64 {
    let (first, last) = records.iter().fold((u64::MAX, 0), |(lo, hi), r| (lo.min(r.ts), hi.max(r.ts)));
    last.saturating_sub(first)
}

/// Venue 1's order entry comes back answering its logins and nothing else, so the
/// question that settles its waiting orders after the reconnect goes unanswered.
/// Waited for on the trading core (800 ms each time), that froze every venue's
/// market data and orders, and the watchdog (500 ms here) stopped the engine early.
/// The answer is looked for on each step instead, and the question asked again a
/// second after one is given up. The run lasts its whole time, venue 0 trades on,
/// and venue 1, never settled, takes no orders.
#[test]
fn a_venue_that_never_answers_its_settle_question_does_not_stall_the_trading_core() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&[], &[]]);
    let mut relay = Relay::to(&venues.server(1));
    let args = ["--duration", "5s", "--strategy", TAKER, "--watchdog", "500ms"];
    let command = venues.engine([venues.orders(0), relay.url()], &args);
    let s = venues.run_while(command, || relay.restore_answering_logins_only());
    assert!(s["halt"].is_null(), "{s}");
    assert!(s["counters"]["venue_reconnects"].as_u64().unwrap() >= 1, "venue 1 answered a login: {s}");
    assert!(s["gateway"]["unanswered_questions"].as_u64().unwrap() >= 2, "venue 1 was asked, and asked again: {s}");
    let records = venues.records();
    assert!(journal_span(&records) > 4_000_000_000, "the run was not stopped early: {s}");
    let refused_at_1 = records.iter().filter(|r| r.instrument == 1 && refused_entry_down(r)).map(|r| r.ts);
    let last_refused = refused_at_1.max().expect("orders refused at venue 1, never settled");
    let filled_at_0 = last_fill_at(&records, 0);
    assert!(filled_at_0 + 1_000_000_000 > last_refused, "venue 0 still fills while venue 1 is refused: {s}");
}

/// Venue 0 loses every third ack and answers each question 450 ms late (its other
/// answers wait behind it, as at a venue that answers in order). The lost acks are
/// settled from the late answers, never waited for: with a 300 ms watchdog, a
/// question waited for on the trading core stopped the engine early. Orders sent
/// while a question is out are left to their own answers; every order finishes.
#[test]
fn lost_acks_are_settled_by_a_slow_venue_without_stalling_the_trading_core() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&["--drop-acks-every", "3", "--query-delay-ms", "450"], &[]]);
    // Quotes that stay put (requoted only on a 1,000-tick move) keep no request
    // going after a question, so its answer settles them.
    let args = ["--duration", "4s", "--ack-timeout", "50ms", "--strategy", "mm:requote=1000,half_spread=10"];
    let args = [&args[..], &["--watchdog", "300ms"]].concat();
    let s = venues.run_while(venues.engine([venues.orders(0), venues.orders(1)], &args), || {});
    assert!(s["halt"].is_null(), "{s}");
    assert!(s["counters"]["settled"].as_u64().unwrap() > 0, "lost acks settled by asking: {s}");
    let records = venues.records();
    assert!(journal_span(&records) > 3_000_000_000, "the run was not stopped early: {s}");
    assert_eq!(common::unfinished_orders(&records), [], "every order finished: {s}");
}

/// Venue 1's order entry goes down while its feed goes on (its connection runs
/// through a relay the test cuts). Its book stays valid, so only the venue link
/// tells the router not to send orders there: after the cut, no order is routed to
/// venue 1 only to be refused for its order entry being down.
#[test]
fn the_router_sends_nothing_to_a_venue_whose_order_entry_is_down() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&[], &[]]);
    let relay = Relay::to(&venues.server(1));
    let command = venues.engine([venues.orders(0), relay.url()], &["--duration", "4s", "--strategy", TAKER]);
    let s = venues.run_while(command, || relay.cut());
    assert!(s["counters"]["gateway_errors"].as_u64().unwrap() > 0, "the cut was noticed: {s}");
    let mut routed_to_1 = std::collections::HashSet::new();
    let mut refused_there = 0;
    for r in venues.records().iter().filter(|r| r.kind() == Some(persist::RecordKind::Risk)) {
        let f = <persist::record::RiskFields as persist::Fields>::from_record(r).unwrap();
        if f.reason == engine::pipeline::ROUTED && f.limit == 1 {
            routed_to_1.insert(f.client_id);
        } else if f.reason == engine::risk::Reject::VenueCircuitOpen.code() && routed_to_1.contains(&f.client_id) {
            refused_there += 1;
        }
    }
    assert!(!routed_to_1.is_empty(), "the router used venue 1 before the cut: {s}");
    assert_eq!(refused_there, 0, "orders routed to a venue whose order entry was down: {s}");
}

/// Venue 0 loses every third ack; venue 1's order entry is cut mid-run. Venue 0's
/// orders whose acks were lost are still settled by asking venue 0 after
/// `--ack-timeout`: a venue that is down does not hold up the others' settling.
#[test]
fn lost_acks_at_one_venue_are_settled_while_another_venue_is_down() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&["--drop-acks-every", "3"], &[]]);
    let relay = Relay::to(&venues.server(1));
    let args = ["--duration", "4s", "--ack-timeout", "50ms", "--strategy", RESTING_MM];
    let s = venues.run_while(venues.engine([venues.orders(0), relay.url()], &args), || relay.cut());
    assert!(s["counters"]["gateway_errors"].as_u64().unwrap() > 0, "the cut was noticed: {s}");
    let records = venues.records();
    // When the engine found venue 1's order entry down: its first order refused for it.
    let cut_seen = records
        .iter()
        .find(|r| r.instrument == 1 && refused_entry_down(r))
        .map(|r| r.ts)
        .expect("an order refused at venue 1 after the cut");
    let at_venue_0: Vec<persist::Record> = records.into_iter().filter(|r| r.instrument == 0).collect();
    // After it, orders at venue 0 whose ack was lost (the simulator never sends
    // it) were accepted by asking venue 0, past the timeout.
    let (submitted, accepted) = (engine::oms::OrderState::Submitted as u16, engine::oms::OrderState::Accepted as u16);
    let mut sent_at = std::collections::HashMap::new();
    let mut settled_after_cut = 0;
    for r in at_venue_0.iter().filter(|r| r.kind() == Some(persist::RecordKind::Order)) {
        if r.code == submitted {
            sent_at.insert(r.fields[0], r.ts);
        } else if r.code == accepted
            && r.ts > cut_seen
            && sent_at.get(&r.fields[0]).is_some_and(|sent| r.ts - sent > 50_000_000)
        {
            settled_after_cut += 1;
        }
    }
    assert!(settled_after_cut > 0, "lost acks at venue 0 settled while venue 1 was down: {s}");
    assert_eq!(common::unfinished_orders(&at_venue_0), [], "venue 0's orders all finished: {s}");
}

/// Both venues' order entry is cut; venue 0's path is mended while venue 1's stays
/// down. Venue 0 is reconnected, settled and trading again on its own: a venue
/// still down does not hold back the one that came back.
#[test]
fn a_venue_back_while_another_is_down_is_settled_and_trades() {
    let _one = common::one_engine_at_a_time();
    let venues = TwoVenues::start([&[], &[]]);
    let mut relays = [Relay::to(&venues.server(0)), Relay::to(&venues.server(1))];
    let command = venues.engine([relays[0].url(), relays[1].url()], &["--duration", "5s", "--strategy", RESTING_MM]);
    let s = venues.run_while(command, || {
        relays.iter().for_each(Relay::cut);
        std::thread::sleep(Duration::from_millis(1_000));
        relays[0].restore();
    });
    assert_eq!(s["counters"]["venue_reconnects"], 1, "venue 0 came back, venue 1 did not: {s}");
    let records = venues.records();
    let last_refused_at_0 = records
        .iter()
        .filter(|r| r.instrument == 0 && refused_entry_down(r))
        .map(|r| r.ts)
        .max()
        .expect("venue 0 was down a while");
    let accepted = engine::oms::OrderState::Accepted as u16;
    let accepted_after = records
        .iter()
        .filter(|r| r.instrument == 0 && r.kind() == Some(persist::RecordKind::Order) && r.code == accepted)
        .filter(|r| r.ts > last_refused_at_0)
        .count();
    assert!(accepted_after > 0, "venue 0 trades again once settled: {s}");
    assert!(records.iter().any(|r| r.instrument == 1 && refused_entry_down(r)), "venue 1 stayed down: {s}");
}
