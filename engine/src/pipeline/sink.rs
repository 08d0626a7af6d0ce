//! The hot side of persistence: records go into this core's SPSC ring to the cold
//! core. Market-data records may be dropped (counted) when the ring is full; order,
//! fill, position and risk records never are: the stage waits for room, and if the
//! cold core is gone it reports that so the engine halts instead of losing them.

use persist::{Fields, Origin, Record};
use rings::spsc::Producer;

/// The cold core stopped draining: order records can no longer be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the persistence core stopped draining its ring; halting so no order or fill record is lost")]
pub struct PersistGone;

/// One hot stage's record stream.
#[derive(Debug)]
pub struct RecordSink {
    ring: Option<Producer<Record>>,
    stream: u16,
    seq: u64,
    /// Market records dropped because the ring was full.
    pub dropped_market: u64,
    /// Times an order record had to wait for room.
    pub stalls: u64,
}

impl RecordSink {
    /// A sink writing stream `stream` into `ring`, numbering from `last_seq + 1`.
    /// `None` disables persistence (`--persist none`).
    pub fn new(ring: Option<Producer<Record>>, stream: u16, last_seq: u64) -> Self {
        Self { ring, stream, seq: last_seq, dropped_market: 0, stalls: 0 }
    }

    fn origin(&self, ts: u64, venue: u16, instrument: u32) -> Origin {
        Origin { stream: self.stream, seq: self.seq + 1, ts, venue, instrument }
    }

    /// A market-data record: dropped and counted if the ring is full.
    #[inline]
    pub fn market(&mut self, fields: impl Fields, ts: u64, venue: u16, instrument: u32) {
        let record = fields.into_record(self.origin(ts, venue, instrument));
        let Some(ring) = self.ring.as_mut() else { return };
        if ring.try_push(record).is_ok() {
            self.seq += 1;
        } else {
            self.dropped_market += 1;
        }
    }

    /// A record that must not be lost: waits for room.
    ///
    /// # Errors
    /// [`PersistGone`] when the consumer has detached.
    #[inline]
    pub fn must(&mut self, fields: impl Fields, ts: u64, venue: u16, instrument: u32) -> Result<(), PersistGone> {
        let mut record = fields.into_record(self.origin(ts, venue, instrument));
        let Some(ring) = self.ring.as_mut() else { return Ok(()) };
        let mut stalled = false;
        loop {
            match ring.try_push(record) {
                Ok(()) => break,
                Err(e) => {
                    if ring.is_abandoned() {
                        return Err(PersistGone);
                    }
                    stalled = true;
                    record = e.into_inner();
                    std::hint::spin_loop();
                }
            }
        }
        self.stalls += u64::from(stalled);
        self.seq += 1;
        Ok(())
    }

    /// Records in the ring not yet drained.
    pub fn backlog(&self) -> usize {
        self.ring.as_ref().map_or(0, |r| r.len())
    }

    /// The last sequence number written.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}
