//! Reading a journal from any batch position, checking every checksum on the way.

use std::path::{Path, PathBuf};

use super::{
    error::{JournalError, io_error},
    format::{Damage, SEGMENT_HEADER_BYTES, SegmentHeader, records_of, walk_batches},
    segments::list_segments,
};
use crate::record::Record;

/// Where a batch starts: a segment index and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Segment index.
    pub segment: u64,
    /// Byte offset of the batch in the segment file.
    pub offset: u64,
}

/// The incomplete final batch a crash left behind, found by a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Where the incomplete batch starts.
    pub at: Position,
    /// Bytes from there to the end of the segment.
    pub bytes: u64,
    /// What was wrong with it.
    pub reason: String,
}

/// How a scan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEnd {
    /// Just past the last valid batch: where the next append goes.
    pub end: Position,
    /// A torn final batch, which [`crate::journal::Journal::open`] would truncate.
    pub torn_tail: Option<TornTail>,
}

/// A read-only view of a journal directory.
#[derive(Debug, Clone)]
pub struct JournalReader {
    dir: PathBuf,
    segments: Vec<(u64, PathBuf)>,
}

impl JournalReader {
    /// Opens a journal directory for reading.
    ///
    /// # Errors
    /// The directory cannot be listed, or its segment numbers have a hole (a segment
    /// was deleted: its records are gone, and the reader will not pretend otherwise).
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let segments = list_segments(dir)?;
        for pair in segments.windows(2) {
            if let [(a, _), (b, path)] = pair
                && *b != a + 1
            {
                return Err(JournalError::Corrupt {
                    path: path.clone(),
                    offset: 0,
                    reason: format!("segments {} to {} are missing", a + 1, b - 1),
                });
            }
        }
        Ok(Self { dir: dir.to_path_buf(), segments })
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many segments there are.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The first batch position.
    pub fn start(&self) -> Position {
        let segment = self.segments.first().map_or(0, |(i, _)| *i);
        Position { segment, offset: SEGMENT_HEADER_BYTES as u64 }
    }

    /// Calls `visit` on every record from the batch at `from` to the end, in order,
    /// with the position of its batch.
    ///
    /// # Errors
    /// I/O failure, a foreign or mismatched segment header, `from` not at a batch
    /// start, or corruption anywhere but a torn final batch of the last segment.
    pub fn scan(&self, from: Position, visit: impl FnMut(Position, &Record)) -> Result<ScanEnd, JournalError> {
        self.scan_until(from, None, visit)
    }

    /// [`JournalReader::scan`], stopping before the batch at or after `until` (a
    /// follower that must not read past what is durable passes the journal's
    /// [`crate::journal::Journal::durable_position`]).
    ///
    /// # Errors
    /// As [`JournalReader::scan`].
    pub fn scan_until(
        &self,
        from: Position,
        until: Option<Position>,
        mut visit: impl FnMut(Position, &Record),
    ) -> Result<ScanEnd, JournalError> {
        let mut end = from;
        let last = self.segments.last().map(|(i, _)| *i);
        let stop = until.unwrap_or(Position { segment: u64::MAX, offset: u64::MAX });
        for (index, path) in self.segments.iter().filter(|(i, _)| *i >= from.segment && *i <= stop.segment) {
            let bytes = std::fs::read(path).map_err(io_error(path))?;
            if Some(*index) == last && bytes.len() < SEGMENT_HEADER_BYTES {
                // A segment being created right now (its header not yet written), or
                // one a crash left empty; the writer removes the latter on open.
                break;
            }
            let header = SegmentHeader::decode(&bytes)
                .map_err(|reason| JournalError::BadSegment { path: path.clone(), reason })?;
            if header.index != *index {
                let reason = format!("header says segment {}, file name says {index}", header.index);
                return Err(JournalError::BadSegment { path: path.clone(), reason });
            }
            let start = if *index == from.segment { from.offset } else { SEGMENT_HEADER_BYTES as u64 };
            let mut first = true;
            let mut misplaced = false;
            end = Position { segment: *index, offset: start };
            let limit = if *index == stop.segment { stop.offset } else { u64::MAX };
            let mut limited = false;
            let damage = walk_batches(&bytes, start, |batch| {
                if batch.offset >= limit {
                    limited = true;
                    return false;
                }
                if first && batch.offset != start {
                    misplaced = true;
                    return false;
                }
                first = false;
                let at = Position { segment: *index, offset: batch.offset };
                for record in records_of(batch.payload) {
                    visit(at, &record);
                }
                end.offset = batch.offset + (super::format::BATCH_HEADER_BYTES + batch.payload.len()) as u64;
                true
            });
            let damage_at = match &damage {
                Some(Damage::TornTail { offset, .. } | Damage::Corrupt { offset, .. }) => Some(*offset),
                None => None,
            };
            let nothing_there = first && start != bytes.len() as u64 && damage_at != Some(start);
            if misplaced || (nothing_there && !limited && start != SEGMENT_HEADER_BYTES as u64) {
                return Err(JournalError::BadPosition { segment: from.segment, offset: from.offset });
            }
            match damage {
                None => {}
                // At or past the limit the writer may still be mid-batch: not ours to judge.
                Some(_) if limited || damage_at.is_some_and(|at| at >= limit) => {}
                Some(Damage::TornTail { offset, bytes, reason }) if Some(*index) == last => {
                    let at = Position { segment: *index, offset };
                    return Ok(ScanEnd { end, torn_tail: Some(TornTail { at, bytes, reason }) });
                }
                Some(Damage::TornTail { offset, reason, .. } | Damage::Corrupt { offset, reason }) => {
                    return Err(JournalError::Corrupt { path: path.clone(), offset, reason });
                }
            }
        }
        Ok(ScanEnd { end, torn_tail: None })
    }

    /// Every record, in journal order (a convenience for tools and tests).
    ///
    /// # Errors
    /// As [`JournalReader::scan`].
    pub fn read_all(&self) -> Result<(Vec<Record>, ScanEnd), JournalError> {
        let mut out = Vec::new();
        let end = self.scan(self.start(), |_, r| out.push(*r))?;
        Ok((out, end))
    }
}
