//! An L2 order book built for the feed core: two sorted arrays with the best level at
//! the end, so the best bid and ask are O(1), an update near the top of the book moves
//! few entries, and nothing allocates after construction. The depth is bounded. A
//! side that would grow past it (a full-depth diff stream, such as Binance's, covers
//! thousands of levels) keeps its best levels and drops the worst: it is then
//! *truncated*, exact from the best level down to the worst it holds, with nothing
//! known beyond (so it takes no new level below its worst). Deletes can thin a truncated side until levels beyond its worst,
//! which it dropped, would be among the top: below [`TRUNCATED_FLOOR`] levels it is
//! invalid until the next snapshot.

use crate::event::{BookDelta, BookSide, Level, Price};

/// How few levels a truncated side may hold (or its whole depth, if smaller) before
/// the levels it dropped could be among its best.
pub const TRUNCATED_FLOOR: usize = 10;

/// Why a book refused an update, or stopped being trustworthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BookError {
    /// A side that dropped levels past its depth was thinned below the floor: the
    /// levels it dropped may now be among its best.
    #[error("a truncated book side fell to {held} levels, below {floor}: the levels it dropped are unknown")]
    Thin {
        /// Levels the side holds.
        held: usize,
        /// The floor it fell below.
        floor: usize,
    },
    /// After a complete update the best bid is at or above the best ask.
    #[error("book crossed: best bid {bid} >= best ask {ask}")]
    Crossed {
        /// Best bid price (ticks).
        bid: i64,
        /// Best ask price (ticks).
        ask: i64,
    },
}

/// One instrument's L2 book.
#[derive(Debug, Clone)]
pub struct Book {
    /// Ascending by price: the best (highest) bid is last.
    bids: Vec<Level>,
    /// Descending by price: the best (lowest) ask is last.
    asks: Vec<Level>,
    max_levels: usize,
    /// Per side (bids, asks): levels were dropped past the depth since the last clear.
    truncated: [bool; 2],
    valid: bool,
    /// Inside a multi-event update (a delta without `last` was applied).
    mid_update: bool,
    /// The update in progress: its sequence range, whether it is a snapshot, and
    /// whether any of its events failed.
    current: (u64, u64),
    current_is_snapshot: bool,
    current_failed: bool,
}

impl Book {
    /// An empty (and not yet valid) book holding at most `max_levels` per side.
    pub fn with_depth(max_levels: usize) -> Self {
        Self {
            bids: Vec::with_capacity(max_levels),
            asks: Vec::with_capacity(max_levels),
            max_levels,
            truncated: [false; 2],
            valid: false,
            mid_update: false,
            current: (0, 0),
            current_is_snapshot: false,
            current_failed: false,
        }
    }

    /// Whether the book can be trusted: synced by a snapshot that applied cleanly, not
    /// crossed at the end of any update since nor thinned too far while truncated, and
    /// not in the middle of a multi-event update (which may be transiently crossed).
    pub fn is_valid(&self) -> bool {
        self.valid && !self.mid_update
    }

    /// Marks the book untrustworthy (a gap, a failed checksum) until the next snapshot.
    pub fn invalidate(&mut self) {
        self.valid = false;
    }

    /// Empties both sides.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.truncated = [false; 2];
        self.mid_update = false;
    }

    /// The best bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last().copied()
    }

    /// The best ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.last().copied()
    }

    /// Levels on a side, best first.
    pub fn levels(&self, side: BookSide) -> impl Iterator<Item = Level> + '_ {
        self.side(side).iter().rev().copied()
    }

    /// Whether a side dropped levels past its depth since the last snapshot (it is
    /// exact only down to its worst level).
    pub fn is_truncated(&self, side: BookSide) -> bool {
        let [bids, asks] = self.truncated;
        if side == BookSide::Ask { asks } else { bids }
    }

    /// Keeps the best `depth` levels of each side, without marking either truncated.
    /// For a venue that holds a subscriber's book at a fixed depth: it sends no delete
    /// for a level an insert pushes out, and it sends each level that comes back into
    /// the depth, so the book stays exact (Kraken: "after each update, the book should
    /// be truncated to your subscribed depth").
    pub fn trim_to(&mut self, depth: usize) {
        for side in [&mut self.bids, &mut self.asks] {
            // Worst first: the levels past `depth` are at the front.
            side.drain(..side.len().saturating_sub(depth));
        }
    }

    /// How many levels a side holds.
    pub fn depth(&self, side: BookSide) -> usize {
        self.side(side).len()
    }

    fn side(&self, side: BookSide) -> &Vec<Level> {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }

    /// Sets one level's absolute size; size 0 removes it (removing an absent level is
    /// a no-op, as venues send deletes for levels outside a client's depth). A new
    /// level on a full side pushes out the worst, or is itself dropped if it is the
    /// worst: the side is then truncated.
    ///
    /// # Errors
    /// [`BookError::Thin`] when a delete leaves a truncated side below the floor; the
    /// book is then marked invalid (its best levels may be ones it dropped).
    pub fn set(&mut self, side: BookSide, level: Level) -> Result<(), BookError> {
        let max = self.max_levels;
        let [bids_truncated, asks_truncated] = &mut self.truncated;
        // A closure per side, not a `fn` pointer chosen at run time: the comparison
        // then inlines into the search (a pointer call per probe cost 7% of a replay).
        let result = match side {
            BookSide::Bid => set_level(&mut self.bids, level, |a, b| a > b, bids_truncated, max),
            BookSide::Ask => set_level(&mut self.asks, level, |a, b| a < b, asks_truncated, max),
        };
        if result.is_err() {
            self.valid = false;
        }
        result
    }

    /// Applies one `BookDelta`. Events of one update share its sequence range; an
    /// event that does not continue the update in progress starts a new one (and an
    /// unfinished previous update leaves the book invalid). A snapshot's first event
    /// clears the book; the last event of an update checks that the book is not
    /// crossed and, for a snapshot that applied cleanly, makes the book valid.
    ///
    /// # Errors
    /// [`BookError::Thin`] or [`BookError::Crossed`]; either leaves the book invalid
    /// until the next clean snapshot.
    pub fn apply(&mut self, delta: &BookDelta) -> Result<(), BookError> {
        let range = (delta.first_seq, delta.last_seq);
        let continues = self.mid_update && range == self.current;
        if !continues {
            if self.mid_update {
                self.valid = false; // the previous update never completed
            }
            self.current = range;
            self.current_is_snapshot = delta.is_snapshot();
            self.current_failed = false;
            if delta.is_snapshot() {
                self.clear();
            }
        }
        self.mid_update = !delta.is_last();
        for (side, level) in delta.levels() {
            if let Err(e) = self.set(side, level) {
                self.current_failed = true;
                return Err(e);
            }
        }
        if delta.is_last() {
            if let (Some(bid), Some(ask)) = (self.best_bid(), self.best_ask())
                && bid.price >= ask.price
            {
                self.valid = false;
                return Err(BookError::Crossed { bid: bid.price.0, ask: ask.price.0 });
            }
            if self.current_is_snapshot && !self.current_failed {
                self.valid = true;
            }
        }
        Ok(())
    }
}

/// [`Book::set`] on one side, whose levels run from worst to best by `better`.
fn set_level(
    levels: &mut Vec<Level>,
    level: Level,
    better: impl Fn(Price, Price) -> bool,
    truncated: &mut bool,
    max: usize,
) -> Result<(), BookError> {
    let floor = TRUNCATED_FLOOR.min(max);
    // Position from the worst end: entries before `at` are worse than `level`.
    let at = levels.partition_point(|l| better(level.price, l.price));
    let exists = levels.get(at).is_some_and(|l| l.price == level.price);
    if exists {
        if level.qty.0 == 0 {
            levels.remove(at);
            if *truncated && levels.len() < floor {
                return Err(BookError::Thin { held: levels.len(), floor });
            }
        } else if let Some(existing) = levels.get_mut(at) {
            existing.qty = level.qty;
        }
    } else if level.qty.0 != 0 {
        // Every level a truncated side dropped is worse than every level it holds,
        // so it stays exact down to its worst: a new level below that is dropped
        // too, even with room, as a dropped one might lie between them.
        if at == 0 && (*truncated || levels.len() == max) {
            *truncated = true;
            return Ok(());
        }
        if levels.len() == max {
            *truncated = true;
            levels.remove(0); // the worst goes; `level` lands one place lower
            levels.insert(at - 1, level);
            return Ok(());
        }
        levels.insert(at, level);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{InstrumentId, Qty, UnixNanos, Venue};

    fn level(price: i64, qty: i64) -> Level {
        Level { price: Price(price), qty: Qty(qty) }
    }

    fn delta(levels: &[(BookSide, i64, i64)], snapshot: bool, last: bool) -> BookDelta {
        seq_delta(levels, snapshot, last, 1)
    }

    fn seq_delta(levels: &[(BookSide, i64, i64)], snapshot: bool, last: bool, seq: u64) -> BookDelta {
        let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (seq, seq), UnixNanos(0), UnixNanos(0));
        for &(side, p, q) in levels {
            assert!(d.push(side, level(p, q)));
        }
        if snapshot {
            d.set_snapshot();
        }
        if last {
            d.set_last();
        }
        d
    }

    #[test]
    fn best_levels_updates_and_deletes() {
        let mut book = Book::with_depth(8);
        book.apply(&delta(
            &[(BookSide::Bid, 99, 5), (BookSide::Bid, 100, 2), (BookSide::Ask, 102, 1), (BookSide::Ask, 101, 3)],
            true,
            true,
        ))
        .unwrap();
        assert!(book.is_valid());
        assert_eq!(book.best_bid(), Some(level(100, 2)));
        assert_eq!(book.best_ask(), Some(level(101, 3)));
        book.apply(&delta(&[(BookSide::Bid, 100, 0), (BookSide::Ask, 101, 7), (BookSide::Ask, 200, 0)], false, true))
            .unwrap();
        assert_eq!(book.best_bid(), Some(level(99, 5)));
        assert_eq!(book.best_ask(), Some(level(101, 7)));
        assert_eq!(book.levels(BookSide::Ask).collect::<Vec<_>>(), [level(101, 7), level(102, 1)]);
    }

    #[test]
    fn a_crossed_update_invalidates_and_a_snapshot_restores() {
        let mut book = Book::with_depth(8);
        book.apply(&delta(&[(BookSide::Bid, 100, 1), (BookSide::Ask, 101, 1)], true, true)).unwrap();
        let err = book.apply(&delta(&[(BookSide::Bid, 101, 1)], false, true)).unwrap_err();
        assert_eq!(err, BookError::Crossed { bid: 101, ask: 101 });
        assert_eq!(err.to_string(), "book crossed: best bid 101 >= best ask 101");
        assert!(!book.is_valid());
        book.apply(&delta(&[(BookSide::Bid, 90, 1)], true, false)).unwrap();
        assert!(!book.is_valid(), "not valid until the snapshot's last event");
        book.apply(&delta(&[(BookSide::Ask, 95, 1)], true, true)).unwrap();
        assert!(book.is_valid());
        assert_eq!((book.depth(BookSide::Bid), book.depth(BookSide::Ask)), (1, 1), "the snapshot replaced the book");
    }

    #[test]
    fn a_snapshot_that_failed_or_an_unfinished_update_never_validates() {
        // Crossed in the middle of a snapshot... is only judged at its end; a failed
        // event (a thinned truncated side) in it: its last event must not validate it.
        let mut book = Book::with_depth(1);
        book.apply(&seq_delta(&[(BookSide::Bid, 100, 1), (BookSide::Bid, 99, 1)], true, false, 5)).unwrap();
        assert!(book.is_truncated(BookSide::Bid));
        assert!(book.apply(&seq_delta(&[(BookSide::Bid, 100, 0)], true, false, 5)).is_err(), "thinned to nothing");
        book.apply(&seq_delta(&[(BookSide::Ask, 101, 1)], true, true, 5)).unwrap();
        assert!(!book.is_valid());
        // A diff whose last event never came, then a new snapshot: cleared, then valid.
        let mut book = Book::with_depth(8);
        book.apply(&seq_delta(&[(BookSide::Bid, 50, 1)], false, false, 6)).unwrap();
        assert!(!book.is_valid(), "mid-update");
        book.apply(&seq_delta(&[(BookSide::Bid, 100, 1), (BookSide::Ask, 101, 1)], true, true, 7)).unwrap();
        assert!(book.is_valid());
        assert_eq!(book.levels(BookSide::Bid).count(), 1, "the stale bid at 50 was cleared");
        // Transiently crossed inside a multi-event diff: not valid until its end.
        book.apply(&seq_delta(&[(BookSide::Bid, 102, 1)], false, false, 8)).unwrap();
        assert!(!book.is_valid());
        book.apply(&seq_delta(&[(BookSide::Bid, 102, 0)], false, true, 8)).unwrap();
        assert!(book.is_valid());
    }

    #[test]
    fn a_full_side_keeps_its_best_levels_and_thinning_it_too_far_invalidates() {
        let mut book = Book::with_depth(12);
        let snapshot: Vec<_> = (1..=12).map(|p| (BookSide::Bid, 100 + p, 1)).collect();
        book.apply(&seq_delta(&snapshot[..8], true, false, 1)).unwrap();
        book.apply(&seq_delta(&snapshot[8..], true, true, 1)).unwrap();
        assert!(book.is_valid() && !book.is_truncated(BookSide::Bid));
        let capacity = book.bids.capacity();
        // Better than the worst: it comes in and the worst (101) goes.
        book.set(BookSide::Bid, level(113, 5)).unwrap();
        assert_eq!(book.best_bid(), Some(level(113, 5)));
        assert_eq!(book.levels(BookSide::Bid).last(), Some(level(102, 1)));
        // Worse than every level held: dropped.
        book.set(BookSide::Bid, level(50, 5)).unwrap();
        assert_eq!(book.depth(BookSide::Bid), 12);
        assert!(book.is_truncated(BookSide::Bid) && !book.is_truncated(BookSide::Ask));
        assert!(book.is_valid(), "its top is exact");
        assert_eq!(book.bids.capacity(), capacity, "never reallocated");
        // Deletes thin it: at the floor it is still exact; below it, invalid.
        for p in 102..=103 {
            book.set(BookSide::Bid, level(p, 0)).unwrap();
        }
        assert_eq!(book.depth(BookSide::Bid), TRUNCATED_FLOOR);
        assert_eq!(book.set(BookSide::Bid, level(104, 0)), Err(BookError::Thin { held: 9, floor: 10 }));
        assert!(!book.is_valid());
        assert_eq!(
            BookError::Thin { held: 9, floor: 10 }.to_string(),
            "a truncated book side fell to 9 levels, below 10: the levels it dropped are unknown"
        );
        // A snapshot makes it whole again, and untruncated.
        book.apply(&seq_delta(&snapshot[..8], true, false, 2)).unwrap();
        book.apply(&seq_delta(&snapshot[8..], true, true, 2)).unwrap();
        assert!(book.is_valid() && !book.is_truncated(BookSide::Bid));
    }

    /// Kraken's way: an insert pushes the worst level out of the subscribed depth
    /// with no delete for it, and a delete is followed by the level that comes back
    /// into the depth. Trimmed after each update, the book keeps exactly the venue's
    /// levels, and a level that came back is taken (the side is not truncated).
    #[test]
    fn trimming_to_a_subscribed_depth_keeps_the_venues_levels() {
        let mut book = Book::with_depth(8);
        let snapshot: Vec<_> = (1..=4).map(|p| (BookSide::Bid, 100 + p, 1)).chain([(BookSide::Ask, 200, 1)]).collect();
        book.apply(&delta(&snapshot, true, true)).unwrap();
        book.set(BookSide::Bid, level(150, 2)).unwrap();
        book.trim_to(4);
        let bids: Vec<i64> = book.levels(BookSide::Bid).map(|l| l.price.0).collect();
        assert_eq!(bids, [150, 104, 103, 102], "101 fell out of the depth");
        assert_eq!(book.depth(BookSide::Ask), 1, "a side within the depth keeps every level");
        book.set(BookSide::Bid, level(150, 0)).unwrap();
        book.set(BookSide::Bid, level(101, 3)).unwrap();
        book.trim_to(4);
        let bids: Vec<(i64, i64)> = book.levels(BookSide::Bid).map(|l| (l.price.0, l.qty.0)).collect();
        assert_eq!(bids, [(104, 1), (103, 1), (102, 1), (101, 3)], "101 came back with its new size");
        assert!(!book.is_truncated(BookSide::Bid) && book.is_valid());
    }
}
