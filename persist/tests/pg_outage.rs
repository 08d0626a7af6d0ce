//! The database going away under the shipper: stopped for a while, then killed with
//! SIGKILL (crash recovery). The journal keeps growing meanwhile; afterwards the
//! database holds exactly the journal's records: none lost, none twice. (Its own test
//! binary: it restarts the shared test cluster, which no other test may see.)

#![allow(clippy::disallowed_methods, reason = "a test of wall-clock outages and backoff")]

mod pg_common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use persist::{
    journal::{FsyncPolicy, Journal, JournalOptions},
    pg::{ShipStatus, Shipper},
};
use pg_common::{fresh_database, records, sink, table_counts};

fn fault(kind: &str) -> std::thread::JoinHandle<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");
    let kind = kind.to_owned();
    std::thread::spawn(move || {
        let status = Command::new(script).args([&kind, "2"]).status().unwrap();
        assert!(status.success(), "pg.sh {kind}");
    })
}

#[test]
fn outages_are_ridden_out_and_backfilled_exactly_once() {
    let url = fresh_database("pg_outage");
    let dir = tempfile::tempdir().unwrap();
    let options = JournalOptions { fsync: FsyncPolicy::Never, segment_bytes: 4 << 20 };
    let (mut journal, _) = Journal::open(dir.path(), options).unwrap();
    let mut shipper = Shipper::new(Some(url.clone()), dir.path().to_path_buf());
    let ts0 = 1_795_000_000_000_000_000;
    let mut seq = 1;
    let mut append = |journal: &mut Journal, steps: u64| {
        let batch = records(seq, steps, ts0 + seq * 1_000);
        seq += batch.len() as u64;
        journal.append(&batch).unwrap();
    };
    append(&mut journal, 2_000);
    assert_eq!(shipper.poll(Instant::now(), Some(journal.durable_position())), ShipStatus::Shipped(12_000));

    for kind in ["down", "crash"] {
        let outage = fault(kind);
        let mut saw_down = false;
        let started = Instant::now();
        // Keep journaling and polling through the outage, as the cold core does.
        while !outage.is_finished() || started.elapsed() < Duration::from_secs(1) {
            append(&mut journal, 50);
            if let ShipStatus::Down { error, .. } = shipper.poll(Instant::now(), Some(journal.durable_position())) {
                saw_down = true;
                assert!(!error.contains(&std::env::var("PGPASSWORD").unwrap()), "password in {error}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        outage.join().unwrap();
        assert!(saw_down, "{kind}: the outage was never noticed");
        // Back up: retry until the backlog is in (backoff is at most 5 s).
        let deadline = Instant::now() + Duration::from_secs(30);
        while shipper.is_down()
            || matches!(shipper.poll(Instant::now(), Some(journal.durable_position())), ShipStatus::Waiting)
        {
            assert!(Instant::now() < deadline, "{kind}: never recovered: {}", shipper.last_error());
            std::thread::sleep(Duration::from_millis(50));
            let _ = shipper.poll(Instant::now(), Some(journal.durable_position()));
        }
    }
    assert_eq!(shipper.poll(Instant::now(), Some(journal.durable_position())), ShipStatus::Shipped(0));
    assert_eq!(shipper.outages, 2);
    let total = seq - 1;
    let mut s = sink(&url);
    let (_, sum, distinct) = table_counts(&mut s);
    assert_eq!(distinct as u64, total, "every journaled record, once");
    assert_eq!(sum as u64, total * (total + 1) / 2);
    assert_eq!(s.watermark(1), total);
}
