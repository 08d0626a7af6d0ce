//! Coinbase Exchange WebSocket feed: `ticker`, `match` (and `last_match`), and the
//! `level2` channel's `snapshot` and `l2update`.
//!
//! Field names follow Coinbase Exchange's WebSocket documentation: every message has
//! `type` and `product_id`; prices and sizes are strings; times are RFC 3339. A
//! `ticker` becomes a best bid/offer (its `sequence` as the update id). A `match` is a
//! trade whose `side` is the *maker's* order side, so the taker (the aggressor) is the
//! other side. `snapshot` replaces the book; `l2update` carries `changes` as
//! `[side, price, size]` with side `buy`/`sell` and size `"0"` deleting the level. The
//! level2 channel has no sequence (it is the guaranteed-delivery channel): its
//! deltas carry sequence 0.

use crate::buffer::Events;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{Bbo, BookDelta, BookSide, Event, Level, Price, Qty, Side, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::layout::{Layout, first};
use crate::symbols::{Instrument, SymbolTable};
use crate::time::rfc3339_ns;
use crate::venue::{Update, error, missing, once, side};

/// Decodes Coinbase Exchange frames into events.
#[derive(Debug, Clone)]
pub struct CoinbaseDecoder {
    symbols: SymbolTable,
}

/// What [`CoinbaseDecoder::flat_as_documented`] read, decimals as their text.
#[derive(Debug, Default)]
struct Flat<'f> {
    kind: Option<&'f [u8]>,
    inst: Option<Instrument>,
    sequence: Option<u64>,
    trade_id: Option<u64>,
    time: Option<UnixNanos>,
    side: Option<Side>,
    price: Option<&'f [u8]>,
    size: Option<&'f [u8]>,
    best_bid: Option<&'f [u8]>,
    best_bid_size: Option<&'f [u8]>,
    best_ask: Option<&'f [u8]>,
    best_ask_size: Option<&'f [u8]>,
}

/// Everything one message said; decimals are converted once the product is known.
#[derive(Debug, Default)]
struct Message<'f> {
    kind: Option<&'f [u8]>,
    inst: Option<Instrument>,
    sequence: Option<u64>,
    trade_id: Option<u64>,
    time: Option<UnixNanos>,
    side: Option<(Side, usize)>,
    price: Option<usize>,
    size: Option<usize>,
    best_bid: Option<usize>,
    best_bid_size: Option<usize>,
    best_ask: Option<usize>,
    best_ask_size: Option<usize>,
    bids: Option<usize>,
    asks: Option<usize>,
    changes: Option<usize>,
}

impl CoinbaseDecoder {
    /// A decoder for the products in `symbols` (Coinbase product ids, e.g. `BTC-USD`).
    pub fn new(symbols: SymbolTable) -> Self {
        Self { symbols }
    }

    /// Decodes one frame received at `ts_recv`, appending its events to `out`;
    /// returns how many it added.
    ///
    /// # Errors
    /// A [`DecodeError`] for malformed JSON, a missing or invalid field, an unknown
    /// product or message type, an `error` answering a request
    /// ([`DecodeErrorKind::Refused`]), or a
    /// full `out`; `out` is then left as it was.
    pub fn decode(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<usize, DecodeError> {
        crate::venue::documented_or_general(
            out,
            &[&|out| self.as_documented(frame, ts_recv, out), &|out| self.flat_as_documented(frame, ts_recv, out)],
            |out, _| self.decode_frame(frame, ts_recv, out),
        )
    }

    /// An `l2update`, `match` or `ticker` exactly as Coinbase documents and sends it
    /// (keys in order, no white space), read by comparing the text between the
    /// values; `None` for anything else, which the next path then decodes.
    fn as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"type":""#)?;
        if l.literal(br#"l2update","product_id":""#).is_some() {
            return self.l2update_rest(l, ts_recv, out);
        }
        let event = if l.literal(br#"match","trade_id":"#).is_some() {
            self.match_rest(&mut l, ts_recv)?
        } else {
            l.literal(br#"ticker","sequence":"#)?;
            self.ticker_rest(&mut l, ts_recv)?
        };
        l.literal(b"}")?;
        (l.at_end() && out.push(event)).then_some(())
    }

    /// A documented `match` after its `"trade_id":`: the maker's order ids are only
    /// checked to be plain strings.
    fn match_rest(&self, l: &mut Layout<'_>, ts_recv: UnixNanos) -> Option<Event> {
        let id = l.digits()?;
        l.literal(br#","sequence":"#)?;
        l.digits()?;
        l.literal(br#","maker_order_id":""#)?;
        l.string_body()?;
        l.literal(br#","taker_order_id":""#)?;
        l.string_body()?;
        l.literal(br#","time":""#)?;
        let ts = UnixNanos(rfc3339_ns(l.string_body()?)?);
        l.literal(br#","product_id":""#)?;
        let inst = self.symbols.lookup(l.string_body()?)?;
        l.literal(br#","size":""#)?;
        let qty = l.decimal(inst.qty_scale).filter(|q| *q > 0)?;
        l.literal(br#"","price":""#)?;
        let price = l.decimal(inst.price_scale).filter(|p| *p > 0)?;
        l.literal(br#"","side":""#)?;
        // `side` is the maker's: the taker took the other side.
        let taker = match l.string_body()? {
            b"buy" => Side::Sell,
            b"sell" => Side::Buy,
            _ => return None,
        };
        let trade = Trade::new(Venue::Coinbase, inst.id, id, Price(price), Qty(qty), Some(taker), ts, ts_recv);
        Some(Event::Trade(trade))
    }

    /// A documented `ticker` after its `"sequence":`, with the 24-hour and 30-day
    /// statistics that Coinbase's documentation shows (only checked to be strings).
    fn ticker_rest(&self, l: &mut Layout<'_>, ts_recv: UnixNanos) -> Option<Event> {
        let sequence = l.digits()?;
        l.literal(br#","product_id":""#)?;
        let inst = self.symbols.lookup(l.string_body()?)?;
        for key in [
            br#","price":""#.as_slice(),
            br#","open_24h":""#,
            br#","volume_24h":""#,
            br#","low_24h":""#,
            br#","high_24h":""#,
            br#","volume_30d":""#,
        ] {
            l.literal_slice(key)?;
            l.string_body()?;
        }
        l.literal(br#","best_bid":""#)?;
        let bid = l.decimal(inst.price_scale).filter(|p| *p > 0)?;
        l.literal(br#"","best_bid_size":""#)?;
        let bid_size = l.decimal(inst.qty_scale).filter(|q| *q >= 0)?;
        l.literal(br#"","best_ask":""#)?;
        let ask = l.decimal(inst.price_scale).filter(|p| *p > 0)?;
        l.literal(br#"","best_ask_size":""#)?;
        let ask_size = l.decimal(inst.qty_scale).filter(|q| *q >= 0)?;
        l.literal(br#"","side":""#)?;
        if !matches!(l.string_body()?, b"buy" | b"sell") {
            return None;
        }
        l.literal(br#","time":""#)?;
        let ts = UnixNanos(rfc3339_ns(l.string_body()?)?);
        l.literal(br#","trade_id":"#)?;
        l.digits()?;
        l.literal(br#","last_size":""#)?;
        l.string_body()?;
        let (bid, ask) = ((Price(bid), Qty(bid_size)), (Price(ask), Qty(ask_size)));
        Some(Event::Bbo(Bbo::new(Venue::Coinbase, inst.id, sequence, bid, ask, ts, ts_recv)))
    }

    /// A documented `l2update` after its `"product_id":"`.
    fn l2update_rest(&self, mut l: Layout<'_>, ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let inst = self.symbols.lookup(l.string_body()?)?;
        let mut update = Update::new(BookDelta::new(Venue::Coinbase, inst.id, (0, 0), UnixNanos(0), ts_recv), out);
        l.literal(br#","changes":["#)?;
        if l.literal(b"]").is_none() {
            loop {
                // The side with its quotes and the price's opening quote: one compare.
                let side = if l.literal(br#"["buy",""#).is_some() {
                    BookSide::Bid
                } else {
                    l.literal(br#"["sell",""#)?;
                    BookSide::Ask
                };
                let price = l.decimal(inst.price_scale).filter(|p| *p > 0)?;
                l.literal(b"\",\"")?;
                let qty = l.decimal(inst.qty_scale).filter(|q| *q >= 0)?;
                update.level(out, side, Level { price: Price(price), qty: Qty(qty) }, 0).ok()?;
                if l.literal(b"\"],").is_none() {
                    l.literal(b"\"]]")?;
                    break;
                }
            }
        }
        l.literal(br#","time":""#)?;
        // A time has no quote or backslash, so the rest of the frame is its text.
        let ts = UnixNanos(rfc3339_ns(l.last_string()?)?);
        update.header((0, 0), ts);
        update.finish(out, false).ok()
    }

    /// A `match` or `ticker` whose values are all plain (no white space, escapes or
    /// nesting), read by comparing the text between the values; `None` for anything
    /// else, which the general path then decodes. Every field the general path
    /// checks is checked here too, whatever the message's type.
    fn flat_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(b"{")?;
        let mut f = Flat::default();
        l.fields(|key, l| match key {
            b"type" => first(&mut f.kind, l.quoted()?),
            b"product_id" => first(&mut f.inst, self.symbols.lookup(l.quoted()?)?),
            b"sequence" => first(&mut f.sequence, l.digits()?),
            b"trade_id" => first(&mut f.trade_id, l.digits()?),
            b"time" => first(&mut f.time, UnixNanos(rfc3339_ns(l.quoted()?)?)),
            b"side" => first(
                &mut f.side,
                match l.quoted()? {
                    b"buy" => Side::Buy,
                    b"sell" => Side::Sell,
                    _ => return None,
                },
            ),
            b"price" => first(&mut f.price, l.quoted()?),
            b"size" | b"last_size" => first(&mut f.size, l.quoted()?),
            b"best_bid" => first(&mut f.best_bid, l.quoted()?),
            b"best_bid_size" => first(&mut f.best_bid_size, l.quoted()?),
            b"best_ask" => first(&mut f.best_ask, l.quoted()?),
            b"best_ask_size" => first(&mut f.best_ask_size, l.quoted()?),
            b"bids" | b"asks" | b"changes" => None,
            _ => Some(false),
        })?;
        if !l.at_end() {
            return None;
        }
        let inst = f.inst?;
        let decimal = |text: Option<&[u8]>, scale: u8, positive: bool| {
            crate::decimal::parse_fixed(text?, scale).ok().filter(|v| *v > 0 || (!positive && *v == 0))
        };
        let event = match f.kind? {
            b"match" => {
                let price = decimal(f.price, inst.price_scale, true)?;
                let qty = decimal(f.size, inst.qty_scale, true)?;
                // `side` is the maker's: the taker took the other side.
                let taker = if f.side? == Side::Buy { Side::Sell } else { Side::Buy };
                let trade = Trade::new(
                    Venue::Coinbase,
                    inst.id,
                    f.trade_id?,
                    Price(price),
                    Qty(qty),
                    Some(taker),
                    f.time?,
                    ts_recv,
                );
                Event::Trade(trade)
            }
            b"ticker" => {
                let bid = (
                    Price(decimal(f.best_bid, inst.price_scale, true)?),
                    Qty(decimal(f.best_bid_size, inst.qty_scale, false)?),
                );
                let ask = (
                    Price(decimal(f.best_ask, inst.price_scale, true)?),
                    Qty(decimal(f.best_ask_size, inst.qty_scale, false)?),
                );
                Event::Bbo(Bbo::new(Venue::Coinbase, inst.id, f.sequence?, bid, ask, f.time?, ts_recv))
            }
            _ => return None,
        };
        out.push(event).then_some(())
    }

    fn decode_frame(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        let mut s = Scanner::new(frame);
        let mut m = Message::default();
        let mut read = None;
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            let mark = |slot: &mut Option<usize>, s: &mut Scanner<'_>| {
                *slot = Some(at);
                s.skip()
            };
            match key {
                b"type" => m.kind = Some(s.string()?),
                b"product_id" => {
                    let id = s.string()?;
                    let inst = self.symbols.lookup(id).ok_or(error(at, DecodeErrorKind::UnknownSymbol))?;
                    once(&mut m.inst, inst, at, "product_id")?;
                }
                b"sequence" => m.sequence = Some(s.u64("sequence")?),
                b"trade_id" => m.trade_id = Some(s.u64("trade_id")?),
                b"time" => {
                    let text = s.string()?;
                    let bad = error(at, DecodeErrorKind::BadField { field: "time", expected: "RFC 3339 UTC time" });
                    m.time = Some(UnixNanos(rfc3339_ns(text).ok_or(bad)?));
                }
                b"side" => m.side = Some((side(s.string()?, b"buy", b"sell", at, "side", "buy or sell")?, at)),
                b"price" => mark(&mut m.price, s)?,
                b"size" | b"last_size" => mark(&mut m.size, s)?,
                b"best_bid" => mark(&mut m.best_bid, s)?,
                b"best_bid_size" => mark(&mut m.best_bid_size, s)?,
                b"best_ask" => mark(&mut m.best_ask, s)?,
                b"best_ask_size" => mark(&mut m.best_ask_size, s)?,
                b"bids" => mark(&mut m.bids, s)?,
                b"asks" => mark(&mut m.asks, s)?,
                // An l2update's type and product come first: its changes are read
                // in place (their time, which follows, is set when it closes).
                b"changes" if read.is_some() || m.changes.is_some() => {
                    return Err(error(at, DecodeErrorKind::BadField { field: "changes", expected: "one list" }));
                }
                b"changes" => match (m.kind, m.inst) {
                    (Some(b"l2update"), Some(inst)) => {
                        let template = BookDelta::new(Venue::Coinbase, inst.id, (0, 0), UnixNanos(0), ts_recv);
                        changes(s, read.insert(Update::new(template, out)), out, inst)?;
                    }
                    _ => mark(&mut m.changes, s)?,
                },
                _ => s.skip()?,
            }
            Ok(())
        })?;
        s.end()?;
        let kind = m.kind.ok_or(missing("type"))?;
        if read.is_some() && kind != b"l2update" {
            // A second `type` after changes were read as an l2update's.
            return Err(error(0, DecodeErrorKind::BadField { field: "type", expected: "one type" }));
        }
        match kind {
            b"ticker" | b"match" | b"last_match" | b"snapshot" | b"l2update" => {}
            // The subscription's confirmation and the heartbeat channel: nothing to
            // decode. An `error` answers a request (a refused subscription).
            b"subscriptions" | b"heartbeat" => return Ok(()),
            b"error" => return Err(error(0, DecodeErrorKind::Refused)),
            _ => return Err(error(0, DecodeErrorKind::UnknownMessage)),
        }
        let inst = m.inst.ok_or(missing("product_id"))?;
        let mut decimal =
            |at: Option<usize>, field: &'static str, scale: u8, positive: bool| -> Result<i64, DecodeError> {
                let at = at.ok_or(missing(field))?;
                s.seek(at);
                let v = s.fixed(scale)?.map_err(|e| error(at, DecodeErrorKind::BadDecimal { field, error: e }))?;
                match v {
                    v if v < 0 => Err(error(at, DecodeErrorKind::Negative { field })),
                    0 if positive => Err(error(at, DecodeErrorKind::NotPositive { field })),
                    v => Ok(v),
                }
            };
        let time = || m.time.ok_or(missing("time"));
        match kind {
            b"ticker" => {
                let bid = (
                    Price(decimal(m.best_bid, "best_bid", inst.price_scale, true)?),
                    Qty(decimal(m.best_bid_size, "best_bid_size", inst.qty_scale, false)?),
                );
                let ask = (
                    Price(decimal(m.best_ask, "best_ask", inst.price_scale, true)?),
                    Qty(decimal(m.best_ask_size, "best_ask_size", inst.qty_scale, false)?),
                );
                let bbo = Bbo::new(
                    Venue::Coinbase,
                    inst.id,
                    m.sequence.ok_or(missing("sequence"))?,
                    bid,
                    ask,
                    time()?,
                    ts_recv,
                );
                push(out, Event::Bbo(bbo))
            }
            b"match" | b"last_match" => {
                let price = Price(decimal(m.price, "price", inst.price_scale, true)?);
                let qty = Qty(decimal(m.size, "size", inst.qty_scale, true)?);
                // `side` is the maker's: the taker took the other side.
                let taker = match m.side.ok_or(missing("side"))?.0 {
                    Side::Buy => Side::Sell,
                    Side::Sell => Side::Buy,
                };
                let id = m.trade_id.ok_or(missing("trade_id"))?;
                let trade = Trade::new(Venue::Coinbase, inst.id, id, price, qty, Some(taker), time()?, ts_recv);
                push(out, Event::Trade(trade))
            }
            _ => self.book(&mut s, &m, inst, kind == b"snapshot", ts_recv, out, read),
        }
    }

    #[allow(clippy::too_many_arguments, reason = "the frame's parts, passed once")]
    fn book(
        &self,
        s: &mut Scanner<'_>,
        m: &Message<'_>,
        inst: Instrument,
        snapshot: bool,
        ts_recv: UnixNanos,
        out: &mut Events,
        read: Option<Update>,
    ) -> Result<(), DecodeError> {
        let ts = m.time.unwrap_or_default();
        if let Some(mut book) = read {
            book.header((0, 0), ts);
            return book.finish(out, false);
        }
        let mut book = Update::new(BookDelta::new(Venue::Coinbase, inst.id, (0, 0), ts, ts_recv), out);
        if snapshot {
            for (side, at, field) in [(BookSide::Bid, m.bids, "bids"), (BookSide::Ask, m.asks, "asks")] {
                s.seek(at.ok_or(missing(field))?);
                s.array(|s| {
                    s.expect(b'[', "'['")?;
                    let level = pair(s, inst)?;
                    s.expect(b']', "']'")?;
                    book.level(out, side, level, s.pos())
                })?;
            }
        } else {
            s.seek(m.changes.ok_or(missing("changes"))?);
            changes(s, &mut book, out, inst)?;
        }
        book.finish(out, snapshot)
    }
}

/// A `price, size` pair inside a level's brackets.
fn pair(s: &mut Scanner<'_>, inst: Instrument) -> Result<Level, DecodeError> {
    s.ws();
    let at = s.pos();
    let price =
        s.fixed(inst.price_scale)?.map_err(|e| error(at, DecodeErrorKind::BadDecimal { field: "price", error: e }))?;
    s.expect(b',', "','")?;
    s.ws();
    let at_size = s.pos();
    let size = s
        .fixed(inst.qty_scale)?
        .map_err(|e| error(at_size, DecodeErrorKind::BadDecimal { field: "size", error: e }))?;
    if price <= 0 {
        return Err(error(at, DecodeErrorKind::NotPositive { field: "price" }));
    }
    if size < 0 {
        return Err(error(at_size, DecodeErrorKind::Negative { field: "size" }));
    }
    Ok(Level { price: Price(price), qty: Qty(size) })
}

/// An `l2update`'s `changes`: `[side, price, size]` each.
fn changes(s: &mut Scanner<'_>, book: &mut Update, out: &mut Events, inst: Instrument) -> Result<(), DecodeError> {
    s.array(|s| {
        s.expect(b'[', "'['")?;
        s.ws();
        let at = s.pos();
        let side = match s.string()? {
            b"buy" => BookSide::Bid,
            b"sell" => BookSide::Ask,
            _ => return Err(error(at, DecodeErrorKind::BadField { field: "changes", expected: "buy or sell" })),
        };
        s.expect(b',', "','")?;
        let level = pair(s, inst)?;
        s.expect(b']', "']'")?;
        book.level(out, side, level, s.pos())
    })
}

fn push(out: &mut Events, event: Event) -> Result<(), DecodeError> {
    if out.push(event) { Ok(()) } else { Err(error(0, DecodeErrorKind::BufferFull)) }
}
