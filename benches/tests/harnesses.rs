//! Every benchmark harness runs one quick round end to end and writes the JSON its
//! README command promises, with a number for every candidate it compares. This
//! checks that each harness works and measures what it names, not its numbers: the
//! test profile is far from the release build the README's figures come from.
//!
//! Building the harnesses here, with the other tests, is also what keeps CI short:
//! they share one build instead of a second pass of their own.

use benches::journal_io::Method;
use serde_json::Value;
use std::process::Command;

/// Runs a harness with `ARGS --json FILE` and returns the JSON it wrote. The
/// harnesses pin both cores and spin, so they take turns.
fn run(exe: &str, args: &[&str]) -> Value {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let out = Command::new(exe).args(args).arg("--json").arg(&json).output().unwrap();
    assert!(
        out.status.success(),
        "{exe} {args:?} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

fn positive(v: &Value, what: &str) -> f64 {
    let x = v.as_f64().unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x > 0.0 && x.is_finite(), "{what} = {x}");
    x
}

#[test]
fn ring_bench_measures_every_ring_against_rtrb() {
    let json = run(env!("CARGO_BIN_EXE_ring-bench"), &["--quick", "--rounds", "1"]);
    let names =
        ["pingpong", "spsc", "shm", "broadcast1", "broadcast2", "rtrb", "crossbeam_array_queue", "std_sync_channel"];
    for name in names {
        positive(&json["candidates"][name]["p50_ns"], &format!("{name} p50"));
    }
    for name in &names[1..] {
        for mode in ["mps_8b", "mps_64b"] {
            positive(&json["candidates"][name][mode], &format!("{name} {mode}"));
        }
    }
    assert!(json["candidates"]["pingpong"]["mps_8b"].is_null(), "the ping-pong has no throughput mode");
}

#[test]
fn parse_bench_runs_every_parser_on_every_set() {
    let json = run(env!("CARGO_BIN_EXE_parse-bench"), &["--quick", "--rounds", "1"]);
    for set in ["binance_mix", "binance_depth", "binance_trade", "coinbase", "kraken", "bybit", "okx"] {
        for candidate in ["ours", "serde_json", "simd_json", "sonic_rs"] {
            let row = &json["sets"][set][candidate];
            positive(&row["mb_s"], &format!("{set} {candidate} MB/s"));
            positive(&row["msgs_s"], &format!("{set} {candidate} msgs/s"));
            positive(&row["vs_serde_json"], &format!("{set} {candidate} vs serde_json"));
            positive(&row["vs_sonic_rs"], &format!("{set} {candidate} vs sonic-rs"));
        }
        assert_eq!(json["sets"][set]["ours"]["allocs_per_msg"], 0.0, "{set}: our parser allocated");
        // Within each round a peer's time over its own is exactly 1.
        assert_eq!(json["sets"][set]["serde_json"]["vs_serde_json"], 1.0, "{set}");
        assert_eq!(json["sets"][set]["sonic_rs"]["vs_sonic_rs"], 1.0, "{set}");
    }
}

#[test]
fn ingest_bench_loads_rows_by_every_method_and_times_the_journal() {
    let json = run(env!("CARGO_BIN_EXE_ingest-bench"), &["--quick", "--rounds", "1"]);
    for method in ["ours", "text_copy", "generic_binary_copy"] {
        positive(&json["methods"][method]["rows_s"], &format!("{method} rows/s"));
        positive(&json["methods"][method]["client_us_per_row"], &format!("{method} client µs/row"));
    }
    let journal = json["journal"].as_object().expect("a journal table");
    assert!(!journal.is_empty(), "no batch size measured");
    for (batch, row) in journal {
        positive(&row["ours_mb_s"], &format!("journal {batch} B"));
        positive(&row["raw_write_fdatasync_mb_s"], &format!("raw write {batch} B"));
        // The io_uring methods are measured wherever the host allows io_uring, and
        // reported as null (with the reason on stdout) only where it does not.
        for method in [Method::IoUring, Method::GlommioDma] {
            let rate = &row[format!("{}_mb_s", method.name())];
            match method.unavailable() {
                None => _ = positive(rate, &format!("{} {batch} B", method.name())),
                Some(why) => assert!(rate.is_null(), "{} is unavailable ({why}) but measured", method.name()),
            }
        }
    }
}

#[test]
fn persist_cost_compares_the_hot_path_with_persistence_on_and_off() {
    let json = run(env!("CARGO_BIN_EXE_persist-cost"), &["--rounds", "1", "--seconds", "1"]);
    let variants = json.as_object().expect("one row per variant");
    assert!(variants.len() >= 2, "{json}");
    for (name, row) in variants {
        positive(&row["p99_ns"], &format!("{name} p99"));
        positive(&row["p99_ratio_vs_off"], &format!("{name} p99 ratio"));
    }
}

#[test]
fn risk_bench_times_our_checks_and_the_naive_ones() {
    let json = run(env!("CARGO_BIN_EXE_risk-bench"), &["--quick"]);
    for side in ["ours", "naive"] {
        positive(&json[side]["p50_ns"], &format!("{side} p50"));
        positive(&json[side]["checks_per_s"], &format!("{side} checks/s"));
    }
}

#[test]
fn order_bench_times_our_order_path_and_the_baseline() {
    let json = run(env!("CARGO_BIN_EXE_order-bench"), &["--quick"]);
    for side in ["ours", "baseline"] {
        positive(&json[side]["oms_p50_ns"], &format!("{side} OMS p50"));
        positive(&json[side]["route_p50_ns"], &format!("{side} route p50"));
        positive(&json[side]["orders_per_s"], &format!("{side} orders/s"));
    }
}

#[test]
fn kill_bench_times_the_cancel_all() {
    let json = run(env!("CARGO_BIN_EXE_kill-bench"), &["--quick"]);
    positive(&json["p50_ns"], "cancel-all p50");
    positive(&json["cancels_per_trip"], "cancels per trip");
    assert!(json["max_ns"].as_f64() >= json["p50_ns"].as_f64(), "{json}");
}

#[test]
fn reconnect_bench_times_each_recovery_after_a_drop() {
    let json = run(env!("CARGO_BIN_EXE_reconnect-bench"), &["--seconds", "3", "--rate", "5000"]);
    assert!(json["drops"].as_u64().unwrap_or(0) >= 1, "{json}");
    for stage in ["connected_again", "first_market_event", "every_book_resynced"] {
        positive(&json[stage]["max_ns"], &format!("{stage} max"));
        assert!(json[stage]["p50_ns"].as_f64() <= json[stage]["max_ns"].as_f64(), "{json}");
    }
}
