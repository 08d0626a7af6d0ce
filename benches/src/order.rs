//! Order processing, ours against a baseline: the fixture, the baseline and each
//! order's life, shared by `order-bench` (every call timed alone with the TSC) and
//! the criterion bench `order_processing`.
//!
//! Ours is `engine::oms::Oms` (a pre-allocated slab indexed by the client id, with
//! positions in a vector) and `engine::route::route` (a merge over the venues' books
//! into fixed arrays). The baseline keeps orders in a `HashMap<String, Order>` keyed
//! by a formatted client order id and positions in a `HashMap` keyed by symbol, and
//! routes by collecting every level into a `Vec`, sorting it and summing per venue
//! in a `HashMap`. Both use the same state table and position arithmetic.

use std::collections::HashMap;

use engine::{
    oms::{Oms, OrderEvent, OrderState, Position, next_state},
    order::{NewOrder, OrderType},
    risk::BreakerState,
    route::{Policy, SmartWeights, VenueView},
    sim::FeeSchedule,
};
use feeds::{
    book::Book,
    event::{BookDelta, BookSide, InstrumentId, Level, Price, Qty, Side, UnixNanos, Venue},
};

/// Instruments the orders spread over.
pub const INSTRUMENTS: usize = 20;
/// Venues the router chooses among.
pub const VENUES: usize = 5;

/// Runs one OMS call, timed or not.
pub trait Clocked {
    /// Runs `f`.
    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R;
}

/// No timing (criterion times the whole iteration).
#[derive(Debug)]
pub struct Untimed;

impl Clocked for Untimed {
    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// The books, fees, symbols and orders both sides see.
#[derive(Debug)]
pub struct Fixture {
    /// Each venue's book of the one instrument routed.
    pub books: Vec<Book>,
    /// Each venue's fees.
    pub fees: Vec<FeeSchedule>,
    /// The baseline's symbol per instrument id.
    pub symbols: Vec<String>,
    /// 4,096 IOC orders, buys and sells of 1 to 300 lots, and what the venue does to each.
    pub orders: Vec<(NewOrder, Life)>,
}

impl Default for Fixture {
    fn default() -> Self {
        let orders = (0..4096)
            .map(|k| {
                let buy = k % 2 == 0;
                let order = NewOrder {
                    instrument: InstrumentId((k % INSTRUMENTS) as u32),
                    side: if buy { Side::Buy } else { Side::Sell },
                    price: Price(if buy { 10_020 } else { 9_980 }),
                    qty: Qty(1 + (k as i64 * 37) % 300),
                    order_type: OrderType::Ioc,
                    stop: Price(0),
                };
                (order, if k % 4 == 3 { Life::PartialThenCancelled } else { Life::Filled })
            })
            .collect();
        Self {
            books: (0..VENUES).map(book).collect(),
            fees: (0..VENUES).map(fees).collect(),
            symbols: (0..INSTRUMENTS).map(|i| format!("SYM{i}USDT")).collect(),
            orders,
        }
    }
}

impl Fixture {
    /// The router's view of each venue: valid books, closed breakers, no latency.
    pub fn views(&self) -> Vec<VenueView<'_>> {
        self.books
            .iter()
            .zip(&self.fees)
            .enumerate()
            .map(|(v, (book, fees))| VenueView {
                venue: v as u8,
                book,
                fees: *fees,
                ack_ns: 0,
                breaker: BreakerState::Closed,
                stale: false,
                barred: false,
            })
            .collect()
    }
}

/// SmartRoute with the latency and breaker penalties off: the baseline ranks on
/// price and fee only.
pub fn policy() -> Policy {
    Policy::SmartRoute(SmartWeights { latency_bps_per_ms: 0, half_open_bps: 0, min_child: 1 })
}

/// Venue `v`'s book: five levels a side, each venue a tick apart and a little
/// deeper than the last, so splits differ by order size.
pub fn book(v: usize) -> Book {
    let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
    let (mid, depth) = (10_000 + v as i64, 20 + 10 * v as i64);
    for k in 0..5 {
        d.push(BookSide::Bid, Level { price: Price(mid - 1 - 2 * k), qty: Qty(depth + k) });
        d.push(BookSide::Ask, Level { price: Price(mid + 1 + 2 * k), qty: Qty(depth + k) });
    }
    d.set_snapshot();
    d.set_last();
    let mut b = Book::with_depth(8);
    let _ = b.apply(&d);
    b
}

/// Venue `v`'s fees: maker rebates and taker fees that differ by venue.
pub fn fees(v: usize) -> FeeSchedule {
    FeeSchedule { maker_bps: v as i64 - 2, taker_bps: [5, 2, 8, 4, 6][v % 5] }
}

/// One order's life: what the venue does to it after it is sent.
#[derive(Debug, Clone, Copy)]
pub enum Life {
    /// Accepted, then filled whole.
    Filled,
    /// Accepted, partly filled, then cancelled on request.
    PartialThenCancelled,
}

#[derive(Debug)]
struct BaseOrder {
    symbol: String,
    new: NewOrder,
    state: OrderState,
    before: OrderState,
    filled: i64,
}

/// The baseline OMS: orders by formatted client id, positions by symbol.
#[derive(Debug, Default)]
pub struct Baseline {
    orders: HashMap<String, BaseOrder>,
    /// Positions by symbol.
    pub positions: HashMap<String, Position>,
    seq: u64,
}

impl Baseline {
    /// A new order; its formatted client id.
    pub fn create(&mut self, symbol: &str, new: NewOrder) -> String {
        self.seq += 1;
        let id = format!("ORD-{:012}", self.seq);
        let order = BaseOrder {
            symbol: symbol.to_owned(),
            new,
            state: OrderState::Initialized,
            before: OrderState::Initialized,
            filled: 0,
        };
        self.orders.insert(id.clone(), order);
        id
    }

    /// An order event (`None`: unknown order or a refused transition).
    pub fn apply(&mut self, id: &str, event: OrderEvent) -> Option<()> {
        let o = self.orders.get_mut(id)?;
        let next = next_state(o.state, event, o.before).ok()?;
        if next == OrderState::PendingCancel {
            o.before = o.state;
        }
        o.state = next;
        if next.is_terminal() {
            self.orders.remove(id);
        }
        Some(())
    }

    /// Orders still live.
    pub fn live(&self) -> usize {
        self.orders.len()
    }

    /// A fill, its transition and its position update.
    pub fn fill(&mut self, id: &str, price: i64, qty: i64) -> Option<()> {
        let o = self.orders.get_mut(id)?;
        o.filled += qty;
        let event = if o.filled == o.new.qty.0 { OrderEvent::FullFill } else { OrderEvent::PartialFill };
        let (symbol, side) = (o.symbol.clone(), o.new.side);
        self.positions.entry(symbol).or_default().apply_fill(side, price, qty);
        self.apply(id, event)
    }
}

/// The baseline router: every level into a vector, sorted, taken, summed per venue.
pub fn naive_route(order: &NewOrder, books: &[Book], fees: &[FeeSchedule]) -> Vec<(u8, i64)> {
    let buy = order.side == Side::Buy;
    let side = if buy { BookSide::Ask } else { BookSide::Bid };
    let mut ladder: Vec<(i128, u8, Level)> = Vec::new();
    for (v, b) in books.iter().enumerate() {
        if !b.is_valid() {
            continue;
        }
        for l in b.levels(side).take(5) {
            if (buy && l.price > order.price) || (!buy && l.price < order.price) {
                break;
            }
            let fee = i128::from(fees[v].taker_bps);
            let price = i128::from(l.price.0) * 1_000;
            let key = if buy { price * (10_000 + fee) } else { -(price * (10_000 - fee)) };
            ladder.push((key, v as u8, l));
        }
    }
    ladder.sort_by_key(|(k, v, _)| (*k, *v));
    let mut per_venue: HashMap<u8, i64> = HashMap::new();
    let mut left = order.qty.0;
    for (_, v, l) in ladder {
        if left == 0 {
            break;
        }
        let take = left.min(l.qty.0);
        *per_venue.entry(v).or_default() += take;
        left -= take;
    }
    let mut out: Vec<(u8, i64)> = per_venue.into_iter().collect();
    out.sort_unstable();
    out
}

/// One order's life in our OMS, each call timed; returns what was filled (to keep
/// the work live).
pub fn our_life(oms: &mut Oms, o: &NewOrder, life: Life, t: &mut impl Clocked) -> Result<i64, String> {
    let (fill, price) = (o.qty.0, o.price.0);
    let id = t.time(|| oms.create(*o)).map_err(|e| e.to_string())?;
    let _ = t.time(|| oms.apply(id, OrderEvent::Send));
    let _ = t.time(|| oms.apply(id, OrderEvent::Accept));
    Ok(match life {
        Life::Filled => t.time(|| oms.fill(id, price, fill, 1, 0)).map_or(0, |o| o.filled),
        Life::PartialThenCancelled if fill > 1 => {
            let _ = t.time(|| oms.fill(id, price, fill / 2, 1, 0));
            let _ = t.time(|| oms.apply(id, OrderEvent::RequestCancel));
            let _ = t.time(|| oms.apply(id, OrderEvent::Cancel));
            fill / 2
        }
        Life::PartialThenCancelled => {
            let _ = t.time(|| oms.apply(id, OrderEvent::RequestCancel));
            let _ = t.time(|| oms.apply(id, OrderEvent::Cancel));
            0
        }
    })
}

/// The same life in the baseline.
pub fn base_life(base: &mut Baseline, symbols: &[String], o: &NewOrder, life: Life, t: &mut impl Clocked) -> i64 {
    let (fill, price) = (o.qty.0, o.price.0);
    let id = t.time(|| base.create(&symbols[o.instrument.0 as usize], *o));
    let _ = t.time(|| base.apply(&id, OrderEvent::Send));
    let _ = t.time(|| base.apply(&id, OrderEvent::Accept));
    match life {
        Life::Filled => t.time(|| base.fill(&id, price, fill)).map_or(0, |()| fill),
        Life::PartialThenCancelled if fill > 1 => {
            let _ = t.time(|| base.fill(&id, price, fill / 2));
            let _ = t.time(|| base.apply(&id, OrderEvent::RequestCancel));
            let _ = t.time(|| base.apply(&id, OrderEvent::Cancel));
            fill / 2
        }
        Life::PartialThenCancelled => {
            let _ = t.time(|| base.apply(&id, OrderEvent::RequestCancel));
            let _ = t.time(|| base.apply(&id, OrderEvent::Cancel));
            0
        }
    }
}
