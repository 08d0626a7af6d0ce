//! A simulated exchange market: per symbol a contiguous 20-level book around a price
//! that random-walks, emitted as a venue's own frames (Binance spot `depthUpdate` and
//! `trade` by default, Bybit v5 `orderbook` deltas and `publicTrade`, OKX v5 `books`
//! updates with their checksums and `trades`, or Coinbase Exchange `l2update` and
//! `match`, or Kraken v2 `book` updates with their checksums and `trade`), so the engine parses exactly the bytes it would get from the venue. Deterministic per seed.
//! On request it damages the content of some frames (a skipped update id, a book
//! update that crosses the book, a trade far off the market): see [`super::Faults`].

use std::io::Write;

use feeds::{
    Events,
    event::{BookDelta, BookSide, Event, InstrumentId, LEVELS_PER_DELTA, Level, Price, Qty, Trade, UnixNanos, Venue},
};

use super::{
    faults::{FaultCounts, FaultTiming, Faults},
    frames::{
        write_bybit_book, write_coinbase_book, write_coinbase_match, write_kraken_book, write_kraken_trade,
        write_levels, write_okx_book, write_trimmed,
    },
    rng::SplitMix64,
};

/// Levels per side the simulated book holds.
pub const SIM_DEPTH: usize = 20;

/// One simulated instrument.
#[derive(Debug, Clone)]
pub struct SimSymbol {
    /// The engine's symbol (upper case, as Binance).
    pub name: String,
    /// The symbol as the dialect's venue writes it (`BTC-USDT` at OKX).
    pub venue_name: String,
    /// Engine id.
    pub instrument: InstrumentId,
    /// Price decimals.
    pub price_scale: u8,
    /// Size decimals.
    pub qty_scale: u8,
    /// Best bid in ticks; the best ask is one tick above.
    pub(super) best_bid: i64,
    /// Sizes from the best bid down, a tick apart.
    pub(super) bids: [i64; SIM_DEPTH],
    /// Sizes from the best ask up, a tick apart.
    pub(super) asks: [i64; SIM_DEPTH],
    /// The last book update's id.
    pub(super) update_id: u64,
    pub(super) trade_id: u64,
}

impl SimSymbol {
    /// A symbol starting with its best bid at `best_bid` ticks.
    pub fn new(name: &str, instrument: InstrumentId, (price_scale, qty_scale): (u8, u8), best_bid: i64) -> Self {
        Self {
            name: name.to_owned(),
            venue_name: name.to_owned(),
            instrument,
            price_scale,
            qty_scale,
            best_bid,
            bids: [1_000; SIM_DEPTH],
            asks: [1_000; SIM_DEPTH],
            update_id: 1_000,
            trade_id: 1,
        }
    }
}

/// The market simulator.
#[derive(Debug)]
pub struct MarketSim {
    rng: SplitMix64,
    symbols: Vec<SimSymbol>,
    frame: Vec<u8>,
    /// Skip one update id every this many depth frames (0: never), to exercise gap recovery.
    gap_every: u64,
    /// Send a crossing book update instead of every this many depth frames (0: never).
    crossed_every: u64,
    /// Send every this many depth frames with a wrong size under a true checksum
    /// (OKX and Kraken, whose books carry one; 0: never).
    corrupt_every: u64,
    /// Print every this many trades far off the market (0: never).
    absurd_price_every: u64,
    /// When each of those is due: every Nth, or at random.
    timing: FaultTiming,
    depth_frames: u64,
    trades: u64,
    /// Content faults made so far.
    injected: FaultCounts,
    /// What the last frame changed: its instrument, and the trade if it was one.
    last: Option<(InstrumentId, Option<Trade>)>,
    /// Whose message format the frames are in.
    dialect: Venue,
}

/// The venues whose message format the simulator can speak.
pub const SIM_DIALECTS: [Venue; 5] = [Venue::Binance, Venue::Bybit, Venue::Okx, Venue::Coinbase, Venue::Kraken];

fn level_qty(rng: &mut SplitMix64) -> i64 {
    100 + rng.below(4_900) as i64
}

impl MarketSim {
    /// A simulator over `symbols`, seeded.
    pub fn new(symbols: Vec<SimSymbol>, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut symbols = symbols;
        for s in &mut symbols {
            for q in s.bids.iter_mut().chain(s.asks.iter_mut()) {
                *q = level_qty(&mut rng);
            }
        }
        Self {
            rng,
            symbols,
            frame: Vec::with_capacity(4096),
            gap_every: 0,
            crossed_every: 0,
            corrupt_every: 0,
            absurd_price_every: 0,
            timing: FaultTiming::new(None),
            depth_frames: 0,
            trades: 0,
            injected: FaultCounts::default(),
            last: None,
            dialect: Venue::Binance,
        }
    }

    /// Speaks `venue`'s message format (one of [`SIM_DIALECTS`]; any other stays
    /// Binance's).
    pub fn with_dialect(mut self, venue: Venue) -> Self {
        self.dialect = if SIM_DIALECTS.contains(&venue) { venue } else { Venue::Binance };
        for s in &mut self.symbols {
            s.venue_name = crate::pipeline::venue_symbol(self.dialect, &s.name);
        }
        self
    }

    /// Whose message format the frames are in.
    pub fn dialect(&self) -> Venue {
        self.dialect
    }

    /// Drops an update id every `n` depth frames, as a lossy network would.
    pub fn with_gap_every(mut self, n: u64) -> Self {
        self.gap_every = n;
        self
    }

    /// Makes the content faults of `faults`: its skipped update ids, crossing book
    /// updates and off-market trades (the wire faults are [`super::FaultyMarket`]'s).
    pub fn with_faults(mut self, faults: &Faults) -> Self {
        self.gap_every = faults.gap_every;
        self.crossed_every = faults.crossed_every;
        self.corrupt_every = faults.corrupt_every;
        self.absurd_price_every = faults.absurd_price_every;
        self.timing = FaultTiming::new(faults.random_seed);
        self
    }

    /// Depth update frames made so far (crossing ones included).
    pub fn depth_updates(&self) -> u64 {
        self.depth_frames
    }

    /// The content faults made so far (skipped ids, crossing updates, off-market
    /// trades; the other counts are 0).
    pub fn injected(&self) -> FaultCounts {
        self.injected
    }

    /// The symbols.
    pub fn symbols(&self) -> &[SimSymbol] {
        &self.symbols
    }

    /// The current book of `instrument` as snapshot deltas (what Binance's REST depth
    /// snapshot gives a client before it applies the stream).
    pub fn snapshot(&self, instrument: InstrumentId, ts: u64, out: &mut Events) -> bool {
        let Some(s) = self.symbols.iter().find(|s| s.instrument == instrument) else { return false };
        let levels = (0..SIM_DEPTH)
            .map(|i| (BookSide::Bid, s.best_bid - i as i64, s.bids[i]))
            .chain((0..SIM_DEPTH).map(|i| (BookSide::Ask, s.best_bid + 1 + i as i64, s.asks[i])));
        let mut delta = Self::snapshot_delta(s, ts);
        let mut pushed = 0;
        for (side, price, qty) in levels {
            if pushed == LEVELS_PER_DELTA {
                if !out.push(Event::BookDelta(delta)) {
                    return false;
                }
                delta = Self::snapshot_delta(s, ts);
                pushed = 0;
            }
            delta.push(side, Level { price: Price(price), qty: Qty(qty) });
            pushed += 1;
        }
        delta.set_last();
        out.push(Event::BookDelta(delta))
    }

    fn snapshot_delta(s: &SimSymbol, ts: u64) -> BookDelta {
        let mut d =
            BookDelta::new(Venue::Binance, s.instrument, (s.update_id, s.update_id), UnixNanos(ts), UnixNanos(ts));
        d.set_snapshot();
        d
    }

    /// Binance's combined-stream partial depth, Bybit's `orderbook` snapshot, or
    /// OKX's `books` snapshot.
    fn write_snapshot(frame: &mut Vec<u8>, dialect: Venue, s: &SimSymbol, ms: u64) {
        let bids: Vec<(i64, i64)> = (0..SIM_DEPTH).map(|i| (s.best_bid - i as i64, s.bids[i])).collect();
        let asks: Vec<(i64, i64)> = (0..SIM_DEPTH).map(|i| (s.best_bid + 1 + i as i64, s.asks[i])).collect();
        match dialect {
            Venue::Bybit => return write_bybit_book(frame, (s, ms), "snapshot", &bids, &asks),
            Venue::Okx => return write_okx_book(frame, (s, ms), "snapshot", &bids, &asks),
            Venue::Coinbase => return write_coinbase_book(frame, (s, ms), true, &bids, &asks),
            Venue::Kraken => return write_kraken_book(frame, (s, ms), true, &bids, &asks),
            _ => {}
        }
        let _ = write!(
            frame,
            r#"{{"stream":"{}@depth{SIM_DEPTH}","data":{{"lastUpdateId":{},"bids":["#,
            s.name.to_ascii_lowercase(),
            s.update_id
        );
        write_levels(frame, &bids, s.price_scale, s.qty_scale);
        frame.extend_from_slice(br#"],"asks":["#);
        write_levels(frame, &asks, s.price_scale, s.qty_scale);
        frame.extend_from_slice(b"]}}");
    }

    /// One book update with update id `s.update_id`: Binance's `depthUpdate`,
    /// Bybit's `orderbook` delta or OKX's `books` update.
    fn write_update(
        frame: &mut Vec<u8>,
        dialect: Venue,
        (s, ms): (&SimSymbol, u64),
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) {
        match dialect {
            Venue::Bybit => return write_bybit_book(frame, (s, ms), "delta", bids, asks),
            Venue::Okx => return write_okx_book(frame, (s, ms), "update", bids, asks),
            Venue::Coinbase => return write_coinbase_book(frame, (s, ms), false, bids, asks),
            Venue::Kraken => return write_kraken_book(frame, (s, ms), false, bids, asks),
            _ => {}
        }
        let _ = write!(
            frame,
            r#"{{"e":"depthUpdate","E":{ms},"s":"{}","U":{},"u":{},"b":["#,
            s.name, s.update_id, s.update_id
        );
        write_levels(frame, bids, s.price_scale, s.qty_scale);
        frame.extend_from_slice(br#"],"a":["#);
        write_levels(frame, asks, s.price_scale, s.qty_scale);
        frame.extend_from_slice(b"]}");
    }

    /// The current book of `instrument` as a snapshot message: for Binance a partial
    /// book depth message in the combined-stream wrapper
    /// (`{"stream":"btcusdt@depth20","data":{...}}`), for Bybit an `orderbook`
    /// snapshot, for OKX a `books` snapshot, for Coinbase a level 2 `snapshot`. How a WebSocket client gets its snapshots from `engine sim`.
    pub fn snapshot_frame(&mut self, instrument: InstrumentId) -> &[u8] {
        self.frame.clear();
        if let Some(s) = self.symbols.iter().find(|s| s.instrument == instrument) {
            Self::write_snapshot(&mut self.frame, self.dialect, s, 0);
        }
        &self.frame
    }

    /// What the last [`MarketSim::next_frame`] changed: its instrument, and the trade
    /// if it was one (how a simulated venue follows the market it serves).
    pub fn last_event(&self) -> Option<(InstrumentId, Option<Trade>)> {
        self.last
    }

    /// The frame [`MarketSim::next_frame`] last made.
    pub fn current_frame(&self) -> &[u8] {
        &self.frame
    }

    /// The next market frame, stamped with venue time `ts` (ns).
    pub fn next_frame(&mut self, ts: u64) -> &[u8] {
        self.frame.clear();
        if self.symbols.is_empty() {
            return &self.frame;
        }
        let i = self.rng.below(self.symbols.len() as u64) as usize;
        let roll = self.rng.below(100);
        let ms = ts / 1_000_000;
        self.last = None;
        if roll < 15 {
            self.trade(i, ms, ts);
        } else {
            self.depth(i, ms, roll < 18);
            self.last = self.symbols.get(i).map(|s| (s.instrument, None));
        }
        &self.frame
    }

    fn trade(&mut self, i: usize, ms: u64, ts: u64) {
        let Some(s) = self.symbols.get_mut(i) else { return };
        let buy = self.rng.below(2) == 0;
        let (price, level) = if buy { (s.best_bid + 1, s.asks[0]) } else { (s.best_bid, s.bids[0]) };
        let qty = 1 + self.rng.below(level.max(1) as u64) as i64;
        s.trade_id += 1;
        self.trades += 1;
        let absurd = self.timing.due(self.absurd_price_every, self.trades);
        let printed = if absurd {
            // Ten times the market, then a tenth of it: both sides of any collar.
            self.injected.absurd_prices += 1;
            if self.injected.absurd_prices % 2 == 1 { price.saturating_mul(10) } else { (price / 10).max(1) }
        } else {
            price
        };
        if self.dialect == Venue::Coinbase {
            write_coinbase_match(&mut self.frame, (s, ms), buy, (printed, qty));
        } else if self.dialect == Venue::Kraken {
            write_kraken_trade(&mut self.frame, (s, ms), buy, (printed, qty));
        } else if self.dialect == Venue::Okx {
            let (inst, taker) = (&s.venue_name, if buy { "buy" } else { "sell" });
            let _ = write!(
                self.frame,
                r#"{{"arg":{{"channel":"trades","instId":"{inst}"}},"data":[{{"instId":"{inst}","tradeId":"{}","px":""#,
                s.trade_id
            );
            write_trimmed(&mut self.frame, printed, s.price_scale);
            self.frame.extend_from_slice(br#"","sz":""#);
            write_trimmed(&mut self.frame, qty, s.qty_scale);
            let _ = write!(self.frame, r#"","side":"{taker}","ts":"{ms}","count":"1"}}]}}"#);
        } else if self.dialect == Venue::Bybit {
            let (topic, taker) = (&s.name, if buy { "Buy" } else { "Sell" });
            let _ = write!(
                self.frame,
                r#"{{"topic":"publicTrade.{topic}","type":"snapshot","ts":{ms},"data":[{{"T":{ms},"s":"{topic}","S":"{taker}","v":""#
            );
            feeds::decimal::write_fixed(&mut self.frame, qty, s.qty_scale);
            self.frame.extend_from_slice(br#"","p":""#);
            feeds::decimal::write_fixed(&mut self.frame, printed, s.price_scale);
            let _ = write!(self.frame, r#"","L":"ZeroPlusTick","i":"{}","BT":false}}]}}"#, s.trade_id);
        } else {
            let _ = write!(self.frame, r#"{{"e":"trade","E":{ms},"s":"{}","t":{},"p":""#, s.name, s.trade_id);
            feeds::decimal::write_fixed(&mut self.frame, printed, s.price_scale);
            self.frame.extend_from_slice(br#"","q":""#);
            feeds::decimal::write_fixed(&mut self.frame, qty, s.qty_scale);
            // `m` is "the buyer is the maker": true when the taker sold.
            let _ = write!(self.frame, r#"","T":{ms},"m":{},"M":true}}"#, !buy);
        }
        if absurd {
            // A bad print, not a trade: the venue that follows this market ignores it.
            self.last = Some((s.instrument, None));
            return;
        }
        let aggressor = Some(if buy { feeds::event::Side::Buy } else { feeds::event::Side::Sell });
        let trade = Trade::new(
            Venue::Binance,
            s.instrument,
            s.trade_id,
            Price(price),
            Qty(qty),
            aggressor,
            UnixNanos(ts),
            UnixNanos(ts),
        );
        self.last = Some((s.instrument, Some(trade)));
    }

    fn depth(&mut self, i: usize, ms: u64, moves: bool) {
        self.depth_frames += 1;
        let skip = u64::from(self.timing.due(self.gap_every, self.depth_frames));
        let crossed = self.timing.due(self.crossed_every, self.depth_frames);
        let rng = &mut self.rng;
        let Some(s) = self.symbols.get_mut(i) else { return };
        s.update_id += 1 + skip;
        self.injected.gaps += skip;
        if crossed {
            // A bid one tick above the best ask, with the next update id; the
            // simulator's book stays as it was (its next snapshot repairs a client's).
            self.injected.crossed += 1;
            let bid = [(s.best_bid + 2, level_qty(rng))];
            Self::write_update(&mut self.frame, self.dialect, (s, ms), &bid, &[]);
            return;
        }
        let (mut bids, mut asks) = ([(0i64, 0i64); 4], [(0i64, 0i64); 4]);
        let (mut nb, mut na) = (0, 0);
        if moves && rng.below(2) == 0 {
            // Up a tick: the best ask becomes the best bid; a new ask appears at the far end.
            let new_ask = level_qty(rng);
            let new_bid = level_qty(rng);
            asks[na] = (s.best_bid + 1, 0);
            na += 1;
            asks[na] = (s.best_bid + 1 + SIM_DEPTH as i64, new_ask);
            na += 1;
            bids[nb] = (s.best_bid + 1, new_bid);
            nb += 1;
            bids[nb] = (s.best_bid - SIM_DEPTH as i64 + 1, 0);
            nb += 1;
            s.asks.rotate_left(1);
            s.asks[SIM_DEPTH - 1] = new_ask;
            s.bids.rotate_right(1);
            s.bids[0] = new_bid;
            s.best_bid += 1;
        } else if moves && s.best_bid > SIM_DEPTH as i64 {
            let new_ask = level_qty(rng);
            let new_bid = level_qty(rng);
            bids[nb] = (s.best_bid, 0);
            nb += 1;
            bids[nb] = (s.best_bid - SIM_DEPTH as i64, new_bid);
            nb += 1;
            asks[na] = (s.best_bid, new_ask);
            na += 1;
            asks[na] = (s.best_bid + SIM_DEPTH as i64, 0);
            na += 1;
            s.bids.rotate_left(1);
            s.bids[SIM_DEPTH - 1] = new_bid;
            s.asks.rotate_right(1);
            s.asks[0] = new_ask;
            s.best_bid -= 1;
        } else {
            for _ in 0..1 + rng.below(3) {
                let level = (rng.below(SIM_DEPTH as u64) * rng.below(SIM_DEPTH as u64) / SIM_DEPTH as u64) as usize;
                let qty = level_qty(rng);
                if rng.below(2) == 0 && nb < bids.len() {
                    s.bids[level] = qty;
                    bids[nb] = (s.best_bid - level as i64, qty);
                    nb += 1;
                } else if na < asks.len() {
                    s.asks[level] = qty;
                    asks[na] = (s.best_bid + 1 + level as i64, qty);
                    na += 1;
                }
            }
        }
        let checked = checksum_depth(self.dialect);
        let corrupt = checked > 0 && self.timing.due(self.corrupt_every, self.depth_frames);
        // Only a level the checksum covers: Kraken's covers the top ten.
        let (best_bid, best_ask) = (s.best_bid, s.best_bid + 1);
        let bid_checked = |price: i64| best_bid - price < checked;
        let ask_checked = |price: i64| price - best_ask < checked;
        if corrupt
            && let Some(level) =
                corruptible(&mut bids[..nb], bid_checked).or_else(|| corruptible(&mut asks[..na], ask_checked))
        {
            // What goes out differs from the simulator's book by one unit of size; the
            // checksum below is of the book.
            level.1 += 1;
            self.injected.corrupted += 1;
        }
        Self::write_update(&mut self.frame, self.dialect, (s, ms), &bids[..nb], &asks[..na]);
    }
}

/// Levels a side the dialect's book checksum covers (0: it has none). OKX's top 25
/// covers the whole simulated book.
fn checksum_depth(dialect: Venue) -> i64 {
    match dialect {
        Venue::Okx => SIM_DEPTH as i64,
        Venue::Kraken => 10,
        _ => 0,
    }
}

/// A level of an update whose size can be sent wrong so that only a checksum tells:
/// one that stays in the book (not a delete, which would turn into a level the
/// other side may cross), whose price no other change of the update sets again
/// (which would overwrite the wrong size), and that the checksum covers.
fn corruptible(levels: &mut [(i64, i64)], checked: impl Fn(i64) -> bool) -> Option<&mut (i64, i64)> {
    let prices: Vec<i64> = levels.iter().map(|l| l.0).collect();
    levels
        .iter_mut()
        .find(|(price, qty)| *qty > 0 && checked(*price) && prices.iter().filter(|p| *p == price).count() == 1)
}

#[cfg(test)]
mod tests {
    use feeds::{binance::BinanceDecoder, book::Book, symbols::SymbolTable};

    use super::*;

    /// `book` rebuilt from a fresh snapshot of `id` (as a client resyncs).
    fn resync(sim: &mut MarketSim, id: InstrumentId, book: &mut Book) {
        let mut events = Events::with_capacity(64);
        assert!(sim.snapshot(id, 0, &mut events));
        for e in events.as_slice() {
            let Event::BookDelta(d) = e else { panic!() };
            book.apply(d).unwrap();
        }
        assert!(book.is_valid());
    }

    /// The simulator's frames decode, keep a valid uncrossed book, and sequence
    /// without gaps; its snapshot equals the book the stream built. In each dialect.
    #[test]
    fn frames_decode_into_a_consistent_book() {
        let mut table = SymbolTable::new();
        let id = table.intern("BTCUSDT", 2, 5);
        let binance = BinanceDecoder::new(table.clone());
        frames_decode_into_a_consistent_book_in(Venue::Binance, id, |f, ts, out| binance.decode(f, ts, out));
        let bybit = feeds::bybit::BybitDecoder::new(table);
        frames_decode_into_a_consistent_book_in(Venue::Bybit, id, |f, ts, out| bybit.decode(f, ts, out));
        let mut table = SymbolTable::new();
        assert_eq!(table.intern("BTC-USDT", 2, 5), id);
        let okx = feeds::okx::OkxDecoder::new(table.clone());
        frames_decode_into_a_consistent_book_in(Venue::Okx, id, |f, ts, out| okx.decode(f, ts, out));
        let coinbase = feeds::coinbase::CoinbaseDecoder::new(table);
        frames_decode_into_a_consistent_book_in(Venue::Coinbase, id, |f, ts, out| coinbase.decode(f, ts, out));
        let mut table = SymbolTable::new();
        assert_eq!(table.intern("BTC/USDT", 2, 5), id);
        let kraken = feeds::kraken::KrakenDecoder::new(table);
        frames_decode_into_a_consistent_book_in(Venue::Kraken, id, |f, ts, out| kraken.decode(f, ts, out));
    }

    fn frames_decode_into_a_consistent_book_in(
        dialect: Venue,
        id: InstrumentId,
        decode: impl Fn(&[u8], UnixNanos, &mut Events) -> Result<usize, feeds::DecodeError>,
    ) {
        let symbol = SimSymbol::new("BTCUSDT", id, (2, 5), 6_000_000);
        let mut sim = MarketSim::new(vec![symbol], 7).with_dialect(dialect);
        let mut events = Events::with_capacity(64);
        let mut book = Book::with_depth(64);
        // The snapshot message, through the decoder like the stream.
        let snapshot = sim.snapshot_frame(id).to_vec();
        decode(&snapshot, UnixNanos(0), &mut events).unwrap();
        for e in events.as_slice() {
            let Event::BookDelta(d) = e else { panic!("{e:?}") };
            assert!(d.is_snapshot());
            book.apply(d).unwrap();
        }
        assert!(book.is_valid(), "{dialect:?}");
        let mut last = sim.symbols()[0].update_id;
        let (mut trades, mut deltas, mut checksums) = (0, 0, 0);
        for n in 0..20_000u64 {
            events.clear();
            let frame = sim.next_frame(n * 1_000_000).to_vec();
            decode(&frame, UnixNanos(n), &mut events).unwrap_or_else(|e| {
                panic!("{e:?} in {}", String::from_utf8_lossy(&frame));
            });
            for e in events.as_slice() {
                match e {
                    Event::BookDelta(d) => {
                        // OKX chains by identity (prevSeqId), Coinbase's level 2 and
                        // Kraken's book have no sequence, the others count up.
                        match dialect {
                            Venue::Okx => assert_eq!(d.first_seq, last),
                            Venue::Coinbase | Venue::Kraken => assert_eq!((d.first_seq, d.last_seq), (0, 0)),
                            _ => assert_eq!(d.first_seq, last + 1),
                        }
                        last = d.last_seq;
                        book.apply(d).unwrap();
                        if let Some(sent) = d.checksum() {
                            let ours = match dialect {
                                Venue::Okx => feeds::checksum::okx(&book, (2, 5)) as u32,
                                _ => feeds::checksum::kraken(&book, (2, 5), (2, 5)).unwrap(),
                            };
                            assert_eq!(sent, ours, "{dialect:?}");
                            checksums += 1;
                        }
                        deltas += 1;
                    }
                    Event::Trade(t) => {
                        // What the venue following this market was told traded.
                        let Some((_, Some(made))) = sim.last_event() else { panic!("a trade the sim did not make") };
                        assert_eq!(
                            (t.price, t.qty, t.aggressor(), t.trade_id),
                            (made.price, made.qty, made.aggressor(), made.trade_id)
                        );
                        trades += 1;
                    }
                    Event::Bbo(_) | Event::Status(_) => panic!("no bookTicker or status in the sim"),
                }
            }
        }
        assert!(book.is_valid() && trades > 1_000 && deltas > 10_000, "{dialect:?}");
        let checksummed = matches!(dialect, Venue::Okx | Venue::Kraken);
        assert_eq!(checksums > 0, checksummed, "OKX and Kraken updates carry a checksum, the others none");
        events.clear();
        assert!(sim.snapshot(id, 0, &mut events));
        let mut fresh = Book::with_depth(64);
        for e in events.as_slice() {
            let Event::BookDelta(d) = e else { panic!() };
            fresh.apply(d).unwrap();
        }
        for side in [BookSide::Bid, BookSide::Ask] {
            assert_eq!(fresh.levels(side).collect::<Vec<_>>(), book.levels(side).collect::<Vec<_>>());
        }
    }

    /// A crossing update decodes, keeps the update ids whole, and crosses a book
    /// built from the stream; the off-market trades alternate 10x and a tenth, and
    /// the venue following the market never sees them as trades.
    #[test]
    fn content_faults_cross_the_book_and_print_off_the_market() {
        let mut table = SymbolTable::new();
        let id = table.intern("BTCUSDT", 2, 5);
        let decoder = BinanceDecoder::new(table);
        let faults = Faults { crossed_every: 100, absurd_price_every: 20, ..Faults::default() };
        let mut sim = MarketSim::new(vec![SimSymbol::new("BTCUSDT", id, (2, 5), 6_000_000)], 7).with_faults(&faults);
        let mut events = Events::with_capacity(64);
        let mut book = Book::with_depth(64);
        resync(&mut sim, id, &mut book);
        let mut last = sim.symbols()[0].update_id;
        let (mut crossed, mut prices) = (0, Vec::new());
        for n in 0..10_000u64 {
            events.clear();
            let frame = sim.next_frame(n * 1_000_000).to_vec();
            let hidden = sim.last_event().is_some_and(|(_, t)| t.is_none());
            decoder.decode(&frame, UnixNanos(n), &mut events).unwrap();
            for e in events.as_slice() {
                match e {
                    Event::BookDelta(d) => {
                        assert_eq!(d.first_seq, last + 1, "ids intact");
                        last = d.last_seq;
                        if let Err(feeds::book::BookError::Crossed { bid, ask }) = book.apply(d) {
                            assert_eq!(bid, ask + 1, "a bid one tick above the best ask");
                            crossed += 1;
                            // What a client does next: resync from a snapshot.
                            resync(&mut sim, id, &mut book);
                        }
                    }
                    Event::Trade(t) => {
                        let mid = (book.best_bid().unwrap().price.0 + book.best_ask().unwrap().price.0) / 2;
                        if t.price.0 > 5 * mid || t.price.0 * 5 < mid {
                            assert!(hidden, "the venue following the market does not trade on it");
                            prices.push(t.price.0 > mid);
                        }
                    }
                    _ => {}
                }
            }
        }
        let injected = sim.injected();
        assert_eq!((injected.crossed, injected.absurd_prices), (crossed, prices.len() as u64));
        assert!(crossed > 50 && prices.len() > 30, "{injected:?}");
        assert!(prices.iter().step_by(2).all(|up| *up) && prices.iter().skip(1).step_by(2).all(|up| !*up));
    }

    #[test]
    fn a_gap_every_n_skips_update_ids() {
        let mut sim = MarketSim::new(vec![SimSymbol::new("X", InstrumentId(0), (2, 2), 10_000)], 1).with_gap_every(3);
        let mut ids = Vec::new();
        for n in 0..200 {
            let f = String::from_utf8(sim.next_frame(n).to_vec()).unwrap();
            if let Some(at) = f.find("\"U\":") {
                ids.push(f[at + 4..].split(',').next().unwrap().parse::<u64>().unwrap());
            }
        }
        assert!(ids.windows(2).any(|w| w[1] == w[0] + 2));
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1 || w[1] == w[0] + 2));
    }
}
