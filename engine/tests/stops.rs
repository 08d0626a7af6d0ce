//! Mandatory stop-losses end to end: every order that opens or grows a position
//! carries a stop, the engine tracks each position's stop, and when the touch crosses
//! it the position is closed with an IOC, audited as a stop-out (code 160).

mod common;

use common::run;
use engine::{pipeline::STOP_OUT, risk::Reject};
use feeds::event::Side;
use persist::{Fields, RecordKind, journal::JournalReader, record::RiskFields};

/// One-tick stops on SOL (1 bp of 150.00 rounds up to a tick): the taker's positions
/// are stopped out over and over; each stop-out is journaled with the side that
/// closes, and the touch really had crossed the stop.
#[test]
fn a_crossed_stop_closes_the_position_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let strategy = "taker:threshold_pct=30,stop_bps=1";
    let (code, s, stderr) =
        run(&["--frames", "100000", "--persist", &persist, "--symbols", "SOLUSDT", "--strategy", strategy]);
    assert_eq!(code, Some(0), "{stderr}");
    let stop_outs = s["counters"]["stop_outs"].as_u64().unwrap();
    assert!(stop_outs > 10, "{s}");
    let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    let audits: Vec<RiskFields> = records
        .iter()
        .filter(|r| r.kind() == Some(RecordKind::Risk) && r.code == STOP_OUT)
        .map(|r| RiskFields::from_record(r).unwrap())
        .collect();
    assert!(audits.len() as u64 >= stop_outs, "every stop-out is journaled");
    for a in &audits {
        let sell = a.side == engine::order::side_code(Side::Sell);
        // Closing a long (sell): the bid fell to the stop; a short (buy): the ask rose to it.
        assert!(if sell { a.observed <= a.limit } else { a.observed >= a.limit }, "{a:?}");
        assert!(a.qty > 0, "{a:?}");
    }
    assert!(s["risk_rejects"].get("missing_stop").is_none(), "the strategy always sends stops: {s}");
}

/// A strategy whose orders carry stops too far away is refused before anything
/// leaves, with the reason journaled.
#[test]
fn stops_farther_than_allowed_are_refused() {
    let (code, s, stderr) = run(&[
        "--frames",
        "50000",
        "--persist",
        "none",
        "--strategy",
        "mm:stop_bps=500",
        "--max-stop-distance-bps",
        "100",
    ]);
    assert_eq!(code, Some(3), "every quote refused: the reject storm trips the kill switch: {stderr}");
    assert!(s["risk_rejects"]["bad_stop"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["orders"], 0);
    assert_eq!(Reject::BadStop.name(), "bad_stop");
}

/// Stop entries end to end: each is armed in the engine (nothing reaches the venue),
/// fires only on a trade at its trigger, and only then goes out as a market order
/// (or a limit, for stop-limit) through risk; the journal shows every step in order.
#[test]
fn stop_entries_arm_trigger_and_only_then_leave() {
    use engine::oms::OrderState as S;
    use persist::record::OrderFields;
    for entry in ["stop", "stop_limit"] {
        let dir = tempfile::tempdir().unwrap();
        let persist = format!("journal:{}", dir.path().display());
        let strategy = format!("taker:threshold_pct=30,entry={entry}");
        let (code, s, stderr) = run(&["--frames", "60000", "--persist", &persist, "--strategy", &strategy]);
        assert_eq!(code, Some(0), "{stderr}");
        let triggered = s["counters"]["stops_triggered"].as_u64().unwrap();
        assert!(triggered > 10, "{s}");
        assert_eq!(s["counters"]["oms_errors"], 0, "{s}");
        let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
        let mut lives: std::collections::BTreeMap<i64, Vec<u16>> = Default::default();
        // Stop entries only (a stop-out's closing IOC is another story).
        let orders =
            records.iter().filter_map(|r| OrderFields::from_record(r).filter(|o| matches!(o.order_type, 6 | 7)));
        for o in orders {
            lives.entry(o.client_id).or_default().push(o.state);
        }
        let (armed, sent) = (S::Accepted as u16, S::Submitted as u16);
        let mut fired = 0;
        for (id, states) in &lives {
            assert_eq!(states.first(), Some(&armed), "order {id} starts armed: {states:?}");
            if let Some(at) = states.iter().position(|s| *s == S::Triggered as u16) {
                fired += 1;
                assert_eq!(states.get(at + 1), Some(&sent), "order {id} leaves right after its trigger: {states:?}");
            } else {
                assert!(!states.contains(&sent), "order {id} left untriggered: {states:?}");
            }
        }
        assert_eq!(fired, triggered, "every trigger journaled");
        let fills: u64 = records.iter().filter(|r| r.kind() == Some(RecordKind::Fill)).count() as u64;
        assert!(fills > 0 && fills <= triggered * u64::from(engine::sim::MAX_SWEEP as u32), "{fills} fills");
    }
}
