//! The kill switch trips by itself and by hand: trading halts, working orders are
//! cancelled, the trip is journaled with its reason, no order leaves after it, the
//! engine runs on (books, status) until stopped, and the exit code says it tripped.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use engine::{oms::OrderState, risk::TripReason};
use persist::{Fields, RecordKind, journal::JournalReader, record::RiskFields};

fn run(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--json", json.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let summary = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (out.status.code(), summary, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The trip's record, and that nothing was sent after it and nothing left working.
fn check_journal(dir: &Path, reason: TripReason) {
    let (records, _) = JournalReader::open(dir).unwrap().read_all().unwrap();
    let trip = records
        .iter()
        .find(|r| r.kind() == Some(RecordKind::Risk) && r.code == reason as u16)
        .unwrap_or_else(|| panic!("no {reason:?} trip record"));
    let sent_after = records
        .iter()
        .filter(|r| r.seq > trip.seq && r.kind() == Some(RecordKind::Order) && r.code == OrderState::Submitted as u16)
        .count();
    assert_eq!(sent_after, 0, "orders sent after the kill switch tripped");
    let mut last = std::collections::HashMap::new();
    for r in records.iter().filter(|r| r.kind() == Some(RecordKind::Order)) {
        last.insert(r.fields[0], r.code);
    }
    let terminal =
        [OrderState::Filled, OrderState::Canceled, OrderState::Rejected, OrderState::Denied].map(|s| s as u16);
    assert!(last.values().all(|s| terminal.contains(s)), "orders left working after the trip");
    let fields = RiskFields::from_record(trip).unwrap();
    assert_eq!(fields.reason, reason as u16);
}

#[test]
fn a_drawdown_trips_halts_and_cancels_and_the_engine_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) = run(&[
        "--frames",
        "150000",
        "--rate",
        "300000",
        "--persist",
        &persist,
        "--equity",
        "0.0001",
        "--max-drawdown-pct",
        "1",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(s["halt"].as_str().unwrap().starts_with("kill switch: drawdown"), "{s}");
    assert_eq!(s["counters"]["frames"], 150_000, "the engine ran on after the trip");
    check_journal(dir.path(), TripReason::Drawdown);
}

#[test]
fn a_daily_loss_trips_the_taker() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) = run(&[
        "--frames",
        "150000",
        "--rate",
        "300000",
        "--persist",
        &persist,
        "--strategy",
        "taker:cooldown_us=100,threshold_pct=30",
        "--max-daily-loss",
        "0.0001",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(s["halt"].as_str().unwrap().starts_with("kill switch: daily_loss"), "{s}");
    check_journal(dir.path(), TripReason::DailyLoss);
}

#[test]
fn sigusr1_trips_it_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let journal = dir.path().join("journal");
    let child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--duration", "3s", "--json", json.to_str().unwrap()])
        .args(["--persist", &format!("journal:{}", journal.display())])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_200));
    assert!(Command::new("kill").args(["-USR1", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("SIGUSR1: tripping the kill switch"), "{stderr}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(s["halt"].as_str().unwrap().starts_with("kill switch: manual"), "{s}");
    check_journal(&journal, TripReason::Manual);
}
