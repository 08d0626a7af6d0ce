//! Bybit v5 public market data: `orderbook.{depth}.{symbol}` (snapshot and delta) and
//! `publicTrade.{symbol}`.
//!
//! Field names follow Bybit's v5 WebSocket documentation: an envelope
//! `{"topic","type","ts","data","cts"}`; a book's `data` is `{"s","b":[[price,size]],
//! "a":[[price,size]],"u","seq"}` with size `"0"` deleting a level; a trade message's
//! `data` is an array of `{"T","s","S","v","p","L","i","BT"}`. Prices and sizes are
//! strings at the instrument's precision. `u` is the book update id, +1 per message on
//! a topic; `u == 1` means the service restarted and the message replaces the book,
//! so it is marked a snapshot. `i`, the trade id, is a UUID on derivatives and a
//! numeric string on spot: numeric ids are kept, others are hashed (FNV-1a), so equal
//! ids still compare equal. Each frame decodes all or nothing.

use crate::buffer::Events;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{BookDelta, BookSide, Event, Level, Price, Qty, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::layout::{Layout, LevelShape, first, quoted_decimal};
use crate::symbols::{Instrument, SymbolTable};
use crate::venue::{Lists, Update, decimal, decimal_or_offset, error, missing, once, price_and_size, push_trade, side};

/// Decodes Bybit v5 public frames into events.
#[derive(Debug, Clone)]
pub struct BybitDecoder {
    symbols: SymbolTable,
}

/// One `[price, size]` level.
fn level(s: &mut Scanner<'_>, inst: Instrument, field: &'static str) -> Result<Level, DecodeError> {
    s.expect(b'[', "'['")?;
    s.ws();
    let price = decimal(s, inst.price_scale, field, true)?;
    s.expect(b',', "','")?;
    s.ws();
    let qty = decimal(s, inst.qty_scale, field, false)?;
    s.expect(b']', "']'")?;
    Ok(Level { price: Price(price), qty: Qty(qty) })
}

fn ms_to_ns(ms: u64, at: usize, field: &'static str) -> Result<UnixNanos, DecodeError> {
    ms.checked_mul(1_000_000)
        .map(UnixNanos)
        .ok_or(error(at, DecodeErrorKind::BadField { field, expected: "millisecond timestamp" }))
}

fn trade_id(text: &[u8]) -> u64 {
    let numeric = !text.is_empty() && text.len() <= 19 && text.iter().all(u8::is_ascii_digit);
    if numeric {
        return text.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    }
    text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// What an envelope's `data` was read as, when it was read in place.
#[derive(Debug, Clone, Copy)]
enum Decoded {
    Book,
    Trades,
}

/// The envelope, as read.
#[derive(Debug, Default)]
struct Envelope<'f> {
    topic: Option<&'f [u8]>,
    kind: Option<&'f [u8]>,
    ts: Option<(u64, usize)>,
    cts: Option<(u64, usize)>,
    data: Option<usize>,
    /// A request's answer (`"op":"subscribe"`, `"op":"pong"`) and whether it said it
    /// succeeded (derivatives' pong does not say).
    op: bool,
    success: Option<bool>,
}

impl BybitDecoder {
    /// A decoder for the instruments in `symbols` (Bybit's symbols, e.g. `BTCUSDT`).
    pub fn new(symbols: SymbolTable) -> Self {
        Self { symbols }
    }

    /// The symbol table.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Decodes one frame received at `ts_recv`, appending its events to `out`;
    /// returns how many it added.
    ///
    /// # Errors
    /// A [`DecodeError`] for malformed JSON, a missing or invalid field, an unknown
    /// symbol or topic, a request's answer that says it failed (a refused
    /// subscription: [`DecodeErrorKind::Refused`]), or a full `out`; `out` is then left as it was. A successful
    /// answer (a subscription ack, a pong) decodes to no events.
    pub fn decode(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<usize, DecodeError> {
        crate::venue::documented_or_general(
            out,
            &[&|out| self.book_as_documented(frame, ts_recv, out), &|out| {
                self.trades_as_documented(frame, ts_recv, out)
            }],
            |out, before| self.decode_frame(frame, ts_recv, out, before),
        )
    }

    /// An `orderbook` message exactly as Bybit documents and sends it (keys in order,
    /// no white space), read by comparing the text between the values; `None` for
    /// anything else, which the general path then decodes (the same events, or an error).
    fn book_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"topic":"orderbook."#)?;
        l.string_body()?;
        l.literal(br#","type":""#)?;
        let snapshot = match l.string_body()? {
            b"delta" => false,
            b"snapshot" => true,
            _ => return None,
        };
        l.literal(br#","ts":"#)?;
        l.digits()?;
        l.literal(br#","data":{"s":""#)?;
        let inst = self.symbols.lookup(l.string_body()?)?;
        let mut update = Update::new(BookDelta::new(Venue::Bybit, inst.id, (0, 0), UnixNanos(0), ts_recv), out);
        let shape = LevelShape::Strings { extra: 0 };
        l.literal(br#","b":"#)?;
        l.levels(inst, shape, |level| update.level(out, BookSide::Bid, level, 0).ok())?;
        l.literal(br#","a":"#)?;
        l.levels(inst, shape, |level| update.level(out, BookSide::Ask, level, 0).ok())?;
        l.literal(br#","u":"#)?;
        let u = l.digits()?;
        l.literal(br#","seq":"#)?;
        l.digits()?;
        l.literal(br#"},"cts":"#)?;
        let ts = UnixNanos(l.digits()?.checked_mul(1_000_000)?);
        l.literal(b"}")?;
        if !l.at_end() {
            return None;
        }
        update.header((u, u), ts);
        // A restarted service resends the whole book with u = 1.
        update.finish(out, snapshot || u == 1).ok()
    }

    /// A `publicTrade` message as Bybit documents and sends it (envelope keys in
    /// order, no white space, plain values), read like [`Self::book_as_documented`].
    fn trades_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"topic":"publicTrade."#)?;
        l.string_body()?;
        l.literal(br#","type":"snapshot","ts":"#)?;
        l.digits()?;
        l.literal(br#","data":["#)?;
        l.trades(Venue::Bybit, ts_recv, out, |key, l, t| match key {
            b"T" => first(&mut t.time_ns, l.digits()?.checked_mul(1_000_000)?),
            b"s" => first(&mut t.inst, self.symbols.lookup(l.quoted()?)?),
            b"S" => first(&mut t.taker, l.side(b"Buy", b"Sell")?),
            b"i" => {
                let text = l.quoted()?;
                let numeric = !text.is_empty() && text.len() <= 19 && text.iter().all(u8::is_ascii_digit);
                first(&mut t.id, numeric.then(|| trade_id(text))?)
            }
            b"v" => first(&mut t.qty, quoted_decimal(l, t.inst?.qty_scale)?),
            b"p" => first(&mut t.price, quoted_decimal(l, t.inst?.price_scale)?),
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
        let mut s = Scanner::new(frame);
        let mut env = Envelope::default();
        let mut decoded = None;
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            match key {
                b"topic" => env.topic = Some(s.string()?),
                b"type" => env.kind = Some(s.string()?),
                b"ts" => env.ts = Some((s.u64("ts")?, at)),
                b"cts" => env.cts = Some((s.u64("cts")?, at)),
                // In Bybit's order the topic, type and ts come first, so `data` is
                // read in place; otherwise once the whole envelope is known.
                b"data" => {
                    once(&mut env.data, at, at, "data")?;
                    let topic = env.topic.unwrap_or_default();
                    // The book's time is `cts`, which follows, or else `ts`: read in
                    // place only if `ts` can stand in until `cts` is seen.
                    let ts_valid = env.ts.is_some_and(|(ms, _)| ms.checked_mul(1_000_000).is_some());
                    if topic.starts_with(b"orderbook.") && env.kind.is_some() && (env.cts.is_some() || ts_valid) {
                        self.book(s, &env, ts_recv, out)?;
                        decoded = Some(Decoded::Book);
                    } else if topic.starts_with(b"publicTrade.") {
                        self.trades(s, ts_recv, out)?;
                        decoded = Some(Decoded::Trades);
                    } else {
                        s.skip()?;
                    }
                }
                b"op" => {
                    env.op = true;
                    s.skip()?;
                }
                b"success" => env.success = Some(s.bool("success")?),
                _ => s.skip()?,
            }
            Ok(())
        })?;
        s.end()?;
        // An answer to a request: spot's `{"success":true,...,"op":"ping"}` or
        // derivatives' `{"op":"pong","args":[...]}` (no `success` at all).
        if env.topic.is_none() && env.op {
            return if env.success == Some(false) { Err(error(0, DecodeErrorKind::Refused)) } else { Ok(()) };
        }
        match decoded {
            // `cts`, the book's time where sent, follows `data`.
            Some(Decoded::Book) => {
                if let Some((cts, at)) = env.cts {
                    let ts = ms_to_ns(cts, at, "cts")?;
                    for event in out.tail_mut(before) {
                        if let Event::BookDelta(d) = event {
                            d.ts_exchange = ts;
                        }
                    }
                }
                return Ok(());
            }
            Some(Decoded::Trades) => return Ok(()),
            None => {}
        }
        let topic = env.topic.ok_or(error(0, DecodeErrorKind::UnknownMessage))?;
        let data = env.data.ok_or(missing("data"))?;
        s.seek(data);
        if topic.starts_with(b"orderbook.") {
            self.book(&mut s, &env, ts_recv, out)
        } else if topic.starts_with(b"publicTrade.") {
            self.trades(&mut s, ts_recv, out)
        } else {
            Err(error(0, DecodeErrorKind::UnknownMessage))
        }
    }

    fn instrument(&self, symbol: &[u8], at: usize) -> Result<Instrument, DecodeError> {
        self.symbols.lookup(symbol).ok_or(error(at, DecodeErrorKind::UnknownSymbol))
    }

    fn book(
        &self,
        s: &mut Scanner<'_>,
        env: &Envelope<'_>,
        ts_recv: UnixNanos,
        out: &mut Events,
    ) -> Result<(), DecodeError> {
        let snapshot = match env.kind {
            Some(b"snapshot") => true,
            Some(b"delta") => false,
            _ => return Err(missing("type")),
        };
        let (mut inst, mut update) = (None, None);
        let mut lists = Lists::new(Venue::Bybit, ts_recv, level);
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            match key {
                b"s" => once(&mut inst, self.instrument(s.string()?, at)?, at, "s")?,
                b"u" => update = Some(s.u64("u")?),
                b"b" => lists.list(s, out, inst, BookSide::Bid, "b")?,
                b"a" => lists.list(s, out, inst, BookSide::Ask, "a")?,
                _ => s.skip()?,
            }
            Ok(())
        })?;
        let inst = inst.ok_or(missing("s"))?;
        let update = update.ok_or(missing("u"))?;
        let time = env.cts.or(env.ts).ok_or(missing("ts"))?;
        let ts = ms_to_ns(time.0, time.1, if env.cts.is_some() { "cts" } else { "ts" })?;
        // A restarted service resends the whole book with u = 1.
        let replaces = snapshot || update == 1;
        lists.finish(s, out, inst, ["b", "a"], ((update, update), ts), replaces, None)
    }

    fn trades(&self, s: &mut Scanner<'_>, ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        s.array(|s| {
            let (mut inst, mut time, mut taker, mut id, mut price_at, mut size_at) =
                (None, None, None, None, None, None);
            let start = s.pos();
            s.object(|s, key| {
                s.ws();
                let at = s.pos();
                match key {
                    b"s" => once(&mut inst, self.instrument(s.string()?, at)?, at, "s")?,
                    b"T" => time = Some((s.u64("T")?, at)),
                    b"S" => taker = Some(side(s.string()?, b"Buy", b"Sell", at, "S", "Buy or Sell")?),
                    b"i" => id = Some(trade_id(s.string()?)),
                    b"p" => price_at = Some(decimal_or_offset(s, inst.map(|i| i.price_scale), "p", true)?),
                    b"v" => size_at = Some(decimal_or_offset(s, inst.map(|i| i.qty_scale), "v", true)?),
                    _ => s.skip()?,
                }
                Ok(())
            })?;
            let end = s.pos();
            let inst = inst.ok_or(missing("s"))?;
            let (price, qty) = price_and_size(s, inst, (price_at, "p"), (size_at, "v"), end)?;
            let (t, t_at) = time.ok_or(missing("T"))?;
            let trade = Trade::new(
                Venue::Bybit,
                inst.id,
                id.ok_or(missing("i"))?,
                price,
                qty,
                Some(taker.ok_or(missing("S"))?),
                ms_to_ns(t, t_at, "T")?,
                ts_recv,
            );
            push_trade(out, trade, start)
        })
    }
}
