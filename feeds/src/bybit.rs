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
use crate::event::{BookDelta, BookSide, Event, Level, Price, Qty, Side, Trade, UnixNanos, Venue};
use crate::json::Scanner;
use crate::symbols::{Instrument, SymbolTable};

/// Decodes Bybit v5 public frames into events.
#[derive(Debug, Clone)]
pub struct BybitDecoder {
    symbols: SymbolTable,
}

fn error(at: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError { offset: u32::try_from(at).unwrap_or(u32::MAX), kind }
}

fn missing(field: &'static str) -> DecodeError {
    error(0, DecodeErrorKind::MissingField { field })
}

fn ms_to_ns(ms: u64, at: usize, field: &'static str) -> Result<UnixNanos, DecodeError> {
    ms.checked_mul(1_000_000)
        .map(UnixNanos)
        .ok_or(error(at, DecodeErrorKind::BadField { field, expected: "millisecond timestamp" }))
}

/// A decimal at `scale`, with the venue's sign rule: > 0 when `positive`, else >= 0.
fn decimal(s: &mut Scanner<'_>, scale: u8, field: &'static str, positive: bool) -> Result<i64, DecodeError> {
    let at = s.pos();
    let v = s.fixed(scale)?.map_err(|e| error(at, DecodeErrorKind::BadDecimal { field, error: e }))?;
    match v {
        v if v < 0 => Err(error(at, DecodeErrorKind::Negative { field })),
        0 if positive => Err(error(at, DecodeErrorKind::NotPositive { field })),
        v => Ok(v),
    }
}

fn trade_id(text: &[u8]) -> u64 {
    let numeric = !text.is_empty() && text.len() <= 19 && text.iter().all(u8::is_ascii_digit);
    if numeric {
        return text.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    }
    text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The envelope, as read.
#[derive(Debug, Default)]
struct Envelope<'f> {
    topic: Option<&'f [u8]>,
    kind: Option<&'f [u8]>,
    ts: Option<(u64, usize)>,
    cts: Option<(u64, usize)>,
    data: Option<usize>,
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
    /// symbol or topic (subscription acks and pongs included), or a full `out`; `out`
    /// is then left as it was.
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
        let mut env = Envelope::default();
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            match key {
                b"topic" => env.topic = Some(s.string()?),
                b"type" => env.kind = Some(s.string()?),
                b"ts" => env.ts = Some((s.u64("ts")?, at)),
                b"cts" => env.cts = Some((s.u64("cts")?, at)),
                b"data" => {
                    env.data = Some(at);
                    s.skip()?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        s.end()?;
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
        let (mut inst, mut update, mut bids, mut asks) = (None, None, None, None);
        s.object(|s, key| {
            s.ws();
            let at = s.pos();
            match key {
                b"s" => inst = Some(self.instrument(s.string()?, at)?),
                b"u" => update = Some(s.u64("u")?),
                b"b" => {
                    bids = Some(at);
                    s.skip()?;
                }
                b"a" => {
                    asks = Some(at);
                    s.skip()?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        let inst = inst.ok_or(missing("s"))?;
        let update = update.ok_or(missing("u"))?;
        let time = env.cts.or(env.ts).ok_or(missing("ts"))?;
        let ts = ms_to_ns(time.0, time.1, "cts")?;
        let before = out.len();
        let fresh = || BookDelta::new(Venue::Bybit, inst.id, (update, update), ts, ts_recv);
        let mut delta = fresh();
        for (side, at, field) in [(BookSide::Bid, bids, "b"), (BookSide::Ask, asks, "a")] {
            s.seek(at.ok_or(missing(field))?);
            s.array(|s| {
                s.expect(b'[', "'['")?;
                s.ws();
                let price = decimal(s, inst.price_scale, field, true)?;
                s.expect(b',', "','")?;
                s.ws();
                let qty = decimal(s, inst.qty_scale, field, false)?;
                s.expect(b']', "']'")?;
                let level = Level { price: Price(price), qty: Qty(qty) };
                if !delta.push(side, level) {
                    if !out.push(Event::BookDelta(delta)) {
                        return Err(error(s.pos(), DecodeErrorKind::BufferFull));
                    }
                    delta = fresh();
                    delta.push(side, level);
                }
                Ok(())
            })?;
        }
        if !out.push(Event::BookDelta(delta)) {
            return Err(error(0, DecodeErrorKind::BufferFull));
        }
        // A restarted service resends the whole book with u = 1.
        let replaces = snapshot || update == 1;
        let deltas = out.tail_mut(before);
        let count = deltas.len();
        for (i, event) in deltas.iter_mut().enumerate() {
            if let Event::BookDelta(d) = event {
                if replaces {
                    d.set_snapshot();
                }
                if i + 1 == count {
                    d.set_last();
                }
            }
        }
        Ok(())
    }

    fn trades(&self, s: &mut Scanner<'_>, ts_recv: UnixNanos, out: &mut Events) -> Result<(), DecodeError> {
        s.array(|s| {
            let (mut inst, mut time, mut side, mut id, mut price_at, mut size_at) =
                (None, None, None, None, None, None);
            let start = s.pos();
            s.object(|s, key| {
                s.ws();
                let at = s.pos();
                match key {
                    b"s" => inst = Some(self.instrument(s.string()?, at)?),
                    b"T" => time = Some((s.u64("T")?, at)),
                    b"S" => {
                        side = Some(match s.string()? {
                            b"Buy" => Side::Buy,
                            b"Sell" => Side::Sell,
                            _ => {
                                return Err(error(
                                    at,
                                    DecodeErrorKind::BadField { field: "S", expected: "Buy or Sell" },
                                ));
                            }
                        });
                    }
                    b"i" => id = Some(trade_id(s.string()?)),
                    b"p" => {
                        price_at = Some(at);
                        s.skip()?;
                    }
                    b"v" => {
                        size_at = Some(at);
                        s.skip()?;
                    }
                    _ => s.skip()?,
                }
                Ok(())
            })?;
            let end = s.pos();
            let inst = inst.ok_or(missing("s"))?;
            s.seek(price_at.ok_or(missing("p"))?);
            let price = decimal(s, inst.price_scale, "p", true)?;
            s.seek(size_at.ok_or(missing("v"))?);
            let qty = decimal(s, inst.qty_scale, "v", true)?;
            s.seek(end);
            let (t, t_at) = time.ok_or(missing("T"))?;
            let trade = Trade::new(
                Venue::Bybit,
                inst.id,
                id.ok_or(missing("i"))?,
                Price(price),
                Qty(qty),
                Some(side.ok_or(missing("S"))?),
                ms_to_ns(t, t_at, "T")?,
                ts_recv,
            );
            if out.push(Event::Trade(trade)) { Ok(()) } else { Err(error(start, DecodeErrorKind::BufferFull)) }
        })
    }
}
