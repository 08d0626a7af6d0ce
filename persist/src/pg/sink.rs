//! Writing records: one transaction per batch holding one binary COPY per table, the
//! current positions and orders and the per-stream watermarks, so a batch is in the database
//! completely or not at all and a record at or below its stream's watermark is
//! never written twice. A large batch may instead be split among several connections
//! (see [`PgSink::split_among`] and `parallel.rs`), each part recording the sequence
//! range it stored in `stream_ranges` with its rows.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use postgres::{Client, GenericClient};

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

pub(super) const DAY_NS: u64 = 86_400_000_000_000;

/// The advisory lock key a batch holds: one writer at a time per database.
pub(super) const WRITER_LOCK: i64 = 7_346_221;

/// The advisory lock key each part of a split batch holds shared while it writes
/// (all but the first, which runs on the connection holding [`WRITER_LOCK`]). A
/// writer takes it exclusively before reading what is stored: if the connection
/// holding the writer lock died while other parts were still committing, the lock
/// died with it, and this waits for those parts to finish.
pub const PARTS_LOCK: i64 = 7_346_222;

/// Every stream's watermark (`first_seq` null) and the ranges stored above them.
pub(super) const STORED: &str = "SELECT stream, last_seq, NULL::bigint FROM stream_watermarks \
                      UNION ALL SELECT stream, last_seq, first_seq FROM stream_ranges";

/// What a load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows written now.
    pub written: u64,
    /// Records already in the database (at or below their stream's watermark, or in
    /// a range a parallel part stored).
    pub already_there: u64,
    /// Records of a kind this build cannot store (from a newer writer): counted, skipped.
    pub unknown_kind: u64,
    /// Batches committed (a split batch is one, though each of its parts commits on its own).
    pub batches: u64,
}

/// A sequence range of one stream known to be stored: (stream, first, last).
pub(super) type Range = (u16, u64, u64);

/// Per stream in a batch: (stream, watermark before it, highest sequence picked).
pub(super) type Stream = (u16, u64, u64);

/// The database sink.
pub struct PgSink {
    pub(super) client: Client,
    /// More connections, for batches split into parts (see [`PgSink::split_among`]),
    /// opened when a batch first needs them.
    pub(super) writers: Vec<Client>,
    /// Where those connections go (None: the PG* variables), and how many
    /// connections in all a batch may be split among.
    split: (Option<String>, usize),
    /// Whether a failure to open a writer connection was reported already.
    writer_warned: bool,
    pub(super) mode: Mode,
    /// One COPY buffer per connection: `client`'s first, then each writer's.
    pub(super) bufs: Vec<CopyBuf>,
    pub(super) known: Known,
}

/// What the sink knows is stored, and the batch in hand.
#[derive(Debug, Default)]
pub(super) struct Known {
    /// The records of the batch to write: (kind, index into the batch).
    pub(super) picked: Vec<(u8, u32)>,
    watermarks: BTreeMap<u16, u64>,
    /// Ranges stored above their stream's watermark (left by parallel parts).
    pub(super) ranges: Vec<Range>,
    /// Native mode: the (kind, day)s whose earlier days this sink has had indexed.
    /// Forgetting one only costs a catalog scan; a day is never indexed twice.
    pub(super) indexed_before: HashSet<(usize, u64)>,
    pub(super) report: LoadReport,
}

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink")
            .field("mode", &self.mode)
            .field("writers", &self.split.1)
            .field("watermarks", &self.known.watermarks)
            .field("ranges", &self.known.ranges)
            .finish_non_exhaustive()
    }
}

pub(super) fn index(kind: RecordKind) -> usize {
    kind as usize - 1
}

/// Days are UTC days (a record's day is its time / 86,400 s): in a session whose
/// zone has daylight saving, "1 day" would make a 23- or 25-hour partition.
fn set_utc(client: &mut Client) -> Result<(), PgError> {
    client.batch_execute("SET TIME ZONE 'UTC'").map_err(query("setting the session time zone to UTC"))
}

impl PgSink {
    /// A sink over a migrated database; reads the watermarks.
    ///
    /// # Errors
    /// The watermarks cannot be read.
    pub fn open(mut client: Client, mode: Mode) -> Result<Self, PgError> {
        set_utc(&mut client)?;
        let mut sink = Self {
            client,
            writers: Vec::new(),
            split: (None, 1),
            writer_warned: false,
            mode,
            bufs: vec![CopyBuf::new()],
            known: Known::default(),
        };
        let rows = sink.client.query(STORED, &[]).map_err(query("reading stream watermarks"))?;
        sink.known.reload(&rows);
        Ok(sink)
    }

    /// Lets a batch of at least [`PART_MIN`](super::PART_MIN) records per connection
    /// be split among up to `writers` connections in all to the database at `url`
    /// (None: the PG* variables; it must be the database of this sink's own
    /// connection), each part written at once in a transaction of its own. One
    /// server backend per connection: on this host one backend is the ingest bound.
    /// The extra connections are opened when a batch first needs them, so a sink
    /// that only ever writes small batches holds one.
    pub fn split_among(&mut self, url: Option<&str>, writers: usize) {
        self.split = (url.map(str::to_owned), writers.max(1));
    }

    /// Connections a batch may be split among.
    pub fn writers(&self) -> usize {
        self.split.1
    }

    /// Opens writer connections until there are `n`, dropping any that closed.
    /// Returns how many there are: fewer when one cannot be opened (the server's
    /// connection limit, say), which is reported once and costs only speed, as the
    /// batch is then cut into fewer parts.
    pub(super) fn open_writers(&mut self, n: usize) -> usize {
        self.writers.retain(|c| !c.is_closed());
        self.bufs.truncate(1 + self.writers.len());
        while self.writers.len() < n {
            let opened = super::connect(self.split.0.as_deref()).and_then(|mut c| set_utc(&mut c).map(|()| c));
            match opened {
                Ok(client) => {
                    self.writers.push(client);
                    self.bufs.push(CopyBuf::new());
                }
                Err(e) => {
                    if !self.writer_warned {
                        eprintln!(
                            "warning: PostgreSQL: cannot open another writer connection ({e}); writing through fewer"
                        );
                        self.writer_warned = true;
                    }
                    break;
                }
            }
        }
        self.writers.len().min(n)
    }

    /// The highest sequence stored for a stream (0: none) below which nothing is missing.
    pub fn watermark(&self, stream: u16) -> u64 {
        self.known.watermark(stream)
    }

    /// Whether a record is known to be stored: at or below its stream's watermark,
    /// or in a range a part of an unfinished parallel batch stored.
    pub fn is_stored(&self, stream: u16, seq: u64) -> bool {
        seq <= self.watermark(stream) || self.known.in_ranges(stream, seq)
    }

    /// Counters since opening.
    pub fn report(&self) -> LoadReport {
        self.known.report
    }

    /// The client, for queries of one's own.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Writes the records not yet stored. Returns rows written.
    ///
    /// # Errors
    /// A failed statement: the transaction is rolled back and nothing of the batch
    /// (rows or watermarks) is stored, so the same batch can simply be retried. A
    /// batch split into parts may have some parts committed; each recorded what it
    /// stored, so a retry writes only the rest.
    pub fn write_batch(&mut self, records: &[Record]) -> Result<u64, PgError> {
        if records.is_empty() {
            return Ok(0);
        }
        let parts = super::parallel::parts(records.len(), self.writers());
        if parts > 1 {
            return self.write_parts(records, parts);
        }
        self.write_whole(records)
    }

    /// The batch in one transaction on the sink's own connection.
    pub(super) fn write_whole(&mut self, records: &[Record]) -> Result<u64, PgError> {
        let mut tx = read_committed(&mut self.client).map_err(query("starting a batch"))?;
        // One writer at a time per database, and the watermarks as they are now, in
        // this transaction: a second loader (the engine's follower and an `engine
        // journal load`, say) waits here and then skips what the first stored.
        self.known.reload_locked(&mut tx)?;
        let streams = self.known.pick(records);
        if streams.is_empty() {
            return Ok(0);
        }
        write_picked(tx, (&mut self.known, &mut self.bufs), self.mode, records, &streams)
    }

    /// Moves each stream's watermark to `through` (the highest sequence a full pass
    /// over the journal found, every record up to it stored) where it lags: after
    /// ranges that a writer stopped before folding covered the journal's end, no
    /// later batch would fold them. Nothing is sent when no watermark lags.
    ///
    /// # Errors
    /// A failed statement; nothing changes then.
    pub fn settle(&mut self, through: &[(u16, u64)]) -> Result<(), PgError> {
        if through.iter().all(|(stream, seq)| self.watermark(*stream) >= *seq) {
            return Ok(());
        }
        let mut tx = read_committed(&mut self.client).map_err(query("starting to settle watermarks"))?;
        let known = &mut self.known;
        known.reload_locked(&mut tx)?;
        let streams: Vec<Stream> =
            through.iter().map(|(stream, seq)| (*stream, known.watermark(*stream), *seq)).collect();
        let moved = known.fold_watermarks(&mut tx, &streams)?;
        tx.commit().map_err(query("committing settled watermarks"))?;
        known.advance(&moved);
        Ok(())
    }
}

impl Known {
    fn watermark(&self, stream: u16) -> u64 {
        self.watermarks.get(&stream).copied().unwrap_or(0)
    }

    fn in_ranges(&self, stream: u16, seq: u64) -> bool {
        self.ranges.iter().any(|(s, first, last)| *s == stream && (*first..=*last).contains(&seq))
    }

    /// Takes the writer lock and the parts lock in `tx` (one writer at a time, and
    /// no part of an earlier writer still committing), then reads what is stored.
    fn reload_locked(&mut self, tx: &mut postgres::Transaction<'_>) -> Result<(), PgError> {
        tx.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({WRITER_LOCK}); SELECT pg_advisory_xact_lock({PARTS_LOCK})"
        ))
        .map_err(query("taking the writer lock"))?;
        let rows = tx.query(STORED, &[]).map_err(query("reading stream watermarks"))?;
        self.reload(&rows);
        Ok(())
    }

    /// The new watermarks committed, and the ranges they passed forgotten.
    fn advance(&mut self, moved: &[(u16, u64)]) {
        self.watermarks.extend(moved.iter().copied());
        let watermarks = &self.watermarks;
        self.ranges.retain(|(s, _, last)| watermarks.get(s).is_none_or(|w| last > w));
    }

    /// Takes in the database's watermarks (never moving one back) and its ranges
    /// (the database's are the truth: read under the writer lock).
    pub(super) fn reload(&mut self, rows: &[postgres::Row]) {
        self.ranges.clear();
        for row in rows {
            let stream = row.get::<_, i16>(0) as u16;
            let last = row.get::<_, i64>(1) as u64;
            match row.get::<_, Option<i64>>(2) {
                None => {
                    let known = self.watermarks.entry(stream).or_insert(0);
                    *known = (*known).max(last);
                }
                Some(first) => self.ranges.push((stream, first as u64, last)),
            }
        }
    }

    /// Picks the records not stored yet into `self.picked`, counting the others.
    /// Returns each stream of the batch with its watermark and the highest sequence
    /// picked; empty when there is nothing to write or fold.
    pub(super) fn pick(&mut self, records: &[Record]) -> Vec<Stream> {
        // A short list searched linearly: a batch holds a handful of streams, and a map
        // lookup per record was a tenth of the writer's client time.
        let mut streams: Vec<Stream> = Vec::new();
        self.picked.clear();
        for (i, r) in records.iter().enumerate() {
            let at = match streams.iter().position(|(stream, ..)| *stream == r.stream) {
                Some(at) => at,
                None => {
                    let watermark = self.watermark(r.stream);
                    streams.push((r.stream, watermark, watermark));
                    streams.len() - 1
                }
            };
            let Some((_, _, done)) = streams.get_mut(at) else { continue };
            if r.seq <= *done || (!self.ranges.is_empty() && self.in_ranges(r.stream, r.seq)) {
                self.report.already_there += 1;
                continue;
            }
            *done = r.seq;
            let Some(kind) = r.kind() else {
                self.report.unknown_kind += 1;
                continue;
            };
            self.picked.push((kind as u8, i as u32));
        }
        // A stream with nothing new may still have ranges to fold (a parallel batch
        // whose parts all committed before its writer died).
        streams.retain(|(stream, before, after)| after > before || self.folded(*stream, *before) > *before);
        streams
    }

    /// Where a stream's watermark can move from `from`: through every stored range
    /// that continues it.
    fn folded(&self, stream: u16, from: u64) -> u64 {
        let mut at = from;
        while let Some((_, _, last)) =
            self.ranges.iter().find(|(s, first, last)| *s == stream && *first <= at.saturating_add(1) && *last > at)
        {
            at = *last;
        }
        at
    }

    /// Moves each stream's watermark past what the batch picked and the ranges that
    /// continue it, deleting those ranges. Returns the new watermarks.
    pub(super) fn fold_watermarks(
        &self,
        tx: &mut postgres::Transaction<'_>,
        streams: &[Stream],
    ) -> Result<Vec<(u16, u64)>, PgError> {
        let mut moved = Vec::with_capacity(streams.len());
        for (stream, before, after) in streams {
            let seq = self.folded(*stream, (*after).max(*before));
            if seq <= *before {
                continue;
            }
            tx.execute(
                "INSERT INTO stream_watermarks (stream, last_seq) VALUES ($1, $2) ON CONFLICT (stream) DO UPDATE \
                 SET last_seq = GREATEST(stream_watermarks.last_seq, EXCLUDED.last_seq), updated_at = now()",
                &[&(*stream as i16), &(seq as i64)],
            )
            .map_err(query("advancing stream watermarks"))?;
            if self.ranges.iter().any(|(s, ..)| s == stream) {
                tx.execute(
                    "DELETE FROM stream_ranges WHERE stream = $1 AND last_seq <= $2",
                    &[&(*stream as i16), &(seq as i64)],
                )
                .map_err(query("folding stored ranges into the watermark"))?;
            }
            moved.push((*stream, seq));
        }
        Ok(moved)
    }

    /// After a commit: the new watermarks, the ranges they passed, the days indexed.
    pub(super) fn committed(&mut self, moved: &[(u16, u64)], days: &[(RecordKind, u64)], rows: u64) {
        self.advance(moved);
        self.indexed_before.extend(days.iter().map(|(kind, day)| (index(*kind), *day)));
        self.report.written += rows;
        self.report.batches += 1;
    }
}

/// Writes the picked records, the current state and the watermarks in `tx`
/// (holding the writer lock, with the stored records just read), and commits.
pub(super) fn write_picked(
    mut tx: postgres::Transaction<'_>,
    (known, bufs): (&mut Known, &mut [CopyBuf]),
    mode: Mode,
    records: &[Record],
    streams: &[Stream],
) -> Result<u64, PgError> {
    let days = kinds_and_days(records, &known.picked);
    let partitions = prepare_days(&mut tx, mode, &days, &known.indexed_before)?;
    let buf = bufs.first_mut().ok_or_else(no_buffer)?;
    copy_picked(&mut tx, buf, mode, (records, &known.picked), &days, &partitions)?;
    let positions = latest_positions(records, &known.picked);
    upsert_current(&mut tx, records, &known.picked, &positions)?;
    let moved = known.fold_watermarks(&mut tx, streams)?;
    tx.commit().map_err(query("committing a batch"))?;
    let rows = known.picked.len() as u64;
    known.committed(&moved, &days, rows);
    Ok(rows)
}

/// A transaction that reads what is stored after its locks are granted: under
/// repeatable read (a server's default may be set so) its snapshot would be taken
/// at the lock call, before the commit it waited for.
pub(super) fn read_committed(client: &mut Client) -> Result<postgres::Transaction<'_>, postgres::Error> {
    client.build_transaction().isolation_level(postgres::IsolationLevel::ReadCommitted).start()
}

pub(super) fn no_buffer() -> PgError {
    PgError::Query { what: "writing a batch", reason: "no COPY buffer for this connection".into() }
}

/// Each (kind, day) of the picked records, in order of first appearance.
pub(super) fn kinds_and_days(records: &[Record], picked: &[(u8, u32)]) -> Vec<(RecordKind, u64)> {
    // Per kind, the last day seen and its bounds: a record inside them (nearly all)
    // needs no division, which was a tenth of the writer's own instructions and more
    // of its cycles.
    let mut current = [(0u64, 0u64); RecordKind::ALL.len()];
    let mut days = Vec::new();
    for (code, i) in picked {
        let Some(r) = records.get(*i as usize) else { continue };
        let at = usize::from(*code).wrapping_sub(1);
        let (Some(bounds), Some(&kind)) = (current.get_mut(at), RecordKind::ALL.get(at)) else { continue };
        if (bounds.0..bounds.1).contains(&r.ts) {
            continue;
        }
        let day = r.ts / DAY_NS;
        *bounds = (day * DAY_NS, (day + 1).saturating_mul(DAY_NS));
        if !days.contains(&(kind, day)) {
            days.push((kind, day));
        }
    }
    days
}

/// Each (kind, day)'s partition in native mode, made if need be (None: its rows go
/// through the parent), after indexing the days before it. Asked every batch, not
/// remembered: a partition can be detached or dropped between two batches, and a
/// COPY into it would then fail the batch for good.
pub(super) fn prepare_days(
    client: &mut impl GenericClient,
    mode: Mode,
    days: &[(RecordKind, u64)],
    indexed_before: &HashSet<(usize, u64)>,
) -> Result<Vec<Option<String>>, PgError> {
    let mut partitions = Vec::with_capacity(days.len());
    if mode != Mode::Native {
        return Ok(partitions);
    }
    for (kind, day) in days {
        let (name, _) = table(*kind);
        let partition: Option<String> = client
            .query_one(
                "SELECT engine_day_partition($1, to_timestamp(($2::bigint * 86400)::double precision))",
                &[&name, &(*day as i64)],
            )
            .map_err(query("creating a daily partition"))?
            .get(0);
        partitions.push(partition);
        if !indexed_before.contains(&(index(*kind), *day)) {
            client
                .execute(
                    "SELECT engine_index_closed_days($1, to_timestamp(($2::bigint * 86400)::double precision))",
                    &[&name, &(*day as i64)],
                )
                .map_err(query("indexing closed days"))?;
        }
    }
    Ok(partitions)
}

/// One COPY per kind among the picked records (per day partition, in native mode).
/// `days` and `partitions` are the whole batch's, so a part of it may find days it
/// has no rows for; it skips them.
pub(super) fn copy_picked(
    tx: &mut postgres::Transaction<'_>,
    buf: &mut CopyBuf,
    mode: Mode,
    rows: (&[Record], &[(u8, u32)]),
    days: &[(RecordKind, u64)],
    partitions: &[Option<String>],
) -> Result<(), PgError> {
    let own = kinds_and_days(rows.0, rows.1);
    for kind in RecordKind::ALL {
        if !own.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        let (parent, _) = table(kind);
        if mode == Mode::Timescale {
            copy_rows(tx, buf, rows, kind, parent, None)?;
            continue;
        }
        // Rows are picked by day only when the kind spans several (midnight).
        let several = own.iter().filter(|(k, _)| *k == kind).count() > 1;
        let own_days = days.iter().zip(partitions).filter(|((k, d), _)| *k == kind && own.contains(&(*k, *d)));
        for ((_, day), partition) in own_days {
            let into = partition.as_deref().unwrap_or(parent);
            copy_rows(tx, buf, rows, kind, into, several.then_some(*day))?;
        }
    }
    Ok(())
}

/// Where the latest position snapshot per (venue, instrument) among the picked
/// records is, by record index. Only the part holding it writes that key's current
/// row, so parts of one batch never wait on each other's row locks there; the row
/// itself only moves forward in (time, sequence), which orders two snapshots of
/// one drain (they share a time) whichever is written last.
pub(super) fn latest_positions(records: &[Record], picked: &[(u8, u32)]) -> BTreeMap<(u16, u32), u32> {
    let mut latest = BTreeMap::new();
    for (kind, i) in picked {
        if *kind == RecordKind::Position as u8
            && let Some(r) = records.get(*i as usize)
        {
            latest.insert((r.venue, r.instrument), *i);
        }
    }
    latest
}

/// The current-state tables: the batch's latest position per (venue, instrument)
/// among `positions` that lies in `part`, and the latest event per order in `part`.
/// Orders carry their sequence, so parts committing in any order leave the latest.
pub(super) fn upsert_current(
    tx: &mut postgres::Transaction<'_>,
    records: &[Record],
    part: &[(u8, u32)],
    positions: &BTreeMap<(u16, u32), u32>,
) -> Result<(), PgError> {
    let mut orders = Latest::default();
    for (kind, i) in part {
        if *kind == RecordKind::Order as u8
            && let Some(r) = records.get(*i as usize)
        {
            orders.offer(r);
        }
    }
    // The part's records are a contiguous run of the batch's, in order.
    let (Some((_, first)), Some((_, last))) = (part.first(), part.last()) else { return Ok(()) };
    let own = |i: &&u32| (*first..=*last).contains(*i);
    let positions = positions.values().filter(own).filter_map(|i| records.get(*i as usize));
    // In key order, so two parts of a batch lock the same rows in the same order.
    for r in positions {
        let (venue, instrument, f) = (r.venue, r.instrument, r.fields);
        tx.execute(
            "INSERT INTO positions (venue, instrument, net_qty, avg_price, realised, unrealised, fees, mark, as_of_ns, \
             as_of_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (venue, instrument) DO UPDATE SET \
             net_qty = EXCLUDED.net_qty, avg_price = EXCLUDED.avg_price, realised = EXCLUDED.realised, \
             unrealised = EXCLUDED.unrealised, fees = EXCLUDED.fees, mark = EXCLUDED.mark, \
             as_of_ns = EXCLUDED.as_of_ns, as_of_seq = EXCLUDED.as_of_seq \
             WHERE (positions.as_of_ns, positions.as_of_seq) <= (EXCLUDED.as_of_ns, EXCLUDED.as_of_seq)",
            &[
                &(venue as i16),
                &(instrument as i32),
                &f[0],
                &f[1],
                &f[2],
                &f[3],
                &f[4],
                &f[5],
                &(r.ts as i64),
                &(r.seq as i64),
            ],
        )
        .map_err(query("updating current positions"))?;
    }
    orders.upsert(tx)
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
/// database does not hold yet, `batch` records per batch, and returns where it
/// stopped (the next call's `from`). Safe to run again, or after a crash at any
/// point: it resumes after each stream's watermark. Everything the journal holds
/// before `from` must be stored already (the end of an earlier load): at the end,
/// each stream's watermark is settled to the highest sequence the scan met.
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
    // Per stream, the highest sequence the scan met: once every batch is in, all
    // the journal holds up to it is stored.
    let mut through: Vec<(u16, u64)> = Vec::new();
    let end = reader.scan_until(from, until, |_, r| {
        match through.iter_mut().find(|(stream, _)| *stream == r.stream) {
            Some((_, seq)) => *seq = (*seq).max(r.seq),
            None => through.push((r.stream, r.seq)),
        }
        if failure.is_some() || sink.is_stored(r.stream, r.seq) {
            if failure.is_none() {
                sink.known.report.already_there += 1;
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
    sink.settle(&through)?;
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
