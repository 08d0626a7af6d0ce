//! The database goes away under a running engine: stopped for 30 s, then killed with
//! SIGKILL. Trading and journaling carry on; the engine reports each outage, backfills
//! from the journal when the database is back, and at the end the database holds
//! exactly the journal's records, per stream, none twice. (Its own test binary: it
//! restarts the shared test cluster, which no other test may see.)
#![allow(clippy::disallowed_methods, reason = "a test of wall-clock outages")]

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{database_streams, journal_streams, report::Found};

/// `scripts/pg.sh KIND SECONDS` on a thread: stop (or SIGKILL) the cluster, wait, start it.
fn fault(kind: &'static str, seconds: u64) -> std::thread::JoinHandle<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");
    std::thread::spawn(move || {
        let status = Command::new(script).args([kind, &seconds.to_string()]).status().unwrap();
        assert!(status.success(), "pg.sh {kind} {seconds}");
    })
}

#[test]
fn a_database_stopped_for_30_s_then_killed_is_backfilled_exactly_once() {
    let url = common::fresh_database("engine_outage_db");
    let var = |k: &str| std::env::var(k).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let json = dir.path().join("run.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--rate", "20000", "--duration", "120s", "--json", json.to_str().unwrap()])
        .args(["--persist", &format!("journal:{}", journal.display()), "--db", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The engine's stderr, line by line, as it comes.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let password = var("PGPASSWORD");
    let mut seen = Vec::new();
    let mut wait_for = |text: &str| {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !seen.iter().any(|l: &String| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    assert!(!line.contains(&password), "the password leaked: {line}");
                    seen.push(line);
                }
                Err(_) => panic!("no `{text}` from the engine within 40 s: {seen:?}"),
            }
        }
        seen.retain(|l| !l.contains(text));
    };
    std::thread::sleep(Duration::from_secs(3));
    fault("down", 30).join().unwrap();
    wait_for("database down:");
    wait_for("database back: backfilled");
    fault("crash", 2).join().unwrap();
    wait_for("database down:");
    wait_for("database back: backfilled");
    // Trading on for a moment with the database up, then an orderly stop.
    std::thread::sleep(Duration::from_secs(2));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    reader.join().unwrap();
    let rest: Vec<String> = lines.try_iter().collect();
    assert_eq!(code, Some(0), "{rest:?}");
    assert!(!rest.iter().any(|l| l.contains("database") || l.contains(&password)), "{rest:?}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(!summary.to_string().contains(&var("PGPASSWORD")), "the password leaked: {summary}");
    assert_eq!(summary["db"]["outages"], 2, "{summary}");
    assert_eq!(summary["db"]["behind_at_exit"], false, "caught up before exit: {summary}");
    assert_eq!(summary["db"]["shipped"], summary["journaled"], "{summary}");

    let (journaled, repeated) = journal_streams(&journal);
    assert_eq!(repeated, 0);
    let stored = database_streams(&url);
    assert_eq!(stored, journaled, "per stream (records, distinct sequences, checksum): database vs journal");
    let total: i64 = journaled.values().map(|s| s.0).sum();
    let in_db: i64 = stored.values().map(|s| s.0).sum();
    let distinct: i64 = stored.values().map(|s| s.1).sum();
    Found {
        injected: 2,
        recovered: 2,
        expected: summary["journaled"].as_u64(),
        journal: Some(total as u64),
        database: Some(in_db as u64),
        duplicates: Some((in_db - distinct) as u64),
        note: "stopped 30 s, then kill -9: trading went on, both reported and backfilled; checksums agree".into(),
    }
    .report();
}
