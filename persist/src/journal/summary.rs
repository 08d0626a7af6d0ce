//! What `engine journal inspect` and `verify` print: counts per kind and stream, the
//! time range, and whether every stream's sequence runs without holes or repeats.

use std::collections::BTreeMap;

use super::{JournalError, JournalReader, TornTail};
use crate::record::RecordKind;

/// One stream's records in a journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Records.
    pub records: u64,
    /// First sequence number seen.
    pub first_seq: u64,
    /// Last sequence number seen.
    pub last_seq: u64,
    /// Sequence numbers skipped (a record lost before it reached the journal).
    pub missing: u64,
    /// Records whose sequence was not above the previous one (a duplicate).
    pub repeated: u64,
}

/// A whole journal, summarised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalSummary {
    /// Segment files.
    pub segments: usize,
    /// Records.
    pub records: u64,
    /// Records per kind name; unknown kind codes count under `unknown`.
    pub kinds: BTreeMap<&'static str, u64>,
    /// Per stream id.
    pub streams: BTreeMap<u16, StreamSummary>,
    /// Earliest and latest record time (ns since the epoch), if any record.
    pub time_range: Option<(u64, u64)>,
    /// A torn final batch (reported, not an error: the next open truncates it).
    pub torn_tail: Option<TornTail>,
}

impl JournalSummary {
    /// Whether every stream's sequence is gapless and duplicate-free.
    pub fn sequences_intact(&self) -> bool {
        self.streams.values().all(|s| s.missing == 0 && s.repeated == 0)
    }
}

/// Reads the whole journal, checking every checksum.
///
/// # Errors
/// As [`JournalReader::scan`]: corruption other than a torn tail is an error.
pub fn summarize(reader: &JournalReader) -> Result<JournalSummary, JournalError> {
    let mut s = JournalSummary { segments: reader.segment_count(), ..JournalSummary::default() };
    let end = reader.scan(reader.start(), |_, r| {
        s.records += 1;
        *s.kinds.entry(r.kind().map_or("unknown", RecordKind::name)).or_insert(0) += 1;
        let st = s.streams.entry(r.stream).or_default();
        if st.records == 0 {
            st.first_seq = r.seq;
        } else if r.seq <= st.last_seq {
            st.repeated += 1;
        } else {
            st.missing += r.seq - st.last_seq - 1;
        }
        st.records += 1;
        st.last_seq = st.last_seq.max(r.seq);
        s.time_range = Some(s.time_range.map_or((r.ts, r.ts), |(lo, hi)| (lo.min(r.ts), hi.max(r.ts))));
    })?;
    s.torn_tail = end.torn_tail;
    Ok(s)
}
