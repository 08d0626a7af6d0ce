//! A large batch split among several connections. On a small host one server
//! backend is the ingest bound (it parses, checks and stores every row); two COPYs
//! at once use a second one.
//!
//! Exactly once still holds without a distributed commit. The batch's picked
//! records are cut into contiguous parts, one per connection, each written in its
//! own transaction that also records the part's sequence range per stream in
//! `stream_ranges`. Only when every part has committed does the writer fold the
//! ranges that continue each stream's watermark into `stream_watermarks`. A writer
//! that dies between the commits leaves ranges that say exactly what is stored above
//! the watermark; the next writer skips those records and folds the ranges once the
//! gaps below them are filled (or, at the journal's end, `PgSink::settle` does).
//! The whole batch holds the writer lock (a session lock on the first connection),
//! and the other parts a shared lock that the next writer waits on, so a second
//! loader never reads what is stored while a part may still commit.

use std::collections::BTreeMap;

use super::{
    PgError,
    copy::CopyBuf,
    query,
    sink::{
        PARTS_LOCK, PgSink, Range, STORED, WRITER_LOCK, copy_picked, kinds_and_days, latest_positions, prepare_days,
        read_committed, upsert_current, write_picked,
    },
};
use crate::record::{Record, RecordKind};

/// Fewest records a part is given: below this a second transaction and thread cost
/// more than the second backend gives.
pub const PART_MIN: usize = 8_192;

/// How many parts a batch of `records` is cut into with `writers` connections.
pub(super) fn parts(records: usize, writers: usize) -> usize {
    (records / PART_MIN).clamp(1, writers.max(1))
}

impl PgSink {
    /// [`PgSink::write_batch`] for a batch to cut into up to `parts`, under the writer
    /// lock (a session lock on the sink's own connection).
    pub(super) fn write_parts(&mut self, records: &[Record], parts: usize) -> Result<u64, PgError> {
        let parts = 1 + self.open_writers(parts - 1);
        if parts == 1 {
            return self.write_whole(records);
        }
        self.client
            .batch_execute(&format!("SELECT pg_advisory_lock({WRITER_LOCK})"))
            .map_err(query("taking the writer lock"))?;
        let result = self.write_parts_locked(records, parts);
        let unlocked = self
            .client
            .batch_execute(&format!("SELECT pg_advisory_unlock({WRITER_LOCK})"))
            .map_err(query("releasing the writer lock"));
        let rows = result?;
        unlocked?;
        Ok(rows)
    }

    fn write_parts_locked(&mut self, records: &[Record], parts: usize) -> Result<u64, PgError> {
        // Parts of an earlier writer may still be committing (see PARTS_LOCK): one
        // statement, so the lock is released when it ends.
        self.client
            .batch_execute(&format!("SELECT pg_advisory_xact_lock({PARTS_LOCK})"))
            .map_err(query("waiting for an earlier writer's parts"))?;
        // Every day any record given falls on gets its partition now, before the
        // parts' transactions open (a few more than the picked records need is
        // harmless), so no open part waits on this DDL.
        let all: Vec<(u8, u32)> =
            records.iter().enumerate().filter_map(|(i, r)| r.kind().map(|k| (k as u8, i as u32))).collect();
        let days_given = kinds_and_days(records, &all);
        let partitions_given = prepare_days(&mut self.client, self.mode, &days_given, &self.known.indexed_before)?;
        // The other parts' transactions take their shared lock before anything is
        // read, so from here a writer after us, even one let in because our own
        // connection died, waits for them. Only tried: while we hold the writer
        // lock no one else can hold or want PARTS_LOCK exclusively, so a refusal
        // means our first connection and its lock are gone, and waiting could hang
        // behind the writer that took over (itself waiting for our open parts).
        let mut others = Vec::with_capacity(parts - 1);
        for client in self.writers.iter_mut().take(parts - 1) {
            let mut tx = client.transaction().map_err(query("starting a part of a batch"))?;
            let locked: bool = tx
                .query_one(&format!("SELECT pg_try_advisory_xact_lock_shared({PARTS_LOCK})"), &[])
                .map_err(query("starting a part of a batch"))?
                .get(0);
            if !locked {
                return Err(part_failed("the writer lock was lost (its connection closed?); retrying"));
            }
            others.push(tx);
        }
        let stored = self.client.query(STORED, &[]).map_err(query("reading stream watermarks"))?;
        let known = &mut self.known;
        known.reload(&stored);
        let streams = known.pick(records);
        if streams.is_empty() {
            return Ok(0);
        }
        let parts = parts.min(known.picked.len() / PART_MIN).max(1);
        if parts == 1 {
            drop(others);
            let tx = read_committed(&mut self.client).map_err(query("starting a batch"))?;
            return write_picked(tx, (known, &mut self.bufs), self.mode, records, &streams);
        }
        others.truncate(parts - 1);
        let positions = latest_positions(records, &known.picked);
        let first = self.client.transaction().map_err(query("starting a part of a batch"))?;
        let per_part = known.picked.len().div_ceil(parts).max(1);
        let (mode, picked) = (self.mode, &known.picked[..]);
        // The days of every record given: each part copies only those of its own.
        let shared = Shared { mode, records, days: &days_given, partitions: &partitions_given, positions: &positions };
        let outcomes: Vec<Result<Vec<Range>, PgError>> = std::thread::scope(|scope| {
            let running: Vec<_> = picked
                .chunks(per_part)
                .zip(std::iter::once(first).chain(others))
                .zip(self.bufs.iter_mut())
                .map(|((part, tx), buf)| {
                    let shared = &shared;
                    std::thread::Builder::new()
                        .name("db-part".into())
                        .spawn_scoped(scope, move || write_part(tx, buf, shared, part))
                })
                .collect();
            running
                .into_iter()
                .map(|part| match part {
                    Ok(part) => part.join().unwrap_or_else(|_| Err(part_failed("its thread panicked"))),
                    Err(e) => Err(part_failed(&format!("its thread could not start: {e}"))),
                })
                .collect()
        });
        let mut failed = None;
        for outcome in outcomes {
            match outcome {
                Ok(ranges) => known.ranges.extend(ranges),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            // The parts that committed are in `stream_ranges`: a retry skips them.
            return Err(e);
        }
        let mut tx = self.client.transaction().map_err(query("starting to fold a batch's ranges"))?;
        // The fold need not wait for its WAL to reach the disk: a fold lost in a
        // crash leaves the ranges, which the next writer folds, and any commit after
        // it that survives flushed the WAL, and so the fold, before it.
        tx.batch_execute("SET LOCAL synchronous_commit TO off").map_err(query("starting to fold a batch's ranges"))?;
        let moved = known.fold_watermarks(&mut tx, &streams)?;
        tx.commit().map_err(query("committing a batch's watermarks"))?;
        let rows = known.picked.len() as u64;
        known.committed(&moved, &days_given, rows);
        Ok(rows)
    }
}

fn part_failed(reason: &str) -> PgError {
    PgError::Query { what: "writing a part of a batch", reason: reason.to_owned() }
}

/// What every part of one batch reads.
struct Shared<'a> {
    mode: super::Mode,
    records: &'a [Record],
    days: &'a [(RecordKind, u64)],
    partitions: &'a [Option<String>],
    positions: &'a BTreeMap<(u16, u32), u32>,
}

/// One part in its transaction: its rows, its current-state rows, and per stream
/// the range of sequences it stored. Returns those ranges once committed.
fn write_part(
    mut tx: postgres::Transaction<'_>,
    buf: &mut CopyBuf,
    shared: &Shared<'_>,
    part: &[(u8, u32)],
) -> Result<Vec<Range>, PgError> {
    let records = shared.records;
    copy_picked(&mut tx, buf, shared.mode, (records, part), shared.days, shared.partitions)?;
    upsert_current(&mut tx, records, part, shared.positions)?;
    // Within a part a stream's sequences rise (the pick keeps only rising ones), so
    // its first and last are its range; the records between that the pick skipped
    // were already stored.
    let mut ranges: Vec<Range> = Vec::new();
    for (_, i) in part {
        let Some(r) = records.get(*i as usize) else { continue };
        match ranges.iter_mut().find(|(s, ..)| *s == r.stream) {
            Some((_, _, last)) => *last = r.seq,
            None => ranges.push((r.stream, r.seq, r.seq)),
        }
    }
    for (stream, first, last) in &ranges {
        tx.execute(
            "INSERT INTO stream_ranges (stream, first_seq, last_seq) VALUES ($1, $2, $3) \
             ON CONFLICT (stream, first_seq) DO UPDATE SET last_seq = GREATEST(stream_ranges.last_seq, EXCLUDED.last_seq)",
            &[&(*stream as i16), &(*first as i64), &(*last as i64)],
        )
        .map_err(query("recording a part's stored range"))?;
    }
    tx.commit().map_err(query("committing a part of a batch"))?;
    Ok(ranges)
}
