//! The engine against the simulator over a real WebSocket on loopback: `engine sim`
//! in one process, `engine run --feed ws://...` in another, every order and fill
//! journaled; gaps resynced from in-stream snapshots; the feed dropped mid-run and
//! brought back, with the engine reconnecting and resyncing by itself; and the feed
//! faults of issue 9 (repeated, reordered, damaged and crossing updates, off-market
//! prints), each with its row in the reliability report.

use std::{
    process::{Child, Command},
    time::Duration,
};

mod common;
#[path = "ws_e2e/subscriptions.rs"]
mod subscriptions;

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

/// Every trade the journal in `journal` holds names `venue`.
fn assert_trades_name(journal: &std::path::Path, venue: feeds::event::Venue) {
    let (records, _) = JournalReader::open(journal).unwrap().read_all().unwrap();
    let venues: std::collections::BTreeSet<u16> =
        records.iter().filter(|r| r.kind() == Some(RecordKind::Trade)).map(|r| r.venue).collect();
    assert_eq!(venues, [venue as u16].into(), "market records name {venue:?}");
}

/// The other dialect end to end: `engine sim --dialect bybit` sends Bybit v5
/// `orderbook.50` snapshots and deltas and `publicTrade` only after a subscribe
/// request, and, as Bybit does, a book's snapshot only when its topic is subscribed,
/// never on a timer. The engine subscribes on connect, and on every skipped update
/// id unsubscribes and subscribes that book again for a fresh snapshot: each gap the
/// simulator injected is detected and resynced, trading goes on, and the journal
/// names the venue Bybit.
#[test]
fn a_bybit_feed_is_subscribed_decoded_sequenced_and_traded() {
    let symbols = "BTCUSDT,ETHUSDT";
    let dir = tempfile::tempdir().unwrap();
    let sim_args = ["--dialect", "bybit", "--rate", "100000", "--symbols", symbols, "--gap-every", "20000"];
    let (server, url) = faulty_sim(dir.path(), &sim_args);
    let journal = dir.path().join("journal");
    let persist = format!("journal:{}", journal.display());
    let args =
        ["--feed", &url, "--dialect", "bybit", "--symbols", symbols, "--frames", "200000", "--persist", &persist];
    let (code, s, stderr) = run(&args);
    let injected = injected(server, dir.path(), "gap");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(s["counters"]["decode_errors"], 0, "the subscription acks are no errors either: {s}");
    // Every skipped id detected and resynced through a re-subscription (without it,
    // one gap a book and no more).
    assert_gaps_resynced(&s, injected);
    assert!(s["fills"].as_u64().unwrap() > 5, "{s}");
    assert_trades_name(&journal, feeds::event::Venue::Bybit);
    // Read as Binance, the same feed never starts: the simulator waits for a subscription.
    let (mut server, url) = sim(&["--port", "0", "--dialect", "bybit", "--symbols", "BTCUSDT"]);
    let (code, s, _) = run(&["--feed", &url, "--duration", "1s", "--persist", "none"]);
    server.kill().unwrap();
    assert_eq!((code, &s["counters"]["frames"]), (Some(0), &serde_json::json!(0)), "{s}");
}

/// OKX end to end: `engine sim --dialect okx` sends OKX v5 `books` snapshots and
/// updates (chained by `prevSeqId`/`seqId`, each with the checksum of the book it
/// leaves) and `trades`, only after a subscribe request, and a book's snapshot only
/// when its channel is subscribed. The engine names symbols its own way (`BTCUSDT`)
/// and subscribes them as OKX writes them (`BTC-USDT`). A skipped id breaks the
/// chain; a size sent wrong under a true checksum is a book gone wrong with no gap,
/// which only the checksum exposes. Each is detected and resynced by re-subscribing
/// the book, and the journal names the venue OKX.
#[test]
fn an_okx_feed_is_subscribed_checksummed_sequenced_and_traded() {
    let symbols = "BTCUSDT,ETHUSDT";
    let dir = tempfile::tempdir().unwrap();
    let sim_args = [
        "--dialect",
        "okx",
        "--rate",
        "100000",
        "--symbols",
        symbols,
        "--gap-every",
        "20000",
        "--corrupt-every",
        "15000",
    ];
    let (server, url) = faulty_sim(dir.path(), &sim_args);
    let journal = dir.path().join("journal");
    let persist = format!("journal:{}", journal.display());
    let args = ["--feed", &url, "--dialect", "okx", "--symbols", symbols, "--frames", "200000", "--persist", &persist];
    let (code, s, stderr) = run(&args);
    let (skipped, corrupted) = injected_both(server, dir.path(), "gap", "corrupt");
    assert_eq!(code, Some(0), "{stderr}");
    let c = &s["counters"];
    assert_eq!(c["decode_errors"], 0, "the subscription acks are no errors either: {s}");
    let (gaps, mismatches) = (c["gaps"].as_u64().unwrap(), c["checksum_mismatches"].as_u64().unwrap());
    // One per fault, except one landing while the book already waits for its snapshot.
    assert!(gaps >= 3 && gaps * 3 >= skipped && gaps <= skipped, "{skipped} ids skipped: {s}");
    assert!(mismatches >= 3 && mismatches * 3 >= corrupted && mismatches <= corrupted, "{corrupted} corrupted: {s}");
    assert_eq!(c["feed_status"][2], gaps + mismatches, "a gap_detected status for each: {s}");
    // Past each book's first snapshot, one resync per break (the last break of each
    // book may still be waiting for its snapshot when the run ends).
    let resyncs = c["resyncs"].as_u64().unwrap().saturating_sub(2);
    assert!(resyncs + 2 >= gaps + mismatches && resyncs >= 3, "each resynced: {s}");
    assert!(s["orders"].as_u64().unwrap() > 20 && s["fills"].as_u64().unwrap() > 5, "trading went on: {s}");
    assert_trades_name(&journal, feeds::event::Venue::Okx);
    common::report::Found {
        injected: skipped + corrupted,
        recovered: resyncs,
        note: format!(
            "OKX: {mismatches} checksum mismatches of {corrupted} corrupted updates, {gaps} gaps of {skipped} \
             skipped ids (others fell while the book waited); {resyncs} resyncs by re-subscribing"
        ),
        ..common::journaled_row(&journal, &s, 0, 0)
    }
    .report();
}

/// Coinbase end to end: `engine sim --dialect coinbase` sends a product's level 2
/// `snapshot` only once it is subscribed, then `l2update`s (times in RFC 3339, no
/// sequence) and `match`es. The engine subscribes its symbols as Coinbase writes
/// them (`BTC-USDT`); a crossing update, the one fault such a feed can expose, is
/// refused and the book resynced by re-subscribing its level 2 channel. Faults no
/// client of this feed could see are refused by the simulator, with the reason.
#[test]
fn a_coinbase_feed_is_subscribed_decoded_resynced_and_traded() {
    let symbols = "BTCUSDT,ETHUSDT";
    let dir = tempfile::tempdir().unwrap();
    let sim_args = ["--dialect", "coinbase", "--rate", "100000", "--symbols", symbols, "--crossed-every", "20000"];
    let (server, url) = faulty_sim(dir.path(), &sim_args);
    let journal = dir.path().join("journal");
    let persist = format!("journal:{}", journal.display());
    let args =
        ["--feed", &url, "--dialect", "coinbase", "--symbols", symbols, "--frames", "200000", "--persist", &persist];
    let (code, s, stderr) = run(&args);
    let crossed = injected(server, dir.path(), "crossed");
    assert_eq!(code, Some(0), "{stderr}");
    let c = &s["counters"];
    assert_eq!(c["decode_errors"], 0, "the subscriptions answers are no errors either: {s}");
    let refused = c["book_errors"].as_u64().unwrap();
    assert!(refused >= 3 && refused * 3 >= crossed && refused <= crossed, "{crossed} crossed: {s}");
    // Past each book's first snapshot, one resync per crossing (the last crossing of
    // each book may still be waiting for its snapshot when the run ends).
    let resyncs = c["resyncs"].as_u64().unwrap().saturating_sub(2);
    assert!(resyncs + 2 >= refused && resyncs >= 3, "each crossing resynced by re-subscribing: {s}");
    assert!(s["orders"].as_u64().unwrap() > 20 && s["fills"].as_u64().unwrap() > 5, "trading went on: {s}");
    assert_trades_name(&journal, feeds::event::Venue::Coinbase);
    assert_sim_refuses_sequence_faults("coinbase", "Coinbase's level 2 updates have none");
}

/// `engine sim --dialect DIALECT` refuses each fault only a sequence could expose,
/// giving `reason`, rather than serve a fault no client could be sure to see.
fn assert_sim_refuses_sequence_faults(dialect: &str, reason: &str) {
    for fault in ["--gap-every", "--duplicate-every", "--reorder-every", "--malformed-every"] {
        let sim = Command::new(env!("CARGO_BIN_EXE_engine"))
            .args(["sim", "--port", "0", "--dialect", dialect, fault, "100"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A simulator that took the fault would serve until killed: give it 10 s.
        let (done, finished) = std::sync::mpsc::channel();
        let pid = sim.id();
        std::thread::spawn(move || done.send(sim.wait_with_output()));
        let Ok(out) = finished.recv_timeout(Duration::from_secs(10)) else {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("{fault}: the simulator took it and served");
        };
        let out = out.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{fault}");
        assert!(stderr.contains(fault) && stderr.contains("carry a sequence"), "{fault}: {stderr}");
        assert!(stderr.contains(reason), "{dialect} {fault}: {stderr}");
    }
}

/// Kraken end to end: `engine sim --dialect kraken` announces itself with a
/// `status` message, sends a symbol's `book` snapshot only once it is subscribed,
/// then updates (prices and sizes as JSON numbers, each with the checksum of the top
/// ten levels it leaves), `trade`s and heartbeats. The engine subscribes its symbols
/// as Kraken writes them (`BTC/USDT`) at depth 25. BTC is quoted at Kraken's own
/// precision (`--scales BTCUSDT=1:8` on both sides), so the checksums are over
/// 8-decimal sizes. Kraken's book has no sequence: a size sent wrong under a true
/// checksum is the fault only the checksum exposes, and each is detected and
/// resynced by re-subscribing the book. An engine left at the built-in scales
/// refuses BTC's 8-decimal sizes as decode errors, and the report says so.
#[test]
fn a_kraken_feed_is_subscribed_checksummed_resynced_and_traded() {
    let symbols = "BTCUSDT,ETHUSDT";
    let dir = tempfile::tempdir().unwrap();
    let scales = ["--scales", "BTCUSDT=1:8"];
    let sim_args = ["--dialect", "kraken", "--rate", "100000", "--symbols", symbols, "--corrupt-every", "15000"];
    let (server, url) = faulty_sim(dir.path(), &[&sim_args[..], &scales].concat());
    let journal = dir.path().join("journal");
    let persist = format!("journal:{}", journal.display());
    let args =
        ["--feed", &url, "--dialect", "kraken", "--symbols", symbols, "--frames", "200000", "--persist", &persist];
    let unscaled =
        run(&["--feed", &url, "--dialect", "kraken", "--symbols", symbols, "--frames", "20000", "--persist", "none"]);
    let args = [&args[..], &scales].concat();
    let (code, s, stderr) = run(&args);
    let corrupted = injected(server, dir.path(), "corrupt");
    assert_eq!(code, Some(0), "{stderr}");
    let c = &s["counters"];
    assert_eq!(c["decode_errors"], 0, "the status, heartbeats and acks are no errors either: {s}");
    let mismatches = c["checksum_mismatches"].as_u64().unwrap();
    // One per fault, except one landing while the book already waits for its snapshot.
    assert!(mismatches >= 3 && mismatches * 3 >= corrupted && mismatches <= corrupted, "{corrupted} corrupted: {s}");
    assert_eq!((c["gaps"].as_u64(), c["book_errors"].as_u64()), (Some(0), Some(0)), "{s}");
    assert_eq!(c["feed_status"][2], mismatches, "a gap_detected status for each: {s}");
    let resyncs = c["resyncs"].as_u64().unwrap().saturating_sub(2);
    assert!(resyncs + 2 >= mismatches && resyncs >= 3, "each resynced by re-subscribing: {s}");
    assert!(s["orders"].as_u64().unwrap() > 20 && s["fills"].as_u64().unwrap() > 5, "trading went on: {s}");
    assert_trades_name(&journal, feeds::event::Venue::Kraken);
    let (code, s, stderr) = unscaled;
    assert_eq!(code, Some(0), "{stderr}");
    let decode_errors = s["counters"]["decode_errors"].as_u64().unwrap();
    assert!(decode_errors > 1_000, "BTC's frames refused: {s}");
    let reason = s["last_decode_error"].as_str().unwrap_or_default();
    assert!(reason.contains("\"qty\": more than 5 decimal places"), "{s}");
    assert_sim_refuses_sequence_faults("kraken", "Kraken's book updates have none");
}

/// A subscription the venue refuses (here a symbol the simulator does not carry)
/// is neither traded on nor mistaken for a malformed frame: it is counted as a
/// refused request, not a decode error, and the report says what it means. Every
/// dialect that subscribes, and both topologies (pipelined: the feed core decodes).
#[test]
fn a_refused_subscription_is_reported_as_such() {
    let pipelined = ["--topology", "pipelined", "--cores", "0,1,0", "--force-cpu0"];
    // Kraken answers each symbol of a request apart: its book and its trades are
    // refused one by one (2), and the other symbol streams, so the engine asks again
    // for the missing book (2 refusals an ask), backing off: 250, 750 and 1,750 ms
    // into the 2 s run, where a fixed 250 ms wait would make it 7 asks.
    let topologies = [
        ("bybit", &[][..], 1),
        ("okx", &[][..], 1),
        ("okx", &pipelined[..], 1),
        ("coinbase", &[][..], 1),
        ("kraken", &[][..], 4),
    ];
    for (dialect, topology, refused) in topologies {
        let (mut server, url) = sim(&["--port", "0", "--dialect", dialect, "--symbols", "BTCUSDT"]);
        let out = Command::new(env!("CARGO_BIN_EXE_engine"))
            .args(["run", "--feed", &url, "--dialect", dialect, "--symbols", "BTCUSDT,DOGEUSDT"])
            .args(["--duration", "2s", "--persist", "none"])
            .args(topology)
            .output()
            .unwrap();
        server.kill().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{dialect}: {stdout}");
        let count = |text: &str, before: &str| -> u64 {
            let Some((_, after)) = text.rsplit_once(before) else { return 0 };
            after.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
        };
        let (reported, live) = (count(&stdout, "the venue refused "), count(&stderr, "VENUE REFUSED "));
        if dialect == "kraken" {
            assert!((refused..=10).contains(&reported) && live >= 2, "{dialect}: {stdout}\n{stderr}");
        } else {
            assert_eq!((reported, live), (refused, refused), "{dialect}: {stdout}\n{stderr}");
        }
        assert!(stdout.contains("decode errors 0 "), "{dialect}: {stdout}");
    }
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
    common::report::Found {
        injected: c["gaps"].as_u64().unwrap(),
        recovered: c["resyncs"].as_u64().unwrap(),
        note: "every gap detected and resynced from the next in-stream snapshot".into(),
        ..common::report::Found::default()
    }
    .report();
}

#[test]
fn a_dropped_feed_is_reconnected_and_the_books_resynced() {
    let dir = tempfile::tempdir().unwrap();
    let s = dropped_and_reconnected(dir.path(), &[], &[]);
    common::report::Found {
        injected: 1,
        recovered: 1,
        note: "disconnected, reconnected, resynced (journaled in order); no order sent while the books were down"
            .into(),
        ..common::journaled_row(dir.path(), &s, 1, 1)
    }
    .report();
}

/// A venue that drops every connection 400 ms into it and keeps listening (the
/// simulator's `--drop-every`): the engine is back each time, at once, and each
/// drop is followed in the journal by a connect and the books resynced, before the
/// next drop. No order leaves while the books are down.
#[test]
fn a_venue_dropping_every_connection_is_rejoined_each_time() {
    let (mut server, url) = sim(&["--port", "0", "--rate", "20000", "--drop-every", "400ms"]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let persist = format!("journal:{}", journal.display());
    let (code, s, stderr) = run(&["--feed", &url, "--duration", "3s", "--persist", &persist]);
    server.kill().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    let drops = s["counters"]["disconnects"].as_u64().unwrap();
    assert!(drops >= 3, "3 s of 400 ms connections: {s}");
    let (records, _) = JournalReader::open(&journal).unwrap().read_all().unwrap();
    let status =
        |r: &persist::Record| (r.kind() == Some(RecordKind::Risk) && (171..=174).contains(&r.code)).then_some(r.code);
    let statuses: Vec<u16> = records.iter().filter_map(status).filter(|c| *c != 173).collect();
    let mut rejoined = 0;
    for (i, _) in statuses.iter().enumerate().filter(|(_, c)| **c == 172) {
        let until_next_drop: Vec<u16> = statuses[i + 1..].iter().copied().take_while(|c| *c != 172).collect();
        if until_next_drop.is_empty() {
            continue; // the run ended before it could reconnect
        }
        assert_eq!(until_next_drop.first(), Some(&171), "connected first after a drop: {statuses:?}");
        assert!(until_next_drop.contains(&174), "books resynced before the next drop: {statuses:?}");
        rejoined += 1;
    }
    assert!(rejoined as u64 + 1 >= drops, "every drop but maybe the last was rejoined: {statuses:?}");
    let orders_while_down = records
        .iter()
        .scan(false, |down, r| {
            match status(r) {
                Some(172) => *down = true,
                Some(174) => *down = false,
                _ => {}
            }
            Some(*down && r.kind() == Some(RecordKind::Order) && r.code == engine::oms::OrderState::Submitted as u16)
        })
        .filter(|sent| *sent)
        .count();
    assert_eq!(orders_while_down, 0, "an order left while the books were down");
}

/// Two venues, each dropping every connection on its own clock: every connected and
/// disconnected status names its venue, and each venue's alternate, up first.
#[test]
fn each_venue_s_drops_and_rejoins_are_journaled_under_its_name() {
    let (mut fast, fast_url) = sim(&["--port", "0", "--rate", "5000", "--drop-every", "300ms"]);
    let (mut slow, slow_url) = sim(&["--port", "0", "--rate", "5000", "--drop-every", "700ms"]);
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let feeds = format!("{fast_url},{slow_url}");
    let (code, _, stderr) =
        run(&["--feed", &feeds, "--symbols", "BTCUSDT", "--duration", "2500ms", "--persist", &persist]);
    let _ = (fast.kill(), slow.kill());
    assert_eq!(code, Some(0), "{stderr}");
    let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    use persist::Fields as _;
    let mut per_venue = [Vec::new(), Vec::new()];
    for r in records.iter().filter(|r| r.kind() == Some(RecordKind::Risk) && (r.code == 171 || r.code == 172)) {
        let venue = persist::record::RiskFields::from_record(r).unwrap().limit;
        assert_eq!(r.instrument, venue as u32, "venue {venue}'s status names its instrument (BTCUSDT@{venue})");
        per_venue[usize::try_from(venue).unwrap()].push(r.code);
    }
    for (venue, codes) in per_venue.iter().enumerate() {
        let alternating = codes.iter().enumerate().all(|(i, c)| *c == if i % 2 == 0 { 171 } else { 172 });
        assert!(alternating, "venue {venue}: connected, disconnected, connected...: {codes:?}");
    }
    let drops = per_venue.map(|codes| codes.iter().filter(|c| **c == 172).count());
    assert!(drops[0] >= 4 && drops[1] >= 2, "300 ms and 700 ms connections over 2.5 s: {drops:?}");
    assert!(drops[0] > drops[1], "the faster-dropping venue dropped more: {drops:?}");
}

/// A venue that accepts every WebSocket and closes it before sending anything (a
/// gateway over its connection limit): the engine backs off between attempts rather
/// than reconnecting in a loop, as it may only for a connection that delivered data;
/// `--reconnect-max-wait` caps the waits.
#[test]
fn a_venue_that_drops_before_any_data_is_not_hammered() {
    let (attempts, s) = attempts_in_2s_at_a_venue_dropping_at_once(&[], None);
    // Backoff bounds 100, 200, 400, 800 ms... (each wait a random part of its bound)
    // allow a few dozen attempts in 2 s; a loop without backoff makes hundreds.
    assert!(attempts >= 2, "it did try again: {attempts}, {s}");
    assert!(attempts < 40, "{attempts} connections in 2 s: the engine hammered the venue: {s}");
    // Waits of at most 20 ms: about a hundred attempts; uncapped, 5 to 10.
    let (capped, s) = attempts_in_2s_at_a_venue_dropping_at_once(&["--reconnect-max-wait", "20ms"], None);
    assert!(capped >= 20, "{capped} connections in 2 s with waits capped at 20 ms: {s}");
}

/// A venue that answers the subscription with an error and closes: one message is
/// not a working connection, so the engine backs off as from one that sent nothing.
#[test]
fn a_venue_that_answers_with_an_error_and_drops_is_not_hammered() {
    let error = r#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#;
    let (attempts, s) = attempts_in_2s_at_a_venue_dropping_at_once(&[], Some(error));
    assert!(attempts >= 2, "it did try again: {attempts}, {s}");
    assert!(attempts < 40, "{attempts} connections in 2 s: the engine hammered the venue: {s}");
}

/// The connections a 2 s run with `args` makes to a venue that drops each one at
/// once (after sending `first`, if given), and the run's summary.
fn attempts_in_2s_at_a_venue_dropping_at_once(
    args: &[&str],
    first: Option<&'static str>,
) -> (usize, serde_json::Value) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (accepted, connections) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Ok(mut ws) = tungstenite::accept(stream) {
                let _ = accepted.send(());
                if let Some(text) = first {
                    let _ = ws.send(tungstenite::Message::text(text));
                }
                drop(ws);
            }
        }
    });
    let base = ["--feed", &url, "--symbols", "BTCUSDT", "--duration", "2s", "--persist", "none"];
    let (code, s, stderr) = run(&[&base[..], args].concat());
    assert_eq!(code, Some(0), "{stderr}");
    let attempts = connections.try_iter().count();
    assert!(s["counters"]["orders"] == 0, "no data, no orders: {s}");
    (attempts, s)
}

/// The same over TLS: the simulator serves wss:// with a test CA's certificate,
/// is killed and comes back; the engine reconnects with a new TLS handshake.
#[test]
fn a_dropped_tls_feed_is_reconnected_and_the_books_resynced() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::pki_files(dir.path());
    let journal = dir.path().join("journal");
    dropped_and_reconnected(&journal, &["--tls-cert", &cert, "--tls-key", &key], &["--tls-ca", &ca]);
}

/// A simulator (with `sim_args`) killed 1.2 s into a 4 s run (with `run_args`) and
/// restarted on its port 0.8 s later: one disconnect, a reconnect, resynced books,
/// and no order sent while they were down. Returns the run's summary.
fn dropped_and_reconnected(journal: &std::path::Path, sim_args: &[&str], run_args: &[&str]) -> serde_json::Value {
    let (mut server, url) = sim(&[&["--port", "0", "--rate", "50000"], sim_args].concat());
    let port = url.trim_end_matches('/').rsplit(':').next().unwrap().to_owned();
    let persist = format!("journal:{}", journal.display());
    let engine = std::thread::spawn({
        // Waits of at most 200 ms: the default cap (5 s) could leave the venue, back
        // 0.8 s after the kill, unjoined until after the run.
        let mut args: Vec<String> =
            ["--feed", &url, "--duration", "4s", "--persist", &persist, "--reconnect-max-wait", "200ms"]
                .map(String::from)
                .into();
        args.extend(run_args.iter().map(|a| (*a).to_owned()));
        move || run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    });
    std::thread::sleep(Duration::from_millis(1_200));
    server.kill().unwrap();
    server.wait().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let (mut again, url2) = sim(&[&["--port", &port, "--rate", "50000", "--seed", "2"], sim_args].concat());
    assert_eq!(url2, url);
    let (code, s, stderr) = engine.join().unwrap();
    again.kill().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the feed connection dropped 1 time"), "{stderr}");
    let c = &s["counters"];
    assert_eq!(c["disconnects"], 1, "{s}");
    assert!(c["resyncs"].as_u64().unwrap() >= 2, "resynced after reconnecting: {s}");
    assert!(c["frames"].as_u64().unwrap() > 100_000, "frames kept coming after the reconnect: {s}");
    // The status events, journaled in order: connected, disconnected, connected,
    // resynced; and no order left while the books were down.
    let (records, _) = persist::journal::JournalReader::open(journal).unwrap().read_all().unwrap();
    let status = |code: u16| records.iter().filter(move |r| r.kind() == Some(RecordKind::Risk) && r.code == code);
    let dropped = status(172).next().expect("a disconnected status").seq;
    let back = status(171).map(|r| r.seq).find(|seq| *seq > dropped).expect("connected again");
    let resynced = status(174).map(|r| r.seq).find(|seq| *seq > back).expect("resynced after it");
    let sent_meanwhile = records
        .iter()
        .filter(|r| (dropped..resynced).contains(&r.seq) && r.kind() == Some(RecordKind::Order))
        .filter(|r| r.code == engine::oms::OrderState::Submitted as u16)
        .count();
    assert_eq!(sent_meanwhile, 0, "an order left while the books were invalid");
    s
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
    common::report::Found {
        note: "connected, stale (books invalidated), disconnected: journaled in that order".into(),
        ..common::journaled_row(dir.path(), &s, 1, 0)
    }
    .report();
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
    common::report::Found {
        note: format!("venue 1 stale alone; venue 0 journaled {live_after} book tops after; no halt"),
        ..common::journaled_row(dir.path(), &s, 1, 0)
    }
    .report();
}

/// `engine sim` with feed faults (`--duplicate-every` and the like), its stderr kept
/// in `dir`: each connection prints there what it injected when it ends (read back by
/// [`injected`]). Returns the process and its URL.
fn faulty_sim(dir: &std::path::Path, args: &[&str]) -> (Child, String) {
    let stderr = std::fs::File::create(dir.join("sim.stderr")).unwrap();
    let args = [&["--port", "0"][..], args].concat();
    common::start_sim_logging(Command::new(env!("CARGO_BIN_EXE_engine")), &args, stderr)
}

/// How many faults of `kind` (`duplicate`, `reorder`, `malformed`, `absurd_price`,
/// `crossed`, `gap`) the simulator in `dir` injected over every connection that has
/// ended. Waits (up to 5 s) for the engine's connection to end; then stops the sim.
fn injected(mut sim: Child, dir: &std::path::Path, kind: &str) -> u64 {
    let key = format!("{kind}=");
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(dir.join("sim.stderr")).unwrap_or_default();
        if text.contains("faults injected") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(text.contains("faults injected"), "the sim said nothing of its faults: {text}");
    counted(&text, &key)
}

/// The sum of `key`'s counts over the simulator's "faults injected" lines.
fn counted(text: &str, key: &str) -> u64 {
    text.lines()
        .filter(|l| l.contains("faults injected"))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.strip_prefix(key))
        .map(|n| n.parse::<u64>().unwrap())
        .sum()
}

/// [`injected`] for two kinds at once (the simulator is stopped by the first call).
fn injected_both(sim: Child, dir: &std::path::Path, first: &str, second: &str) -> (u64, u64) {
    let a = injected(sim, dir, first);
    let text = std::fs::read_to_string(dir.join("sim.stderr")).unwrap_or_default();
    (a, counted(&text, &format!("{second}=")))
}

/// Order records that repeat the order's previous record (same state, fill, type and
/// terms; not the same state met twice, as a stop is `accepted` once armed and again
/// at the venue), plus fills whose venue trade id was already journaled.
fn repeated_orders_and_fills(records: &[persist::Record]) -> u64 {
    let (mut last, mut fills) = (std::collections::HashMap::new(), std::collections::HashSet::new());
    let repeated = records.iter().filter(|r| match r.kind() {
        Some(RecordKind::Order) => last.insert(r.fields[0], (r.code, r.fields)) == Some((r.code, r.fields)),
        Some(RecordKind::Fill) => !fills.insert(r.fields[1]),
        _ => false,
    });
    repeated.count() as u64
}

/// What a fault run journaled: its records, checked whole (orders submitted and
/// fills as the summary counts them, no record repeated), and the report row's
/// journal columns.
fn journal_of(dir: &std::path::Path, s: &serde_json::Value) -> (Vec<persist::Record>, common::report::Found) {
    let (records, _) = JournalReader::open(dir).unwrap().read_all().unwrap();
    let submitted = records
        .iter()
        .filter(|r| r.kind() == Some(RecordKind::Order) && r.code == engine::oms::OrderState::Submitted as u16)
        .count() as u64;
    let fills = records.iter().filter(|r| r.kind() == Some(RecordKind::Fill)).count() as u64;
    let (orders, filled) = (s["orders"].as_u64().unwrap(), s["fills"].as_u64().unwrap());
    assert_eq!((submitted, fills), (orders, filled), "every order and fill journaled");
    let repeated = repeated_orders_and_fills(&records);
    assert_eq!(repeated, 0, "no order or fill journaled twice");
    let row = common::report::Found {
        expected: Some(orders + filled),
        journal: Some(submitted + fills),
        duplicates: Some(repeated),
        ..common::report::Found::default()
    };
    (records, row)
}

/// Runs the engine for 3 s against the faulty sim at `url`, journaling into `dir`
/// (the market maker unless `extra` picks another strategy).
fn run_against(url: &str, dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let persist = format!("journal:{}", dir.join("journal").display());
    let args =
        [&["--feed", url, "--symbols", "BTCUSDT", "--duration", "3s", "--persist", &persist][..], extra].concat();
    let (code, s, stderr) = run(&args);
    assert_eq!(code, Some(0), "the engine rides out the faults and exits cleanly: {stderr}");
    assert!(s["halt"].is_null(), "{s}");
    s
}

/// Issue 9, scenario 1a: every 500th depth update sent twice in a row. The engine
/// drops each repeat as already applied (`stale_updates`), never as a gap, so the
/// book needs no resync, and trades on; nothing is journaled twice.
#[test]
fn duplicated_updates_are_dropped_as_stale_and_never_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, url) = faulty_sim(dir.path(), &["--rate", "20000", "--duplicate-every", "500"]);
    let s = run_against(&url, dir.path(), &[]);
    let (injected, injected_trades) = injected_both(sim, dir.path(), "duplicate", "duplicate_trade");
    let c = &s["counters"];
    let stale = c["stale_updates"].as_u64().unwrap();
    // Some may still be in flight (socket buffers hold a second or so) when the
    // engine stops reading.
    assert!(stale >= 20 && stale * 2 >= injected && stale <= injected, "{injected} sent twice: {s}");
    assert_eq!((&c["gaps"], &c["decode_errors"], &c["book_errors"]), (&0.into(), &0.into(), &0.into()), "{s}");
    assert_eq!(c["resyncs"], 1, "the first snapshot only: a repeat needs no resync: {s}");
    // Repeated trades too: dropped, never journaled (nor matched, nor fired on) twice.
    let trades_twice = injected_trades;
    let dropped = c["duplicate_trades"].as_u64().unwrap();
    assert!(dropped >= 5 && dropped * 2 >= trades_twice && dropped <= trades_twice, "{trades_twice}: {s}");
    assert!(s["orders"].as_u64().unwrap() > 20 && s["fills"].as_u64().unwrap() > 0, "trading went on: {s}");
    let (records, row) = journal_of(&dir.path().join("journal"), &s);
    let mut ids = std::collections::HashSet::new();
    let twice = records
        .iter()
        .filter(|r| r.kind() == Some(RecordKind::Trade) && !ids.insert((r.instrument, r.fields[1])))
        .count();
    assert_eq!(twice, 0, "a trade journaled twice");
    common::report::Found {
        injected: injected + trades_twice,
        recovered: stale + dropped,
        note: format!("{stale} repeated updates dropped as stale, {dropped} repeated trades dropped; 0 gaps, exit 0"),
        ..row
    }
    .report();
}

/// The feed counters every sequence fault must show: `gaps` (each one a
/// `gap_detected` status) within what was injected, and each resynced.
fn assert_gaps_resynced(s: &serde_json::Value, injected: u64) -> (u64, u64) {
    let c = &s["counters"];
    let (gaps, resyncs) = (c["gaps"].as_u64().unwrap(), c["resyncs"].as_u64().unwrap());
    // One gap per fault, except one landing while the book already waits for its
    // snapshot (a loaded host can bunch frames between two snapshots).
    assert!(gaps >= 5 && gaps * 3 >= injected && gaps <= injected, "{injected} injected: {s}");
    assert_eq!(c["feed_status"][2], gaps, "a gap_detected status per gap: {s}");
    // The first snapshot, then one per gap (the last may still be pending at the end).
    assert!(resyncs >= gaps, "every gap resynced: {s}");
    assert!(c["feed_status"][3].as_u64().unwrap() >= gaps, "a resynced status per gap: {s}");
    assert!(s["orders"].as_u64().unwrap() > 20, "trading went on: {s}");
    (gaps, resyncs)
}

/// Issue 9, scenario 1b: every 2,000th depth update held back behind the next one.
/// The engine is never fooled into applying it out of order: the later update
/// shows a gap (the book goes invalid), the late one is dropped, and the next
/// in-stream snapshot resyncs the book.
#[test]
fn reordered_updates_are_caught_as_gaps_and_resynced() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--rate", "20000", "--reorder-every", "2000", "--snapshot-every", "50ms"];
    let (sim, url) = faulty_sim(dir.path(), &args);
    let s = run_against(&url, dir.path(), &[]);
    let injected = injected(sim, dir.path(), "reorder");
    assert_eq!(s["counters"]["decode_errors"], 0, "{s}");
    let (gaps, resyncs) = assert_gaps_resynced(&s, injected);
    let (_, row) = journal_of(&dir.path().join("journal"), &s);
    common::report::Found {
        injected,
        recovered: resyncs - 1,
        note: format!("{gaps} gaps detected, {} resyncs after the first snapshot, exit 0", resyncs - 1),
        ..row
    }
    .report();
}

/// Issue 9, scenario 1c: every 2,000th depth update replaced by its first half. The
/// engine counts each as a decode error, then finds the hole the lost update left,
/// and resyncs from the next snapshot.
#[test]
fn malformed_updates_are_decode_errors_then_gaps_then_resynced() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--rate", "20000", "--malformed-every", "2000", "--snapshot-every", "50ms"];
    let (sim, url) = faulty_sim(dir.path(), &args);
    let s = run_against(&url, dir.path(), &[]);
    let injected = injected(sim, dir.path(), "malformed");
    let errors = s["counters"]["decode_errors"].as_u64().unwrap();
    assert!(errors >= 5 && errors * 2 >= injected && errors <= injected, "{injected} damaged: {s}");
    let (gaps, resyncs) = assert_gaps_resynced(&s, injected);
    let (_, row) = journal_of(&dir.path().join("journal"), &s);
    common::report::Found {
        injected,
        recovered: resyncs - 1,
        note: format!("{errors} decode errors, {gaps} gaps, {} resyncs after the first snapshot, exit 0", resyncs - 1),
        ..row
    }
    .report();
}

/// Issue 9, scenario 1d: every 100th trade printed at 10x the market, then a tenth
/// of it. The engine journals the prints, but its market maker prices from the
/// book, not from trades: every order risk saw is within 1% of the mid of the book
/// top journaled before it, and the collar never had to refuse one.
#[test]
fn absurd_trade_prints_never_price_an_order_off_the_market() {
    use persist::{
        Fields as _,
        record::{BookTopFields, RiskFields, TradeFields},
    };
    let dir = tempfile::tempdir().unwrap();
    let (sim, url) = faulty_sim(dir.path(), &["--rate", "20000", "--absurd-price-every", "100"]);
    let s = run_against(&url, dir.path(), &[]);
    let injected = injected(sim, dir.path(), "absurd_price");
    assert!(s["risk_rejects"]["outside_collar"].is_null(), "no order priced off a print: {s}");
    let (records, row) = journal_of(&dir.path().join("journal"), &s);
    let (mut mid2, mut absurd, mut checked) = (0i64, 0u64, 0u64);
    for r in &records {
        if let Some(top) = BookTopFields::from_record(r) {
            mid2 = top.bid + top.ask;
        } else if let Some(t) = TradeFields::from_record(r)
            && mid2 != 0
            && (t.price * 2 > 5 * mid2 || t.price * 2 * 5 < mid2)
        {
            absurd += 1;
        } else if let Some(d) = RiskFields::from_record(r)
            && d.client_id != 0
        {
            assert!(mid2 != 0, "an order before any book");
            // |price - mid| <= 1% of mid, in integers.
            assert!(
                (2 * d.price - mid2).abs() * 100 <= mid2,
                "order at {} with the mid at {}: {d:?}",
                d.price,
                mid2 / 2
            );
            checked += 1;
        }
    }
    assert!(absurd >= 10 && absurd <= injected, "{injected} absurd prints sent, {absurd} journaled: {s}");
    assert!(checked > 20, "{s}");
    common::report::Found {
        injected,
        recovered: 0,
        note: format!("{absurd} off-market prints journaled; {checked} orders all within 1% of the book mid, 0 outside_collar, exit 0"),
        ..row
    }
    .report();
}

/// The same off-market prints against a taker whose stop entries fire on trades:
/// the engine counts each print outside the collar around its book's mid
/// (`off_market_trades`) and fires no stop on it. Gaps keep the books waiting for
/// their next snapshot much of the time, and a print then is judged by the book's
/// last valid top. Every stop that fired did so on a trade within the collar of the
/// book journaled before it.
#[test]
fn off_market_prints_fire_no_stop() {
    use persist::{
        Fields as _,
        record::{BookTopFields, TradeFields},
    };
    let dir = tempfile::tempdir().unwrap();
    let sim_args = ["--rate", "20000", "--absurd-price-every", "50", "--gap-every", "500", "--snapshot-every", "200ms"];
    let (sim, url) = faulty_sim(dir.path(), &sim_args);
    let s = run_against(&url, dir.path(), &["--strategy", "taker:entry=stop,threshold_pct=0,cooldown_us=2000"]);
    let injected = injected(sim, dir.path(), "absurd_price");
    let off_market = s["counters"]["off_market_trades"].as_u64().unwrap();
    assert!(s["counters"]["gaps"].as_u64().unwrap() >= 2, "books went invalid: {s}");
    // Not those the simulator made after the engine stopped reading.
    assert!(off_market >= 10 && off_market * 2 >= injected && off_market <= injected, "{injected} sent: {s}");
    let (records, row) = journal_of(&dir.path().join("journal"), &s);
    let (mut mid2, mut last_trade, mut fired, mut absurd) = (0i64, 0i64, 0u64, 0u64);
    for r in &records {
        if let Some(top) = BookTopFields::from_record(r) {
            mid2 = top.bid + top.ask;
        } else if let Some(t) = TradeFields::from_record(r) {
            last_trade = t.price;
            // The simulator prints at ten times the market or a tenth of it.
            absurd += u64::from(mid2 > 0 && (2 * t.price > 5 * mid2 || 10 * t.price < mid2));
        } else if r.kind() == Some(RecordKind::Order) && r.code == engine::oms::OrderState::Triggered as u16 {
            // Within the default 50 bps collar of the mid, in integers.
            assert!((2 * last_trade - mid2).abs() * 10_000 <= 50 * mid2, "a stop fired on {last_trade}, mid {mid2}");
            fired += 1;
        }
    }
    assert!(fired > 5, "stops fired on good trades meanwhile: {s}");
    // Every print the engine read was judged, those that came while the books
    // waited for a snapshot (judged by the last valid top) included.
    assert_eq!(off_market, absurd, "off-market prints the engine journaled: {s}");
    common::report::Found {
        injected,
        recovered: off_market,
        note: format!(
            "{off_market} off-market prints counted, no stop fired on them; {fired} stops fired on good trades"
        ),
        ..row
    }
    .report();
}

/// Issue 9, scenario 1e: every 1,000th depth update puts a bid above the best ask,
/// update ids intact. The engine refuses it (`book_errors`; it is no gap), holds the
/// book invalid until the next snapshot resyncs it, and pre-trade risk refuses what
/// would trade on it meanwhile: a taker whose stop entries, armed on a good book,
/// fire on the trades printed while the book is invalid (`book_invalid`).
#[test]
fn a_crossed_book_update_invalidates_the_book_until_a_snapshot_resyncs_it() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--rate", "20000", "--crossed-every", "1000", "--snapshot-every", "25ms"];
    let (sim, url) = faulty_sim(dir.path(), &args);
    let s = run_against(&url, dir.path(), &["--strategy", "taker:entry=stop,threshold_pct=0,cooldown_us=2000"]);
    let injected = injected(sim, dir.path(), "crossed");
    let c = &s["counters"];
    let (refused, resyncs) = (c["book_errors"].as_u64().unwrap(), c["resyncs"].as_u64().unwrap());
    // One refused update per fault, except one landing while the book already waits.
    assert!(refused >= 5 && refused * 4 >= injected && refused <= injected, "{injected} crossed: {s}");
    assert_eq!((&c["gaps"], &c["decode_errors"]), (&0.into(), &0.into()), "the sequence was intact: {s}");
    assert!(resyncs >= refused && c["feed_status"][3].as_u64().unwrap() >= refused, "every crossing resynced: {s}");
    assert_eq!(c["feed_status"][2], refused, "each crossing reported as a gap_detected status: {s}");
    let invalid = s["risk_rejects"]["book_invalid"].as_u64().unwrap_or(0);
    assert!(invalid >= 3, "orders on the invalid book refused: {s}");
    assert!(s["orders"].as_u64().unwrap() > 20, "trading went on: {s}");
    let (records, row) = journal_of(&dir.path().join("journal"), &s);
    let audited = records
        .iter()
        .filter(|r| r.kind() == Some(RecordKind::Risk) && r.code == engine::risk::Reject::BookInvalid.code())
        .count() as u64;
    assert_eq!(audited, invalid, "every refusal journaled");
    common::report::Found {
        injected,
        recovered: resyncs - 1,
        note: format!(
            "{refused} crossed updates refused, {} resyncs, {invalid} orders refused book_invalid, exit 0",
            resyncs - 1
        ),
        ..row
    }
    .report();
}
