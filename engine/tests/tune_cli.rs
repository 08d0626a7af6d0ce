//! `engine tune` as a user runs it: the real binary, on this machine and on fixtures.

use std::process::{Command, Output};

fn engine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_engine")).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A host with nothing tuned and a powersave governor on CPUs 1-3.
fn untuned_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, format!("{text}\n")).unwrap();
    };
    write("proc/cmdline", "root=/dev/sda1 quiet");
    write("proc/cpuinfo", "flags\t\t: fpu tsc constant_tsc nonstop_tsc");
    write("sys/devices/system/cpu/isolated", "");
    write("sys/devices/system/cpu/online", "0-3");
    for cpu in 1..4 {
        write(&format!("sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"), "powersave");
    }
    write("proc/sys/kernel/timer_migration", "1");
    dir
}

#[test]
fn check_on_this_machine_completes_with_exit_0() {
    let out = engine(&["tune", "check"]);
    assert!(out.status.success(), "{}", text(&out));
    let table = text(&out);
    assert!(table.contains("isolated_cores") && table.contains("clocksource"), "{table}");
    assert!(table.lines().last().unwrap().ends_with("n/a"), "summary line last: {table}");
}

#[test]
fn check_json_is_an_array_of_the_promised_objects() {
    let out = engine(&["tune", "check", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json.as_array().unwrap();
    assert!(rows.len() >= 22);
    for row in rows {
        let keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6, "{row}");
        for key in ["check", "status", "found", "want", "why", "fix"] {
            assert!(keys.contains(&key), "{key} missing in {row}");
        }
        assert!(["ok", "warn", "fail", "n/a"].contains(&row["status"].as_str().unwrap()), "{row}");
    }
}

#[test]
fn strict_exits_non_zero_when_a_check_fails() {
    let root = untuned_fixture();
    let root = root.path().to_str().unwrap();
    let relaxed = engine(&["tune", "check", "--root", root, "--cores", "2,3"]);
    assert!(relaxed.status.success(), "{}", text(&relaxed));
    assert!(text(&relaxed).contains("fail   governor"), "{}", text(&relaxed));
    let strict = engine(&["tune", "check", "--root", root, "--cores", "2,3", "--strict"]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict));
}

#[test]
fn apply_dry_run_prints_commands_and_changes_nothing() {
    let root = untuned_fixture();
    let path = root.path().to_str().unwrap();
    let out = engine(&["tune", "apply", "--dry-run", "--root", path, "--cores", "2-3"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    assert!(printed.contains("echo performance > /sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"), "{printed}");
    assert!(printed.contains("echo 0 > /proc/sys/kernel/timer_migration"), "{printed}");
    assert!(printed.contains("# add to the kernel command line, then reboot: nohz_full=2-3"), "{printed}");
    let governor =
        std::fs::read_to_string(root.path().join("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor")).unwrap();
    assert_eq!(governor.trim(), "powersave");

    let out = engine(&["tune", "apply", "--root", path, "--cores", "2-3"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ok      echo performance > /sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"));
    let governor =
        std::fs::read_to_string(root.path().join("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor")).unwrap();
    assert_eq!(governor.trim(), "performance");
}

#[test]
fn bad_flags_get_a_clear_message_and_exit_2() {
    let out = engine(&["tune", "check", "--cores", "3-1"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out).trim(), "error: --cores: invalid CPU list \"3-1\": expected numbers and ranges like 0-3,8");

    let out = engine(&["tune", "check", "--cores", "4095"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).starts_with("error: --cores: CPU 4095 is not available to this process (available: "),
        "{}",
        text(&out)
    );

    let out = engine(&["tune", "check", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("unexpected argument '--frobnicate'"), "{}", text(&out));

    let out = engine(&["tune", "check", "--help"]);
    assert!(out.status.success());
    assert!(text(&out).contains("every CPU this process may use except CPU 0"), "{}", text(&out));
}

#[test]
fn jitter_json_reports_each_cpu_with_consistent_figures() {
    let out = engine(&["tune", "jitter", "--duration", "200ms", "--json", "--rates", "100000,1000000"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpus = json.as_array().unwrap();
    assert!(!cpus.is_empty());
    for cpu in cpus {
        assert!(cpu["duration_ns"].as_u64().unwrap() >= 200_000_000, "{cpu}");
        assert_eq!(cpu["threshold_ns"], 1_000);
        let lost = cpu["lost_fraction"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&lost), "{cpu}");
        let hiccups = cpu["hiccups"].as_u64().unwrap();
        let length = &cpu["length_ns"];
        let rising = |p: &serde_json::Value| {
            let v: Vec<u64> = ["p50", "p90", "p99", "p999", "p9999", "max"].map(|k| p[k].as_u64().unwrap()).into();
            v.windows(2).all(|w| w[0] <= w[1])
        };
        assert!(rising(length), "{cpu}");
        assert!(hiccups == 0 || length["max"].as_u64().unwrap() > 1_000, "{cpu}");
        let paced = cpu["paced"].as_array().unwrap();
        assert_eq!(paced.len(), 2);
        for (p, rate) in paced.iter().zip([100_000u64, 1_000_000]) {
            assert_eq!(p["rate"], rate);
            // Frames due every 1/rate over at least the 200 ms spun.
            assert!(p["frames"].as_u64().unwrap() >= rate / 5, "{p}");
            assert!(p["delayed"].as_u64().unwrap() <= p["frames"].as_u64().unwrap(), "{p}");
            assert!(rising(&p["delay_ns"]), "{p}");
            // No frame waits longer than the longest hiccup.
            assert!(p["delay_ns"]["max"].as_u64().unwrap() <= length["max"].as_u64().unwrap(), "{p}");
        }
    }
}

#[test]
fn jitter_table_and_its_flag_errors() {
    let out = engine(&["tune", "jitter", "--duration", "100ms", "--cores", "0"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("CPU 0: spun "), "{stdout}");
    for line in ["hiccup length", "100000/s", "500000/s", "1000000/s"] {
        assert!(stdout.contains(line), "{line} missing: {stdout}");
    }

    let out = engine(&["tune", "jitter", "--cores", "4095"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).starts_with("error: --cores: CPU 4095 is not available"), "{}", text(&out));
    let out = engine(&["tune", "jitter", "--threshold-ns", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--threshold-ns"), "{}", text(&out));
    let out = engine(&["tune", "jitter", "--duration", "0s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("must be longer than zero"), "{}", text(&out));
}
