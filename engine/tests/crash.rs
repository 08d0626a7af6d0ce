//! The engine killed with SIGKILL at random moments, again and again, while it
//! journals and ships to PostgreSQL: afterwards the journal is gapless per stream and
//! the database holds exactly the journal's records (same count, same sequences,
//! same checksum per stream), none twice. What the journal holds is what the engine
//! accepted; a record still in the hot core's ring at the kill was never accepted.
//! (Its own test binary: it takes half a minute of kills.)
#![allow(clippy::disallowed_methods, reason = "kills at wall-clock moments")]

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{database_streams, engine, journal_streams, report::Found};
use persist::journal::JournalReader;

/// Kill rounds (the issue asks for at least 20).
const ROUNDS: u32 = 20;

/// xorshift64: the kill moments, reproducible from the printed seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn an_engine_killed_at_random_moments_loses_and_repeats_nothing() {
    let url = common::fresh_database("engine_crash_db");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let persist = format!("journal:{}", journal.display());

    let mut seed = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64 | 1
    });
    let first_seed = seed;
    eprintln!("kill moments from CRASH_SEED={seed}");
    let (mut killed, mut resumed, mut last_records) = (0u32, 0u32, 0);
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_engine"))
            .args(["run", "--quiet", "--rate", "200000", "--duration", "60s", "--seed"])
            .arg(round.to_string())
            .args(["--persist", &persist, "--db", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Every fourth kill lands in start-up (before or while the journal opens);
        // the others once this round has journaled something, at a random moment
        // after, while it trades and ships.
        let during_start_up = round % 4 == 3;
        let journaled = || JournalReader::open(&journal).map_or(0, |r| r.read_all().map_or(0, |(v, _)| v.len() as u64));
        let exited = |child: &mut std::process::Child| {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
                panic!("round {round}: the engine stopped by itself ({status}): {stderr}");
            }
        };
        if !during_start_up {
            let deadline = Instant::now() + Duration::from_secs(20);
            while journaled() <= last_records {
                assert!(Instant::now() < deadline, "round {round}: nothing journaled in 20 s");
                exited(&mut child);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let after =
            Duration::from_millis(if during_start_up { 20 + next(&mut seed) % 300 } else { next(&mut seed) % 800 });
        let started = Instant::now();
        while started.elapsed() < after {
            exited(&mut child);
            std::thread::sleep(Duration::from_millis(5));
        }
        nix_kill(child.id());
        child.wait().unwrap();
        killed += 1;
        let records = journaled();
        // Each restart went on where the last left off: nothing lost, the numbering
        // gapless (checked below over the whole journal).
        assert!(records >= last_records, "round {round}: the journal shrank from {last_records} to {records}");
        resumed += u32::from(records > last_records && !during_start_up);
        last_records = records;
    }
    assert_eq!(resumed, ROUNDS - ROUNDS / 4, "every round past start-up journaled more");

    // The last kill may leave records not yet shipped: a load ships exactly those.
    let (code, stdout, stderr) = engine(&["journal", "load", journal.to_str().unwrap(), "--db", &url]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (journaled, repeated) = journal_streams(&journal);
    assert_eq!(repeated, 0, "records journaled twice");
    let stored = database_streams(&url);
    assert_eq!(stored, journaled, "per stream (records, distinct sequences, checksum): database vs journal");
    let total: i64 = journaled.values().map(|s| s.0).sum();
    let in_db: i64 = stored.values().map(|s| s.0).sum();
    let distinct: i64 = stored.values().map(|s| s.1).sum();
    assert!(total > 10_000, "too little was journaled to mean anything: {total}");
    Found {
        injected: u64::from(killed),
        recovered: u64::from(resumed),
        expected: Some(total as u64),
        journal: Some(total as u64),
        database: Some(in_db as u64),
        duplicates: Some((in_db - distinct) as u64),
        note: format!("kill -9 x{killed} (CRASH_SEED={first_seed}); checksums per stream agree"),
    }
    .report();
}

/// SIGKILL, the signal that leaves no chance to flush.
fn nix_kill(pid: u32) {
    let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -9 {pid}");
}
