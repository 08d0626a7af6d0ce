//! Capture files: every frame a feed received, with its receive time, and every
//! book snapshot it was given, in order, so a replay feeds the engine exactly what
//! the live run saw.
//!
//! ```text
//! file:      magic "ENGCAP1\n" | record*
//! frame:     0u8 | ts_recv u64 | len u32 | bytes
//! snapshot:  1u8 | ts u64 | instrument u32 | count u32 | count × BookDelta (raw, 176 B each)
//! venue:     2u8 | venue u16 (whose message format the frames are in; first, if at all)
//! ```
//! Integers are little-endian. A capture that names its venue can be refused by a
//! replay that would decode it in another venue's format. A truncated final record (a capture cut short by a
//! crash) is reported as such, never misread.

use std::io::Write;

use crate::{
    Events,
    event::{BookDelta, Event, InstrumentId, Venue},
};

const MAGIC: &[u8; 8] = b"ENGCAP1\n";
const FRAME: u8 = 0;
const SNAPSHOT: u8 = 1;
const VENUE: u8 = 2;
/// The largest frame a capture may hold.
pub const MAX_FRAME: usize = 16 << 20;

/// Writes a capture.
#[derive(Debug)]
pub struct CaptureWriter<W: Write> {
    out: W,
}

impl<W: Write> CaptureWriter<W> {
    /// Starts a capture (writes the magic).
    ///
    /// # Errors
    /// The write failed.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(MAGIC)?;
        Ok(Self { out })
    }

    /// Records whose message format the frames are in (write it first).
    ///
    /// # Errors
    /// The write failed.
    pub fn venue(&mut self, venue: Venue) -> std::io::Result<()> {
        self.out.write_all(&[VENUE])?;
        self.out.write_all(&(venue as u16).to_le_bytes())
    }

    /// Appends a frame received at `ts_recv`.
    ///
    /// # Errors
    /// The write failed.
    pub fn frame(&mut self, ts_recv: u64, frame: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(frame.len()).map_err(std::io::Error::other)?;
        self.out.write_all(&[FRAME])?;
        self.out.write_all(&ts_recv.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(frame)
    }

    /// Appends the snapshot given for `instrument`: its `BookDelta` events.
    ///
    /// # Errors
    /// The write failed.
    pub fn snapshot(&mut self, ts: u64, instrument: InstrumentId, events: &Events) -> std::io::Result<()> {
        let deltas = events.as_slice().iter().filter_map(|e| match e {
            Event::BookDelta(d) if d.instrument == instrument => Some(d),
            _ => None,
        });
        let count = deltas.clone().count() as u32;
        self.out.write_all(&[SNAPSHOT])?;
        self.out.write_all(&ts.to_le_bytes())?;
        self.out.write_all(&instrument.0.to_le_bytes())?;
        self.out.write_all(&count.to_le_bytes())?;
        for d in deltas {
            self.out.write_all(bytemuck::bytes_of(d))?;
        }
        Ok(())
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// The flush failed.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One item of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A frame and when it was received.
    Frame {
        /// Receive time (ns).
        ts_recv: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// A snapshot for one instrument: `count` raw deltas in `raw`.
    Snapshot {
        /// When it was applied (ns).
        ts: u64,
        /// The instrument.
        instrument: InstrumentId,
        /// The deltas' bytes.
        raw: &'a [u8],
    },
    /// Whose message format the frames are in (`Venue as u16`).
    Venue {
        /// The venue.
        venue: u16,
    },
}

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// Not a capture file.
    #[error("not a capture file (bad magic)")]
    BadMagic,
    /// A record of an unknown type.
    #[error("unknown record type {kind} at byte {offset}")]
    UnknownRecord {
        /// The type byte.
        kind: u8,
        /// Where.
        offset: usize,
    },
    /// The file ends inside a record.
    #[error("capture cut short at byte {offset} (an interrupted recording?)")]
    Truncated {
        /// Where the incomplete record starts.
        offset: usize,
    },
    /// A frame longer than [`MAX_FRAME`].
    #[error("frame of {len} bytes at byte {offset} is larger than {MAX_FRAME}")]
    FrameTooLarge {
        /// Its claimed length.
        len: usize,
        /// Where.
        offset: usize,
    },
}

/// Reads a capture held in memory, without copying frames.
#[derive(Debug, Clone)]
pub struct CaptureReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl<'a> CaptureReader<'a> {
    /// A reader over a whole capture.
    ///
    /// # Errors
    /// [`CaptureError::BadMagic`].
    pub fn new(bytes: &'a [u8]) -> Result<Self, CaptureError> {
        if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err(CaptureError::BadMagic);
        }
        Ok(Self { bytes, at: MAGIC.len() })
    }

    /// Resumes reading `bytes` (a whole capture) at `position`, as returned by
    /// [`CaptureReader::position`].
    pub fn resume(bytes: &'a [u8], position: usize) -> Self {
        Self { bytes, at: position.max(MAGIC.len()) }
    }

    /// Where the next item starts.
    pub fn position(&self) -> usize {
        self.at
    }

    /// The next item, `None` at the end.
    ///
    /// # Errors
    /// A damaged or truncated record; the reader stays at it.
    pub fn next_item(&mut self) -> Option<Result<Item<'a>, CaptureError>> {
        let b = self.bytes;
        let offset = self.at;
        let kind = *b.get(offset)?;
        let truncated = Err(CaptureError::Truncated { offset });
        let item = match kind {
            FRAME => {
                let (Some(ts_recv), Some(len)) = (u64_at(b, offset + 1), u32_at(b, offset + 9)) else {
                    return Some(truncated);
                };
                let len = len as usize;
                if len > MAX_FRAME {
                    return Some(Err(CaptureError::FrameTooLarge { len, offset }));
                }
                let Some(bytes) = b.get(offset + 13..offset + 13 + len) else { return Some(truncated) };
                self.at = offset + 13 + len;
                Item::Frame { ts_recv, bytes }
            }
            SNAPSHOT => {
                let (Some(ts), Some(instrument), Some(count)) =
                    (u64_at(b, offset + 1), u32_at(b, offset + 9), u32_at(b, offset + 13))
                else {
                    return Some(truncated);
                };
                let len = count as usize * size_of::<BookDelta>();
                let Some(raw) = b.get(offset + 17..offset + 17 + len) else { return Some(truncated) };
                self.at = offset + 17 + len;
                Item::Snapshot { ts, instrument: InstrumentId(instrument), raw }
            }
            VENUE => {
                let Some(&[lo, hi]) = b.get(offset + 1..offset + 3) else { return Some(truncated) };
                self.at = offset + 3;
                Item::Venue { venue: u16::from_le_bytes([lo, hi]) }
            }
            kind => return Some(Err(CaptureError::UnknownRecord { kind, offset })),
        };
        Some(Ok(item))
    }
}

/// The venue a capture says its frames came from (`Venue as u16`), if it says.
///
/// # Errors
/// [`CaptureError::BadMagic`], or a damaged first record.
pub fn recorded_venue(bytes: &[u8]) -> Result<Option<u16>, CaptureError> {
    match CaptureReader::new(bytes)?.next_item() {
        Some(Ok(Item::Venue { venue })) => Ok(Some(venue)),
        Some(Err(e)) => Err(e),
        _ => Ok(None),
    }
}

/// Appends a snapshot item's deltas to `out` as events; `false` if `out` filled up.
pub fn snapshot_events(raw: &[u8], out: &mut Events) -> bool {
    raw.chunks_exact(size_of::<BookDelta>())
        .all(|chunk| out.push(Event::BookDelta(bytemuck::pod_read_unaligned::<BookDelta>(chunk))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{BookSide, Level, Price, Qty, UnixNanos, Venue};

    #[test]
    fn frames_and_snapshots_round_trip_and_truncation_is_reported() {
        let mut events = Events::with_capacity(4);
        let mut d = BookDelta::new(Venue::Binance, InstrumentId(2), (5, 5), UnixNanos(1), UnixNanos(2));
        d.push(BookSide::Bid, Level { price: Price(10), qty: Qty(3) });
        d.set_snapshot();
        d.set_last();
        assert!(events.push(Event::BookDelta(d)));
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        w.frame(7, b"{\"e\":1}").unwrap();
        w.snapshot(8, InstrumentId(2), &events).unwrap();
        w.frame(9, b"").unwrap();
        let bytes = w.finish().unwrap();

        let mut r = CaptureReader::new(&bytes).unwrap();
        assert_eq!(r.next_item(), Some(Ok(Item::Frame { ts_recv: 7, bytes: b"{\"e\":1}" })));
        let Some(Ok(Item::Snapshot { ts: 8, instrument: InstrumentId(2), raw })) = r.next_item() else { panic!() };
        let mut back = Events::with_capacity(4);
        assert!(snapshot_events(raw, &mut back));
        assert_eq!(back.as_slice(), events.as_slice());
        assert_eq!(r.next_item(), Some(Ok(Item::Frame { ts_recv: 9, bytes: b"" })));
        assert_eq!(r.next_item(), None);

        for cut in 9..bytes.len() - 13 {
            let mut r = CaptureReader::new(&bytes[..cut]).unwrap();
            let mut last = None;
            while let Some(item) = r.next_item() {
                last = Some(item.clone());
                if item.is_err() {
                    break;
                }
            }
            if let Some(Err(e)) = last {
                assert!(matches!(e, CaptureError::Truncated { .. }), "cut {cut}: {e}");
            }
        }
        assert_eq!(CaptureReader::new(b"JUNKJUNK").unwrap_err(), CaptureError::BadMagic);
        assert_eq!(recorded_venue(&bytes), Ok(None), "this one does not say");
    }

    #[test]
    fn a_capture_can_name_its_venue_first() {
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        w.venue(Venue::Okx).unwrap();
        w.frame(7, b"{}").unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(recorded_venue(&bytes), Ok(Some(Venue::Okx as u16)));
        let mut r = CaptureReader::new(&bytes).unwrap();
        assert_eq!(r.next_item(), Some(Ok(Item::Venue { venue: Venue::Okx as u16 })));
        assert_eq!(r.next_item(), Some(Ok(Item::Frame { ts_recv: 7, bytes: b"{}" })));
        assert_eq!(recorded_venue(&bytes[..MAGIC.len() + 2]), Err(CaptureError::Truncated { offset: MAGIC.len() }));
    }
}
