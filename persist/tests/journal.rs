//! The journal against its promises: exact round trips, rotation, reading from any
//! batch, torn tails truncated and reported, corruption refused, and a writer killed
//! with SIGKILL at random moments leaving a journal whose streams have no holes.

/// The reliability report's row (scripts/reliability.sh), shared with the engine's tests.
#[path = "../../engine/tests/common/report.rs"]
mod report;

use std::{fs, path::Path, process::Command, time::Duration};

use persist::{
    Fields, Origin, Record, RecordKind,
    journal::{FsyncPolicy, Journal, JournalError, JournalOptions, JournalReader, summarize},
    record::{FillFields, OrderFields, RiskFields, TradeFields},
};

fn trade(stream: u16, seq: u64) -> Record {
    let fields =
        TradeFields { aggressor: 1, ts_exchange: 5_000, trade_id: seq as i64, price: 100 + seq as i64, qty: 3 };
    fields.into_record(Origin { stream, seq, ts: 1_000 + seq, venue: 1, instrument: 2 })
}

fn batch(stream: u16, seqs: std::ops::RangeInclusive<u64>) -> Vec<Record> {
    seqs.map(|s| trade(stream, s)).collect()
}

fn options(segment_bytes: u64) -> JournalOptions {
    JournalOptions { segment_bytes, fsync: FsyncPolicy::Never }
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Reopening reports the highest client order id in order, fill and risk records,
/// and nothing else's first field: the next run numbers its orders above it.
#[test]
fn reopening_reports_the_highest_client_order_id() {
    let dir = tempfile::tempdir().unwrap();
    let origin = |seq| Origin { stream: 1, seq, ts: 1_000 + seq, venue: 1, instrument: 2 };
    let order = OrderFields { state: 1, client_id: 9, side: 1, price: 5, qty: 1, filled: 0, order_type: 1 };
    let fill = FillFields { liquidity: 1, client_id: 12, venue_trade_id: 99, side: 1, price: 5, qty: 1, fee: 0 };
    let risk = RiskFields { reason: 3, client_id: 15, side: 1, price: 5, qty: 1, limit: 0, observed: 0 };
    let reopened = |records: &[Record]| {
        let (mut j, _) = Journal::open(dir.path(), options(1 << 20)).unwrap();
        j.append(records).unwrap();
        drop(j);
        Journal::open(dir.path(), options(1 << 20)).unwrap().1.max_client_id
    };
    assert_eq!(reopened(&[]), 0, "an empty journal");
    assert_eq!(reopened(&[order.into_record(origin(1))]), 9);
    assert_eq!(reopened(&[fill.into_record(origin(2))]), 12);
    assert_eq!(reopened(&[risk.into_record(origin(3))]), 15);
    // A trade's first field (its exchange time, 5000) is not an order id.
    assert_eq!(reopened(&[trade(1, 4)]), 15);
}

/// What the engine traded is for its own user only: a new journal's directory is
/// 0700 and each segment 0600, whatever the umask.
#[test]
fn journals_are_created_for_their_owner_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("nested").join("journal");
    let (mut j, _) = Journal::open(&journal, options(4096)).unwrap();
    for k in 0..5 {
        j.append(&batch(1, k * 100 + 1..=k * 100 + 100)).unwrap();
    }
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&journal), 0o700);
    let files = segments(&journal);
    assert!(files.len() > 1, "rotated: {files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

#[test]
fn records_round_trip_exactly_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, recovery) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    assert_eq!(recovery.records, 0);
    let fill = FillFields { liquidity: 1, client_id: 9, venue_trade_id: 77, side: 2, price: i64::MAX, qty: 1, fee: -4 }
        .into_record(Origin { stream: 3, seq: 1, ts: u64::MAX, venue: 5, instrument: u32::MAX });
    j.append(&batch(1, 1..=10)).unwrap();
    j.append(&[fill]).unwrap();
    assert_eq!(j.stats().syncs, 2, "the default policy syncs every batch");
    drop(j);

    let (_, recovery) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    assert_eq!(recovery.records, 11);
    assert_eq!(recovery.last_seq.get(&1), Some(&10));
    assert_eq!(recovery.last_seq.get(&3), Some(&1));
    assert_eq!(recovery.truncated, None);
    let (records, end) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    let mut expected = batch(1, 1..=10);
    expected.push(fill);
    assert_eq!(records, expected);
    assert_eq!(FillFields::from_record(&records[10]).unwrap().price, i64::MAX);
    assert_eq!(end.torn_tail, None);
}

#[test]
fn segments_rotate_by_size_and_reads_start_at_any_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path(), options(4096)).unwrap();
    for b in 0..20u64 {
        j.append(&batch(1, b * 10 + 1..=b * 10 + 10)).unwrap();
    }
    assert!(segments(dir.path()).len() >= 4, "{:?}", segments(dir.path()));
    let reader = JournalReader::open(dir.path()).unwrap();
    let mut batch_starts = Vec::new();
    reader
        .scan(reader.start(), |at, r| {
            if r.seq % 10 == 1 {
                batch_starts.push(at)
            }
        })
        .unwrap();
    assert_eq!(batch_starts.len(), 20);
    for (b, at) in batch_starts.iter().enumerate() {
        let mut seqs = Vec::new();
        reader.scan(*at, |_, r| seqs.push(r.seq)).unwrap();
        let expected: Vec<u64> = (b as u64 * 10 + 1..=200).collect();
        assert_eq!(seqs, expected, "from batch {b} at {at:?}");
    }
    let off_boundary = persist::journal::Position { offset: batch_starts[1].offset + 8, ..batch_starts[1] };
    assert!(matches!(reader.scan(off_boundary, |_, _| {}), Err(JournalError::BadPosition { .. })));
    let summary = summarize(&reader).unwrap();
    assert_eq!(summary.records, 200);
    assert!(summary.sequences_intact());
    assert_eq!(summary.kinds.get(RecordKind::Trade.name()), Some(&200));
    assert_eq!(summary.time_range, Some((1_001, 1_200)));
}

#[test]
fn a_torn_tail_is_truncated_reported_and_the_journal_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path(), options(1 << 20)).unwrap();
    j.append(&batch(1, 1..=5)).unwrap();
    let good_len = j.position().offset;
    j.append(&batch(1, 6..=9)).unwrap();
    drop(j);
    let seg = segments(dir.path()).pop().unwrap();
    let full = fs::metadata(&seg).unwrap().len();
    for cut in [good_len + 1, good_len + 15, good_len + 17, full - 1] {
        let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let (mut j, recovery) = Journal::open(dir.path(), options(1 << 20)).unwrap();
        let torn = recovery.truncated.expect("a torn tail is reported");
        assert_eq!(torn.bytes, cut - good_len, "cut at {cut}");
        assert_eq!(recovery.records, 5);
        assert_eq!(fs::metadata(&seg).unwrap().len(), good_len);
        j.append(&batch(1, 6..=9)).unwrap();
    }
    let summary = summarize(&JournalReader::open(dir.path()).unwrap()).unwrap();
    assert_eq!(summary.records, 9);
    assert!(summary.sequences_intact());
}

#[test]
fn corruption_before_good_data_is_refused_and_nothing_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path(), options(1 << 20)).unwrap();
    j.append(&batch(1, 1..=5)).unwrap();
    j.append(&batch(1, 6..=9)).unwrap();
    drop(j);
    let seg = segments(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    bytes[64 + 16 + 40] ^= 0x01;
    fs::write(&seg, &bytes).unwrap();
    let err = Journal::open(dir.path(), options(1 << 20)).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { offset: 64, .. }), "{err}");
    assert!(err.to_string().contains("not a torn tail"), "{err}");
    assert_eq!(fs::read(&seg).unwrap(), bytes, "a corrupt journal is left exactly as found");
    assert!(summarize(&JournalReader::open(dir.path()).unwrap()).is_err());
}

#[test]
fn a_missing_segment_or_foreign_file_is_an_error_not_a_silent_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path(), options(2048)).unwrap();
    for b in 0..10u64 {
        j.append(&batch(1, b * 10 + 1..=b * 10 + 10)).unwrap();
    }
    drop(j);
    let segs = segments(dir.path());
    assert!(segs.len() >= 3);
    fs::remove_file(&segs[1]).unwrap();
    let err = JournalReader::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");

    let other = tempfile::tempdir().unwrap();
    fs::write(other.path().join("0000000000000000.seg"), vec![7u8; 200]).unwrap();
    let err = Journal::open(other.path(), options(2048)).unwrap_err();
    assert!(matches!(err, JournalError::BadSegment { .. }), "{err}");
}

/// The records a failed fsync cannot have cost are those written before the last
/// successful one (all of them when the policy never syncs).
#[test]
fn synced_records_count_what_the_last_successful_sync_covered() {
    let dir = tempfile::tempdir().unwrap();
    let interval = JournalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::Interval(Duration::from_secs(3600)) };
    let (mut j, _) = Journal::open(dir.path(), interval).unwrap();
    j.append(&batch(1, 1..=10)).unwrap();
    assert_eq!((j.stats().records, j.stats().synced_records), (10, 0), "not synced yet");
    j.sync().unwrap();
    j.append(&batch(1, 11..=15)).unwrap();
    assert_eq!((j.stats().records, j.stats().synced_records), (15, 10));
    let every = JournalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::EveryBatch };
    let every_dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(every_dir.path(), every).unwrap();
    j.append(&batch(1, 1..=4)).unwrap();
    assert_eq!(j.stats().synced_records, 4, "a sync per batch");
    let never = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(never.path(), options(1 << 20)).unwrap();
    j.append(&batch(1, 1..=7)).unwrap();
    assert_eq!(j.stats().synced_records, 7, "never synced: nothing waits on a sync");
}

#[test]
fn fsync_policies_parse_from_flags() {
    assert_eq!("batch".parse(), Ok(FsyncPolicy::EveryBatch));
    assert_eq!("none".parse(), Ok(FsyncPolicy::Never));
    assert_eq!("25ms".parse(), Ok(FsyncPolicy::Interval(Duration::from_millis(25))));
    assert!("0ms".parse::<FsyncPolicy>().is_err());
    assert!("sometimes".parse::<FsyncPolicy>().unwrap_err().contains("expected"));
}

const CHILD_DIR: &str = "JOURNAL_KILL_CHILD_DIR";

/// The child half of the kill test: append numbered batches until killed.
#[test]
fn child_writer_appends_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else { return };
    let (mut j, recovery) = Journal::open(Path::new(&dir), options(64 * 1024)).unwrap();
    let mut seq = recovery.last_seq.get(&1).copied().unwrap_or(0);
    loop {
        let n = 1 + seq % 37;
        j.append(&batch(1, seq + 1..=seq + n)).unwrap();
        seq += n;
    }
}

#[test]
fn a_writer_killed_at_random_moments_leaves_a_gapless_journal() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    for round in 0..8u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_writer_appends_until_killed", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(40 + (round * 37) % 90));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (_, recovery) = Journal::open(dir.path(), options(64 * 1024)).unwrap();
        let now = recovery.last_seq.get(&1).copied().unwrap_or(0);
        assert!(now >= last, "round {round}: acknowledged records went missing ({now} < {last})");
        last = now;
        let summary = summarize(&JournalReader::open(dir.path()).unwrap()).unwrap();
        assert!(summary.sequences_intact(), "round {round}: {:?}", summary.streams);
        assert_eq!(summary.records, now);
    }
    assert!(last > 0, "the child never wrote anything");
    report::Found {
        injected: 8,
        recovered: 8,
        expected: Some(last),
        journal: Some(last),
        duplicates: Some(0),
        note: "every reopen truncated at most a torn tail; sequences gapless".into(),
        ..report::Found::default()
    }
    .report();
}
