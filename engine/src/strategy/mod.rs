//! Strategies: called on book changes, trades and execution reports, they emit order
//! intents into a caller-owned buffer through [`Ctx`]. Two built-ins exercise the whole
//! path: a [`MarketMaker`] and an imbalance [`Taker`]. `--strategy NAME:key=value,...`
//! selects one (see [`StrategyConfig`]).

mod config;
mod market_maker;
mod taker;

pub use config::StrategyConfig;
pub use market_maker::{MarketMaker, MarketMakerParams};
pub use taker::{Entry, Taker, TakerParams};

use feeds::{
    book::Book,
    event::{InstrumentId, Price, Qty, Trade},
};

use crate::{
    fixed::Bounded,
    oms::{Oms, Order, OrderEvent, Position},
    order::{ClientId, ExecReport, Intent, NewOrder, RouteChoice},
};

/// What a strategy sees of one instrument's market.
#[derive(Debug, Clone, Copy)]
pub struct Market<'a> {
    /// The instrument.
    pub instrument: InstrumentId,
    /// Its L2 book (check `is_valid` before trusting it).
    pub book: &'a Book,
    /// The last trade price seen.
    pub last_trade: Option<Price>,
}

/// What a strategy may do: create orders, cancel them, look at positions.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Engine time now.
    pub now: u64,
    oms: &'a mut Oms,
    out: &'a mut Bounded<Intent>,
}

impl<'a> Ctx<'a> {
    /// A context writing intents to `out`.
    pub fn new(now: u64, oms: &'a mut Oms, out: &'a mut Bounded<Intent>) -> Self {
        Self { now, oms, out }
    }

    /// Asks for a new order; `None` when the engine cannot take more right now (the
    /// intent buffer or the order slab is full).
    pub fn submit(&mut self, order: NewOrder) -> Option<ClientId> {
        self.submit_routed(order, RouteChoice::Run)
    }

    /// [`Ctx::submit`], choosing how the order is routed when the run has several
    /// venues.
    pub fn submit_routed(&mut self, order: NewOrder, route: RouteChoice) -> Option<ClientId> {
        let id = self.oms.create(order).ok()?;
        if self.out.push(Intent::New { id, order, route }) {
            Some(id)
        } else {
            // Never sent: the order dies here rather than lingering as Initialized.
            let _ = self.oms.apply(id, OrderEvent::Deny);
            None
        }
    }

    /// Asks to cancel a working order; `false` if the intent buffer is full.
    pub fn cancel(&mut self, id: ClientId) -> bool {
        self.out.push(Intent::Cancel(id))
    }

    /// Asks to change a working order's price and total size; `false` if the intent
    /// buffer is full.
    pub fn replace(&mut self, id: ClientId, price: Price, qty: Qty) -> bool {
        self.out.push(Intent::Replace { id, price, qty })
    }

    /// One of our live orders, as the OMS sees it now.
    pub fn order(&self, id: ClientId) -> Option<&Order> {
        self.oms.get(id)
    }

    /// The engine's position in an instrument.
    pub fn position(&self, instrument: InstrumentId) -> Position {
        self.oms.position(instrument)
    }
}

/// A trading strategy. Runs on a hot core: it must not allocate, block or do I/O.
pub trait Strategy: Send + std::fmt::Debug {
    /// The book of `market.instrument` changed (a complete update was applied).
    fn on_book(&mut self, market: &Market<'_>, ctx: &mut Ctx<'_>);
    /// A market trade printed.
    fn on_trade(&mut self, _trade: &Trade, _ctx: &mut Ctx<'_>) {}
    /// A venue answer changed one of our orders; `order` is it after the change.
    fn on_exec(&mut self, _order: &Order, _report: &ExecReport, _ctx: &mut Ctx<'_>) {}
}

/// Builds the configured strategy for `instruments` instruments, `symbols` of them
/// per venue (venue `v`'s `k`-th symbol is instrument `v × symbols + k`).
pub fn build(config: &StrategyConfig, instruments: usize, symbols: usize) -> Box<dyn Strategy> {
    match config {
        StrategyConfig::MarketMaker(p) => Box::new(MarketMaker::new(*p, instruments)),
        StrategyConfig::Taker(p) => Box::new(Taker::new(*p, instruments, symbols)),
        StrategyConfig::Idle => Box::new(Idle),
    }
}

/// A strategy that never trades.
#[derive(Debug)]
pub struct Idle;

impl Strategy for Idle {
    fn on_book(&mut self, _market: &Market<'_>, _ctx: &mut Ctx<'_>) {}
}
