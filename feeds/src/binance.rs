//! Binance spot market data: `trade`, `aggTrade`, `bookTicker` and `depthUpdate`,
//! raw or inside the combined-stream wrapper `{"stream":..,"data":{..}}`.
//!
//! Field names follow Binance's `web-socket-streams.md`: prices and sizes are strings
//! (`"0.01914100"`), ids and times are numbers, `m` is "buyer is the maker" (so the
//! taker sold), spot `bookTicker` has no event type or time, and a depth level with
//! size `"0.00000000"` deletes the level. Each frame decodes all or nothing: on an
//! error no event of that frame stays in the buffer.

use crate::buffer::Events;
use crate::decimal::DecimalError;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{Bbo, BookDelta, BookSide, Event, Level, Price, Qty, Side, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::symbols::{Instrument, SymbolTable};

/// Where each known field's value starts in the frame.
#[derive(Debug, Default)]
struct Fields {
    event: Option<usize>,
    event_time: Option<usize>,
    symbol: Option<usize>,
    trade_id: Option<usize>,
    price: Option<usize>,
    qty: Option<usize>,
    trade_time: Option<usize>,
    buyer_maker: Option<usize>,
    a: Option<usize>,
    first_update: Option<usize>,
    update: Option<usize>,
    b: Option<usize>,
    bid_qty: Option<usize>,
    ask_qty: Option<usize>,
    data: Option<usize>,
}

fn collect(s: &mut Scanner<'_>) -> Result<Fields, DecodeError> {
    let mut f = Fields::default();
    s.object(|s, key| {
        s.ws();
        let at = Some(s.pos());
        match key {
            b"e" => f.event = at,
            b"E" => f.event_time = at,
            b"s" => f.symbol = at,
            b"t" => f.trade_id = at,
            b"p" => f.price = at,
            b"q" => f.qty = at,
            b"T" => f.trade_time = at,
            b"m" => f.buyer_maker = at,
            b"a" => f.a = at,
            b"U" => f.first_update = at,
            b"u" => f.update = at,
            b"b" => f.b = at,
            b"B" => f.bid_qty = at,
            b"A" => f.ask_qty = at,
            b"data" => f.data = at,
            _ => {}
        }
        s.skip()
    })?;
    Ok(f)
}

/// Decodes Binance spot frames into events.
#[derive(Debug, Clone)]
pub struct BinanceDecoder {
    symbols: SymbolTable,
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
    /// A [`DecodeError`] with the byte offset for malformed JSON, a missing or invalid
    /// field, an unknown symbol or message kind, or a full `out`; `out` is then left
    /// as it was.
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
        let before = out.len();
        let result = self.decode_frame(frame, ts_recv, out);
        if result.is_err() {
            out.truncate(before);
        }
        result.map(|()| out.len() - before)
    }

    fn decode_frame(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        let mut s = Scanner::new(frame);
        let mut f = collect(&mut s)?;
        s.end()?;
        if let Some(data) = f.data {
            s.seek(data);
            f = collect(&mut s)?;
        }
        let kind = match f.event {
            Some(at) => {
                s.seek(at);
                Some(s.string()?)
            }
            None => None,
        };
        let mut d = Message { s, f, symbols: &self.symbols };
        match kind {
            Some(b"trade") => d.trade("t", ts_recv, out),
            Some(b"aggTrade") => d.trade("a", ts_recv, out),
            Some(b"depthUpdate") => d.depth(ts_recv, out),
            Some(b"bookTicker") => d.book_ticker(ts_recv, out), // USD-M futures: with e, E and T
            None if d.f.update.is_some() && d.f.bid_qty.is_some() => d.book_ticker(ts_recv, out),
            _ => Err(DecodeError { offset: 0, kind: DecodeErrorKind::UnknownMessage }),
        }
    }
}

/// The collected fields of one message, with the scanner to read them.
struct Message<'a, 'f> {
    s: Scanner<'f>,
    f: Fields,
    symbols: &'a SymbolTable,
}

fn push(out: &mut Events, event: Event, at: usize) -> Result<(), DecodeError> {
    if out.push(event) { Ok(()) } else { Err(DecodeError { offset: offset(at), kind: DecodeErrorKind::BufferFull }) }
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

fn ms_to_ns(ms: u64, field: &'static str, at: usize) -> Result<UnixNanos, DecodeError> {
    ms.checked_mul(1_000_000).map(UnixNanos).ok_or(DecodeError {
        offset: offset(at),
        kind: DecodeErrorKind::BadField { field, expected: "millisecond timestamp" },
    })
}

impl Message<'_, '_> {
    fn at(&mut self, pos: Option<usize>, field: &'static str) -> Result<usize, DecodeError> {
        let pos = pos.ok_or(DecodeError { offset: 0, kind: DecodeErrorKind::MissingField { field } })?;
        self.s.seek(pos);
        Ok(pos)
    }

    fn instrument(&mut self) -> Result<Instrument, DecodeError> {
        let at = self.at(self.f.symbol, "s")?;
        let symbol = self.s.string()?;
        self.symbols.lookup(symbol).ok_or(DecodeError { offset: offset(at), kind: DecodeErrorKind::UnknownSymbol })
    }

    fn u64(&mut self, pos: Option<usize>, field: &'static str) -> Result<u64, DecodeError> {
        self.at(pos, field)?;
        self.s.u64(field)
    }

    /// A decimal field at `scale`: > 0 when `positive`, else >= 0.
    fn decimal(
        &mut self,
        pos: Option<usize>,
        field: &'static str,
        scale: u8,
        positive: bool,
    ) -> Result<i64, DecodeError> {
        let at = self.at(pos, field)?;
        let value = self.s.fixed(scale)?;
        checked(value, at, field, positive)
    }

    fn trade(&mut self, id_field: &'static str, ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        let inst = self.instrument()?;
        let id_pos = if id_field == "t" { self.f.trade_id } else { self.f.a };
        let trade_id = self.u64(id_pos, id_field)?;
        let price = self.decimal(self.f.price, "p", inst.price_scale, true)?;
        let qty = self.decimal(self.f.qty, "q", inst.qty_scale, true)?;
        let time_at = self.at(self.f.trade_time, "T")?;
        let ts = ms_to_ns(self.s.u64("T")?, "T", time_at)?;
        self.at(self.f.buyer_maker, "m")?;
        // The buyer was the maker, so the seller took liquidity.
        let aggressor = if self.s.bool("m")? { Side::Sell } else { Side::Buy };
        let trade = Trade::new(Venue::Binance, inst.id, trade_id, Price(price), Qty(qty), Some(aggressor), ts, ts_recv);
        push(out, Event::Trade(trade), 0)
    }

    fn book_ticker(&mut self, ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        let inst = self.instrument()?;
        let update_id = self.u64(self.f.update, "u")?;
        let bid = self.decimal(self.f.b, "b", inst.price_scale, true)?;
        let bid_qty = self.decimal(self.f.bid_qty, "B", inst.qty_scale, false)?;
        let ask = self.decimal(self.f.a, "a", inst.price_scale, true)?;
        let ask_qty = self.decimal(self.f.ask_qty, "A", inst.qty_scale, false)?;
        // Spot bookTicker has no time; the futures one carries E.
        let ts = match self.f.event_time {
            Some(at) => {
                self.s.seek(at);
                ms_to_ns(self.s.u64("E")?, "E", at)?
            }
            None => UnixNanos(0),
        };
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

    fn depth(&mut self, ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        let inst = self.instrument()?;
        let first = self.u64(self.f.first_update, "U")?;
        let last = self.u64(self.f.update, "u")?;
        let time_at = self.at(self.f.event_time, "E")?;
        let ts = ms_to_ns(self.s.u64("E")?, "E", time_at)?;
        let mut delta = BookDelta::new(Venue::Binance, inst.id, (first, last), ts, ts_recv);
        for (side, pos, field) in [(BookSide::Bid, self.f.b, "b"), (BookSide::Ask, self.f.a, "a")] {
            self.at(pos, field)?;
            self.s.array(|s| {
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
                    delta = BookDelta::new(Venue::Binance, inst.id, (first, last), ts, ts_recv);
                    delta.push(side, level);
                }
                Ok(())
            })?;
        }
        delta.set_last();
        push(out, Event::BookDelta(delta), 0)
    }
}

/// A converted decimal, checked for sign: > 0 when `positive`, else >= 0.
fn checked(
    value: Result<i64, DecimalError>,
    at: usize,
    field: &'static str,
    positive: bool,
) -> Result<i64, DecodeError> {
    let value = value
        .map_err(|error| DecodeError { offset: offset(at), kind: DecodeErrorKind::BadDecimal { field, error } })?;
    match value {
        v if v < 0 => Err(DecodeError { offset: offset(at), kind: DecodeErrorKind::Negative { field } }),
        0 if positive => Err(DecodeError { offset: offset(at), kind: DecodeErrorKind::NotPositive { field } }),
        v => Ok(v),
    }
}
