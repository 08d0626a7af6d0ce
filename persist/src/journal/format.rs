//! The bytes on disk. A segment is a 64-byte header followed by batches; a batch is
//! a 16-byte header followed by `count` raw [`Record`]s. All integers little-endian.
//!
//! ```text
//! segment header: magic "ENGJRNL\0" | format u32 | schema u32 | record size u32 | 0u32
//!                 | segment index u64 | created ns u64 | 20 zero bytes | crc32c(0..60) u32
//! batch header:   magic u32 | count u32 | crc32c(payload) u32 | crc32c(header bytes 0..12) u32
//! ```
//!
//! The header has its own checksum so a damaged count is never believed: without
//! it, a count flipped upwards would make a good batch look like one cut short by a
//! crash, and recovery would truncate everything after it.
//!
//! ```text
//! ```

use crate::record::{RECORD_BYTES, Record};

pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"ENGJRNL\0";
pub(crate) const FORMAT_VERSION: u32 = 2;
/// Bumped when [`Record`]'s meaning changes; readers refuse other versions.
pub const SCHEMA_VERSION: u32 = 1;
pub(crate) const SEGMENT_HEADER_BYTES: usize = 64;
pub(crate) const BATCH_MAGIC: u32 = u32::from_le_bytes(*b"BTCH");
pub(crate) const BATCH_HEADER_BYTES: usize = 16;
/// The most records one batch frame may hold (8 MiB of payload); larger appends are
/// split. It also bounds what a reader believes of a damaged count field.
pub const MAX_BATCH_RECORDS: usize = 8 * 1024 * 1024 / RECORD_BYTES;

/// A decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    pub index: u64,
    pub created_ns: u64,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        b.copy_from_slice(src);
    }
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        b.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut h = [0u8; SEGMENT_HEADER_BYTES];
        h[0..8].copy_from_slice(&SEGMENT_MAGIC);
        h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&SCHEMA_VERSION.to_le_bytes());
        h[16..20].copy_from_slice(&(RECORD_BYTES as u32).to_le_bytes());
        h[24..32].copy_from_slice(&self.index.to_le_bytes());
        h[32..40].copy_from_slice(&self.created_ns.to_le_bytes());
        let crc = crc32c::crc32c(&h[..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes and validates a header, saying what is wrong if it is not one of ours.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let Some(h) = bytes.get(..SEGMENT_HEADER_BYTES) else {
            return Err(format!("{} bytes, shorter than a segment header ({SEGMENT_HEADER_BYTES})", bytes.len()));
        };
        if h[0..8] != SEGMENT_MAGIC {
            return Err("not a journal segment (bad magic)".into());
        }
        if crc32c::crc32c(&h[..60]) != u32_at(h, 60) {
            return Err("segment header checksum mismatch".into());
        }
        let format = u32_at(h, 8);
        if format != FORMAT_VERSION {
            return Err(format!("journal format version {format}, this build reads {FORMAT_VERSION}"));
        }
        let schema = u32_at(h, 12);
        if schema != SCHEMA_VERSION {
            return Err(format!("record schema version {schema}, this build reads {SCHEMA_VERSION}"));
        }
        let size = u32_at(h, 16) as usize;
        if size != RECORD_BYTES {
            return Err(format!("record size {size} bytes, this build writes {RECORD_BYTES}"));
        }
        Ok(Self { index: u64_at(h, 24), created_ns: u64_at(h, 32) })
    }
}

/// The header of the batch frame holding `records` (the payload is the records'
/// bytes as they are, written after it without a copy).
pub(crate) fn batch_header(records: &[Record]) -> [u8; BATCH_HEADER_BYTES] {
    let payload: &[u8] = bytemuck::cast_slice(records);
    let mut header = [0u8; BATCH_HEADER_BYTES];
    header[0..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    header[4..8].copy_from_slice(&(records.len() as u32).to_le_bytes());
    header[8..12].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let own = crc32c::crc32c(&header[..12]);
    header[12..16].copy_from_slice(&own.to_le_bytes());
    header
}

/// Appends one batch frame (header and payload) to `out`.
#[cfg(test)]
pub(crate) fn encode_batch(records: &[Record], out: &mut Vec<u8>) {
    out.extend_from_slice(&batch_header(records));
    out.extend_from_slice(bytemuck::cast_slice(records));
}

/// How a walk over a segment's batches stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The end of the data is an incomplete or unchecksummed final batch: what a crash
    /// mid-write leaves. Safe to truncate at `offset`.
    TornTail {
        /// Where the damaged batch starts.
        offset: u64,
        /// Bytes from there to the end of the file.
        bytes: u64,
        /// What was wrong.
        reason: String,
    },
    /// A bad batch with more data after it: not a crash artefact. Never skipped.
    Corrupt {
        /// Where the damaged batch starts.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

/// One batch found by [`walk_batches`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchAt<'a> {
    pub offset: u64,
    pub payload: &'a [u8],
}

/// Walks the batches of a segment's bytes (header included), calling `visit` on each
/// valid one in order, and returns the damage that stopped it, if any. Batches before
/// `from` are length-checked but not checksummed.
pub(crate) fn walk_batches<'a>(
    segment: &'a [u8],
    from: u64,
    mut visit: impl FnMut(BatchAt<'a>) -> bool,
) -> Option<Damage> {
    let len = segment.len();
    let mut at = SEGMENT_HEADER_BYTES;
    while at < len {
        let offset = at as u64;
        let rest = len - at;
        let torn = |reason: String| Damage::TornTail { offset, bytes: rest as u64, reason };
        let Some(header) = segment.get(at..at + BATCH_HEADER_BYTES) else {
            return Some(torn(format!("{rest} bytes, shorter than a batch header")));
        };
        if u32_at(header, 0) != BATCH_MAGIC {
            // Some filesystems leave zeroes after a crash where an append was allocated.
            if segment.get(at..).is_some_and(|tail| tail.iter().all(|b| *b == 0)) {
                return Some(torn("zero-filled tail".into()));
            }
            return Some(Damage::Corrupt { offset, reason: "bad batch magic".into() });
        }
        if crc32c::crc32c(header.get(..12).unwrap_or_default()) != u32_at(header, 12) {
            return Some(Damage::Corrupt { offset, reason: "batch header checksum mismatch".into() });
        }
        let count = u32_at(header, 4) as usize;
        if count == 0 || count > MAX_BATCH_RECORDS {
            return Some(Damage::Corrupt { offset, reason: format!("impossible batch record count {count}") });
        }
        let end = at + BATCH_HEADER_BYTES + count * RECORD_BYTES;
        let Some(payload) = segment.get(at + BATCH_HEADER_BYTES..end) else {
            return Some(torn(format!("batch of {count} records cut short at {rest} bytes")));
        };
        if offset >= from {
            if crc32c::crc32c(payload) != u32_at(header, 8) {
                let reason = "batch checksum mismatch".to_string();
                return Some(if end == len { torn(reason) } else { Damage::Corrupt { offset, reason } });
            }
            if !visit(BatchAt { offset, payload }) {
                return None;
            }
        }
        at = end;
    }
    None
}

/// The records of a valid batch payload. Copies, because a payload read from a file
/// carries no alignment guarantee.
pub(crate) fn records_of(payload: &[u8]) -> impl Iterator<Item = Record> + '_ {
    payload.chunks_exact(RECORD_BYTES).map(bytemuck::pod_read_unaligned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Origin, RecordKind};

    fn records(n: u64) -> Vec<Record> {
        (1..=n)
            .map(|seq| Record::new(RecordKind::Trade, Origin { seq, ..Origin::default() }, 0, [seq as i64; 6]))
            .collect()
    }

    fn segment(batches: &[Vec<Record>]) -> Vec<u8> {
        let mut bytes = SegmentHeader { index: 3, created_ns: 9 }.encode().to_vec();
        for b in batches {
            encode_batch(b, &mut bytes);
        }
        bytes
    }

    fn walk(bytes: &[u8]) -> (Vec<u64>, Option<Damage>) {
        let mut seqs = Vec::new();
        let damage = walk_batches(bytes, 0, |b| {
            seqs.extend(records_of(b.payload).map(|r| r.seq));
            true
        });
        (seqs, damage)
    }

    #[test]
    fn header_round_trips_and_rejects_tampering() {
        let h = SegmentHeader { index: 42, created_ns: 7 };
        let mut bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(h));
        bytes[25] ^= 1;
        assert!(SegmentHeader::decode(&bytes).unwrap_err().contains("checksum"));
        assert!(SegmentHeader::decode(&bytes[..10]).unwrap_err().contains("shorter"));
    }

    #[test]
    fn every_truncation_point_is_a_torn_tail_never_corruption() {
        let bytes = segment(&[records(3), records(2)]);
        let first_end = SEGMENT_HEADER_BYTES + BATCH_HEADER_BYTES + 3 * RECORD_BYTES;
        for cut in SEGMENT_HEADER_BYTES + 1..bytes.len() {
            let (seqs, damage) = walk(&bytes[..cut]);
            let expected: &[u64] = if cut >= first_end { &[1, 2, 3] } else { &[] };
            assert_eq!(seqs, expected, "cut at {cut}");
            if cut != first_end {
                assert!(matches!(damage, Some(Damage::TornTail { .. })), "cut at {cut}: {damage:?}");
            }
        }
        assert_eq!(walk(&bytes), (vec![1, 2, 3, 1, 2], None));
    }

    #[test]
    fn a_flipped_bit_mid_segment_is_corruption_and_at_the_end_a_torn_tail() {
        let mut bytes = segment(&[records(3), records(2)]);
        let mut tail = bytes.clone();
        bytes[SEGMENT_HEADER_BYTES + BATCH_HEADER_BYTES + 5] ^= 0x40;
        assert!(matches!(walk(&bytes).1, Some(Damage::Corrupt { offset: 64, .. })));
        let last = tail.len() - 3;
        tail[last] ^= 0x40;
        let (seqs, damage) = walk(&tail);
        assert_eq!(seqs, [1, 2, 3]);
        assert!(matches!(damage, Some(Damage::TornTail { .. })));
    }

    #[test]
    fn a_damaged_count_is_corruption_not_a_torn_tail() {
        let mut bytes = segment(&[records(3), records(2), records(4)]);
        let second = SEGMENT_HEADER_BYTES + BATCH_HEADER_BYTES + 3 * RECORD_BYTES;
        bytes[second + 5] ^= 0x01; // count 2 -> 258: would run past the end of the file
        let (seqs, damage) = walk(&bytes);
        assert_eq!(seqs, [1, 2, 3]);
        assert!(matches!(damage, Some(Damage::Corrupt { offset, .. }) if offset == second as u64), "{damage:?}");
    }

    #[test]
    fn zero_fill_after_the_data_is_a_torn_tail() {
        let mut bytes = segment(&[records(2)]);
        bytes.extend_from_slice(&[0u8; 4096]);
        let (seqs, damage) = walk(&bytes);
        assert_eq!(seqs, [1, 2]);
        assert!(matches!(damage, Some(Damage::TornTail { bytes: 4096, .. })));
    }
}
