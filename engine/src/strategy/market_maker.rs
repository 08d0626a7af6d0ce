//! Quotes one bid and one ask around the mid, skewed against inventory, and moves a
//! quote when the desired price moves by `requote` ticks: by cancel and new order, or
//! (with `amend`) by one replace request, waiting for its answer before the next.

use feeds::event::{Price, Qty, Side};

use super::{Ctx, Market, Strategy};
use crate::{
    oms::{Order, signed},
    order::{ClientId, ExecKind, ExecReport, NewOrder, OrderType},
};

/// Market-maker parameters (sizes in lots, prices in ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketMakerParams {
    /// Distance of each quote from the mid.
    pub half_spread: i64,
    /// Quote size.
    pub size: i64,
    /// Ticks the quotes shift per `size` of inventory (long: both quotes lower).
    pub skew: i64,
    /// Replace a quote when the desired price is this far from the working one.
    pub requote: i64,
    /// Stop quoting the side that would grow the inventory past this.
    pub max_inventory: i64,
    /// After a reject (risk or venue), wait this long before quoting that instrument again.
    pub backoff_ns: u64,
    /// Each quote's protective stop, this many basis points on its losing side.
    pub stop_bps: i64,
    /// Move quotes with a replace instead of a cancel and a new order.
    pub amend: bool,
}

impl Default for MarketMakerParams {
    fn default() -> Self {
        Self {
            half_spread: 1,
            size: 100,
            skew: 1,
            requote: 2,
            max_inventory: 1_000,
            backoff_ns: 1_000_000,
            stop_bps: 100,
            amend: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Quotes {
    bid: Option<(ClientId, Price)>,
    ask: Option<(ClientId, Price)>,
    inventory: i64,
    quiet_until: u64,
}

/// The market maker.
#[derive(Debug)]
pub struct MarketMaker {
    params: MarketMakerParams,
    quotes: Vec<Quotes>,
}

impl MarketMaker {
    /// A market maker for `instruments` instruments.
    pub fn new(params: MarketMakerParams, instruments: usize) -> Self {
        Self { params, quotes: vec![Quotes::default(); instruments] }
    }

    fn requote(
        ctx: &mut Ctx<'_>,
        slot: &mut Option<(ClientId, Price)>,
        desired: Option<Price>,
        order: impl Fn(Price) -> NewOrder,
        p: &MarketMakerParams,
    ) {
        let stale = match (*slot, desired) {
            (Some((_, working)), Some(want)) => (working.0 - want.0).abs() >= p.requote,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if let (true, true, Some((id, _)), Some(want)) = (stale, p.amend, *slot, desired) {
            // One request in flight at a time; the answer (or a fill) settles it.
            let working = ctx.order(id).filter(|o| !o.state.is_pending() && o.state.is_working());
            if let Some(o) = working
                && ctx.replace(id, want, Qty(o.filled + p.size))
            {
                *slot = Some((id, want));
            }
            return;
        }
        if stale && let Some((id, _)) = *slot {
            if !ctx.cancel(id) {
                return;
            }
            *slot = None;
        }
        if slot.is_none()
            && let Some(price) = desired
            && let Some(id) = ctx.submit(order(price))
        {
            *slot = Some((id, price));
        }
    }
}

impl Strategy for MarketMaker {
    fn on_book(&mut self, market: &Market<'_>, ctx: &mut Ctx<'_>) {
        let p = self.params;
        let Some(q) = self.quotes.get_mut(market.instrument.0 as usize) else { return };
        if ctx.now < q.quiet_until {
            return;
        }
        let top = market.book.best_bid().zip(market.book.best_ask()).filter(|_| market.book.is_valid());
        let (bid, ask) = match top {
            Some((best_bid, best_ask)) => {
                let skew = q.inventory * p.skew / p.size.max(1);
                let mid2 = best_bid.price.0 + best_ask.price.0;
                // Never cross: a quote that would take liquidity is not a quote.
                let bid = (mid2.div_euclid(2) - p.half_spread - skew).min(best_ask.price.0 - 1);
                let ask = ((mid2 + 1).div_euclid(2) + p.half_spread - skew).max(best_bid.price.0 + 1);
                let bid = (q.inventory + p.size <= p.max_inventory && bid > 0).then_some(Price(bid));
                let ask = (q.inventory - p.size >= -p.max_inventory).then_some(Price(ask));
                (bid, ask)
            }
            None => (None, None),
        };
        let instrument = market.instrument;
        let order = |side| {
            move |price| NewOrder {
                instrument,
                side,
                price,
                qty: Qty(p.size),
                order_type: OrderType::PostOnly,
                stop: NewOrder::stop_at_bps(side, price, p.stop_bps),
            }
        };
        Self::requote(ctx, &mut q.bid, bid, order(Side::Buy), &p);
        Self::requote(ctx, &mut q.ask, ask, order(Side::Sell), &p);
    }

    fn on_exec(&mut self, order: &Order, report: &ExecReport, ctx: &mut Ctx<'_>) {
        let Some(q) = self.quotes.get_mut(order.new.instrument.0 as usize) else { return };
        if matches!(report.kind, ExecKind::Rejected | ExecKind::WouldCross) {
            q.quiet_until = ctx.now + self.params.backoff_ns;
        }
        if let ExecKind::Fill { qty, .. } = report.kind {
            // Fills of replaced quotes still move the inventory.
            q.inventory += signed(order.new.side, qty.0);
        }
        if report.kind == ExecKind::ReplaceRejected {
            // Still working at its old price: track that one.
            for slot in [&mut q.bid, &mut q.ask] {
                if let Some((id, price)) = slot
                    && *id == order.id
                {
                    *price = order.new.price;
                }
            }
        }
        if order.state.is_terminal() {
            for slot in [&mut q.bid, &mut q.ask] {
                if slot.is_some_and(|(id, _)| id == order.id) {
                    *slot = None;
                }
            }
        }
    }
}
