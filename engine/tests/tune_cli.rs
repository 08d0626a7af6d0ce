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
