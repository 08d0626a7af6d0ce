//! A settle question the venue refuses, echoing the question's id, against an
//! order-entry venue scripted on loopback: the simulator refuses a query only when
//! it is stale or badly signed, which the gateway never sends.

use std::net::TcpListener;

use engine::gateway::{GatewayError, VenueGateway};
use tungstenite::{Message, accept};

/// A venue on loopback that serves one connection: the login answered ok, then each
/// query answered by the next of `replies` (one message a line), `{id}` replaced by
/// the query's id. Returns its URL.
fn scripted_venue(replies: Vec<&'static str>) -> String {
    scripted_venue_pushing("", replies)
}

/// [`scripted_venue`] that also sends `after_login` (one message a line) right after
/// its login answer, unasked.
fn scripted_venue_pushing(after_login: &'static str, replies: Vec<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = accept(stream).unwrap();
        let mut replies = replies.into_iter();
        while let Ok(message) = ws.read() {
            let Message::Text(text) = message else { continue };
            let request: serde_json::Value = serde_json::from_str(&text).unwrap();
            let reply = match request["op"].as_str() {
                Some("login") => format!("{}\n{after_login}", r#"{"type":"login","ok":true,"seq":0,"reason":""}"#),
                _ => match replies.next() {
                    Some(reply) => reply.replace("{id}", &request["id"].to_string()),
                    None => break,
                },
            };
            for line in reply.lines().filter(|l| !l.is_empty()) {
                ws.send(Message::text(line)).unwrap();
            }
        }
    });
    url
}

/// The refusal is the question's answer: taken at once (not left to time out), the
/// session kept, nothing counted as unreadable, and the next question answered.
#[test]
fn a_refused_settle_question_is_answered_by_its_refusal_and_the_session_kept() {
    let url = scripted_venue(vec![
        r#"{"type":"error","id":{id},"reason":"busy"}"#,
        r#"{"type":"open_orders","id":{id},"orders":[]}"#,
    ]);
    let mut g = super::gateway(&url, false);
    let mut reports = Vec::new();
    assert!(matches!(g.ask_open_orders(0), Ok(None)));
    match super::await_answer(&mut g, &mut reports) {
        Err(GatewayError::Protocol(reason)) => assert_eq!(reason, "busy"),
        other => panic!("expected the refusal as the answer, got {other:?}"),
    }
    assert!(g.is_connected(), "a refused question keeps the session");
    assert!(matches!(g.ask_open_orders(0), Ok(None)), "the next question may go out");
    assert!(super::await_answer(&mut g, &mut reports).unwrap().is_empty());
    let counters = g.counters();
    assert_eq!((counters.bad_messages, counters.unanswered_questions), (0, 0));
    assert!(reports.is_empty(), "{reports:?}");
}

/// A refusal echoing another id (an earlier question's, given up on) is not this
/// question's answer: it is dropped, and the question waits for its own.
#[test]
fn a_refusal_of_another_question_is_not_taken_for_this_one() {
    let url = scripted_venue(vec![concat!(
        r#"{"type":"error","id":999,"reason":"busy"}"#,
        "\n",
        r#"{"type":"open_orders","id":{id},"orders":[]}"#
    )]);
    let mut g = super::gateway(&url, false);
    let mut reports = Vec::new();
    assert!(matches!(g.ask_open_orders(0), Ok(None)));
    assert!(super::await_answer(&mut g, &mut reports).unwrap().is_empty(), "this question's own answer");
    assert_eq!(g.counters().bad_messages, 0, "the other question's refusal was recognised");
}

/// A numbered report the engine cannot read (a fill in a symbol this session does
/// not trade, as another session on the same account may get) is counted and takes
/// its place in the sequence: the report after it is applied, not taken for a gap,
/// and the session is kept. Asking again would bring the same bytes for ever.
#[test]
fn an_unreadable_numbered_report_is_counted_and_passed_not_taken_for_a_gap() {
    let url = scripted_venue(vec![concat!(
        r#"{"type":"fill","seq":1,"cid":5,"symbol":"ETHUSDT","trade_id":1,"price":"1","qty":"1"}"#,
        "\n",
        r#"{"type":"ack","seq":2,"cid":7}"#,
        "\n",
        r#"{"type":"open_orders","id":{id},"orders":[]}"#
    )]);
    let mut g = super::gateway(&url, false);
    let mut reports = Vec::new();
    assert!(matches!(g.ask_open_orders(0), Ok(None)));
    assert!(super::await_answer(&mut g, &mut reports).unwrap().is_empty());
    let kinds: Vec<_> = reports.iter().map(|r| (r.client_id.0, r.kind)).collect();
    assert_eq!(kinds, [(7, engine::order::ExecKind::Accepted)], "the ack after it is applied");
    let counters = g.counters();
    assert_eq!((counters.bad_messages, counters.sequence_gaps), (1, 0), "{counters:?}");
    assert_eq!(counters.unapplied_reports, 0, "another session's order (cid 5): no position of ours moved");
    assert!(g.is_connected(), "no reconnect for it");
    assert_eq!(g.last_seq(), 2);
}

/// A fill naming another symbol than its order's (a BTCUSDT order filled "in
/// ETHUSDT", whose sizes have other decimals) is not applied at that symbol's
/// scales: it is counted as unreadable and keeps its place in the sequence, and the
/// order's next report is applied.
#[test]
fn a_fill_naming_another_symbol_than_its_orders_is_not_applied() {
    use engine::order::{ExecKind, NewOrder, OrderType};
    use feeds::{
        book::Book,
        event::{InstrumentId, Side},
    };
    let url = scripted_venue(vec![
        concat!(
            r#"{"type":"fill","seq":1,"cid":7,"symbol":"ETHUSDT","trade_id":1,"price":"3000.00","qty":"0.0100"}"#,
            "\n",
            r#"{"type":"ack","seq":2,"cid":7}"#
        ),
        r#"{"type":"fill","seq":3,"cid":8,"symbol":"ETHUSDT","trade_id":2,"price":"3000.00","qty":"0.0100"}"#,
    ]);
    let mut symbols = super::symbols();
    symbols.push(("ETHUSDT".to_owned(), 2, 4));
    let creds = engine::gateway::protocol::Credentials::new(super::KEY, super::SECRET.as_bytes());
    let mut g = engine::gateway::WsGateway::connect(&url, creds, symbols, false).unwrap();
    let btc = super::order(Side::Buy, 6_000_000, 100, OrderType::Limit);
    g.submit(engine::order::ClientId(7), &btc, &Book::with_depth(1), 0).unwrap();
    let mut reports = Vec::new();
    super::collect(&mut g, &mut reports, |r| !r.is_empty());
    let kinds: Vec<_> = reports.iter().map(|r| (r.client_id.0, r.kind)).collect();
    assert_eq!(kinds, [(7, ExecKind::Accepted)], "the fill in another symbol is not applied");
    let counters = g.counters();
    assert_eq!((counters.bad_messages, counters.sequence_gaps), (1, 0), "{counters:?}");
    assert_eq!(counters.unapplied_reports, 1, "our order's fill, not applied: a position may have moved");
    assert_eq!(g.last_seq(), 2);
    // An ETHUSDT order's fill in ETHUSDT (the session's second symbol) is applied.
    let eth = NewOrder { instrument: InstrumentId(1), ..btc };
    g.submit(engine::order::ClientId(8), &eth, &Book::with_depth(1), 0).unwrap();
    let mut reports = Vec::new();
    super::collect(&mut g, &mut reports, |r| !r.is_empty());
    assert!(
        matches!(reports.as_slice(), [r] if r.client_id.0 == 8 && matches!(r.kind, ExecKind::Fill { .. })),
        "{reports:?}"
    );
    assert_eq!((g.counters().bad_messages, g.last_seq()), (1, 3));
}

/// A numbered report that cannot be applied while the engine runs, and does not say
/// whose order it is about (here a fill with no client id, in a symbol the session
/// does not trade), may have moved a position unseen: the trading core goes by
/// `--on-mismatch` (reduce-only until re-armed, the default; halted; or on with
/// `trust-venue`) and audits it as trip 113.
#[test]
fn an_unapplied_report_puts_trading_under_the_mismatch_policy() {
    use engine::{
        cli::{Cli, Command},
        clock::{Clock, LiveClock},
        pipeline::{Halt, Pipeline, RecordSink},
        risk::{RearmPlan, TradingState, TripReason},
    };
    use persist::{Fields, RecordKind, record::RiskFields};
    let unreadable = r#"{"type":"fill","seq":1,"symbol":"XRPUSDT","trade_id":1,"price":"1","qty":"1"}"#;
    // The last case is already halted (by hand) when the report comes: it is still
    // audited, and the halt keeps its first reason.
    for (policy, state, halted_before) in [
        ("reduce-only", TradingState::ReduceOnly, false),
        ("halt", TradingState::Halted, false),
        ("trust-venue", TradingState::Active, false),
        ("halt", TradingState::Halted, true),
    ] {
        let url = scripted_venue_pushing(unreadable, vec![]);
        let argv = ["engine", "run", "--persist", "none", "--on-mismatch", policy];
        let Command::Run(args) = <Cli as clap::Parser>::parse_from(argv).command else { panic!() };
        let config = engine::run_cli::options(&args).unwrap().pipeline;
        let (tx, mut rx) = rings::spsc::channel::<persist::Record>(4096).unwrap();
        let gateway = Box::new(super::gateway(&url, false));
        let mut p = Pipeline::with_gateway(&config, RecordSink::new(Some(tx), 1, 0), gateway);
        assert_eq!(p.risk().state(), TradingState::Active);
        let clock = LiveClock::new();
        if halted_before {
            p.kill_switch(TripReason::Manual, clock.now_ns());
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while p.gateway_counters().unapplied_reports == 0 && std::time::Instant::now() < deadline {
            p.on_tick(clock.now_ns());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(p.gateway_counters().unapplied_reports, 1, "{policy}");
        assert_eq!(p.risk().state(), state, "{policy}");
        let mut trips = 0;
        while let Ok(r) = rx.try_pop() {
            if r.kind() == Some(RecordKind::Risk)
                && RiskFields::from_record(&r).is_some_and(|f| f.reason == TripReason::UnappliedReport as u16)
            {
                trips += 1;
            }
        }
        assert_eq!(trips, 1, "{policy}: audited once as trip 113");
        match policy {
            "halt" => {
                let first = if halted_before { TripReason::Manual } else { TripReason::UnappliedReport };
                assert!(matches!(p.halt(), Some(Halt::KillSwitch(t)) if t.reason == first), "{:?}", p.halt());
            }
            "reduce-only" => {
                assert!(p.halt().is_none());
                let now = clock.now_ns();
                assert_eq!(p.rearm(RearmPlan::Aggressive, now), Ok(TradingState::Active), "an operator lifts it");
            }
            _ => assert!(p.halt().is_none()),
        }
    }
}
