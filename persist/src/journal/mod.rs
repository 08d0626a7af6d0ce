//! The embedded default sink: an append-only journal of [`Record`] batches.
//!
//! A journal is a directory of numbered segment files. Each append is one batch frame
//! (header, CRC32C, raw records) written with one `writev` call, so a process crash can
//! only ever leave the *last* batch incomplete: [`Journal::open`] finds that torn tail
//! by its checksums, truncates it and reports how many bytes went. Damage anywhere else
//! is corruption and stops the journal rather than being skipped.
//!
//! A power cut is different: with [`FsyncPolicy::EveryBatch`] only the last batch can
//! be lost; with an interval or no fsync, several unsynced batches are at the mercy of
//! the disk's write-back order, and damage followed by intact batches is refused as
//! corruption (nothing is truncated automatically; an operator decides). See [`format`] for the
//! bytes and the README for why plain `write` + `fdatasync` is the write method.

mod error;
pub mod format;
mod reader;
mod segments;
mod summary;

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

pub use error::JournalError;
use error::io_error;
use format::{MAX_BATCH_RECORDS, SEGMENT_HEADER_BYTES, SegmentHeader, batch_header};
pub use reader::{JournalReader, Position, ScanEnd, TornTail};
use segments::{list_segments, segment_path};
pub use summary::{JournalSummary, StreamSummary, summarize};

use crate::record::{Record, RecordKind};

/// When the journal forces written batches to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` after every batch: an acknowledged batch survives power loss.
    EveryBatch,
    /// At most this long between a write and its `fdatasync`.
    Interval(Duration),
    /// Never (the OS flushes when it likes): survives a process crash, not a power cut.
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;

    /// `batch`, `none`, or a number of milliseconds such as `10ms`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "batch" => Ok(Self::EveryBatch),
            "none" => Ok(Self::Never),
            ms => ms
                .strip_suffix("ms")
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(|n| Self::Interval(Duration::from_millis(n)))
                .ok_or_else(|| format!("fsync policy `{s}`: expected `batch`, `none` or milliseconds like `10ms`")),
        }
    }
}

/// How a journal is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// A segment is closed and a new one started once it would exceed this size.
    pub segment_bytes: u64,
    /// When to `fdatasync`.
    pub fsync: FsyncPolicy,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self { segment_bytes: 64 << 20, fsync: FsyncPolicy::EveryBatch }
    }
}

/// What [`Journal::open`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Segments present (after recovery).
    pub segments: usize,
    /// Records found intact.
    pub records: u64,
    /// The highest sequence number found per stream: producers resume after it.
    pub last_seq: BTreeMap<u16, u64>,
    /// The torn tail that was truncated, if there was one.
    pub truncated: Option<TornTail>,
    /// The highest client order id in any order, fill or risk record (0: none), so
    /// the next run can number its orders above every earlier run's.
    pub max_client_id: u64,
}

/// Counters since the journal was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Batches written.
    pub batches: u64,
    /// Records written.
    pub records: u64,
    /// Bytes written (frames and segment headers).
    pub bytes: u64,
    /// `fdatasync` calls.
    pub syncs: u64,
    /// Records written before the last successful `fdatasync` (all of them with
    /// [`FsyncPolicy::Never`]): those a failed sync cannot have cost.
    pub synced_records: u64,
    /// Segments started.
    pub segments_started: u64,
}

/// The journal writer. One per journal directory; it owns the last segment.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    options: JournalOptions,
    file: File,
    path: PathBuf,
    segment: u64,
    segment_len: u64,
    unsynced_since: Option<Instant>,
    stats: JournalStats,
    /// Everything before this is on stable storage (per the fsync policy).
    durable: Position,
    /// Set by a failed write or sync: the file may end in a partial frame, so
    /// nothing more may be appended behind it (reopen to truncate and go on).
    poisoned: Option<String>,
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`, reading it end to end: a torn
    /// final batch is truncated and reported, per-stream sequence watermarks are found.
    ///
    /// # Errors
    /// I/O failure, a foreign segment, or corruption that is not a torn tail (nothing
    /// is truncated then).
    pub fn open(dir: &Path, options: JournalOptions) -> Result<(Self, Recovery), JournalError> {
        // Only the engine's user may read what it traded (0700; segments are 0600).
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_error(dir))?;
        Self::repair_torn_header(dir)?;
        let reader = JournalReader::open(dir)?;
        let mut recovery = Recovery::default();
        let end = reader.scan(reader.start(), |_, record| {
            recovery.records += 1;
            let seq = recovery.last_seq.entry(record.stream).or_insert(0);
            *seq = (*seq).max(record.seq);
            if matches!(record.kind(), Some(RecordKind::Order | RecordKind::Fill | RecordKind::Risk)) {
                recovery.max_client_id = recovery.max_client_id.max(record.fields[0].max(0) as u64);
            }
        })?;
        let mut journal = if reader.segment_count() == 0 {
            Self::create_segment(dir, options, 0)?
        } else {
            let path = segment_path(dir, end.end.segment);
            let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io_error(&path))?;
            if end.torn_tail.is_some() {
                file.set_len(end.end.offset).map_err(io_error(&path))?;
            }
            // What a previous run wrote under a lax fsync policy becomes durable now,
            // so the durable position starts at the end.
            file.sync_all().map_err(io_error(&path))?;
            Self::with_file(dir, options, file, path, end.end.segment, end.end.offset)
        };
        journal.seek_end()?;
        recovery.segments = reader.segment_count().max(1);
        recovery.truncated = end.torn_tail;
        Ok((journal, recovery))
    }

    /// A crash between creating a segment and writing its header leaves a last segment
    /// shorter than a header: nothing in it was ever acknowledged, so it is removed.
    fn repair_torn_header(dir: &Path) -> Result<(), JournalError> {
        if let Some((_, path)) = list_segments(dir)?.pop() {
            let len = std::fs::metadata(&path).map_err(io_error(&path))?.len();
            if len < SEGMENT_HEADER_BYTES as u64 {
                std::fs::remove_file(&path).map_err(io_error(&path))?;
            }
        }
        Ok(())
    }

    fn with_file(dir: &Path, options: JournalOptions, file: File, path: PathBuf, segment: u64, len: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            options,
            file,
            path,
            segment,
            segment_len: len,
            unsynced_since: None,
            stats: JournalStats::default(),
            durable: Position { segment, offset: len },
            poisoned: None,
        }
    }

    fn seek_end(&mut self) -> Result<(), JournalError> {
        use std::io::Seek;
        self.file.seek(std::io::SeekFrom::End(0)).map_err(io_error(&self.path))?;
        Ok(())
    }

    fn create_segment(dir: &Path, options: JournalOptions, index: u64) -> Result<Self, JournalError> {
        let path = segment_path(dir, index);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error(&path))?;
        let header = SegmentHeader { index, created_ns: wall_clock_ns() }.encode();
        file.write_all(&header).map_err(io_error(&path))?;
        file.sync_all().map_err(io_error(&path))?;
        // The new name must be durable too, or a crash could lose the whole segment.
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
        let mut journal = Self::with_file(dir, options, file, path, index, SEGMENT_HEADER_BYTES as u64);
        journal.stats.segments_started = 1;
        journal.stats.bytes = SEGMENT_HEADER_BYTES as u64;
        Ok(journal)
    }

    /// Appends `records` as one batch (several if there are more than
    /// [`MAX_BATCH_RECORDS`]), rotating segments and syncing per the policy.
    ///
    /// # Errors
    /// The write or sync failed. The batch may be partly on disk; the next
    /// [`Journal::open`] truncates it as a torn tail, so it is not acknowledged.
    pub fn append(&mut self, records: &[Record]) -> Result<(), JournalError> {
        if let Some(reason) = &self.poisoned {
            return Err(JournalError::Poisoned { path: self.path.clone(), reason: reason.clone() });
        }
        let result = self.append_batches(records);
        if let Err(e) = &result {
            self.poisoned = Some(e.to_string());
        }
        result
    }

    fn append_batches(&mut self, records: &[Record]) -> Result<(), JournalError> {
        for batch in records.chunks(MAX_BATCH_RECORDS) {
            let header = batch_header(batch);
            let payload: &[u8] = bytemuck::cast_slice(batch);
            let frame_len = (header.len() + payload.len()) as u64;
            if self.segment_len > SEGMENT_HEADER_BYTES as u64
                && self.segment_len + frame_len > self.options.segment_bytes
            {
                self.rotate()?;
            }
            write_all_vectored(&mut self.file, &header, payload).map_err(io_error(&self.path))?;
            self.segment_len += frame_len;
            self.stats.batches += 1;
            self.stats.records += batch.len() as u64;
            if self.options.fsync == FsyncPolicy::Never {
                self.stats.synced_records = self.stats.records;
            }
            self.stats.bytes += frame_len;
            self.unsynced_since.get_or_insert_with(now);
            if self.options.fsync == FsyncPolicy::EveryBatch {
                self.sync()?;
            }
        }
        self.sync_if_due()
    }

    /// Syncs if the interval policy says it is time. Call it when idle too, so a
    /// quiet journal still meets its interval.
    ///
    /// # Errors
    /// The sync failed.
    pub fn sync_if_due(&mut self) -> Result<(), JournalError> {
        if let (FsyncPolicy::Interval(every), Some(since)) = (self.options.fsync, self.unsynced_since)
            && since.elapsed() >= every
        {
            self.sync()?;
        }
        Ok(())
    }

    /// Forces everything written so far to stable storage.
    ///
    /// # Errors
    /// The sync failed.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if let Some(reason) = &self.poisoned {
            return Err(JournalError::Poisoned { path: self.path.clone(), reason: reason.clone() });
        }
        if self.unsynced_since.is_some() {
            if let Err(e) = self.file.sync_data() {
                // After a failed fsync the kernel may have dropped the dirty pages:
                // nothing written since the last good sync can be trusted.
                let e = io_error(&self.path)(e);
                self.poisoned = Some(e.to_string());
                return Err(e);
            }
            self.unsynced_since = None;
            self.stats.syncs += 1;
        }
        self.stats.synced_records = self.stats.records;
        self.durable = self.position();
        Ok(())
    }

    /// Everything before this position is on stable storage as far as the fsync
    /// policy promises (with [`FsyncPolicy::Never`], everything written). A follower
    /// that must never get ahead of what survives a power cut reads only up to it.
    pub fn durable_position(&self) -> Position {
        if self.options.fsync == FsyncPolicy::Never { self.position() } else { self.durable }
    }

    fn rotate(&mut self) -> Result<(), JournalError> {
        if self.options.fsync != FsyncPolicy::Never {
            self.sync()?;
        }
        let synced = self.options.fsync != FsyncPolicy::Never;
        let next = Self::create_segment(&self.dir, self.options, self.segment + 1)?;
        self.file = next.file;
        self.path = next.path;
        self.segment = next.segment;
        self.segment_len = next.segment_len;
        self.stats.segments_started += 1;
        self.stats.bytes += SEGMENT_HEADER_BYTES as u64;
        if synced {
            // The old segment is synced and the new one is empty: durable up to here.
            self.durable = self.position();
        }
        Ok(())
    }

    /// Where the next batch will go.
    pub fn position(&self) -> Position {
        Position { segment: self.segment, offset: self.segment_len }
    }

    /// Counters since opening.
    pub fn stats(&self) -> JournalStats {
        self.stats
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// One `writev` of header and payload (no copy of the payload into a frame buffer),
/// continuing after a short write.
fn write_all_vectored(file: &mut File, header: &[u8], payload: &[u8]) -> std::io::Result<()> {
    let mut slices = [std::io::IoSlice::new(header), std::io::IoSlice::new(payload)];
    let mut bufs = &mut slices[..];
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[allow(clippy::disallowed_methods, reason = "fsync pacing on the cold core is wall-time, not replayed")]
fn now() -> Instant {
    Instant::now()
}

#[allow(clippy::disallowed_methods, reason = "a segment's creation time is informational, for operators")]
fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
