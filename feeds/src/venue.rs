//! What every venue decoder shares: error constructors, signed-checked decimals, and
//! building a book update as bounded `BookDelta`s with its flags set at the end.

use crate::buffer::Events;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{BookDelta, BookSide, Event, Level, Price, Qty, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::symbols::Instrument;

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

/// A fast path: appends a frame's events to `out` and says `Some` only if the frame
/// is in the venue's documented layout (`crate::layout`).
pub(crate) type FastPath<'d> = &'d dyn Fn(&mut Events) -> Option<()>;

/// [`all_or_nothing`], trying each of `documented` first, in turn. After each one
/// that returns `None`, whatever it appended is taken back; when none reads the
/// frame, `general` decodes it.
pub(crate) fn documented_or_general(
    out: &mut Events,
    documented: &[FastPath<'_>],
    general: impl FnOnce(&mut Events, usize) -> Result<(), DecodeError>,
) -> Result<usize, DecodeError> {
    all_or_nothing(out, |out, before| {
        for fast in documented {
            if fast(out).is_some() {
                return Ok(());
            }
            out.truncate(before);
        }
        general(out, before)
    })
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

/// Sets a field that a frame may give only once: the instrument (decimals are read
/// at its scale as soon as it is known) or the data (read where it stands). A second
/// one is an error at `at`, never a second reading.
pub(crate) fn once<T>(slot: &mut Option<T>, value: T, at: usize, field: &'static str) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(error(at, DecodeErrorKind::BadField { field, expected: "one value" }));
    }
    *slot = Some(value);
    Ok(())
}

/// A decimal read where it stands when its scale is already known (the instrument
/// came first, as venues send it), else its offset, to read once the scale is known.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pending {
    Read(i64),
    At(usize),
}

/// Reads a decimal now when `scale` is known, else skips it and keeps its offset.
pub(crate) fn decimal_or_offset(
    s: &mut Scanner<'_>,
    scale: Option<u8>,
    field: &'static str,
    positive: bool,
) -> Result<Pending, DecodeError> {
    match scale {
        Some(scale) => decimal(s, scale, field, positive).map(Pending::Read),
        None => {
            let at = s.pos();
            s.skip()?;
            Ok(Pending::At(at))
        }
    }
}

/// A trade's price and size (both > 0), read in place or where the object scan saw
/// them (`(pending, field)`): their scales belong to the instrument, which may come
/// later in the object. Leaves the scanner at `end`.
pub(crate) fn price_and_size(
    s: &mut Scanner<'_>,
    inst: crate::symbols::Instrument,
    (price, price_field): (Option<Pending>, &'static str),
    (size, size_field): (Option<Pending>, &'static str),
    end: usize,
) -> Result<(Price, Qty), DecodeError> {
    let mut value = |pending: Option<Pending>, scale, field| match pending.ok_or(missing(field))? {
        Pending::Read(v) => Ok(v),
        Pending::At(at) => {
            s.seek(at);
            decimal(s, scale, field, true)
        }
    };
    let price = value(price, inst.price_scale, price_field)?;
    let size = value(size, inst.qty_scale, size_field)?;
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

    /// Sets the sequence numbers and venue time of every delta of the update, for
    /// venues that send them after the levels (written out by `finish`).
    pub(crate) fn header(&mut self, (first_seq, last_seq): (u64, u64), ts_exchange: UnixNanos) {
        for d in [&mut self.template, &mut self.delta] {
            d.first_seq = first_seq;
            d.last_seq = last_seq;
            d.ts_exchange = ts_exchange;
        }
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
                d.first_seq = self.template.first_seq;
                d.last_seq = self.template.last_seq;
                d.ts_exchange = self.template.ts_exchange;
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

/// Reads one level of a book list at a scanner, for an instrument.
pub(crate) type ReadLevel = fn(&mut Scanner<'_>, Instrument, &'static str) -> Result<Level, DecodeError>;

/// The bid and ask lists of one book update. They are read in the same pass as the
/// rest of the object when the instrument is already known (every venue sends it
/// first); otherwise they are skipped, and read from their offsets by `finish`.
pub(crate) struct Lists {
    venue: Venue,
    ts_recv: UnixNanos,
    read: ReadLevel,
    bids: List,
    asks: List,
    update: Option<Update>,
}

/// One side's list: whether it was seen, and where, if it is still to be read.
#[derive(Debug, Default, Clone, Copy)]
struct List {
    seen: bool,
    deferred: Option<usize>,
}

impl Lists {
    /// The lists of one update from `venue`, each level read by `read`.
    pub(crate) fn new(venue: Venue, ts_recv: UnixNanos, read: ReadLevel) -> Self {
        Self { venue, ts_recv, read, bids: List::default(), asks: List::default(), update: None }
    }

    fn side(&mut self, side: BookSide) -> &mut List {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    fn update(&mut self, inst: Instrument, out: &Events) -> &mut Update {
        let template = BookDelta::new(self.venue, inst.id, (0, 0), UnixNanos(0), self.ts_recv);
        self.update.get_or_insert_with(|| Update::new(template, out))
    }

    /// The list for `side` (named `field` in the frame) at the scanner.
    pub(crate) fn list(
        &mut self,
        s: &mut Scanner<'_>,
        out: &mut Events,
        inst: Option<Instrument>,
        side: BookSide,
        field: &'static str,
    ) -> Result<(), DecodeError> {
        let list = self.side(side);
        if std::mem::replace(&mut list.seen, true) {
            return Err(error(s.pos(), DecodeErrorKind::BadField { field, expected: "one list per side" }));
        }
        match inst {
            Some(inst) => self.read_list(s, out, inst, side, field),
            None => {
                list.deferred = Some(s.pos());
                s.skip()
            }
        }
    }

    fn read_list(
        &mut self,
        s: &mut Scanner<'_>,
        out: &mut Events,
        inst: Instrument,
        side: BookSide,
        field: &'static str,
    ) -> Result<(), DecodeError> {
        let read = self.read;
        let update = self.update(inst, out);
        s.array(|s| {
            let level = read(s, inst, field)?;
            update.level(out, side, level, s.pos())
        })
    }

    /// Reads any list that came before the instrument, then closes the update with
    /// its sequence numbers and venue time. `fields` names the bid and ask lists,
    /// both required. Leaves the scanner where it was.
    #[allow(clippy::too_many_arguments, reason = "the update's parts, passed once")]
    pub(crate) fn finish(
        mut self,
        s: &mut Scanner<'_>,
        out: &mut Events,
        inst: Instrument,
        fields: [&'static str; 2],
        (seq, ts): ((u64, u64), UnixNanos),
        snapshot: bool,
        checksum: Option<u32>,
    ) -> Result<(), DecodeError> {
        let end = s.pos();
        let [bids, asks] = fields;
        for (side, field) in [(BookSide::Bid, bids), (BookSide::Ask, asks)] {
            let list = *self.side(side);
            if !list.seen {
                return Err(missing(field));
            }
            if let Some(at) = list.deferred {
                s.seek(at);
                s.ws();
                self.read_list(s, out, inst, side, field)?;
            }
        }
        s.seek(end);
        let template = BookDelta::new(self.venue, inst.id, (0, 0), UnixNanos(0), self.ts_recv);
        let mut update = self.update.take().unwrap_or_else(|| Update::new(template, out));
        update.header(seq, ts);
        update.finish_checked(out, snapshot, checksum)
    }
}
