//! Per-venue book sequencing: whether an update continues the book, repeats what it
//! already has, or leaves a gap; and, where the venue sends one, whether the book's
//! checksum after the update matches. One [`Sequencer`] per instrument book.
//!
//! | venue | continuity rule (`first_seq`, `last_seq` as decoded) |
//! |---|---|
//! | Binance | diff depth `U..u`: drop if `u <= last`; a gap if `U > last + 1` |
//! | Bybit | `u` per topic: `u == last + 1`; `u <= last` repeats; a snapshot (or `u == 1`, a service restart) replaces the book |
//! | OKX | `prevSeqId == last seqId`; `seqId == last seqId` repeats (or is a no-change heartbeat, `prevSeqId == seqId`) |
//! | Kraken | no sequence: the top-10 CRC32 after every update is the check |
//! | Coinbase (level2) | no sequence: the channel is the guaranteed-delivery one |
//!
//! A snapshot always resyncs. After a gap the book is invalid until the next snapshot
//! (the caller fetches one, or the venue sends one); updates in between are dropped
//! and counted, never applied.

use crate::book::Book;
use crate::event::{BookDelta, Venue};

/// What to do with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It continues the book: apply it.
    Apply,
    /// A snapshot: clear the book and apply it.
    Resync,
    /// Already applied (a duplicate, or an older frame arriving late): drop it.
    Stale,
    /// Updates are missing: the book is invalid until a snapshot.
    Gap {
        /// The sequence the book needed next.
        expected: u64,
        /// The sequence that came.
        got: u64,
    },
    /// The book is waiting for a snapshot: drop it.
    Waiting,
}

/// The venue's checksum and ours disagree after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("book checksum mismatch: the venue sent {sent}, the book gives {computed}")]
pub struct ChecksumMismatch {
    /// What the venue sent.
    pub sent: u32,
    /// What our book gives.
    pub computed: u32,
}

/// Counts of what a sequencer has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequencerCounts {
    /// Updates applied (snapshots included).
    pub applied: u64,
    /// Duplicates and late frames dropped.
    pub stale: u64,
    /// Gaps detected.
    pub gaps: u64,
    /// Updates dropped while waiting for a snapshot.
    pub dropped_waiting: u64,
    /// Checksum mismatches (each also invalidates the book).
    pub checksum_mismatches: u64,
}

/// One instrument book's sequencing state.
#[derive(Debug, Clone)]
pub struct Sequencer {
    venue: Venue,
    last: u64,
    synced: bool,
    counts: SequencerCounts,
}

impl Sequencer {
    /// A sequencer for `venue`, waiting for its first snapshot.
    pub fn new(venue: Venue) -> Self {
        Self { venue, last: 0, synced: false, counts: SequencerCounts::default() }
    }

    /// Whether the book is in sync (a snapshot applied, no gap since).
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The counts so far.
    pub fn counts(&self) -> SequencerCounts {
        self.counts
    }

    /// The last sequence applied (the book's update id).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// A snapshot fetched out of band (REST) now stands in the book, up to `last`.
    pub fn resync(&mut self, last: u64) {
        self.last = last;
        self.synced = true;
        self.counts.applied += 1;
    }

    /// The book can no longer be trusted (the connection dropped, an update did not
    /// apply): wait for a snapshot.
    pub fn invalidate(&mut self) {
        self.synced = false;
    }

    /// The verdict on an update, given by its first delta (the deltas of one update
    /// share their sequence numbers). Updates state as if the caller follows it.
    pub fn check(&mut self, d: &BookDelta) -> Verdict {
        if d.is_snapshot() {
            self.last = d.last_seq;
            self.synced = true;
            self.counts.applied += 1;
            return Verdict::Resync;
        }
        if !self.synced {
            self.counts.dropped_waiting += 1;
            return Verdict::Waiting;
        }
        let (first, last) = (d.first_seq, d.last_seq);
        let verdict = match self.venue {
            Venue::Binance if last <= self.last => Verdict::Stale,
            Venue::Binance if first > self.last + 1 => Verdict::Gap { expected: self.last + 1, got: first },
            Venue::Bybit if last <= self.last => Verdict::Stale,
            Venue::Bybit if last != self.last + 1 => Verdict::Gap { expected: self.last + 1, got: last },
            // A repeat of the last message, or a no-change heartbeat (prevSeqId == seqId).
            Venue::Okx if last == self.last => Verdict::Stale,
            Venue::Okx if first != self.last => Verdict::Gap { expected: self.last, got: first },
            _ => Verdict::Apply,
        };
        match verdict {
            Verdict::Apply => {
                // OKX's chain is identity, not order (its sequence may reset lower).
                self.last = if self.venue == Venue::Okx { last } else { self.last.max(last) };
                self.counts.applied += 1;
            }
            Verdict::Stale => self.counts.stale += 1,
            Verdict::Gap { .. } => {
                self.synced = false;
                self.counts.gaps += 1;
            }
            Verdict::Resync | Verdict::Waiting => {}
        }
        verdict
    }

    /// After the update's last delta is applied: compares the venue's checksum (if
    /// the delta carries one) with the book's. A mismatch leaves the sequencer waiting
    /// for a snapshot, like a gap. `scale` is the book's (price, qty) decimals and
    /// `precision` the venue's for the instrument (Kraken writes at its precision).
    ///
    /// # Errors
    /// [`ChecksumMismatch`] when they disagree.
    pub fn verify(
        &mut self,
        d: &BookDelta,
        book: &Book,
        scale: (u8, u8),
        precision: (u8, u8),
    ) -> Result<(), ChecksumMismatch> {
        let Some(sent) = d.checksum() else { return Ok(()) };
        let computed = match self.venue {
            Venue::Kraken => crate::checksum::kraken(book, scale, precision),
            Venue::Okx => Some(crate::checksum::okx(book, scale) as u32),
            _ => return Ok(()),
        };
        match computed {
            Some(c) if c == sent => Ok(()),
            other => {
                self.synced = false;
                self.counts.checksum_mismatches += 1;
                Err(ChecksumMismatch { sent, computed: other.unwrap_or(0) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{BookSide, InstrumentId, Level, Price, Qty, UnixNanos};

    fn delta(venue: Venue, seq: (u64, u64), snapshot: bool) -> BookDelta {
        let mut d = BookDelta::new(venue, InstrumentId(0), seq, UnixNanos(0), UnixNanos(0));
        d.push(BookSide::Bid, Level { price: Price(100), qty: Qty(1) });
        if snapshot {
            d.set_snapshot();
        }
        d.set_last();
        d
    }

    #[test]
    fn binance_bridges_the_snapshot_then_requires_continuity() {
        let mut s = Sequencer::new(Venue::Binance);
        assert_eq!(s.check(&delta(Venue::Binance, (1, 5), false)), Verdict::Waiting);
        assert_eq!(s.check(&delta(Venue::Binance, (0, 100), true)), Verdict::Resync);
        assert_eq!(s.check(&delta(Venue::Binance, (90, 100), false)), Verdict::Stale, "all already in the snapshot");
        assert_eq!(s.check(&delta(Venue::Binance, (95, 105), false)), Verdict::Apply, "overlaps the snapshot");
        assert_eq!(s.check(&delta(Venue::Binance, (106, 110), false)), Verdict::Apply);
        assert_eq!(s.check(&delta(Venue::Binance, (112, 115), false)), Verdict::Gap { expected: 111, got: 112 });
        assert!(!s.is_synced());
        assert_eq!(s.check(&delta(Venue::Binance, (116, 118), false)), Verdict::Waiting);
        let c = s.counts();
        assert_eq!((c.applied, c.stale, c.gaps, c.dropped_waiting), (3, 1, 1, 2));
    }

    #[test]
    fn bybit_counts_by_one_and_a_restart_replaces_the_book() {
        let mut s = Sequencer::new(Venue::Bybit);
        assert_eq!(s.check(&delta(Venue::Bybit, (10, 10), true)), Verdict::Resync);
        assert_eq!(s.check(&delta(Venue::Bybit, (11, 11), false)), Verdict::Apply);
        assert_eq!(s.check(&delta(Venue::Bybit, (11, 11), false)), Verdict::Stale, "a duplicate");
        assert_eq!(s.check(&delta(Venue::Bybit, (13, 13), false)), Verdict::Gap { expected: 12, got: 13 });
        // The decoder marks u == 1 (a restarted service) as a snapshot.
        assert_eq!(s.check(&delta(Venue::Bybit, (1, 1), true)), Verdict::Resync);
        assert_eq!(s.check(&delta(Venue::Bybit, (2, 2), false)), Verdict::Apply);
    }

    #[test]
    fn okx_chains_by_identity() {
        let mut s = Sequencer::new(Venue::Okx);
        assert_eq!(s.check(&delta(Venue::Okx, (0, 100), true)), Verdict::Resync);
        assert_eq!(s.check(&delta(Venue::Okx, (100, 107), false)), Verdict::Apply, "any step size");
        assert_eq!(s.check(&delta(Venue::Okx, (107, 107), false)), Verdict::Stale, "no-change heartbeat");
        assert_eq!(s.check(&delta(Venue::Okx, (100, 107), false)), Verdict::Stale, "the last message again");
        assert_eq!(s.check(&delta(Venue::Okx, (107, 90), false)), Verdict::Apply, "a sequence reset still chains");
        assert_eq!(s.check(&delta(Venue::Okx, (95, 99), false)), Verdict::Gap { expected: 90, got: 95 });
    }

    #[test]
    fn venues_without_a_sequence_apply_everything_once_synced() {
        for venue in [Venue::Kraken, Venue::Coinbase] {
            let mut s = Sequencer::new(venue);
            assert_eq!(s.check(&delta(venue, (0, 0), false)), Verdict::Waiting);
            assert_eq!(s.check(&delta(venue, (0, 0), true)), Verdict::Resync);
            assert_eq!(s.check(&delta(venue, (0, 0), false)), Verdict::Apply);
        }
    }

    #[test]
    fn a_checksum_mismatch_unsyncs_the_book() {
        let mut s = Sequencer::new(Venue::Okx);
        let mut d = delta(Venue::Okx, (0, 1), true);
        let mut book = Book::with_depth(8);
        book.apply(&d).unwrap();
        assert_eq!(s.check(&d), Verdict::Resync);
        d.set_checksum(crate::checksum::okx(&book, (0, 0)) as u32);
        assert_eq!(s.verify(&d, &book, (0, 0), (0, 0)), Ok(()));
        d.set_checksum(12345);
        assert!(s.verify(&d, &book, (0, 0), (0, 0)).is_err());
        assert!(!s.is_synced());
        assert_eq!(s.counts().checksum_mismatches, 1);
        assert_eq!(s.check(&delta(Venue::Okx, (1, 2), false)), Verdict::Waiting);
    }
}
