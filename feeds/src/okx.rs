//! OKX v5 public market data: the order book channels (`books`, `books5`,
//! `books50-l2-tbt`, `books-l2-tbt`, `bbo-tbt`) and `trades`.
//!
//! Field names follow OKX's v5 WebSocket documentation: an envelope
//! `{"arg":{"channel","instId"},"action","data":[...]}`; a book entry is
//! `{"asks":[[px,sz,"0",orders]],"bids":[...],"ts","checksum","prevSeqId","seqId"}`
//! with 4-string levels (the third is a deprecated field, always `"0"`) and size
//! `"0"` deleting a level; a trade is `{"instId","tradeId","px","sz","side","ts",
//! "count"}`. Times and trade ids are *strings*. OKX chains book messages by
//! identity, not arithmetic: each carries `prevSeqId` (−1 on a snapshot) and `seqId`,
//! and a message continues the book when its `prevSeqId` equals the last `seqId`.
//! Decoded, `first_seq` holds `prevSeqId` (0 for −1) and `last_seq` holds `seqId`, so a
//! sequencer checks `first_seq == previous last_seq`. The CRC32 `checksum` rides on
//! the update's last delta; [`crate::checksum::okx`] computes it from the book.
//!
//! A request's answer (`{"event":"subscribe","arg":{...},"connId"}`, likewise
//! `unsubscribe`), a `notice` or `channel-conn-count` event, and the text `pong` that
//! answers a client's `ping` decode to no events; `{"event":"error","code","msg"}`
//! (a refused subscription) and `channel-conn-count-error` are
//! [`DecodeErrorKind::Refused`].

use crate::buffer::Events;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{BookDelta, BookSide, Level, Price, Qty, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::layout::{Layout, LevelShape, first, quoted_decimal};
use crate::symbols::{Instrument, SymbolTable};
use crate::venue::{Update, decimal, decimal_or_offset, error, missing, once, price_and_size, push_trade, side};

/// Decodes OKX v5 public frames into events.
#[derive(Debug, Clone)]
pub struct OkxDecoder {
    symbols: SymbolTable,
}

/// A signed integer sent as a JSON number (`-1` for a snapshot's `prevSeqId`).
fn signed(s: &mut Scanner<'_>, field: &'static str) -> Result<i64, DecodeError> {
    let at = s.pos();
    let text = s.scalar()?;
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let bad = || error(at, DecodeErrorKind::BadField { field, expected: "integer" });
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Ok(if negative { -n } else { n })
}

fn ms_to_ns(ms: u64, field: &'static str) -> Result<UnixNanos, DecodeError> {
    ms.checked_mul(1_000_000)
        .map(UnixNanos)
        .ok_or(error(0, DecodeErrorKind::BadField { field, expected: "ms timestamp" }))
}

/// Where a message's `data` goes.
#[derive(Debug, Clone, Copy)]
enum Route {
    Trades,
    Books { inst: Instrument, snapshot: bool },
}

/// The route for `channel`; `Ok(None)` for a channel we do not decode. Until the
/// envelope is `complete`, a book whose `instId` or `action` is not yet seen is
/// `Ok(None)` too (it may still come); once complete, a missing `instId` is an error
/// and a missing `action` means a snapshot (`bbo-tbt` and `books5` send whole books).
fn route(
    channel: &[u8],
    inst: Option<Instrument>,
    action: Option<&[u8]>,
    complete: bool,
) -> Result<Option<Route>, DecodeError> {
    if channel == b"trades" || channel == b"trades-all" {
        return Ok(Some(Route::Trades));
    }
    if !(channel.starts_with(b"books") || channel == b"bbo-tbt") {
        return Ok(None);
    }
    match (inst, action) {
        (Some(inst), Some(action)) => Ok(Some(Route::Books { inst, snapshot: action != b"update" })),
        (Some(inst), None) if complete => Ok(Some(Route::Books { inst, snapshot: true })),
        (None, _) if complete => Err(missing("instId")),
        _ => Ok(None),
    }
}

impl OkxDecoder {
    /// A decoder for the instruments in `symbols` (OKX instrument ids, e.g. `BTC-USDT`).
    pub fn new(symbols: SymbolTable) -> Self {
        Self { symbols }
    }

    /// Decodes one frame received at `ts_recv`, appending its events to `out`;
    /// returns how many it added.
    ///
    /// # Errors
    /// A [`DecodeError`] for malformed JSON, a missing or invalid field, an unknown
    /// instrument or channel, a request refused (`"event":"error"`:
    /// [`DecodeErrorKind::Refused`]), or a full
    /// `out`; `out` is then left as it was. A request's answer and `pong` decode to
    /// no events.
    pub fn decode(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<usize, DecodeError> {
        crate::venue::documented_or_general(
            out,
            &[&|out| self.books_as_documented(frame, ts_recv, out), &|out| {
                self.trades_as_documented(frame, ts_recv, out)
            }],
            |out, before| self.decode_frame(frame, ts_recv, out, before),
        )
    }

    /// A book update exactly as OKX documents and sends it (keys in order, no white
    /// space), read by comparing the text between the values; `None` for anything
    /// else, which the general path then decodes (to the same events, or an error).
    fn books_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"arg":{"channel":"books"#)?;
        l.string_body()?;
        l.literal(br#","instId":""#)?;
        let inst = self.symbols.lookup(l.string_body()?)?;
        l.literal(br#"},"action":""#)?;
        let snapshot = match l.string_body()? {
            b"update" => false,
            b"snapshot" => true,
            _ => return None,
        };
        let mut update = Update::new(BookDelta::new(Venue::Okx, inst.id, (0, 0), UnixNanos(0), ts_recv), out);
        let shape = LevelShape::Strings { extra: 2 };
        l.literal(br#","data":[{"asks":"#)?;
        l.levels(inst, shape, |level| update.level(out, BookSide::Ask, level, 0).ok())?;
        l.literal(br#","bids":"#)?;
        l.levels(inst, shape, |level| update.level(out, BookSide::Bid, level, 0).ok())?;
        l.literal(br#","ts":""#)?;
        let ts = UnixNanos(l.digits()?.checked_mul(1_000_000)?);
        l.literal(br#"","checksum":"#)?;
        let checksum = l.signed()? as i32 as u32;
        l.literal(br#","prevSeqId":"#)?;
        let prev = l.signed()?;
        l.literal(br#","seqId":"#)?;
        let seq = l.signed()?;
        l.literal(b"}]}")?;
        if !l.at_end() {
            return None;
        }
        update.header((prev.max(0) as u64, seq.max(0) as u64), ts);
        update.finish_checked(out, snapshot, Some(checksum)).ok()
    }

    /// A `trades` push as OKX documents and sends it (envelope keys in order, no
    /// white space, plain values), read like [`Self::books_as_documented`].
    fn trades_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"arg":{"channel":"trades","instId":""#)?;
        self.symbols.lookup(l.string_body()?)?;
        l.literal(br#"},"data":["#)?;
        l.trades(Venue::Okx, ts_recv, out, |key, l, t| match key {
            b"instId" => first(&mut t.inst, self.symbols.lookup(l.quoted()?)?),
            b"tradeId" => {
                l.literal(b"\"")?;
                let value = l.digits()?;
                l.literal(b"\"")?;
                first(&mut t.id, value)
            }
            b"px" => first(&mut t.price, quoted_decimal(l, t.inst?.price_scale)?),
            b"sz" => first(&mut t.qty, quoted_decimal(l, t.inst?.qty_scale)?),
            b"side" => first(&mut t.taker, l.side(b"buy", b"sell")?),
            b"ts" => {
                l.literal(b"\"")?;
                let value = l.digits()?.checked_mul(1_000_000)?;
                l.literal(b"\"")?;
                first(&mut t.time_ns, value)
            }
            _ => Some(false),
        })?;
        l.literal(b"}")?;
        l.at_end().then_some(())
    }

    fn decode_frame(
        &self,
        frame: &[u8],
        ts_recv: UnixNanos,
        out: &mut Events,
        before: usize,
    ) -> Result<(), DecodeError> {
        if frame == b"pong" {
            return Ok(());
        }
        let mut s = Scanner::new(frame);
        let (mut channel, mut inst, mut action, mut data, mut event) = (None, None, None, None, None);
        let mut decoded = false;
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            match key {
                b"arg" => s.object(|s, key| {
                    s.ws();
                    let at = s.pos();
                    match key {
                        b"channel" => channel = Some(s.string()?),
                        b"instId" => once(&mut inst, self.instrument(s.string()?, at)?, at, "instId")?,
                        _ => s.skip()?,
                    }
                    Ok(())
                })?,
                b"action" => action = Some(s.string()?),
                b"event" => event = Some((s.string()?, at)),
                // In OKX's order `arg` and `action` come first, so `data` is read in
                // place; otherwise (and for `books5` and `bbo-tbt`, which send no
                // action) it is read once the whole envelope is known.
                b"data" => {
                    once(&mut data, at, at, "data")?;
                    let ready = channel.filter(|_| event.is_none());
                    match ready.and_then(|c| route(c, inst, action, false).transpose()) {
                        Some(route) => {
                            self.data(s, route?, ts_recv, out, before)?;
                            decoded = true;
                        }
                        None => s.skip()?,
                    }
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        s.end()?;
        match event {
            // Acks, a notice (a service upgrade will close the connection: the client
            // reconnects when it does) and the channel's connection count.
            Some((b"subscribe" | b"unsubscribe" | b"notice" | b"channel-conn-count", _)) => {
                out.truncate(before);
                return Ok(());
            }
            Some((b"error" | b"channel-conn-count-error", at)) => return Err(error(at, DecodeErrorKind::Refused)),
            Some((_, at)) => return Err(error(at, DecodeErrorKind::UnknownMessage)),
            None if decoded => return Ok(()),
            None => {}
        }
        let channel = channel.ok_or(error(0, DecodeErrorKind::UnknownMessage))?;
        s.seek(data.ok_or(missing("data"))?);
        match route(channel, inst, action, true)? {
            Some(route) => self.data(&mut s, route, ts_recv, out, before),
            None => Err(error(0, DecodeErrorKind::UnknownMessage)),
        }
    }

    fn data(
        &self,
        s: &mut Scanner<'_>,
        route: Route,
        ts_recv: UnixNanos,
        out: &mut Events,
        before: usize,
    ) -> Result<(), DecodeError> {
        match route {
            Route::Trades => self.trades(s, ts_recv, out),
            Route::Books { inst, snapshot } => self.books(s, inst, snapshot, ts_recv, out, before),
        }
    }

    fn instrument(&self, id: &[u8], at: usize) -> Result<Instrument, DecodeError> {
        self.symbols.lookup(id).ok_or(error(at, DecodeErrorKind::UnknownSymbol))
    }

    fn books(
        &self,
        s: &mut Scanner<'_>,
        inst: Instrument,
        snapshot: bool,
        ts_recv: UnixNanos,
        out: &mut Events,
        before: usize,
    ) -> Result<(), DecodeError> {
        s.array(|s| {
            let (mut ts, mut prev, mut seq, mut checksum) = (None, None, None, None);
            let (mut asks, mut bids) = (false, false);
            let mut book = Update::new(BookDelta::new(Venue::Okx, inst.id, (0, 0), UnixNanos(0), ts_recv), out);
            s.object(|s, key| {
                s.ws();
                match key {
                    // Levels are read in one pass; the sequence numbers and time that
                    // follow them are written into the deltas when the update closes.
                    b"asks" | b"bids" => {
                        let (side, seen, field) = match key {
                            b"asks" => (BookSide::Ask, &mut asks, "asks"),
                            _ => (BookSide::Bid, &mut bids, "bids"),
                        };
                        if std::mem::replace(seen, true) {
                            return Err(error(s.pos(), DecodeErrorKind::BadField { field, expected: "one list" }));
                        }
                        s.array(|s| {
                            s.expect(b'[', "'['")?;
                            s.ws();
                            let price = decimal(s, inst.price_scale, field, true)?;
                            s.expect(b',', "','")?;
                            s.ws();
                            let qty = decimal(s, inst.qty_scale, field, false)?;
                            while s.peek() == Some(b',') {
                                s.expect(b',', "','")?;
                                s.skip()?; // the deprecated "0" and the order count
                            }
                            s.expect(b']', "']'")?;
                            book.level(out, side, Level { price: Price(price), qty: Qty(qty) }, s.pos())
                        })?;
                    }
                    b"ts" => ts = Some(s.u64("ts")?),
                    b"prevSeqId" => prev = Some(signed(s, "prevSeqId")?),
                    b"seqId" => seq = Some(signed(s, "seqId")?),
                    // A signed 32-bit CRC: kept as its bits.
                    b"checksum" => checksum = Some(signed(s, "checksum")? as i32 as u32),
                    _ => s.skip()?,
                }
                Ok(())
            })?;
            for (seen, field) in [(asks, "asks"), (bids, "bids")] {
                if !seen {
                    return Err(missing(field));
                }
            }
            let ts = ms_to_ns(ts.ok_or(missing("ts"))?, "ts")?;
            // bbo-tbt and books5 carry no sequence: 0 marks "none".
            book.header((prev.unwrap_or(0).max(0) as u64, seq.unwrap_or(0).max(0) as u64), ts);
            book.finish_checked(out, snapshot, checksum)
        })?;
        if out.len() == before { Err(error(0, DecodeErrorKind::MissingField { field: "data" })) } else { Ok(()) }
    }

    fn trades(&self, s: &mut Scanner<'_>, ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        s.array(|s| {
            let start = s.pos();
            let (mut inst, mut id, mut taker, mut ts, mut px, mut sz) = (None, None, None, None, None, None);
            s.object(|s, key| {
                s.ws();
                let at = s.pos();
                match key {
                    b"instId" => once(&mut inst, self.instrument(s.string()?, at)?, at, "instId")?,
                    b"tradeId" => id = Some(s.u64("tradeId")?),
                    b"side" => taker = Some(side(s.string()?, b"buy", b"sell", at, "side", "buy or sell")?),
                    b"ts" => ts = Some(s.u64("ts")?),
                    b"px" => px = Some(decimal_or_offset(s, inst.map(|i| i.price_scale), "px", true)?),
                    b"sz" => sz = Some(decimal_or_offset(s, inst.map(|i| i.qty_scale), "sz", true)?),
                    _ => s.skip()?,
                }
                Ok(())
            })?;
            let end = s.pos();
            let inst = inst.ok_or(missing("instId"))?;
            let (price, qty) = price_and_size(s, inst, (px, "px"), (sz, "sz"), end)?;
            let trade = Trade::new(
                Venue::Okx,
                inst.id,
                id.ok_or(missing("tradeId"))?,
                price,
                qty,
                Some(taker.ok_or(missing("side"))?),
                ms_to_ns(ts.ok_or(missing("ts"))?, "ts")?,
                ts_recv,
            );
            push_trade(out, trade, start)
        })
    }
}
