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
