//! What every venue decoder shares: error constructors, signed-checked decimals, and
//! building a book update as bounded `BookDelta`s with its flags set at the end.

use crate::buffer::Events;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{BookDelta, BookSide, Event, Level, Price, Qty, Trade};
use crate::json::Scanner;

/// Runs one frame's decoding into `out`, which the frame changes all or not at all:
/// on an error, everything `decode` appended is taken back. Returns how many events
/// the frame added. `decode` gets the length `out` had before.
pub(crate) fn all_or_nothing(
    out: &mut Events,
    decode: impl FnOnce(&mut Events, usize) -> Result<(), DecodeError>,
) -> Result<usize, DecodeError> {
    let before = out.len();
    let result = decode(out, before);
    if result.is_err() {
        out.truncate(before);
    }
    result.map(|()| out.len() - before)
}

/// An error at byte `at`.
pub(crate) fn error(at: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError { offset: u32::try_from(at).unwrap_or(u32::MAX), kind }
}

/// A field the message lacks altogether (offset 0: the message).
pub(crate) fn missing(field: &'static str) -> DecodeError {
    error(0, DecodeErrorKind::MissingField { field })
}

/// A decimal at `scale`, with the venue's sign rule: > 0 when `positive`, else >= 0.
pub(crate) fn decimal(s: &mut Scanner<'_>, scale: u8, field: &'static str, positive: bool) -> Result<i64, DecodeError> {
    let at = s.pos();
    let v = s.fixed(scale)?.map_err(|e| error(at, DecodeErrorKind::BadDecimal { field, error: e }))?;
    match v {
        v if v < 0 => Err(error(at, DecodeErrorKind::Negative { field })),
        0 if positive => Err(error(at, DecodeErrorKind::NotPositive { field })),
        v => Ok(v),
    }
}

/// A trade's price and size, read where the object scan saw them (`(offset, field)`):
/// their scales belong to the instrument, which may come later in the object. Leaves
/// the scanner at `end`.
pub(crate) fn price_and_size(
    s: &mut Scanner<'_>,
    inst: crate::symbols::Instrument,
    (price_at, price_field): (Option<usize>, &'static str),
    (size_at, size_field): (Option<usize>, &'static str),
    end: usize,
) -> Result<(Price, Qty), DecodeError> {
    s.seek(price_at.ok_or(missing(price_field))?);
    let price = decimal(s, inst.price_scale, price_field, true)?;
    s.seek(size_at.ok_or(missing(size_field))?);
    let size = decimal(s, inst.qty_scale, size_field, true)?;
    s.seek(end);
    Ok((Price(price), Qty(size)))
}

/// Appends a trade, or a buffer-full error at the trade's `start`.
pub(crate) fn push_trade(out: &mut Events, trade: Trade, start: usize) -> Result<(), DecodeError> {
    if out.push(Event::Trade(trade)) { Ok(()) } else { Err(error(start, DecodeErrorKind::BufferFull)) }
}

/// `buy`/`sell` (any venue's spelling passed in) to a side, or a typed error.
pub(crate) fn side(
    text: &[u8],
    buy: &[u8],
    sell: &[u8],
    at: usize,
    field: &'static str,
    expected: &'static str,
) -> Result<crate::event::Side, DecodeError> {
    match text {
        t if t == buy => Ok(crate::event::Side::Buy),
        t if t == sell => Ok(crate::event::Side::Sell),
        _ => Err(error(at, DecodeErrorKind::BadField { field, expected })),
    }
}

/// One book update being written into `out` as bounded deltas.
pub(crate) struct Update {
    template: BookDelta,
    delta: BookDelta,
    start: usize,
}

impl Update {
    /// Starts an update whose deltas are copies of `template` (instrument, sequence,
    /// times), appended to `out` from its current end.
    pub(crate) fn new(template: BookDelta, out: &Events) -> Self {
        Self { template, delta: template, start: out.len() }
    }

    /// Adds a level, closing the current delta into `out` when it is full.
    pub(crate) fn level(
        &mut self,
        out: &mut Events,
        side: BookSide,
        level: Level,
        at: usize,
    ) -> Result<(), DecodeError> {
        if !self.delta.push(side, level) {
            if !out.push(Event::BookDelta(self.delta)) {
                return Err(error(at, DecodeErrorKind::BufferFull));
            }
            self.delta = self.template;
            self.delta.push(side, level);
        }
        Ok(())
    }

    /// Closes the update: the last delta goes out, every delta of the update is marked
    /// a snapshot if it is one, and the last is marked last.
    pub(crate) fn finish(self, out: &mut Events, snapshot: bool) -> Result<(), DecodeError> {
        self.finish_checked(out, snapshot, None)
    }

    /// [`Update::finish`], with the venue's checksum of the book after the update
    /// carried on the last delta.
    pub(crate) fn finish_checked(
        self,
        out: &mut Events,
        snapshot: bool,
        checksum: Option<u32>,
    ) -> Result<(), DecodeError> {
        if !out.push(Event::BookDelta(self.delta)) {
            return Err(error(0, DecodeErrorKind::BufferFull));
        }
        let deltas = out.tail_mut(self.start);
        let count = deltas.len();
        for (i, event) in deltas.iter_mut().enumerate() {
            if let Event::BookDelta(d) = event {
                if snapshot {
                    d.set_snapshot();
                }
                if i + 1 == count {
                    d.set_last();
                    if let Some(c) = checksum {
                        d.set_checksum(c);
                    }
                }
            }
        }
        Ok(())
    }
}
