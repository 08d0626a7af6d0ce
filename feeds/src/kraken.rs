//! Kraken WebSocket v2 public market data: `book` (snapshot and update) and `trade`.
//!
//! Field names follow Kraken's v2 documentation: `{"channel","type","data":[...]}`;
//! a book entry is `{"symbol","bids":[{"price","qty"}],"asks":[...],"checksum",
//! "timestamp"}` with qty 0 deleting a level; a trade is `{"symbol","side","price",
//! "qty","ord_type","trade_id","timestamp"}`. Unlike the other venues, prices and sizes
//! are JSON *numbers* written at full precision (`0.10000000`): they are converted
//! from the token's text, exactly, never through a float. Timestamps are RFC 3339
//! (`2023-10-06T17:35:55.440295Z`). The book has no sequence number (`first_seq` and
//! `last_seq` are 0): its integrity check is the CRC32 `checksum` of the top ten
//! levels, carried on the update's last delta; [`crate::checksum::kraken`] computes
//! it from the book.

use crate::buffer::Events;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{BookDelta, BookSide, Level, Price, Qty, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::layout::{Layout, LevelShape, first};
use crate::symbols::{Instrument, SymbolTable};
use crate::time::rfc3339_ns;
use crate::venue::{Lists, Update, decimal, decimal_or_offset, error, missing, once, price_and_size, push_trade, side};

/// Decodes Kraken v2 public frames into events.
#[derive(Debug, Clone)]
pub struct KrakenDecoder {
    symbols: SymbolTable,
}

fn timestamp(s: &mut Scanner<'_>) -> Result<UnixNanos, DecodeError> {
    let at = s.pos();
    let text = s.string()?;
    rfc3339_ns(text)
        .map(UnixNanos)
        .ok_or(error(at, DecodeErrorKind::BadField { field: "timestamp", expected: "RFC 3339 UTC time" }))
}

/// One `{"price","qty"}` level.
fn level(s: &mut Scanner<'_>, inst: Instrument, _field: &'static str) -> Result<Level, DecodeError> {
    let (mut price, mut qty) = (None, None);
    s.object(|s, key| {
        s.ws();
        match key {
            b"price" => price = Some(decimal(s, inst.price_scale, "price", true)?),
            b"qty" => qty = Some(decimal(s, inst.qty_scale, "qty", false)?),
            _ => s.skip()?,
        }
        Ok(())
    })?;
    Ok(Level { price: Price(price.ok_or(missing("price"))?), qty: Qty(qty.ok_or(missing("qty"))?) })
}

impl KrakenDecoder {
    /// A decoder for the instruments in `symbols` (Kraken v2 symbols, e.g. `BTC/USD`).
    pub fn new(symbols: SymbolTable) -> Self {
        Self { symbols }
    }

    /// Decodes one frame received at `ts_recv`, appending its events to `out`;
    /// returns how many it added.
    ///
    /// # Errors
    /// A [`DecodeError`] for malformed JSON, a missing or invalid field, an unknown
    /// symbol or channel, a request's answer that says it failed
    /// ([`DecodeErrorKind::Refused`]), or a full `out`; a heartbeat, a status message
    /// and a successful answer decode to no events;
    /// `out` is then left as it was.
    pub fn decode(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<usize, DecodeError> {
        crate::venue::documented_or_general(
            out,
            &[&|out| self.book_as_documented(frame, ts_recv, out), &|out| {
                self.trades_as_documented(frame, ts_recv, out)
            }],
            |out, _| self.decode_frame(frame, ts_recv, out),
        )
    }

    /// A book update exactly as Kraken documents and sends it (keys in order, no
    /// white space, one symbol), read by comparing the text between the values;
    /// `None` for anything else, which the general path then decodes.
    fn book_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"channel":"book","type":""#)?;
        let snapshot = match l.string_body()? {
            b"update" => false,
            b"snapshot" => true,
            _ => return None,
        };
        l.literal(br#","data":[{"symbol":""#)?;
        let inst = self.symbols.lookup(l.string_body()?)?;
        let mut update = Update::new(BookDelta::new(Venue::Kraken, inst.id, (0, 0), UnixNanos(0), ts_recv), out);
        l.literal(br#","bids":"#)?;
        l.levels(inst, LevelShape::Numbers, |level| update.level(out, BookSide::Bid, level, 0).ok())?;
        l.literal(br#","asks":"#)?;
        l.levels(inst, LevelShape::Numbers, |level| update.level(out, BookSide::Ask, level, 0).ok())?;
        l.literal(br#","checksum":"#)?;
        let checksum = u32::try_from(l.digits()?).ok()?;
        l.literal(br#","timestamp":""#)?;
        let ts = UnixNanos(rfc3339_ns(l.string_body()?)?);
        l.literal(b"}]}")?;
        if !l.at_end() {
            return None;
        }
        update.header((0, 0), ts);
        update.finish_checked(out, snapshot, Some(checksum)).ok()
    }

    /// A `trade` message as Kraken documents and sends it (envelope keys in order,
    /// no white space, plain values), read like [`Self::book_as_documented`].
    fn trades_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"channel":"trade","type":""#)?;
        l.string_body()?;
        l.literal(br#","data":["#)?;
        l.trades(Venue::Kraken, ts_recv, out, |key, l, t| match key {
            b"symbol" => first(&mut t.inst, self.symbols.lookup(l.quoted()?)?),
            b"side" => first(&mut t.taker, l.side(b"buy", b"sell")?),
            b"price" => first(&mut t.price, l.decimal(t.inst?.price_scale)?),
            b"qty" => first(&mut t.qty, l.decimal(t.inst?.qty_scale)?),
            b"trade_id" => first(&mut t.id, l.digits()?),
            b"timestamp" => first(&mut t.time_ns, rfc3339_ns(l.quoted()?)?),
            _ => Some(false),
        })?;
        l.literal(b"}")?;
        l.at_end().then_some(())
    }

    fn decode_frame(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        let mut s = Scanner::new(frame);
        let (mut channel, mut kind, mut data, mut decoded) = (None, None, None, false);
        let (mut method, mut success) = (None, None);
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            match key {
                b"channel" => channel = Some(s.string()?),
                b"type" => kind = Some(s.string()?),
                b"method" => method = Some(s.string()?),
                b"success" => success = Some(s.bool("success")?),
                // In Kraken's order `channel` and `type` come first, so `data` is read
                // in place; otherwise once the whole envelope is known.
                b"data" if data.is_some() || decoded => {
                    return Err(error(at, DecodeErrorKind::BadField { field: "data", expected: "one value" }));
                }
                b"data" => match (channel, kind) {
                    (Some(b"trade"), _) => {
                        self.trades(s, ts_recv, out)?;
                        decoded = true;
                    }
                    (Some(b"book"), Some(kind)) => {
                        self.book(s, kind == b"snapshot", ts_recv, out)?;
                        decoded = true;
                    }
                    _ => {
                        data = Some(at);
                        s.skip()?;
                    }
                },
                _ => s.skip()?,
            }
            Ok(())
        })?;
        s.end()?;
        if decoded {
            return Ok(());
        }
        // A request's answer (`subscribe`, `unsubscribe`, `pong`): nothing, unless it
        // says it failed (a refused subscription).
        if method.is_some() && channel.is_none() {
            return if success == Some(false) { Err(error(0, DecodeErrorKind::Refused)) } else { Ok(()) };
        }
        let channel = channel.ok_or(error(0, DecodeErrorKind::UnknownMessage))?;
        // The connection's heartbeat and the exchange's status: nothing to decode.
        if matches!(channel, b"heartbeat" | b"status") {
            return Ok(());
        }
        let data = data.ok_or(error(0, DecodeErrorKind::UnknownMessage))?;
        s.seek(data);
        match channel {
            b"book" => self.book(&mut s, kind == Some(&b"snapshot"[..]), ts_recv, out),
            b"trade" => self.trades(&mut s, ts_recv, out),
            _ => Err(error(0, DecodeErrorKind::UnknownMessage)),
        }
    }

    fn instrument(&self, symbol: &[u8], at: usize) -> Result<Instrument, DecodeError> {
        self.symbols.lookup(symbol).ok_or(error(at, DecodeErrorKind::UnknownSymbol))
    }

    fn book(
        &self,
        s: &mut Scanner<'_>,
        snapshot: bool,
        ts_recv: UnixNanos,
        out: &mut Events,
    ) -> Result<(), DecodeError> {
        s.array(|s| {
            let (mut inst, mut ts, mut checksum) = (None, UnixNanos(0), None);
            let mut lists = Lists::new(Venue::Kraken, ts_recv, level);
            s.object(|s, key| {
                s.ws();
                let at = s.pos();
                match key {
                    b"symbol" => once(&mut inst, self.instrument(s.string()?, at)?, at, "symbol")?,
                    b"bids" => lists.list(s, out, inst, BookSide::Bid, "bids")?,
                    b"asks" => lists.list(s, out, inst, BookSide::Ask, "asks")?,
                    b"timestamp" => ts = timestamp(s)?,
                    b"checksum" => {
                        let at = s.pos();
                        let value = s.u64("checksum")?;
                        let crc = u32::try_from(value).map_err(|_| {
                            error(at, DecodeErrorKind::BadField { field: "checksum", expected: "a CRC32" })
                        })?;
                        checksum = Some(crc);
                    }
                    _ => s.skip()?,
                }
                Ok(())
            })?;
            let inst = inst.ok_or(missing("symbol"))?;
            lists.finish(s, out, inst, ["bids", "asks"], ((0, 0), ts), snapshot, checksum)
        })
    }

    fn trades(&self, s: &mut Scanner<'_>, ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        s.array(|s| {
            let start = s.pos();
            let (mut inst, mut taker, mut id, mut ts, mut price_at, mut qty_at) = (None, None, None, None, None, None);
            s.object(|s, key| {
                s.ws();
                let at = s.pos();
                match key {
                    b"symbol" => once(&mut inst, self.instrument(s.string()?, at)?, at, "symbol")?,
                    b"side" => taker = Some(side(s.string()?, b"buy", b"sell", at, "side", "buy or sell")?),
                    b"trade_id" => id = Some(s.u64("trade_id")?),
                    b"timestamp" => ts = Some(timestamp(s)?),
                    b"price" => price_at = Some(decimal_or_offset(s, inst.map(|i| i.price_scale), "price", true)?),
                    b"qty" => qty_at = Some(decimal_or_offset(s, inst.map(|i| i.qty_scale), "qty", true)?),
                    _ => s.skip()?,
                }
                Ok(())
            })?;
            let end = s.pos();
            let inst = inst.ok_or(missing("symbol"))?;
            let (price, qty) = price_and_size(s, inst, (price_at, "price"), (qty_at, "qty"), end)?;
            let trade = Trade::new(
                Venue::Kraken,
                inst.id,
                id.ok_or(missing("trade_id"))?,
                price,
                qty,
                Some(taker.ok_or(missing("side"))?),
                ts.ok_or(missing("timestamp"))?,
                ts_recv,
            );
            push_trade(out, trade, start)
        })
    }
}
