//! Writing records: one transaction per batch holding one binary COPY per table, the
//! current positions and orders and the per-stream watermarks, so a batch is in the database
//! completely or not at all and a record at or below its stream's watermark is
//! never written twice.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use postgres::Client;

use super::{
    Mode, PgError,
    copy::{CopyBuf, copy_statement, encode, table},
    orders::Latest,
    query,
};
use crate::{
    journal::{JournalReader, Position},
    record::{Record, RecordKind},
};

const DAY_NS: u64 = 86_400_000_000_000;

/// What a load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows written now.
    pub written: u64,
    /// Records already in the database (at or below their stream's watermark).
    pub already_there: u64,
    /// Records of a kind this build cannot store (from a newer writer): counted, skipped.
    pub unknown_kind: u64,
    /// Transactions committed.
    pub batches: u64,
}

/// The database sink.
pub struct PgSink {
    client: Client,
    mode: Mode,
    buf: CopyBuf,
    picked: Vec<(u8, u32)>,
    watermarks: BTreeMap<u16, u64>,
    /// Native mode: the (kind, day)s whose earlier days this sink has had indexed.
    /// Forgetting one only costs a catalog scan; a day is never indexed twice.
    indexed_before: HashSet<(usize, u64)>,
    report: LoadReport,
}

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink").field("mode", &self.mode).field("watermarks", &self.watermarks).finish_non_exhaustive()
    }
}

fn index(kind: RecordKind) -> usize {
    kind as usize - 1
}

impl PgSink {
    /// A sink over a migrated database; reads the watermarks.
    ///
    /// # Errors
    /// The watermarks cannot be read.
    pub fn open(mut client: Client, mode: Mode) -> Result<Self, PgError> {
        // Days are UTC days (a record's day is its time / 86,400 s): in a session
        // whose zone has daylight saving, "1 day" would make a 23- or 25-hour partition.
        client.batch_execute("SET TIME ZONE 'UTC'").map_err(query("setting the session time zone to UTC"))?;
        let mut watermarks = BTreeMap::new();
        for row in client
            .query("SELECT stream, last_seq FROM stream_watermarks", &[])
            .map_err(query("reading stream watermarks"))?
        {
            watermarks.insert(row.get::<_, i16>(0) as u16, row.get::<_, i64>(1) as u64);
        }
        Ok(Self {
            client,
            mode,
            buf: CopyBuf::new(),
            picked: Vec::new(),
            watermarks,
            indexed_before: HashSet::new(),
            report: LoadReport::default(),
        })
    }

    /// The highest sequence stored for a stream (0: none).
    pub fn watermark(&self, stream: u16) -> u64 {
        self.watermarks.get(&stream).copied().unwrap_or(0)
    }

    /// Counters since opening.
    pub fn report(&self) -> LoadReport {
        self.report
    }

    /// The client, for queries of one's own.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Writes the records not yet stored, in one transaction. Returns rows written.
    ///
    /// # Errors
    /// A failed statement: the transaction is rolled back and nothing of the batch
    /// (rows or watermarks) is stored, so the same batch can simply be retried.
    pub fn write_batch(&mut self, records: &[Record]) -> Result<u64, PgError> {
        if records.is_empty() {
            return Ok(0);
        }
        let mut tx = self.client.transaction().map_err(query("starting a batch"))?;
        // One writer at a time per database, and the watermarks as they are now, in
        // this transaction: a second loader (the engine's follower and an `engine
        // journal load`, say) waits here and then skips what the first stored.
        tx.execute("SELECT pg_advisory_xact_lock(7346221)", &[]).map_err(query("taking the writer lock"))?;
        for row in tx
            .query("SELECT stream, last_seq FROM stream_watermarks", &[])
            .map_err(query("reading stream watermarks"))?
        {
            let stream = row.get::<_, i16>(0) as u16;
            let seq = row.get::<_, i64>(1) as u64;
            let known = self.watermarks.entry(stream).or_insert(0);
            *known = (*known).max(seq);
        }
        // Per stream in this batch: (stream, watermark before it, highest sequence in it).
        // A short list searched linearly: a batch holds a handful of streams, and a map
        // lookup per record was a tenth of the writer's client time.
        let mut streams: Vec<(u16, u64, u64)> = Vec::new();
        // Per kind, the day of the last record whose partition was checked.
        let mut day_checked = [u64::MAX; RecordKind::ALL.len()];
        let mut positions: BTreeMap<(u16, u32), Record> = BTreeMap::new();
        let mut orders = Latest::default();
        // Native mode: each (kind, day) in the batch, for one COPY into that day's partition.
        let mut batch_days: Vec<(RecordKind, u64)> = Vec::new();
        let mut per_kind = [0usize; RecordKind::ALL.len()];
        self.picked.clear();
        for (i, r) in records.iter().enumerate() {
            let at = match streams.iter().position(|(stream, ..)| *stream == r.stream) {
                Some(at) => at,
                None => {
                    let watermark = self.watermarks.get(&r.stream).copied().unwrap_or(0);
                    streams.push((r.stream, watermark, watermark));
                    streams.len() - 1
                }
            };
            let Some((_, _, done)) = streams.get_mut(at) else { continue };
            if r.seq <= *done {
                self.report.already_there += 1;
                continue;
            }
            *done = r.seq;
            let Some(kind) = r.kind() else {
                self.report.unknown_kind += 1;
                continue;
            };
            self.picked.push((kind as u8, i as u32));
            if let Some(n) = per_kind.get_mut(index(kind)) {
                *n += 1;
            }
            match kind {
                RecordKind::Position => {
                    positions.insert((r.venue, r.instrument), *r);
                }
                RecordKind::Order => orders.offer(r),
                _ => {}
            }
            let day = r.ts / DAY_NS;
            if self.mode == Mode::Native
                && let Some(checked) = day_checked.get_mut(index(kind))
                && *checked != day
            {
                *checked = day;
                if !batch_days.contains(&(kind, day)) {
                    batch_days.push((kind, day));
                }
            }
        }
        streams.retain(|(_, before, after)| after > before);
        if streams.is_empty() {
            return Ok(0);
        }
        // Each day's partition, made if need be; None: its rows go through the parent.
        // Asked every batch, not remembered: a partition can be detached or dropped
        // between two batches, and a COPY into it would then fail the batch for good.
        let mut partitions = Vec::with_capacity(batch_days.len());
        for (kind, day) in &batch_days {
            let (name, _) = table(*kind);
            let partition: Option<String> = tx
                .query_one(
                    "SELECT engine_day_partition($1, to_timestamp(($2::bigint * 86400)::double precision))",
                    &[&name, &(*day as i64)],
                )
                .map_err(query("creating a daily partition"))?
                .get(0);
            partitions.push(partition);
            if !self.indexed_before.contains(&(index(*kind), *day)) {
                tx.execute(
                    "SELECT engine_index_closed_days($1, to_timestamp(($2::bigint * 86400)::double precision))",
                    &[&name, &(*day as i64)],
                )
                .map_err(query("indexing closed days"))?;
            }
        }
        for kind in RecordKind::ALL {
            if per_kind.get(index(kind)).copied().unwrap_or(0) == 0 {
                continue;
            }
            let (parent, _) = table(kind);
            let rows = (records, &self.picked[..]);
            if self.mode == Mode::Timescale {
                copy_rows(&mut tx, &mut self.buf, rows, kind, parent, None)?;
                continue;
            }
            // Rows are picked by day only when the kind spans several (midnight).
            let several = batch_days.iter().filter(|(k, _)| *k == kind).count() > 1;
            for ((_, day), partition) in batch_days.iter().zip(&partitions).filter(|((k, _), _)| *k == kind) {
                let into = partition.as_deref().unwrap_or(parent);
                copy_rows(&mut tx, &mut self.buf, rows, kind, into, several.then_some(*day))?;
            }
        }
        let rows = self.picked.len() as u64;
        for ((venue, instrument), r) in &positions {
            let f = r.fields;
            tx.execute(
                "INSERT INTO positions (venue, instrument, net_qty, avg_price, realised, unrealised, fees, mark, as_of_ns) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (venue, instrument) DO UPDATE SET \
                 net_qty = EXCLUDED.net_qty, avg_price = EXCLUDED.avg_price, realised = EXCLUDED.realised, \
                 unrealised = EXCLUDED.unrealised, fees = EXCLUDED.fees, mark = EXCLUDED.mark, \
                 as_of_ns = EXCLUDED.as_of_ns WHERE positions.as_of_ns <= EXCLUDED.as_of_ns",
                &[&(*venue as i16), &(*instrument as i32), &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &(r.ts as i64)],
            )
            .map_err(query("updating current positions"))?;
        }
        orders.upsert(&mut tx)?;
        for (stream, _, seq) in &streams {
            tx.execute(
                "INSERT INTO stream_watermarks (stream, last_seq) VALUES ($1, $2) ON CONFLICT (stream) DO UPDATE \
                 SET last_seq = GREATEST(stream_watermarks.last_seq, EXCLUDED.last_seq), updated_at = now()",
                &[&(*stream as i16), &(*seq as i64)],
            )
            .map_err(query("advancing stream watermarks"))?;
        }
        tx.commit().map_err(query("committing a batch"))?;
        self.watermarks.extend(streams.iter().map(|(stream, _, seq)| (*stream, *seq)));
        self.indexed_before.extend(batch_days.iter().map(|(kind, day)| (index(*kind), *day)));
        self.report.written += rows;
        self.report.batches += 1;
        Ok(rows)
    }
}

/// One COPY of the `picked` records of `kind` (of `day` only, if given) into `into`.
fn copy_rows(
    tx: &mut postgres::Transaction<'_>,
    buf: &mut CopyBuf,
    (records, picked): (&[Record], &[(u8, u32)]),
    kind: RecordKind,
    into: &str,
    day: Option<u64>,
) -> Result<(), PgError> {
    let mut w = tx.copy_in(&copy_statement(kind, into)).map_err(query("starting COPY"))?;
    buf.begin();
    for (k, i) in picked {
        if *k != kind as u8 {
            continue;
        }
        let Some(r) = records.get(*i as usize) else { continue };
        if day.is_some_and(|day| r.ts / DAY_NS != day) {
            continue;
        }
        encode(r, kind, buf);
        if buf.is_chunk_full() {
            w.write_all(buf.pending()).map_err(|source| PgError::Send { source })?;
            buf.sent();
        }
    }
    buf.end();
    w.write_all(buf.pending()).map_err(|source| PgError::Send { source })?;
    buf.sent();
    w.finish().map_err(query("finishing COPY (a CHECK constraint or type mismatch?)"))?;
    Ok(())
}

/// Loads every journaled record from `from` (up to `until`, if given) that the
/// database does not hold yet, `batch` records per transaction, and returns where it
/// stopped (the next call's `from`). Safe to run again, or after a crash at any point: it resumes
/// after each stream's watermark.
///
/// # Errors
/// Journal corruption or a database failure (what was committed stays committed).
pub fn load_journal_from(
    sink: &mut PgSink,
    reader: &JournalReader,
    (from, until): (Position, Option<Position>),
    batch: usize,
) -> Result<(LoadReport, Position), PgError> {
    let before = sink.report();
    let mut pending = Vec::with_capacity(batch.max(1));
    let mut failure = None;
    let end = reader.scan_until(from, until, |_, r| {
        if failure.is_some() || r.seq <= sink.watermark(r.stream) {
            if failure.is_none() {
                sink.report.already_there += 1;
            }
            return;
        }
        pending.push(*r);
        if pending.len() >= batch.max(1) {
            if let Err(e) = sink.write_batch(&pending) {
                failure = Some(e);
            }
            pending.clear();
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    sink.write_batch(&pending)?;
    let after = sink.report();
    let report = LoadReport {
        written: after.written - before.written,
        already_there: after.already_there - before.already_there,
        unknown_kind: after.unknown_kind - before.unknown_kind,
        batches: after.batches - before.batches,
    };
    Ok((report, end.end))
}

/// [`load_journal_from`] the start of the journal.
///
/// # Errors
/// As [`load_journal_from`].
pub fn load_journal(sink: &mut PgSink, reader: &JournalReader, batch: usize) -> Result<LoadReport, PgError> {
    load_journal_from(sink, reader, (reader.start(), None), batch).map(|(report, _)| report)
}
