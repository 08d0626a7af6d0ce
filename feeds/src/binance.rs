//! Binance spot market data: `trade`, `aggTrade`, `bookTicker` and `depthUpdate`,
//! raw or inside the combined-stream wrapper `{"stream":..,"data":{..}}` (and the USD-M
//! futures `bookTicker`, which adds `e`, `E` and `T`).
//!
//! Field names follow Binance's `web-socket-streams.md`: prices and sizes are strings
//! (`"0.01914100"`), ids and times are numbers, `m` is "buyer is the maker" (so the
//! taker sold), spot `bookTicker` has no event type or time, and a depth level with
//! size `"0.00000000"` deletes the level. Each frame decodes all or nothing: on an
//! error no event of that frame stays in the buffer.
//!
//! Decoding is one pass in Binance's field order (`s` before prices, `U`/`u`/`E`
//! before levels): each value is converted where it is found. A field that needs the
//! instrument's scales but comes before `s` is remembered and converted after the
//! walk, so any field order decodes the same.

use crate::buffer::Events;
use crate::decimal::DecimalError;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{Bbo, BookDelta, BookSide, Event, Level, Price, Qty, Side, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::layout::{Layout, LevelShape};
use crate::symbols::{Instrument, SymbolTable};
use crate::venue::Update;

/// Decodes Binance spot frames into events.
#[derive(Debug, Clone)]
pub struct BinanceDecoder {
    symbols: SymbolTable,
}

/// A decimal field: converted, or where to find it once the scales are known.
#[derive(Debug, Clone, Copy, Default)]
enum Decimal {
    #[default]
    Absent,
    Value(i64, usize),
    Later(usize),
}

/// Everything one message said, converted as it was read.
#[derive(Debug, Default)]
struct Message<'f> {
    kind: Option<&'f [u8]>,
    instrument: Option<Instrument>,
    event_time: Option<(u64, usize)>,
    trade_time: Option<(u64, usize)>,
    trade_id: Option<u64>,
    agg_id: Option<u64>,
    first_update: Option<u64>,
    update: Option<u64>,
    buyer_maker: Option<bool>,
    price: Decimal,
    qty: Decimal,
    bid: Decimal,
    bid_qty: Decimal,
    ask: Decimal,
    ask_qty: Decimal,
    /// Level arrays: where they start, and whether they were already emitted.
    bids: Option<(usize, bool)>,
    asks: Option<(usize, bool)>,
    data: Option<usize>,
    /// `lastUpdateId` of a partial book depth snapshot.
    snapshot_id: Option<u64>,
    /// The instrument named by a combined stream's `stream` (`btcusdt@depth20`).
    stream_instrument: Option<Instrument>,
}

/// The fields `walk` reads (at most 32: one bit each).
const KNOWN: [&str; 19] = [
    "e",
    "E",
    "T",
    "t",
    "U",
    "u",
    "m",
    "s",
    "p",
    "q",
    "B",
    "A",
    "a",
    "b",
    "data",
    "stream",
    "lastUpdateId",
    "bids",
    "asks",
];

/// The index of a key in [`KNOWN`]: a `match`, which compiles to length-then-bytes
/// comparisons (a scan over `KNOWN` cost 6% on trades).
fn known_bit(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"e" => 0,
        b"E" => 1,
        b"T" => 2,
        b"t" => 3,
        b"U" => 4,
        b"u" => 5,
        b"m" => 6,
        b"s" => 7,
        b"p" => 8,
        b"q" => 9,
        b"B" => 10,
        b"A" => 11,
        b"a" => 12,
        b"b" => 13,
        b"data" => 14,
        b"stream" => 15,
        b"lastUpdateId" => 16,
        b"bids" => 17,
        b"asks" => 18,
        _ => return None,
    })
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

fn error(at: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError { offset: offset(at), kind }
}

fn missing(field: &'static str) -> DecodeError {
    error(0, DecodeErrorKind::MissingField { field })
}

/// A converted decimal, checked for sign: > 0 when `positive`, else >= 0.
fn checked(
    value: Result<i64, DecimalError>,
    at: usize,
    field: &'static str,
    positive: bool,
) -> Result<i64, DecodeError> {
    let value = value.map_err(|e| error(at, DecodeErrorKind::BadDecimal { field, error: e }))?;
    match value {
        v if v < 0 => Err(error(at, DecodeErrorKind::Negative { field })),
        0 if positive => Err(error(at, DecodeErrorKind::NotPositive { field })),
        v => Ok(v),
    }
}

fn ms_to_ns((ms, at): (u64, usize), field: &'static str) -> Result<UnixNanos, DecodeError> {
    ms.checked_mul(1_000_000)
        .map(UnixNanos)
        .ok_or(error(at, DecodeErrorKind::BadField { field, expected: "millisecond timestamp" }))
}

fn push(out: &mut Events, event: Event, at: usize) -> Result<(), DecodeError> {
    if out.push(event) { Ok(()) } else { Err(error(at, DecodeErrorKind::BufferFull)) }
}

impl BinanceDecoder {
    /// A decoder for the instruments in `symbols` (Binance's upper-case symbols).
    pub fn new(symbols: SymbolTable) -> Self {
        Self { symbols }
    }

    /// The symbol table.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Decodes one frame received at `ts_recv`, appending its events to `out`.
    /// Returns how many events it added.
    ///
    /// # Errors
    /// A [`DecodeError`] for malformed JSON, a missing, repeated or invalid field, an
    /// unknown symbol or message kind, or a full `out`; `out` is then left as it was.
    /// The offset is the byte where the problem is, or 0 (the message) for a field
    /// that is missing altogether.
    ///
    /// # Examples
    /// ```
    /// use feeds::{binance::BinanceDecoder, event::{Event, UnixNanos}, symbols::SymbolTable, Events};
    /// let mut symbols = SymbolTable::new();
    /// symbols.intern("BNBBTC", 8, 8);
    /// let mut decoder = BinanceDecoder::new(symbols);
    /// let mut out = Events::with_capacity(16);
    /// let frame = br#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#;
    /// assert_eq!(decoder.decode(frame, UnixNanos(7), &mut out), Ok(1));
    /// let Event::Trade(t) = out.as_slice()[0] else { panic!() };
    /// assert_eq!(t.price.0, 100_000); // 0.001 at 8 decimals
    /// ```
    pub fn decode(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<usize, DecodeError> {
        crate::venue::documented_or_general(
            out,
            &[
                &|out| {
                    let trade = self.trade_as_documented(frame, ts_recv)?;
                    push(out, Event::Trade(trade), 0).ok()
                },
                &|out| self.depth_as_documented(frame, ts_recv, out),
            ],
            |out, before| self.decode_frame(frame, ts_recv, out, before),
        )
    }

    fn decode_frame(
        &self,
        frame: &[u8],
        ts_recv: UnixNanos,
        out: &mut Events,
        before: usize,
    ) -> Result<(), DecodeError> {
        let mut s = Scanner::new(frame);
        let mut m = self.walk(&mut s, ts_recv, out)?;
        s.end()?;
        if let Some(data) = m.data {
            out.truncate(before);
            s.seek(data);
            let from_stream = m.stream_instrument;
            m = self.walk(&mut s, ts_recv, out)?;
            // A partial depth payload names no symbol: the stream name does.
            if m.instrument.is_none() {
                m.instrument = from_stream;
            }
        }
        self.finish(&mut s, m, ts_recv, out, before)
    }

    /// A `trade` exactly as Binance documents and sends it (its keys in order, no
    /// white space), read by comparing the text between the values; `None` for
    /// anything else, including anything the general path would refuse, which then
    /// decodes it (to the same trade, or to the error).
    fn trade_as_documented(&self, frame: &[u8], ts_recv: UnixNanos) -> Option<Trade> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"e":"trade","E":"#)?;
        // The general path requires E of a trade to be a u64, and uses only T.
        l.skip_digits()?;
        l.literal(br#","s":""#)?;
        let inst = self.symbols.lookup(l.string_body()?)?;
        l.literal(br#","t":"#)?;
        let id = l.digits()?;
        l.literal(br#","p":""#)?;
        let price = l.decimal(inst.price_scale).filter(|p| *p > 0)?;
        l.literal(br#"","q":""#)?;
        let qty = l.decimal(inst.qty_scale).filter(|q| *q > 0)?;
        l.literal(br#"","T":"#)?;
        let time = UnixNanos(l.digits()?.checked_mul(1_000_000)?);
        l.literal(br#","m":"#)?;
        // The buyer was the maker, so the seller took liquidity.
        let aggressor = if l.bool()? { Side::Sell } else { Side::Buy };
        l.literal(br#","M":"#)?;
        l.bool()?;
        l.literal(b"}")?;
        l.at_end()
            .then(|| Trade::new(Venue::Binance, inst.id, id, Price(price), Qty(qty), Some(aggressor), time, ts_recv))
    }

    /// A `depthUpdate` exactly as Binance documents and sends it, read like
    /// [`Self::trade_as_documented`]; on `None` the caller takes back anything it
    /// appended to `out`.
    fn depth_as_documented(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Option<()> {
        let mut l = Layout::new(frame);
        l.literal(br#"{"e":"depthUpdate","E":"#)?;
        let ts = UnixNanos(l.digits()?.checked_mul(1_000_000)?);
        l.literal(br#","s":""#)?;
        let inst = self.symbols.lookup(l.string_body()?)?;
        l.literal(br#","U":"#)?;
        let first = l.digits()?;
        l.literal(br#","u":"#)?;
        let last = l.digits()?;
        let mut update = Update::new(BookDelta::new(Venue::Binance, inst.id, (first, last), ts, ts_recv), out);
        let shape = LevelShape::Strings { extra: 0 };
        l.literal(br#","b":"#)?;
        l.levels(inst, shape, |level| update.level(out, BookSide::Bid, level, 0).ok())?;
        l.literal(br#","a":"#)?;
        l.levels(inst, shape, |level| update.level(out, BookSide::Ask, level, 0).ok())?;
        l.literal(b"}")?;
        if !l.at_end() {
            return None;
        }
        update.finish(out, false).ok()
    }

    /// One pass over a message object, converting every field it knows.
    fn walk<'f>(&self, s: &mut Scanner<'f>, ts_recv: UnixNanos, out: &mut Events) -> Result<Message<'f>, DecodeError> {
        let mut m = Message::default();
        let mut seen: u32 = 0;
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            let first = s.peek();
            // Each field this decoder reads may appear once: two values could disagree
            // (two symbols, two level arrays), and the first would be silently lost.
            if let Some(bit) = known_bit(key) {
                if seen & (1 << bit) != 0 {
                    let field = KNOWN.get(bit).copied().unwrap_or("?");
                    return Err(error(at, DecodeErrorKind::DuplicateField { field }));
                }
                seen |= 1 << bit;
            }
            match key {
                b"e" => m.kind = Some(s.string()?),
                b"E" => m.event_time = Some((s.u64("E")?, at)),
                b"T" => m.trade_time = Some((s.u64("T")?, at)),
                b"t" => m.trade_id = Some(s.u64("t")?),
                b"U" => m.first_update = Some(s.u64("U")?),
                b"u" => m.update = Some(s.u64("u")?),
                b"m" => m.buyer_maker = Some(s.bool("m")?),
                b"s" => {
                    let symbol = s.string()?;
                    m.instrument = Some(self.symbols.lookup(symbol).ok_or(error(at, DecodeErrorKind::UnknownSymbol))?);
                }
                b"p" => m.price = self.decimal(s, m.instrument.map(|i| i.price_scale))?,
                b"q" => m.qty = self.decimal(s, m.instrument.map(|i| i.qty_scale))?,
                b"B" => m.bid_qty = self.decimal(s, m.instrument.map(|i| i.qty_scale))?,
                b"A" => m.ask_qty = self.decimal(s, m.instrument.map(|i| i.qty_scale))?,
                // `a` is an aggregate id (aggTrade), the best ask (bookTicker) or the
                // asks (depthUpdate); `b` the best bid or the bids; the value says which.
                b"lastUpdateId" => m.snapshot_id = Some(s.u64("lastUpdateId")?),
                b"stream" => {
                    // `<symbol>@<channel>`, the symbol in lower case.
                    let name = s.string()?;
                    let symbol = name.split(|b| *b == b'@').next().unwrap_or(name);
                    m.stream_instrument = self.symbols.lookup_ignore_case(symbol);
                }
                b"a" | b"b" | b"asks" | b"bids" => match first {
                    Some(b'[') => {
                        let is_ask = matches!(key, b"a" | b"asks");
                        let side = if is_ask { BookSide::Ask } else { BookSide::Bid };
                        let other = if is_ask { m.bids } else { m.asks };
                        let continue_last = other.is_some_and(|(_, emitted)| emitted);
                        let emitted = match m.instrument {
                            Some(inst) => {
                                self.levels(s, inst, side, ts_recv, out, continue_last)?;
                                true
                            }
                            None => {
                                s.skip()?;
                                false
                            }
                        };
                        *(if is_ask { &mut m.asks } else { &mut m.bids }) = Some((at, emitted));
                    }
                    Some(b'"') => {
                        let d = self.decimal(s, m.instrument.map(|i| i.price_scale))?;
                        *(if key == b"a" { &mut m.ask } else { &mut m.bid }) = d;
                    }
                    _ if key == b"a" => m.agg_id = Some(s.u64("a")?),
                    _ => s.skip()?, // a trade's buyer order id in older docs
                },
                b"data" => {
                    m.data = Some(at);
                    s.skip()?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        Ok(m)
    }

    fn decimal(&self, s: &mut Scanner<'_>, scale: Option<u8>) -> Result<Decimal, DecodeError> {
        let at = s.pos();
        match scale {
            Some(scale) => match s.fixed(scale)? {
                Ok(v) => Ok(Decimal::Value(v, at)),
                // Keep the error for `finish`, which knows the field's name and sign.
                Err(_) => Ok(Decimal::Later(at)),
            },
            None => {
                s.skip()?;
                Ok(Decimal::Later(at))
            }
        }
    }

    /// Appends a level array as `BookDelta`s; `finish` fills in their headers.
    /// With `continue_last`, the last event in `out` is this update's open delta and
    /// takes levels until it is full.
    fn levels(
        &self,
        s: &mut Scanner<'_>,
        inst: Instrument,
        side: BookSide,
        ts_recv: UnixNanos,
        out: &mut Events,
        continue_last: bool,
    ) -> Result<(), DecodeError> {
        let field = if side == BookSide::Ask { "a" } else { "b" };
        let fresh = || BookDelta::new(Venue::Binance, inst.id, (0, 0), UnixNanos(0), ts_recv);
        // Continue this update's last delta if it has room (levels carry their side).
        let last = out.len().saturating_sub(1);
        let (mut delta, continued) = match out.tail_mut(last).first() {
            Some(Event::BookDelta(d)) if continue_last && d.len() < crate::event::LEVELS_PER_DELTA => {
                let d = *d;
                out.truncate(last);
                (d, true)
            }
            _ => (fresh(), false),
        };
        s.array(|s| {
            s.expect(b'[', "'['")?;
            s.ws();
            let at = s.pos();
            let price = checked(s.fixed(inst.price_scale)?, at, field, true)?;
            s.expect(b',', "','")?;
            s.ws();
            let at = s.pos();
            let qty = checked(s.fixed(inst.qty_scale)?, at, field, false)?;
            while s.peek() == Some(b',') {
                s.expect(b',', "','")?;
                s.skip()?;
            }
            s.expect(b']', "']'")?;
            let level = Level { price: Price(price), qty: Qty(qty) };
            if !delta.push(side, level) {
                push(out, Event::BookDelta(delta), at)?;
                delta = fresh();
                delta.push(side, level);
            }
            Ok(())
        })?;
        if delta.is_empty() && continue_last && !continued {
            // An empty list after a full delta: the update already has its deltas.
            return Ok(());
        }
        push(out, Event::BookDelta(delta), s.pos())
    }

    /// Converts what could not be converted during the walk, checks required fields
    /// and emits (or completes) the message's events.
    fn finish(
        &self,
        s: &mut Scanner<'_>,
        m: Message<'_>,
        ts_recv: UnixNanos,
        out: &mut Events,
        before: usize,
    ) -> Result<(), DecodeError> {
        let kind = m.kind;
        let is_ticker = matches!(kind, Some(b"bookTicker"))
            || (kind.is_none() && m.update.is_some() && !matches!(m.bid_qty, Decimal::Absent));
        let is_snapshot = kind.is_none() && m.snapshot_id.is_some();
        let is_depth = kind == Some(&b"depthUpdate"[..]) || is_snapshot;
        let is_trade = matches!(kind, Some(b"trade" | b"aggTrade"));
        let has_levels = m.bids.is_some() || m.asks.is_some();
        if !(is_trade || is_ticker || is_depth) || (!is_depth && has_levels) {
            // Subscription acks, other streams, or level arrays outside a depth update.
            return Err(error(0, DecodeErrorKind::UnknownMessage));
        }
        let inst = m.instrument.ok_or(missing("s"))?;
        let mut value = |d: Decimal, field: &'static str, scale: u8, positive: bool| -> Result<i64, DecodeError> {
            match d {
                Decimal::Absent => Err(missing(field)),
                Decimal::Value(v, at) => checked(Ok(v), at, field, positive),
                Decimal::Later(at) => {
                    s.seek(at);
                    let v = s.fixed(scale)?;
                    checked(v, at, field, positive)
                }
            }
        };
        match kind {
            Some(b"trade") | Some(b"aggTrade") => {
                let (id, id_field) = if kind == Some(&b"trade"[..]) { (m.trade_id, "t") } else { (m.agg_id, "a") };
                let trade_id = id.ok_or(missing(id_field))?;
                let price = value(m.price, "p", inst.price_scale, true)?;
                let qty = value(m.qty, "q", inst.qty_scale, true)?;
                let ts = ms_to_ns(m.trade_time.ok_or(missing("T"))?, "T")?;
                // The buyer was the maker, so the seller took liquidity.
                let aggressor = if m.buyer_maker.ok_or(missing("m"))? { Side::Sell } else { Side::Buy };
                let trade =
                    Trade::new(Venue::Binance, inst.id, trade_id, Price(price), Qty(qty), Some(aggressor), ts, ts_recv);
                push(out, Event::Trade(trade), 0)
            }
            _ if is_ticker => {
                let update_id = m.update.ok_or(missing("u"))?;
                let bid = value(m.bid, "b", inst.price_scale, true)?;
                let bid_qty = value(m.bid_qty, "B", inst.qty_scale, false)?;
                let ask = value(m.ask, "a", inst.price_scale, true)?;
                let ask_qty = value(m.ask_qty, "A", inst.qty_scale, false)?;
                // Spot bookTicker has no time; the futures one carries E.
                let ts = m.event_time.map_or(Ok(UnixNanos(0)), |e| ms_to_ns(e, "E"))?;
                let bbo = Bbo::new(
                    Venue::Binance,
                    inst.id,
                    update_id,
                    (Price(bid), Qty(bid_qty)),
                    (Price(ask), Qty(ask_qty)),
                    ts,
                    ts_recv,
                );
                push(out, Event::Bbo(bbo), 0)
            }
            _ if is_depth => {
                let (first, last, ts) = match m.snapshot_id {
                    // Partial depth: a whole top-of-book, as of one update id, no time.
                    Some(id) if is_snapshot => (id, id, UnixNanos(0)),
                    _ => (
                        m.first_update.ok_or(missing("U"))?,
                        m.update.ok_or(missing("u"))?,
                        ms_to_ns(m.event_time.ok_or(missing("E"))?, "E")?,
                    ),
                };
                // Level arrays that came before `s` were skipped: emit them now.
                for (array, side) in [(m.bids, BookSide::Bid), (m.asks, BookSide::Ask)] {
                    match array {
                        None => {
                            let field = match (side, is_snapshot) {
                                (BookSide::Bid, false) => "b",
                                (BookSide::Ask, false) => "a",
                                (BookSide::Bid, true) => "bids",
                                (BookSide::Ask, true) => "asks",
                            };
                            return Err(missing(field));
                        }
                        Some((at, false)) => {
                            s.seek(at);
                            let continue_last = out.len() > before;
                            self.levels(s, inst, side, ts_recv, out, continue_last)?;
                        }
                        Some((_, true)) => {}
                    }
                }
                let deltas = out.tail_mut(before);
                let count = deltas.len();
                for (i, event) in deltas.iter_mut().enumerate() {
                    if let Event::BookDelta(d) = event {
                        d.first_seq = first;
                        d.last_seq = last;
                        d.ts_exchange = ts;
                        if is_snapshot {
                            d.set_snapshot();
                        }
                        if i + 1 == count {
                            d.set_last();
                        }
                    }
                }
                Ok(())
            }
            _ => Err(error(0, DecodeErrorKind::UnknownMessage)),
        }
    }
}
