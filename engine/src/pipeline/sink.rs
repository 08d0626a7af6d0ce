//! The hot side of persistence: records go into this core's SPSC ring to the cold
//! core. The hot core never waits for the cold core while trading live: when the ring
//! is full, records that must be kept (orders, fills, positions, risk decisions) are
//! held in a backlog allocated at start-up, in order, and moved into the ring as it
//! drains; market-data records are dropped and counted meanwhile (they would
//! otherwise overtake the held ones). The stage sees [`RecordSink::is_behind`] and
//! applies its policy (reduce-only or halt) until the backlog is gone. Only if the
//! backlog itself fills does the stage wait, the last resort before losing a record.
//! A replay waits instead of holding, so that its orders never depend on how fast
//! the cold core happened to be.

use std::collections::VecDeque;

use persist::{Fields, Origin, Record};
use rings::spsc::Producer;

/// The cold core stopped draining: order records can no longer be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the persistence core stopped draining its ring; halting so no order or fill record is lost")]
pub struct PersistGone;

/// Records a live stage holds while its ring is full: 80 bytes each, 5 MiB.
pub const BACKLOG: usize = 1 << 16;

/// One hot stage's record stream.
#[derive(Debug)]
pub struct RecordSink {
    ring: Option<Producer<Record>>,
    stream: u16,
    seq: u64,
    /// Records that must be kept, numbered, waiting for room in the ring (empty, with
    /// no capacity, for a sink that waits instead).
    backlog: VecDeque<Record>,
    /// Market records dropped because the ring was full (or records were held).
    pub dropped_market: u64,
    /// Records held in the backlog because the ring was full.
    pub held: u64,
    /// The most records the backlog held at once.
    pub held_peak: u64,
    /// Times a record had to wait for room: the backlog was full too (or the sink
    /// waits rather than holds).
    pub waits: u64,
}

impl RecordSink {
    /// A live stage's sink writing stream `stream` into `ring`, numbering from
    /// `last_seq + 1`, with a backlog of [`BACKLOG`] records. `None` disables
    /// persistence (`--persist none`).
    pub fn new(ring: Option<Producer<Record>>, stream: u16, last_seq: u64) -> Self {
        let backlog = if ring.is_some() { BACKLOG } else { 0 };
        Self::with_backlog(ring, stream, last_seq, backlog)
    }

    /// A sink that waits for room instead of holding records (a replay).
    pub fn waiting(ring: Option<Producer<Record>>, stream: u16, last_seq: u64) -> Self {
        Self::with_backlog(ring, stream, last_seq, 0)
    }

    fn with_backlog(ring: Option<Producer<Record>>, stream: u16, last_seq: u64, backlog: usize) -> Self {
        let backlog = VecDeque::with_capacity(backlog);
        Self { ring, stream, seq: last_seq, backlog, dropped_market: 0, held: 0, held_peak: 0, waits: 0 }
    }

    fn origin(&self, ts: u64, venue: u16, instrument: u32) -> Origin {
        Origin { stream: self.stream, seq: self.seq + 1, ts, venue, instrument }
    }

    /// A market-data record: dropped and counted if the ring is full or records are
    /// held (it must not overtake them).
    #[inline]
    pub fn market(&mut self, fields: impl Fields, ts: u64, venue: u16, instrument: u32) {
        let record = fields.into_record(self.origin(ts, venue, instrument));
        let Some(ring) = self.ring.as_mut() else { return };
        if self.backlog.is_empty() && ring.try_push(record).is_ok() {
            self.seq += 1;
        } else {
            self.dropped_market += 1;
        }
    }

    /// A record that must not be lost: into the ring, or held if the ring is full;
    /// waits only if the backlog is full too.
    ///
    /// # Errors
    /// [`PersistGone`] when the consumer has detached.
    #[inline]
    pub fn must(&mut self, fields: impl Fields, ts: u64, venue: u16, instrument: u32) -> Result<(), PersistGone> {
        let record = fields.into_record(self.origin(ts, venue, instrument));
        if self.ring.is_none() {
            return Ok(());
        }
        self.flush()?;
        if self.backlog.is_empty()
            && let Some(ring) = self.ring.as_mut()
        {
            match ring.try_push(record) {
                Ok(()) => {
                    self.seq += 1;
                    return Ok(());
                }
                Err(_) if ring.is_abandoned() => return Err(PersistGone),
                Err(_) => {}
            }
        }
        if self.backlog.len() == self.backlog.capacity() {
            self.waits += 1;
            while self.backlog.len() == self.backlog.capacity() {
                if self.backlog.capacity() == 0 {
                    // A waiting sink: this record goes straight into the ring.
                    return self.push_waiting(record);
                }
                self.flush()?;
                std::hint::spin_loop();
            }
        }
        self.backlog.push_back(record);
        self.seq += 1;
        self.held += 1;
        self.held_peak = self.held_peak.max(self.backlog.len() as u64);
        Ok(())
    }

    fn push_waiting(&mut self, mut record: Record) -> Result<(), PersistGone> {
        let Some(ring) = self.ring.as_mut() else { return Ok(()) };
        loop {
            match ring.try_push(record) {
                Ok(()) => break,
                Err(e) => {
                    if ring.is_abandoned() {
                        return Err(PersistGone);
                    }
                    record = e.into_inner();
                    std::hint::spin_loop();
                }
            }
        }
        self.seq += 1;
        Ok(())
    }

    /// Moves held records into the ring while it has room, oldest first.
    ///
    /// # Errors
    /// [`PersistGone`] when the consumer has detached with records still held.
    pub fn flush(&mut self) -> Result<(), PersistGone> {
        let Some(ring) = self.ring.as_mut() else { return Ok(()) };
        while let Some(record) = self.backlog.front() {
            if ring.try_push(*record).is_err() {
                return if ring.is_abandoned() { Err(PersistGone) } else { Ok(()) };
            }
            self.backlog.pop_front();
        }
        Ok(())
    }

    /// Whether records are held: the cold core is behind.
    pub fn is_behind(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Records in the ring not yet drained, plus those held.
    pub fn backlog(&self) -> usize {
        self.ring.as_ref().map_or(0, |r| r.len()) + self.backlog.len()
    }

    /// The last sequence number written.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use persist::record::TradeFields;

    use super::*;

    fn trade(n: i64) -> TradeFields {
        TradeFields { ts_exchange: 0, trade_id: n, price: 100, qty: 1, aggressor: 1 }
    }

    #[test]
    fn a_full_ring_holds_must_records_in_order_and_drops_market_ones() {
        let (tx, mut rx) = rings::spsc::channel::<Record>(4).unwrap();
        let mut sink = RecordSink::new(Some(tx), 1, 10);
        for n in 0..4 {
            sink.market(trade(n), 0, 0, 0);
        }
        sink.must(trade(4), 0, 0, 0).unwrap();
        sink.must(trade(5), 0, 0, 0).unwrap();
        sink.market(trade(6), 0, 0, 0);
        assert!(sink.is_behind());
        assert_eq!((sink.held, sink.dropped_market, sink.waits), (2, 1, 0));
        let mut seqs = Vec::new();
        while let Ok(r) = rx.try_pop() {
            seqs.push(r.seq);
        }
        sink.flush().unwrap();
        assert!(!sink.is_behind());
        sink.market(trade(7), 0, 0, 0);
        while let Ok(r) = rx.try_pop() {
            seqs.push(r.seq);
        }
        assert_eq!(seqs, [11, 12, 13, 14, 15, 16, 17], "gapless, in order, the dropped one unnumbered");
    }

    #[test]
    fn a_detached_cold_core_is_reported_not_held_for() {
        let (tx, rx) = rings::spsc::channel::<Record>(2).unwrap();
        let mut sink = RecordSink::new(Some(tx), 1, 0);
        sink.must(trade(0), 0, 0, 0).unwrap();
        sink.must(trade(1), 0, 0, 0).unwrap();
        sink.must(trade(2), 0, 0, 0).unwrap(); // held
        drop(rx);
        assert_eq!(sink.flush(), Err(PersistGone));
        assert_eq!(sink.must(trade(3), 0, 0, 0), Err(PersistGone));
    }
}
