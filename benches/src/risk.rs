//! The pre-trade check set's benchmark fixture, shared by the `risk-bench` harness
//! and the `risk_check` criterion bench: 20 instruments (4 symbols at each of 5
//! venues, each instrument with limits of its own), their books, an order stream
//! that takes every path, and the naive baseline: limits in a `HashMap` keyed by
//! symbol string, state behind a `Mutex`, the reason as a `String`.

use std::{collections::HashMap, sync::Mutex};

use engine::{
    oms::Position,
    order::{NewOrder, OrderType},
    risk::{
        BreakerConfig, CircuitBreaker, Exposure, InstrumentLimits, OwnTop, QuoteLimits, Risk, RiskInputs, RiskLimits,
    },
};
use feeds::{
    book::Book,
    event::{BookDelta, BookSide, InstrumentId, Level, Price, Qty, Side, UnixNanos, Venue},
};

/// Instruments checked.
pub const INSTRUMENTS: usize = 20;
/// Venues they trade at (instrument `i` at venue `i / 4`).
pub const VENUES: usize = 5;

/// A book one tick either side of `mid`.
pub fn book(mid: i64) -> Book {
    let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
    d.push(BookSide::Bid, Level { price: Price(mid - 1), qty: Qty(500) });
    d.push(BookSide::Ask, Level { price: Price(mid + 1), qty: Qty(500) });
    d.set_snapshot();
    d.set_last();
    let mut b = Book::with_depth(16);
    let _ = b.apply(&d);
    b
}

/// Per symbol: orders accepted, and the recent orders for duplicate detection.
pub type NaiveState = HashMap<String, (u64, Vec<(NewOrder, u64)>)>;

/// The baseline: the same checks, written the obvious way.
#[derive(Debug)]
pub struct Naive {
    limits: HashMap<String, RiskLimits>,
    state: Mutex<NaiveState>,
}

impl Naive {
    /// The checks, written the obvious way: `None` accepted, else the reason.
    pub fn check(&self, symbol: &str, o: &NewOrder, inputs: &RiskInputs<'_>) -> Option<String> {
        let l = self.limits.get(symbol)?;
        let mut state = self.state.lock().ok()?;
        let (count, recent) = state.entry(symbol.to_owned()).or_default();
        let (price, qty) = (o.price.0, o.qty.0);
        if qty < l.instrument.min_qty || qty > l.instrument.max_qty {
            return Some("qty_out_of_range".to_owned());
        }
        if price % l.instrument.tick != 0 {
            return Some("off_tick".into());
        }
        let notional = i128::from(price) * i128::from(qty);
        if notional > l.instrument.max_order_notional {
            return Some("order_notional".into());
        }
        let (bid, ask) = (inputs.book.best_bid()?, inputs.book.best_ask()?);
        let mid2 = i128::from(bid.price.0 + ask.price.0);
        if (2 * i128::from(price) - mid2).abs() * 10_000 > i128::from(l.instrument.collar_bps) * mid2 {
            return Some("outside_collar".into());
        }
        let signed = if o.side == Side::Buy { qty } else { -qty };
        let after = i128::from(inputs.position.net + signed);
        if after.abs() * i128::from(price) > l.instrument.max_position_notional {
            return Some("position_limit".into());
        }
        if inputs.open_notional + notional > l.max_open_notional {
            return Some("open_notional".into());
        }
        if recent.iter().any(|(r, at)| r == o && inputs.now - at < l.duplicate_window_ns) {
            return Some("duplicate".into());
        }
        recent.push((*o, inputs.now));
        if recent.len() > 8 {
            recent.remove(0);
        }
        *count += 1;
        None
    }
}

/// Everything both sides check against.
#[derive(Debug)]
pub struct Fixture {
    /// The account's limits (each instrument's own are set from them).
    pub limits: RiskLimits,
    /// Instrument `i`'s book.
    pub books: Vec<Book>,
    /// Instrument `i`'s symbol, the baseline's key.
    pub symbols: Vec<String>,
    /// 4,096 orders as (instrument, order).
    pub orders: Vec<(usize, NewOrder)>,
    /// Each venue's circuit breaker (closed; ours consults it, the baseline has none).
    pub breakers: Vec<CircuitBreaker>,
}

impl Fixture {
    /// The fixture.
    pub fn new() -> Self {
        let mut limits = RiskLimits::with_quote_limits(
            2,
            5,
            QuoteLimits { order: 10_000, position: 50_000, open: 100_000, gross: 200_000, net: 100_000 },
        );
        limits.orders_per_sec = u32::MAX; // measure the checks, not the throttle's verdict
        limits.order_burst = u32::MAX;
        // The order-to-trade ratio is checked on every order but never refuses: the
        // stream has no fills, and the baseline has no such check, so a refusal there
        // would cut ours short and compare unlike work.
        limits.ratios.max_order_to_trade = u64::MAX;
        let books = (0..INSTRUMENTS).map(|i| book(6_000_000 + 1_000 * i as i64)).collect();
        let symbols = (0..INSTRUMENTS).map(|i| format!("SYM{i}USDT")).collect();
        let orders = (0..4096)
            .map(|k| {
                let i = k % INSTRUMENTS;
                let mid = 6_000_000 + 1_000 * i as i64;
                // Mostly inside the collar, some outside, sizes varied: every path runs.
                let offset = [-3, 2, 40_000, -1, 5][k % 5];
                let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
                let order = NewOrder {
                    instrument: InstrumentId(i as u32),
                    side,
                    price: Price(mid + offset),
                    qty: Qty(1 + (k as i64 * 37) % 400),
                    order_type: OrderType::Limit,
                    // Every order carries a stop 1% away: the stop check runs on all.
                    stop: NewOrder::stop_at_bps(side, Price(mid + offset), 100),
                };
                (i, order)
            })
            .collect();
        let breakers = (0..VENUES).map(|_| CircuitBreaker::new(&BreakerConfig::default())).collect();
        Self { limits, books, symbols, orders, breakers }
    }

    /// Instrument `i`'s own limits (size and collar here), as a desk configures them.
    pub fn own(&self, i: usize) -> RiskLimits {
        let instrument =
            InstrumentLimits { max_qty: 300 + 10 * i as i64, collar_bps: 40 + i as i64, ..self.limits.instrument };
        RiskLimits { instrument, ..self.limits }
    }

    /// Ours, each instrument's limits in its table.
    pub fn ours(&self) -> Risk {
        let mut ours = Risk::new(self.limits, 0);
        for i in 0..INSTRUMENTS {
            ours.set_instrument(i, self.own(i).instrument, 0);
        }
        ours
    }

    /// The baseline, each instrument's limits in its map.
    pub fn naive(&self) -> Naive {
        Naive {
            limits: self.symbols.iter().enumerate().map(|(i, s)| (s.clone(), self.own(i))).collect(),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// What an order for instrument `i` is checked with at `now`: a fresh book, flat,
    /// its venue's breaker.
    pub fn inputs(&self, i: usize, now: u64) -> RiskInputs<'_> {
        let venue = i / (INSTRUMENTS / VENUES);
        RiskInputs {
            now,
            book: &self.books[i],
            book_ts: now,
            position: Position::default(),
            open_notional: 0,
            working: (0, 0),
            elsewhere: 0,
            venue,
            own: OwnTop::default(),
            exposure: Exposure { equity: 1 << 100, ..Exposure::default() },
            breaker: self.breakers.get(venue),
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}
