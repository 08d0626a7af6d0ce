//! Crosses the spread with an IOC when the top-of-book size imbalance says the price
//! is about to move: buy when bids outweigh asks by `threshold_pct`, and vice versa.

use feeds::event::{BookSide, Qty, Side};

use super::{Ctx, Market, Strategy};
use crate::{
    oms::{Order, signed},
    order::{ExecKind, ExecReport, NewOrder, OrderType},
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
}

impl Default for TakerParams {
    fn default() -> Self {
        Self { levels: 5, threshold_pct: 60, size: 100, cooldown_ns: 1_000_000, max_inventory: 1_000, stop_bps: 100 }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    last_order_ns: u64,
    inventory: i64,
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
        let order = NewOrder {
            instrument: market.instrument,
            side,
            price,
            qty: Qty(p.size),
            order_type: OrderType::Ioc,
            stop: NewOrder::stop_at_bps(side, price, p.stop_bps),
        };
        if ctx.submit(order).is_some() {
            s.last_order_ns = ctx.now;
        }
    }

    fn on_exec(&mut self, order: &Order, report: &ExecReport, _ctx: &mut Ctx<'_>) {
        if let ExecKind::Fill { qty, .. } = report.kind
            && let Some(s) = self.state.get_mut(order.new.instrument.0 as usize)
        {
            s.inventory += signed(order.new.side, qty.0);
        }
    }
}
