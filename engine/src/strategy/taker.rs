//! Crosses the spread when the top-of-book size imbalance says the price is about to
//! move: buy when bids outweigh asks by `threshold_pct`, and vice versa. The entry is
//! an IOC at the touch by default; a market or FOK order, or a stop that waits for a
//! trade at the touch to confirm the move (one armed entry per instrument; a new
//! signal cancels the old), are a parameter away.

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
    /// Never grow the inventory past this (lots).
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
    inventory: i64,
    /// The stop entry still waiting for its trigger.
    armed: Option<ClientId>,
}

/// The imbalance taker.
#[derive(Debug)]
pub struct Taker {
    params: TakerParams,
    state: Vec<State>,
}

impl Taker {
    /// A taker for `instruments` instruments.
    pub fn new(params: TakerParams, instruments: usize) -> Self {
        Self { params, state: vec![State::default(); instruments] }
    }
}

impl Strategy for Taker {
    fn on_book(&mut self, market: &Market<'_>, ctx: &mut Ctx<'_>) {
        let p = self.params;
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
        if (s.inventory + signed(side, p.size)).abs() > p.max_inventory {
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
        let Some(s) = self.state.get_mut(order.new.instrument.0 as usize) else { return };
        if let ExecKind::Fill { qty, .. } = report.kind {
            s.inventory += signed(order.new.side, qty.0);
        }
        // Fired or finished: no longer waiting.
        if s.armed == Some(order.id) && !order.is_armed() {
            s.armed = None;
        }
    }
}
