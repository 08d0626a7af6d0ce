//! Capture and replay: a live run recorded with --record, replayed twice, gives
//! byte-identical journals, and both equal the live run's own journal, because
//! every decision runs on event time.

use std::{path::Path, process::Command};

use persist::{Record, journal::JournalReader};

fn engine(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_engine")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn records(dir: &Path) -> Vec<Record> {
    JournalReader::open(dir).unwrap().read_all().unwrap().0
}

#[test]
fn replays_of_a_capture_are_identical_to_each_other_and_to_the_live_run() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("run.cap");
    let journal = |name: &str| dir.path().join(name);
    let persist = |name: &str| format!("journal:{}", journal(name).display());
    let common = ["--quiet", "--symbols", "BTCUSDT,ETHUSDT", "--strategy", "mm:backoff_us=50"];
    let mut live = vec!["run", "--frames", "120000", "--rate", "300000", "--sim-gap-every", "4000", "--seed", "9"];
    live.extend_from_slice(&common);
    let live_persist = persist("live");
    live.extend_from_slice(&["--persist", &live_persist, "--record", capture.to_str().unwrap()]);
    let (code, _, stderr) = engine(&live);
    assert_eq!(code, Some(0), "{stderr}");

    for name in ["replay1", "replay2"] {
        let p = persist(name);
        let mut args = vec!["replay", capture.to_str().unwrap(), "--persist", &p];
        args.extend_from_slice(&common);
        let (code, stdout, stderr) = engine(&args);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
        assert!(stdout.contains("frames 120000 "), "{stdout}");
    }
    let (live, one, two) = (records(&journal("live")), records(&journal("replay1")), records(&journal("replay2")));
    let orders = one.iter().filter(|r| r.kind() == Some(persist::RecordKind::Order)).count();
    let fills = one.iter().filter(|r| r.kind() == Some(persist::RecordKind::Fill)).count();
    assert!(orders > 200 && fills > 20, "{orders} order events, {fills} fills: too quiet to prove anything");
    assert!(one == two, "two replays of one capture differ");
    assert!(live == one, "the replay differs from the live run it recorded");
}

#[test]
fn a_damaged_or_foreign_capture_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cap");
    std::fs::write(&bad, b"not a capture").unwrap();
    let (code, _, stderr) = engine(&["replay", bad.to_str().unwrap(), "--persist", "none", "--quiet"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a capture file"), "{stderr}");
    let (code, _, stderr) = engine(&["replay", "/nonexistent.cap", "--quiet", "--persist", "none"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/nonexistent.cap"), "{stderr}");

    // A capture cut short mid-record replays what it holds and says where it ends.
    let cap = dir.path().join("cut.cap");
    let (code, _, stderr) =
        engine(&["run", "--quiet", "--frames", "5000", "--persist", "none", "--record", cap.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let bytes = std::fs::read(&cap).unwrap();
    std::fs::write(&cap, &bytes[..bytes.len() - 7]).unwrap();
    let (code, stdout, stderr) = engine(&["replay", cap.to_str().unwrap(), "--persist", "none", "--quiet"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("replay ended early: capture cut short"), "{stderr}");
    assert!(stdout.contains("frames 4999 "), "{stdout}");
}

/// A capture names the dialect it was recorded in: replayed as another venue's, it
/// is refused at start with the flag that would read it, rather than decode to
/// nothing but errors; replayed in its own dialect it runs.
#[test]
fn a_capture_replayed_in_another_dialect_is_refused_naming_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("okx.cap");
    let cap = capture.to_str().unwrap();
    let record = ["run", "--dialect", "okx", "--frames", "20000", "--rate", "0", "--persist", "none", "--quiet"];
    let (code, _, stderr) = engine(&[&record[..], &["--record", cap]].concat());
    assert_eq!(code, Some(0), "{stderr}");

    let (code, _, stderr) = engine(&["replay", cap, "--persist", "none", "--quiet"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("recorded from okx frames") && stderr.contains("--dialect okx"), "{stderr}");

    let (code, stdout, stderr) = engine(&["replay", cap, "--dialect", "okx", "--persist", "none"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("frames 20000 ") && stdout.contains("decode errors 0 "), "{stdout}");
}
