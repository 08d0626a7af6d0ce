//! The kill switch trips by itself and by hand: trading halts, working orders are
//! cancelled, the trip is journaled with its reason, no order leaves after it, the
//! engine runs on (books, status) until stopped, and the exit code says it tripped.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

mod common;

use common::{engine, run};
use engine::{oms::OrderState, risk::TripReason};
use persist::{Fields, RecordKind, journal::JournalReader, record::RiskFields};

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
    assert_eq!(common::unfinished_orders(&records), [], "orders left working after the trip");
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
        // With almost no equity, 2% of it allows no position at all.
        "--max-position-equity-bps",
        "0",
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

/// A venue that starts rejecting every order (a rejects storm). The circuit breaker
/// opens after its streak and refuses orders locally: the venue sees a handful of
/// rejects, each refusal is audited as `venue_circuit_open`, and after every cool-down
/// one probe is let through (and rejected, so it re-opens).
#[test]
fn a_rejects_storm_opens_the_venue_circuit_breaker() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let args = ["--duration", "2s", "--persist", &persist, "--inject-fault", "venue-rejects-after=200"];
    let (code, s, stderr) = run(&[&args[..], &["--breaker-failures", "4", "--breaker-cooldown", "400ms"]].concat());
    assert_eq!(code, Some(0), "the breaker kept the reject rate under the kill switch's: {stderr}");
    let opened = s["venue_breaker"]["times_opened"].as_u64().unwrap();
    // Opened by the streak, then re-opened by one failed probe per 400 ms cool-down.
    assert!((2..=6).contains(&opened), "{s}");
    let venue_rejects = s["counters"]["venue_rejects"].as_u64().unwrap();
    // 4 to open it and one failed probe per re-opening; orders of one batch are all
    // sent before their reports come back (as with a real venue), so the streak can
    // overshoot by the batch.
    assert!((3 + opened..=3 + opened + 4).contains(&venue_rejects), "{s}");
    let refused = s["risk_rejects"]["venue_circuit_open"].as_u64().unwrap();
    assert!(refused > 100, "the strategy kept trying, the breaker refused locally: {s}");
    let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    let audited = records
        .iter()
        .filter(|r| r.kind() == Some(RecordKind::Risk) && r.code == engine::risk::Reject::VenueCircuitOpen.code())
        .count();
    assert_eq!(audited as u64, refused, "every refusal is in the journal");
    common::report::Found {
        note: format!("breaker opened {opened}x, {refused} orders refused locally, exit 0"),
        ..common::journaled_row(dir.path(), &s, venue_rejects, opened)
    }
    .report();
}

/// The storm again, with a cool-down longer than the venue-down limit: the only
/// venue's circuit stays open, nothing can trade there, and after --max-venue-down the
/// kill switch trips with its own reason, audited, every order finished.
#[test]
fn a_venue_whose_circuit_stays_open_trips_the_kill_switch() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) = run(&[
        "--duration",
        "3s",
        "--persist",
        &persist,
        "--inject-fault",
        "venue-rejects-after=200",
        "--breaker-failures",
        "4",
        "--breaker-cooldown",
        "60s",
        "--max-venue-down",
        "300ms",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(s["halt"].as_str().unwrap().starts_with("kill switch: venue_down"), "{s}");
    assert_eq!(s["venue_breaker"]["times_opened"], 1, "{s}");
    check_journal(dir.path(), TripReason::VenueDown);
}

/// The same storm with the breaker switched off: the reject rate trips the kill switch.
#[test]
fn a_rejects_storm_without_a_breaker_trips_the_kill_switch() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) = run(&[
        "--duration",
        "3s",
        "--persist",
        &persist,
        "--inject-fault",
        "venue-rejects-after=200",
        "--breaker-failures",
        "0",
        "--breaker-failure-rate-pct",
        "0",
        "--max-rejects-per-sec",
        "100",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(s["halt"].as_str().unwrap().starts_with("kill switch: reject_rate"), "{s}");
    assert_eq!(s["venue_breaker"]["times_opened"], 0);
    check_journal(dir.path(), TripReason::RejectRate);
    common::report::Found {
        note: "kill switch tripped (reject_rate), orders cancelled, exit 3".into(),
        ..common::journaled_row(dir.path(), &s, s["counters"]["venue_rejects"].as_u64().unwrap(), 0)
    }
    .report();
}

/// SIGHUP re-reads the `--config` file and reconfigures the running venue breaker:
/// the storm starts with the breaker off (the venue takes every reject); after the
/// reload it opens.
#[test]
fn sighup_reloads_the_venue_breaker_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (json, config) = (dir.path().join("run.json"), dir.path().join("engine.toml"));
    std::fs::write(&config, "breaker_failures = 0\nbreaker_failure_rate_pct = 0\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--duration", "3s", "--persist", "none", "--json", json.to_str().unwrap()])
        .args(["--config", config.to_str().unwrap(), "--max-rejects-per-sec", "0"])
        .args(["--inject-fault", "venue-rejects-after=100"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_200));
    std::fs::write(&config, "breaker_failures = 3\nbreaker_failure_rate_pct = 0\nbreaker_cooldown = \"10s\"\n")
        .unwrap();
    assert!(Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGHUP: venue circuit breaker reloaded"), "{stderr}");
    assert!(stderr.contains("consecutive_failures: 3") && stderr.contains("cool_down_ns: 10000000000"), "{stderr}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(s["venue_breaker"]["times_opened"], 1, "opened once after the reload, then cooling down: {s}");
    assert_eq!(s["venue_breaker"]["state"], "Open");
    assert!(s["counters"]["venue_rejects"].as_u64().unwrap() > 100, "before the reload the venue took them: {s}");
    assert!(s["risk_rejects"]["venue_circuit_open"].as_u64().unwrap() > 100, "after it, refused locally: {s}");
}

/// An operator trips the kill switch through the control file (`engine kill
/// --control`), then re-arms it with the standard plan (`engine rearm`): trading
/// resumes reduce-only, both steps are journaled in order, and a re-arm with nothing
/// tripped is refused and counted.
#[test]
fn the_control_file_kills_and_a_standard_rearm_resumes_reduce_only() {
    let dir = tempfile::tempdir().unwrap();
    let (json, journal, control) = (dir.path().join("run.json"), dir.path().join("journal"), dir.path().join("ctl"));
    let control_arg = control.to_str().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--duration", "4s", "--json", json.to_str().unwrap()])
        .args(["--persist", &format!("journal:{}", journal.display()), "--control", control_arg])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let (code, out, err) = engine(&["rearm", "--control", control_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("wrote `rearm standard`"), "{out}");
    std::thread::sleep(Duration::from_millis(700));
    assert!(!control.exists(), "the engine took the command");
    let (code, _, err) = engine(&["kill", "--control", control_arg]);
    assert_eq!(code, Some(0), "{err}");
    std::thread::sleep(Duration::from_millis(700));
    let (code, _, err) = engine(&["rearm", "--control", control_arg, "--plan", "standard"]);
    assert_eq!(code, Some(0), "{err}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "re-armed, so the run ends armed: {stderr}");
    assert!(stderr.contains("control file") && stderr.contains(": kill"), "{stderr}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!((s["counters"]["rearms"].as_u64(), s["counters"]["rearms_refused"].as_u64()), (Some(1), Some(1)), "{s}");
    assert!(s["halt"].is_null(), "{s}");
    assert!(s["risk_rejects"]["reduce_only"].as_u64().unwrap() > 0, "reduce-only after the re-arm: {s}");

    let (records, _) = JournalReader::open(&journal).unwrap().read_all().unwrap();
    let risk: Vec<_> = records.iter().filter(|r| r.kind() == Some(RecordKind::Risk)).collect();
    let trip = risk.iter().position(|r| r.code == TripReason::Manual as u16).expect("the trip is journaled");
    let rearm = risk.iter().position(|r| r.code == engine::risk::RearmPlan::Standard as u16).expect("so is the re-arm");
    assert!(trip < rearm);
    // Between the trip and the re-arm nothing was accepted; after it, only reducing orders.
    assert!(risk[trip + 1..rearm].iter().all(|r| r.code != 0), "an order accepted while halted");
    let reduce_only = engine::risk::Reject::ReduceOnly.code();
    assert!(risk[rearm + 1..].iter().any(|r| r.code == reduce_only), "no reduce-only rejection after the re-arm");
}

#[test]
fn engine_kill_refuses_a_process_that_is_not_an_engine() {
    let (code, _, err) = engine(&["kill", &std::process::id().to_string()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not an engine: no signal sent"), "{err}");
    let (code, _, err) = engine(&["kill", "999999999"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = engine(&["rearm", "--control", "/nonexistent/dir/ctl"]);
    assert_eq!(code, Some(2), "{err}");
}

/// `engine kill PID` against a running engine: the same as SIGUSR1.
#[test]
fn engine_kill_by_pid_trips_a_running_engine() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--duration", "2s", "--persist", "none", "--json", json.to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let (code, out, err) = engine(&["kill", &child.id().to_string()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("sent SIGUSR1"), "{out}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(s["halt"].as_str().unwrap().starts_with("kill switch: manual"), "{s}");
}

/// `--flatten-on-trip`: after the trip's cancels, every open position is closed with
/// an IOC at the touch, checked as reduce-only though trading is halted.
#[test]
fn flatten_on_trip_closes_positions_after_cancelling() {
    use persist::record::PositionFields;
    // The taker holds a position most of the time, but can be flat at the moment of
    // the trip: then there is nothing to flatten, and the run is tried again.
    for attempt in 1..=3 {
        let dir = tempfile::tempdir().unwrap();
        let (json, journal) = (dir.path().join("run.json"), dir.path().join("journal"));
        let child = Command::new(env!("CARGO_BIN_EXE_engine"))
            .args(["run", "--quiet", "--duration", "2s", "--json", json.to_str().unwrap(), "--flatten-on-trip"])
            .args(["--persist", &format!("journal:{}", journal.display()), "--strategy", "taker:threshold_pct=30"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1_200));
        assert!(Command::new("kill").args(["-USR1", &child.id().to_string()]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let (records, _) = JournalReader::open(&journal).unwrap().read_all().unwrap();
        let trip = records
            .iter()
            .find(|r| r.kind() == Some(RecordKind::Risk) && r.code == TripReason::Manual as u16)
            .expect("the trip is journaled");
        let net_at = |before_seq: u64| {
            records
                .iter()
                .rev()
                .find(|r| r.kind() == Some(RecordKind::Position) && r.seq < before_seq)
                .map_or(0i64, |r| PositionFields::from_record(r).unwrap().net_qty)
        };
        let (before, after) = (net_at(trip.seq), net_at(u64::MAX));
        if before == 0 && attempt < 3 {
            continue;
        }
        assert_ne!(before, 0, "the taker held a position when the switch tripped, in one of 3 runs: {s}");
        assert!(s["counters"]["flatten_orders"].as_u64().unwrap() >= 1, "{s}");
        assert!(after.abs() < before.abs(), "flattening shrank the position: {before} -> {after}: {s}");
        // Nothing but the flattening IOCs left after the trip, each reducing.
        let accepted_after =
            records.iter().filter(|r| r.seq > trip.seq && r.kind() == Some(RecordKind::Risk) && r.code == 0).count()
                as u64;
        assert_eq!(accepted_after, s["counters"]["flatten_orders"].as_u64().unwrap(), "{s}");
        return;
    }
}

/// More messages per second than allowed trips the kill switch (`message_rate`).
#[test]
fn a_message_rate_breach_trips_the_kill_switch() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) = run(&["--duration", "2s", "--persist", &persist, "--max-messages-per-sec", "50"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(s["halt"].as_str().unwrap().starts_with("kill switch: message_rate (limit 50, observed 51)"), "{s}");
    check_journal(dir.path(), TripReason::MessageRate);
}

/// A cancel over the cancel rate waits for a token; it is never dropped, so no order
/// is left working that its strategy forgot (the journal's last word on every order
/// is terminal once the run ends).
#[test]
fn throttled_cancels_are_deferred_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let persist = format!("journal:{}", journal.display());
    // Quotes pile up while their cancels wait, and the position check counts them all
    // as if filled (`position_limit` rejects): keep the reject-storm trip out of it.
    let args = ["--duration", "2s", "--persist", &persist, "--cancels-per-sec", "20", "--max-rejects-per-sec", "0"];
    let (code, s, stderr) = run(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(s["counters"]["cancels_deferred"].as_u64().unwrap() > 100, "{s}");
    let (records, _) = JournalReader::open(&journal).unwrap().read_all().unwrap();
    assert_eq!(s["gateway"]["lost_answers"], 0, "the venue's answers all arrived: {s}");
    assert_eq!(common::unfinished_orders(&records), [], "orders left working: {s}");
}

/// `--self-trade cancel-resting`: an order that would cross one of our own resting
/// orders cancels that order first and is then checked and sent. Replaying the
/// journal shows the invariant both modes keep: no order is ever sent while one of
/// our own orders it would cross is still working and not being cancelled.
#[test]
fn self_trades_are_prevented_by_cancelling_the_resting_order() {
    for mode in ["reject", "cancel-resting"] {
        let dir = tempfile::tempdir().unwrap();
        let persist = format!("journal:{}", dir.path().display());
        let args = [
            "--duration",
            "2s",
            "--persist",
            &persist,
            "--cancels-per-sec",
            "20",
            "--max-rejects-per-sec",
            "0",
            "--self-trade",
            mode,
        ];
        let (code, s, stderr) = run(&args);
        assert_eq!(code, Some(0), "{stderr}");
        let cancels = s["counters"]["self_trade_cancels"].as_u64().unwrap();
        if mode == "reject" {
            assert_eq!(cancels, 0, "{s}");
            assert!(s["risk_rejects"]["self_trade"].as_u64().unwrap() > 0, "{s}");
        } else {
            assert!(cancels > 0, "{s}");
        }
        let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
        // client id → (instrument, side, price, state)
        let mut orders: std::collections::HashMap<i64, (u32, i64, i64, u16)> = Default::default();
        let working =
            [OrderState::Submitted, OrderState::Accepted, OrderState::PartiallyFilled, OrderState::PendingUpdate]
                .map(|s| s as u16);
        let (mut sent, mut sent_past_cancels) = (0, 0);
        for r in records.iter().filter(|r| r.kind() == Some(RecordKind::Order)) {
            let (id, side, price) = (r.fields[0], r.fields[1], r.fields[2]);
            if r.code == OrderState::Submitted as u16 {
                sent += 1;
                let crossing = orders.iter().find(|(other, (instrument, other_side, other_price, state))| {
                    **other != id
                        && *instrument == r.instrument
                        && *other_side != side
                        && working.contains(state)
                        && if side == 1 { *other_price <= price } else { *other_price >= price }
                });
                assert!(crossing.is_none(), "{mode}: order {id} sent across our own {crossing:?}");
                // Sent while an order of ours it crosses is being cancelled.
                sent_past_cancels +=
                    usize::from(orders.iter().any(|(other, (instrument, other_side, other_price, state))| {
                        *other != id
                            && *instrument == r.instrument
                            && *other_side != side
                            && *state == OrderState::PendingCancel as u16
                            && if side == 1 { *other_price <= price } else { *other_price >= price }
                    }));
            }
            orders.insert(id, (r.instrument, side, price, r.code));
        }
        assert!(sent > 100, "{mode}: {sent} orders sent");
        if mode == "cancel-resting" {
            assert!(sent_past_cancels > 0, "no order went out after its crossing orders' cancels");
        }
    }
}

/// A slow simulated venue (acks 1 ms late, fills 2 ms late, 2% of orders rejected at
/// random): answers cross requests as a real venue's do, and still every order in the
/// journal finishes and no answer is refused by the OMS.
#[test]
fn a_slow_simulated_venue_leaves_nothing_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let (code, s, stderr) = run(&[
        "--frames",
        "200000",
        "--persist",
        &persist,
        "--sim-ack-latency",
        "1ms",
        "--sim-fill-latency",
        "2ms",
        "--sim-reject-ppm",
        "20000",
        "--self-trade",
        "cancel-resting",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(s["counters"]["venue_rejects"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["counters"]["oms_errors"], 0, "{s}");
    assert_eq!(s["oms"]["bad_transitions"], 0, "{s}");
    let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    assert_eq!(common::unfinished_orders(&records), [], "unfinished orders");
}
