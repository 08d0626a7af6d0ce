//! What every candidate must produce from a frame, summed so that candidates can be
//! checked to agree before they are timed: every price, size, side, id, sequence
//! number, checksum, exchange time and instrument. Each kind of field is weighted
//! differently, so a candidate that skipped or swapped one would not match.

use feeds::event::{Event, Side};

/// A running sum over everything decoded.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally(u64);

impl Tally {
    /// The sum so far.
    pub fn value(self) -> u64 {
        self.0
    }

    fn add(&mut self, weight: u64, value: u64) {
        self.0 = self.0.wrapping_add(value.wrapping_mul(weight));
    }

    /// One trade; `buy` is true when the taker bought.
    #[allow(clippy::too_many_arguments, reason = "one argument per field of a trade")]
    pub fn trade(&mut self, instrument: usize, id: u64, price: i64, qty: i64, buy: bool, ts_ns: u64) {
        self.add(3, instrument as u64);
        self.add(5, id);
        self.add(7, price as u64);
        self.add(11, qty as u64);
        self.add(13, u64::from(buy));
        self.add(17, ts_ns);
    }

    /// The header of one book update (once per update, however many events it spans):
    /// its instrument, sequence numbers, time, and whether it replaces the book.
    pub fn book(&mut self, instrument: usize, (first_seq, last_seq): (u64, u64), ts_ns: u64, snapshot: bool) {
        self.add(83, u64::from(snapshot));
        self.add(19, instrument as u64);
        self.add(23, first_seq);
        self.add(29, last_seq);
        self.add(31, ts_ns);
    }

    /// A book update's checksum, where the venue sends one.
    pub fn checksum(&mut self, crc: u32) {
        self.add(37, u64::from(crc));
    }

    /// One level of a book update.
    pub fn level(&mut self, price: i64, qty: i64, ask: bool) {
        self.add(41, price as u64);
        self.add(43, qty as u64);
        self.add(47, u64::from(ask));
    }

    /// One best bid/offer.
    pub fn bbo(&mut self, instrument: usize, id: u64, bid: (i64, i64), ask: (i64, i64), ts_ns: u64) {
        self.add(53, instrument as u64);
        self.add(59, id);
        self.add(61, bid.0 as u64);
        self.add(67, bid.1 as u64);
        self.add(71, ask.0 as u64);
        self.add(73, ask.1 as u64);
        self.add(79, ts_ns);
    }

    /// Our decoders' events, as the peers tally their typed messages.
    pub fn events(&mut self, events: &[Event]) {
        let mut update_starts = true;
        for event in events {
            match event {
                Event::Trade(t) => {
                    let buy = t.aggressor() == Some(Side::Buy);
                    self.trade(t.instrument.0 as usize, t.trade_id, t.price.0, t.qty.0, buy, t.ts_exchange.0);
                }
                Event::BookDelta(d) => {
                    if update_starts {
                        let seq = (d.first_seq, d.last_seq);
                        self.book(d.instrument.0 as usize, seq, d.ts_exchange.0, d.is_snapshot());
                    }
                    update_starts = d.is_last();
                    if let Some(crc) = d.checksum() {
                        self.checksum(crc);
                    }
                    for (side, l) in d.levels() {
                        self.level(l.price.0, l.qty.0, side == feeds::event::BookSide::Ask);
                    }
                }
                Event::Bbo(b) => {
                    let (bid, ask) = ((b.bid.0, b.bid_qty.0), (b.ask.0, b.ask_qty.0));
                    self.bbo(b.instrument.0 as usize, b.update_id, bid, ask, b.ts_exchange.0);
                }
                Event::Status(_) => {}
            }
        }
    }
}
