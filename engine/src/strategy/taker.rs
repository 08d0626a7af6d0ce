//! Crosses the spread when the top-of-book size imbalance says the price is about to
//! move: buy when bids outweigh asks by `threshold_pct`, and vice versa. The entry is
//! an IOC at the touch by default; a market or FOK order, or a stop that waits for a
//! trade at the touch to confirm the move (one armed entry per instrument; a new
//! signal cancels the old), are a parameter away.
//!
//! Its inventory is per symbol, summed over the venues that trade it: with a router
//! moving an order to another venue than the book that signalled it, the fill lands
//! on that venue's instrument, and the cap must still hold for the symbol. Past the
//! cap (fills already out when it was reached), it still trades to reduce.

use feeds::event::{BookSide, Price, Qty, Side};

use super::{Ctx, Market, Strategy};
use crate::{
    oms::{Order, signed},
    order::{ClientId, ExecKind, ExecReport, NewOrder, OrderType},
};

/// Taker parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakerParams {
    /// Levels per side summed for the imbalance.
    pub levels: usize,
    /// Fire when |bid size − ask size| / (bid size + ask size) exceeds this percentage.
    pub threshold_pct: i64,
    /// Order size in lots.
    pub size: i64,
    /// Minimum time between orders on one instrument (ns).
    pub cooldown_ns: u64,
    /// Never grow the symbol's inventory, over every venue, past this (lots).
    pub max_inventory: i64,
    /// Each order's protective stop, this many basis points on its losing side.
    pub stop_bps: i64,
    /// The entry order's type.
    pub entry: Entry,
    /// For market and stop entries: the protection limit, this many basis points
    /// past the touch.
    pub slip_bps: i64,
    /// Where its orders go when the run has several venues (`run`: `--route`).
    pub route: crate::order::RouteChoice,
}

/// How the taker enters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Entry {
    /// An IOC at the touch.
    #[default]
    Ioc,
    /// A FOK at the touch: all of it or nothing.
    Fok,
    /// A market order, protected `slip_bps` past the touch.
    Market,
    /// A stop triggered by a trade at the touch, then a market order.
    Stop,
    /// A stop triggered by a trade at the touch, then a limit order at the touch
    /// plus `slip_bps`.
    StopLimit,
}

impl std::str::FromStr for Entry {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "ioc" => Self::Ioc,
            "fok" => Self::Fok,
            "market" => Self::Market,
            "stop" => Self::Stop,
            "stop_limit" => Self::StopLimit,
            other => return Err(format!("unknown entry `{other}` (expected ioc, fok, market, stop or stop_limit)")),
        })
    }
}

impl Default for TakerParams {
    fn default() -> Self {
        Self {
            levels: 5,
            threshold_pct: 60,
            size: 100,
            cooldown_ns: 1_000_000,
            max_inventory: 1_000,
            stop_bps: 100,
            entry: Entry::Ioc,
            slip_bps: 10,
            route: crate::order::RouteChoice::Run,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    last_order_ns: u64,
    /// The stop entry still waiting for its trigger.
    armed: Option<ClientId>,
}

/// The imbalance taker.
#[derive(Debug)]
pub struct Taker {
    params: TakerParams,
    /// Per instrument.
    state: Vec<State>,
    /// Per symbol: instrument `i` is symbol `i % symbols` (venue `v`'s `k`-th symbol
    /// is instrument `v × symbols + k`).
    inventory: Vec<i64>,
}

impl Taker {
    /// A taker for `instruments` instruments, `symbols` of them per venue.
    pub fn new(params: TakerParams, instruments: usize, symbols: usize) -> Self {
        let symbols = symbols.clamp(1, instruments.max(1));
        Self { params, state: vec![State::default(); instruments], inventory: vec![0; symbols] }
    }

    fn inventory_of(&mut self, instrument: usize) -> Option<&mut i64> {
        let symbols = self.inventory.len();
        self.inventory.get_mut(instrument % symbols)
    }
}

impl Strategy for Taker {
    fn on_book(&mut self, market: &Market<'_>, ctx: &mut Ctx<'_>) {
        let p = self.params;
        let Some(&mut inventory) = self.inventory_of(market.instrument.0 as usize) else { return };
        let Some(s) = self.state.get_mut(market.instrument.0 as usize) else { return };
        let book = market.book;
        let (Some(best_bid), Some(best_ask)) = (book.best_bid(), book.best_ask()) else { return };
        if !book.is_valid() || ctx.now.saturating_sub(s.last_order_ns) < p.cooldown_ns {
            return;
        }
        let sum = |side| book.levels(side).take(p.levels).map(|l| i128::from(l.qty.0)).sum::<i128>();
        let (bids, asks) = (sum(BookSide::Bid), sum(BookSide::Ask));
        let total = bids + asks;
        if total == 0 {
            return;
        }
        let imbalance_pct = (bids - asks) * 100 / total;
        let (side, price) = if imbalance_pct > i128::from(p.threshold_pct) {
            (Side::Buy, best_ask.price)
        } else if imbalance_pct < -i128::from(p.threshold_pct) {
            (Side::Sell, best_bid.price)
        } else {
            return;
        };
        let after = (inventory + signed(side, p.size)).abs();
        if after > p.max_inventory && after >= inventory.abs() {
            return;
        }
        // Past the touch by `slip_bps`: the worst price a market entry accepts.
        let slipped = Price(match side {
            Side::Buy => price.0.saturating_add(price.0.saturating_mul(p.slip_bps) / 10_000),
            Side::Sell => price.0.saturating_sub(price.0.saturating_mul(p.slip_bps) / 10_000),
        });
        let (order_type, limit) = match p.entry {
            Entry::Ioc => (OrderType::Ioc, price),
            Entry::Fok => (OrderType::Fok, price),
            Entry::Market => (OrderType::Market, slipped),
            Entry::Stop => (OrderType::Stop { trigger: price }, slipped),
            Entry::StopLimit => (OrderType::StopLimit { trigger: price }, slipped),
        };
        let order = NewOrder {
            instrument: market.instrument,
            side,
            price: limit,
            qty: Qty(p.size),
            order_type,
            stop: NewOrder::stop_at_bps(side, limit, p.stop_bps),
        };
        // One armed entry at a time: a new signal replaces the old one (one that
        // has fired is on its way to the venue: leave it be).
        if let Some(old) = s.armed.take()
            && ctx.order(old).is_some_and(Order::is_armed)
        {
            ctx.cancel(old);
        }
        if let Some(id) = ctx.submit_routed(order, p.route) {
            s.last_order_ns = ctx.now;
            if order.order_type.trigger().is_some() {
                s.armed = Some(id);
            }
        }
    }

    fn on_exec(&mut self, order: &Order, report: &ExecReport, _ctx: &mut Ctx<'_>) {
        if let ExecKind::Fill { qty, .. } = report.kind
            && let Some(inventory) = self.inventory_of(order.new.instrument.0 as usize)
        {
            *inventory += signed(order.new.side, qty.0);
        }
        let Some(s) = self.state.get_mut(order.new.instrument.0 as usize) else { return };
        // Fired or finished: no longer waiting.
        if s.armed == Some(order.id) && !order.is_armed() {
            s.armed = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use feeds::{
        book::Book,
        event::{BookDelta, InstrumentId, Level, UnixNanos, Venue},
    };

    use super::*;
    use crate::{
        fixed::Bounded,
        oms::Oms,
        order::{Intent, Liquidity},
    };

    /// A one-level book: `bid` and `ask` sizes at 100 and 101.
    fn book(bid: i64, ask: i64) -> Book {
        let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
        d.push(BookSide::Bid, Level { price: Price(100), qty: Qty(bid) });
        d.push(BookSide::Ask, Level { price: Price(101), qty: Qty(ask) });
        d.set_snapshot();
        d.set_last();
        let mut b = Book::with_depth(4);
        b.apply(&d).unwrap();
        b
    }

    struct Desk {
        taker: Taker,
        oms: Oms,
        intents: Bounded<Intent>,
        now: u64,
    }

    impl Desk {
        /// Two venues trading one symbol: instruments 0 and 1.
        fn two_venues() -> Self {
            let params = TakerParams { threshold_pct: 30, size: 100, max_inventory: 300, ..TakerParams::default() };
            Self { taker: Taker::new(params, 2, 1), oms: Oms::new(64, 2), intents: Bounded::with_capacity(16), now: 0 }
        }

        /// A fill of `qty` on `side` at `instrument` (where a router sent the order).
        fn filled(&mut self, instrument: u32, side: Side, qty: i64) {
            let new = NewOrder {
                instrument: InstrumentId(instrument),
                side,
                price: Price(101),
                qty: Qty(qty),
                order_type: OrderType::Ioc,
                stop: Price(0),
            };
            let id = self.oms.create(new).unwrap();
            let order = *self.oms.get(id).unwrap();
            let kind =
                ExecKind::Fill { price: Price(101), qty: Qty(qty), liquidity: Liquidity::Taker, trade_id: 1, fee: 0 };
            let report = ExecReport { client_id: id, kind, ts: self.now };
            let mut ctx = Ctx::new(self.now, &mut self.oms, &mut self.intents);
            self.taker.on_exec(&order, &report, &mut ctx);
        }

        /// The side of the order a signal on `instrument`'s `book` sends, if any.
        fn signal(&mut self, instrument: u32, book: &Book) -> Option<Side> {
            self.now += 1_000_000_000;
            self.intents.clear();
            let market = Market { instrument: InstrumentId(instrument), book, last_trade: None };
            let mut ctx = Ctx::new(self.now, &mut self.oms, &mut self.intents);
            self.taker.on_book(&market, &mut ctx);
            self.intents.drain().find_map(|i| match i {
                Intent::New { order, .. } => Some(order.side),
                _ => None,
            })
        }
    }

    #[test]
    fn fills_at_another_venue_count_against_the_symbols_cap() {
        let (bids_heavy, asks_heavy) = (book(90, 10), book(10, 90));
        let mut desk = Desk::two_venues();
        assert_eq!(desk.signal(0, &bids_heavy), Some(Side::Buy), "flat: the signal trades");
        // Venue 0's book signalled; a router sent the orders to venue 1.
        desk.filled(1, Side::Buy, 300);
        assert_eq!(desk.signal(0, &bids_heavy), None, "300 bought at venue 1 is the symbol's cap");
        assert_eq!(desk.signal(1, &bids_heavy), None, "at either venue");
        assert_eq!(desk.signal(0, &asks_heavy), Some(Side::Sell), "selling reduces it");
    }

    #[test]
    fn past_the_cap_it_still_trades_to_reduce() {
        let (bids_heavy, asks_heavy) = (book(90, 10), book(10, 90));
        let mut desk = Desk::two_venues();
        // Fills already out when the cap was reached carry it past.
        desk.filled(0, Side::Sell, 1_300);
        assert_eq!(desk.signal(0, &asks_heavy), None, "selling more grows it");
        assert_eq!(desk.signal(0, &bids_heavy), Some(Side::Buy), "buying brings it back toward the cap");
    }
}
