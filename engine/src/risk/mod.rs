//! Pre-trade risk: every new order passes [`Risk::check`] on the hot core before it
//! can leave. Each check is a few integer comparisons against limits scaled once at
//! start-up; each rejection has a typed [`Reject`] reason that is counted and
//! persisted. (Issue 6 adds stop-losses, correlation, self-trade and ratio limits.)

mod breaker;
mod correlation;
mod kill;
mod limits;
mod ratios;
mod throttle;

pub use crate::oms::OwnTop;
pub use breaker::{BreakerConfig, BreakerState, Call, CircuitBreaker};
pub use correlation::{CorrelationSnapshot, ONE as CORRELATION_ONE, ReturnsEstimator};
pub use kill::{KillLimits, KillSwitch, RearmPlan, Trip, TripReason};
pub use limits::{InstrumentLimits, QuoteLimits, RiskLimits, TradingState, VenueRates, money_scale};
pub use ratios::{MessageWindow, RatioBreach, RatioLimits};
pub use throttle::TokenBucket;

use feeds::{
    book::Book,
    event::{Price, Side},
};

use crate::{oms::Position, order::NewOrder};

/// The whole book's exposure and equity in the account's money unit (see
/// [`InstrumentLimits::money`]), marked at the mid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Sum of |position| × mark.
    pub gross: i128,
    /// Sum of position × mark (signed).
    pub net: i128,
    /// Starting equity plus realised and unrealised P&L, net of fees.
    pub equity: i128,
    /// The traded instrument's mark (its mid), 0 if unknown.
    pub mark: i64,
    /// Signed notional of the other positions correlated with the traded instrument
    /// (|ρ| at or over the cap; an anti-correlated one counts with its sign flipped).
    pub correlated: i128,
}

/// Why risk refused an order. The code is persisted: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Reject {
    /// Trading is halted (kill switch).
    Halted = 1,
    /// Reduce-only, and this order would not reduce the position.
    ReduceOnly = 2,
    /// Size outside [min, max].
    QtyOutOfRange = 3,
    /// Price not a multiple of the tick.
    OffTick = 4,
    /// Price × size above the per-order maximum.
    OrderNotional = 5,
    /// No book to price against.
    NoReference = 6,
    /// The book has not updated for too long.
    StaleReference = 7,
    /// The feed marked the book invalid (gap, crossed, resyncing).
    BookInvalid = 8,
    /// Limit price outside the collar around the mid.
    OutsideCollar = 9,
    /// The resulting position would exceed its notional limit.
    PositionLimit = 10,
    /// Working orders' notional would exceed its limit.
    OpenNotional = 11,
    /// Too many new orders per second.
    Throttled = 12,
    /// The same order was just sent.
    Duplicate = 13,
    /// The venue's circuit breaker is open (or its half-open probes are taken).
    VenueCircuitOpen = 14,
    /// The instrument is on the restricted list.
    Restricted = 15,
    /// The order would trade with one of our own working orders.
    SelfTrade = 16,
    /// Gross exposure over every instrument would exceed its limit.
    GrossExposure = 17,
    /// Net exposure over every instrument would exceed its limit.
    NetExposure = 18,
    /// Too many messages per fill over the ratio window.
    OrderToTrade = 19,
    /// Too many cancels per new order over the ratio window.
    CancelToNew = 20,
    /// Too many new orders per second for this instrument.
    InstrumentThrottled = 21,
    /// An order that opens or grows a position carries no stop.
    MissingStop = 22,
    /// The stop is on the winning side, or farther than allowed.
    BadStop = 23,
    /// With the positions correlated to it, the instrument's exposure would exceed
    /// its limit.
    Correlation = 24,
}

impl Reject {
    /// Every reason, in code order.
    pub const ALL: [Self; 24] = [
        Self::Halted,
        Self::ReduceOnly,
        Self::QtyOutOfRange,
        Self::OffTick,
        Self::OrderNotional,
        Self::NoReference,
        Self::StaleReference,
        Self::BookInvalid,
        Self::OutsideCollar,
        Self::PositionLimit,
        Self::OpenNotional,
        Self::Throttled,
        Self::Duplicate,
        Self::VenueCircuitOpen,
        Self::Restricted,
        Self::SelfTrade,
        Self::GrossExposure,
        Self::NetExposure,
        Self::OrderToTrade,
        Self::CancelToNew,
        Self::InstrumentThrottled,
        Self::MissingStop,
        Self::BadStop,
        Self::Correlation,
    ];

    /// The persisted code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Halted => "halted",
            Self::ReduceOnly => "reduce_only",
            Self::QtyOutOfRange => "qty_out_of_range",
            Self::OffTick => "off_tick",
            Self::OrderNotional => "order_notional",
            Self::NoReference => "no_reference",
            Self::StaleReference => "stale_reference",
            Self::BookInvalid => "book_invalid",
            Self::OutsideCollar => "outside_collar",
            Self::PositionLimit => "position_limit",
            Self::OpenNotional => "open_notional",
            Self::Throttled => "throttled",
            Self::Duplicate => "duplicate",
            Self::VenueCircuitOpen => "venue_circuit_open",
            Self::Restricted => "restricted",
            Self::SelfTrade => "self_trade",
            Self::GrossExposure => "gross_exposure",
            Self::NetExposure => "net_exposure",
            Self::OrderToTrade => "order_to_trade",
            Self::CancelToNew => "cancel_to_new",
            Self::InstrumentThrottled => "instrument_throttled",
            Self::MissingStop => "missing_stop",
            Self::BadStop => "bad_stop",
            Self::Correlation => "correlation",
        }
    }
}

/// What a `venue_circuit_open` refusal records as observed when the venue's order
/// entry was down (the breaker's own states record 0 to 2).
pub const ORDER_ENTRY_DOWN: i64 = 3;

/// A decision with what was compared, for the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// `None` accepted, else why not.
    pub reject: Option<Reject>,
    /// The limit compared against (0 if none).
    pub limit: i64,
    /// The value found.
    pub observed: i64,
    /// The venue's breaker admitted the order as a half-open probe: its outcome must
    /// be recorded as the probe's.
    pub probe: bool,
}

/// What risk needs to know about the market and our book for one order.
#[derive(Debug, Clone, Copy)]
pub struct RiskInputs<'a> {
    /// Engine time now.
    pub now: u64,
    /// The instrument's book.
    pub book: &'a Book,
    /// When the book last changed.
    pub book_ts: u64,
    /// Our position in the instrument.
    pub position: Position,
    /// Notional of all working orders.
    pub open_notional: i128,
    /// Open size of our working (buys, sells) in the instrument: the position if they
    /// all filled is what the position limit checks.
    pub working: (i64, i64),
    /// The same symbol at the other venues: the net position there, plus the open
    /// size of working orders on this order's side (signed). The position limit holds
    /// for the symbol over every venue.
    pub elsewhere: i64,
    /// The venue it goes to (its throttle; up to 8 venues, the rest share the last).
    pub venue: usize,
    /// Our own best working prices in the instrument (self-trade prevention).
    pub own: OwnTop,
    /// Exposure and equity over every instrument, marked at the mid.
    pub exposure: Exposure,
    /// The venue's circuit breaker, consulted last: an admitted order takes a
    /// half-open probe token, so it must then really be sent.
    pub breaker: Option<&'a CircuitBreaker>,
}

const RECENT: usize = 8;
/// Venues with a throttle of their own.
pub const MAX_VENUES: usize = 8;

/// The risk stage's state: limits, the throttle, recent orders and counters.
#[derive(Debug)]
pub struct Risk {
    /// The account's limits, and every instrument's unless overridden.
    limits: RiskLimits,
    /// Per instrument id (up to 64): its own limits.
    instruments: Vec<InstrumentLimits>,
    /// The account's, for an id past the table (none reaches risk).
    fallback: InstrumentLimits,
    /// Per venue: its message rates.
    venue_rates: [VenueRates; MAX_VENUES],
    /// New orders per venue (each venue publishes its own rate limit).
    buckets: [TokenBucket; MAX_VENUES],
    /// New orders per instrument (index = instrument id, up to 64).
    instrument_buckets: [TokenBucket; 64],
    /// Cancels per venue.
    cancel_buckets: [TokenBucket; MAX_VENUES],
    /// Cancels per instrument.
    instrument_cancel_buckets: [TokenBucket; 64],
    window: MessageWindow,
    cancels_throttled: u64,
    recent: [(NewOrder, u64); RECENT],
    recent_next: usize,
    accepted: u64,
    rejected: [u64; Reject::ALL.len() + 1],
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl Risk {
    /// A risk stage with these limits, its throttle full.
    pub fn new(limits: RiskLimits, now: u64) -> Self {
        let bucket = TokenBucket::new(limits.orders_per_sec, limits.order_burst, now);
        let per_instrument = TokenBucket::new(limits.instrument.orders_per_sec, limits.order_burst, now);
        let cancel_bucket = TokenBucket::new(limits.cancels_per_sec, limits.order_burst, now);
        let blank = NewOrder {
            instrument: feeds::event::InstrumentId(u32::MAX),
            side: Side::Buy,
            price: Price(0),
            qty: feeds::event::Qty(0),
            order_type: crate::order::OrderType::Limit,
            stop: Price(0),
        };
        Self {
            limits,
            instruments: vec![limits.instrument; 64],
            fallback: limits.instrument,
            venue_rates: [limits.venue(); MAX_VENUES],
            buckets: [bucket; MAX_VENUES],
            instrument_buckets: [per_instrument; 64],
            instrument_cancel_buckets: [TokenBucket::new(limits.instrument.cancels_per_sec, limits.order_burst, now);
                64],
            cancel_buckets: [cancel_bucket; MAX_VENUES],
            window: MessageWindow::new(limits.ratios),
            cancels_throttled: 0,
            recent: [(blank, 0); RECENT],
            recent_next: 0,
            accepted: 0,
            rejected: [0; Reject::ALL.len() + 1],
        }
    }

    /// Gives instrument `id` its own limits (and a full throttle at its own rate).
    pub fn set_instrument(&mut self, id: usize, limits: InstrumentLimits, now: u64) {
        let burst = self.limits.order_burst;
        if let (Some(slot), Some(orders), Some(cancels)) = (
            self.instruments.get_mut(id),
            self.instrument_buckets.get_mut(id),
            self.instrument_cancel_buckets.get_mut(id),
        ) {
            *slot = limits;
            *orders = TokenBucket::new(limits.orders_per_sec, burst, now);
            *cancels = TokenBucket::new(limits.cancels_per_sec, burst, now);
        }
    }

    /// Gives venue `v` its own message rates (and full buckets).
    pub fn set_venue(&mut self, v: usize, rates: VenueRates, now: u64) {
        let burst = self.limits.order_burst;
        if let (Some(slot), Some(orders), Some(cancels)) =
            (self.venue_rates.get_mut(v), self.buckets.get_mut(v), self.cancel_buckets.get_mut(v))
        {
            *slot = rates;
            *orders = TokenBucket::new(rates.orders_per_sec, burst, now);
            *cancels = TokenBucket::new(rates.cancels_per_sec, burst, now);
        }
    }

    /// Instrument `id`'s limits.
    pub fn instrument(&self, id: feeds::event::InstrumentId) -> &InstrumentLimits {
        self.instruments.get(id.0 as usize).unwrap_or(&self.fallback)
    }

    /// The trading state.
    pub fn state(&self) -> TradingState {
        self.limits.state
    }

    /// Changes the trading state (the kill switch sets `Halted`).
    pub fn set_state(&mut self, state: TradingState) {
        self.limits.state = state;
    }

    /// Checks one order. Accepting it consumes a throttle token and remembers it for
    /// duplicate detection.
    pub fn check(&mut self, order: &NewOrder, inputs: &RiskInputs<'_>) -> Decision {
        self.decide(order, inputs, true)
    }

    /// Refuses an order whose venue's order entry is down, before the checks that
    /// would judge it against working orders still unsettled: `halted` while the
    /// engine is, else `venue_circuit_open` with [`ORDER_ENTRY_DOWN`] observed.
    pub fn refuse_entry_down(&mut self) -> Decision {
        let (reason, observed) = match self.limits.state {
            TradingState::Halted => (Reject::Halted, 0),
            _ => (Reject::VenueCircuitOpen, ORDER_ENTRY_DOWN),
        };
        if let Some(c) = self.rejected.get_mut(usize::from(reason.code())) {
            *c += 1;
        }
        Decision { reject: Some(reason), limit: 0, observed, probe: false }
    }

    fn decide(&mut self, order: &NewOrder, inputs: &RiskInputs<'_>, pacing: bool) -> Decision {
        let decision = self.evaluate(order, inputs, pacing);
        match decision.reject {
            None => {
                self.accepted += 1;
                self.window.on_new(inputs.now);
                if let Some(slot) = self.recent.get_mut(self.recent_next) {
                    *slot = (*order, inputs.now);
                }
                self.recent_next = (self.recent_next + 1) % RECENT;
            }
            Some(r) => {
                if let Some(c) = self.rejected.get_mut(usize::from(r.code())) {
                    *c += 1;
                }
            }
        }
        decision
    }

    fn evaluate(&mut self, order: &NewOrder, inputs: &RiskInputs<'_>, pacing: bool) -> Decision {
        let l = &self.limits;
        let il = self.instruments.get(order.instrument.0 as usize).unwrap_or(&self.fallback);
        let reject = |reason, limit: i128, observed: i128| Decision {
            reject: Some(reason),
            limit: clamp(limit),
            observed: clamp(observed),
            probe: false,
        };
        let (price, qty) = (order.price.0, order.qty.0);
        let signed = crate::oms::signed(order.side, qty);
        let net = inputs.position.net;
        match l.state {
            TradingState::Halted => return reject(Reject::Halted, 0, 0),
            TradingState::ReduceOnly if net == 0 || net.signum() == signed.signum() || qty > net.abs() => {
                return reject(Reject::ReduceOnly, i128::from(net), i128::from(signed));
            }
            _ => {}
        }
        // Restricted: no new exposure; an order that only shrinks a position may go.
        let shrinks = net != 0 && net.signum() != signed.signum() && qty <= net.abs();
        if l.restricted & (1u64 << (order.instrument.0 & 63)) != 0 && !shrinks {
            return reject(Reject::Restricted, 0, i128::from(order.instrument.0));
        }
        // A close (flatten, stop-out: `pacing` off) must always go: our own size and
        // tick bounds do not hold it back, so a position built from several orders
        // can be closed in one.
        if pacing && qty < il.min_qty {
            return reject(Reject::QtyOutOfRange, i128::from(il.min_qty), i128::from(qty));
        }
        if qty <= 0 || (pacing && qty > il.max_qty) {
            return reject(Reject::QtyOutOfRange, i128::from(il.max_qty), i128::from(qty));
        }
        if price <= 0 || (pacing && price % il.tick != 0) {
            return reject(Reject::OffTick, i128::from(il.tick), i128::from(price));
        }
        // Money: ticks × lots at the account's scale (see `InstrumentLimits::money`).
        let money = il.money;
        let notional = (i128::from(price) * i128::from(qty)).saturating_mul(money);
        if pacing && notional > il.max_order_notional {
            return reject(Reject::OrderNotional, il.max_order_notional, notional);
        }
        let book = inputs.book;
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else {
            return reject(Reject::NoReference, 0, 0);
        };
        if !book.is_valid() {
            return reject(Reject::BookInvalid, 0, 0);
        }
        let age = inputs.now.saturating_sub(inputs.book_ts);
        if age > il.max_reference_age_ns {
            return reject(Reject::StaleReference, i128::from(il.max_reference_age_ns), i128::from(age));
        }
        // |price - mid| / mid <= collar_bps / 10_000, in integers: mid2 = 2 × mid.
        let mid2 = i128::from(bid.price.0) + i128::from(ask.price.0);
        let off2 = (2 * i128::from(price) - mid2).abs();
        if off2 * 10_000 > i128::from(il.collar_bps) * mid2 {
            return reject(Reject::OutsideCollar, i128::from(il.collar_bps), off2 * 10_000 / mid2.max(1));
        }
        let own = inputs.own;
        let crosses_own = match order.side {
            Side::Buy => own.best_ask.is_some_and(|a| price >= a),
            Side::Sell => own.best_bid.is_some_and(|b| price <= b),
        };
        if crosses_own {
            let resting = match order.side {
                Side::Buy => own.best_ask,
                Side::Sell => own.best_bid,
            };
            return reject(Reject::SelfTrade, i128::from(resting.unwrap_or(0)), i128::from(price));
        }
        let after = i128::from(net) + i128::from(signed);
        // The position limit holds for the worst case: every working order on this
        // order's side filling too, so several orders that each fit cannot add up
        // past it.
        let (open_buys, open_sells) = inputs.working;
        let worst = after
            + match order.side {
                Side::Buy => i128::from(open_buys),
                Side::Sell => -i128::from(open_sells),
            };
        // An order that shrinks its venue's position is exempt (a close must always
        // go). Otherwise the limit holds for the larger of this venue's position
        // and, when the order grows it, the symbol's over every venue.
        let reduces = worst.abs() < i128::from(net).abs();
        let elsewhere = i128::from(inputs.elsewhere);
        let symbol = (worst + elsewhere).abs();
        let grows_symbol = symbol > (i128::from(net) + elsewhere).abs();
        let position_notional =
            if grows_symbol { symbol.max(worst.abs()) } else { worst.abs() } * i128::from(price) * money;
        if !reduces {
            // Mandatory stop: on the losing side, within the distance (compared by
            // multiplication: distance / price <= bps / 10,000).
            if il.max_stop_distance_bps > 0 {
                let stop = order.stop.0;
                if stop <= 0 {
                    return reject(Reject::MissingStop, i128::from(il.max_stop_distance_bps), 0);
                }
                let distance = match order.side {
                    Side::Buy => i128::from(price) - i128::from(stop),
                    Side::Sell => i128::from(stop) - i128::from(price),
                };
                if distance <= 0 || distance * 10_000 > i128::from(il.max_stop_distance_bps) * i128::from(price) {
                    let bps = distance * 10_000 / i128::from(price.max(1));
                    return reject(Reject::BadStop, i128::from(il.max_stop_distance_bps), bps);
                }
            }
            if position_notional > il.max_position_notional {
                return reject(Reject::PositionLimit, il.max_position_notional, position_notional);
            }
            // A fraction of current equity, compared without dividing (i128 division
            // is a library call, slower than the rest of the checks together).
            let bps = i128::from(il.position_equity_bps);
            let equity = inputs.exposure.equity.max(0);
            if bps > 0 && position_notional * 10_000 > equity * bps {
                return reject(Reject::PositionLimit, equity * bps / 10_000, position_notional);
            }
            // Exposure after the order, the instrument marked at its mid (the order's
            // price if there is none).
            let e = inputs.exposure;
            let mark = i128::from(if e.mark > 0 { e.mark } else { price }) * money;
            let gross = e.gross - i128::from(net).abs() * mark + after.abs() * mark;
            if gross > l.max_gross_notional {
                return reject(Reject::GrossExposure, l.max_gross_notional, gross);
            }
            let net_after = e.net + i128::from(signed) * mark;
            if net_after.abs() > e.net.abs() && net_after.abs() > l.max_net_notional {
                return reject(Reject::NetExposure, l.max_net_notional, net_after.abs());
            }
            // Correlated positions move together: they count as one exposure.
            let combined_before = (i128::from(net) * mark + e.correlated).abs();
            let combined = (after * mark + e.correlated).abs();
            if combined > combined_before && combined > il.max_correlated_notional {
                return reject(Reject::Correlation, il.max_correlated_notional, combined);
            }
        }
        let open = inputs.open_notional + notional;
        if open > l.max_open_notional {
            return reject(Reject::OpenNotional, l.max_open_notional, open);
        }
        let window = l.duplicate_window_ns;
        let instrument_rate = il.orders_per_sec;
        if pacing && self.recent.iter().any(|(o, at)| o == order && inputs.now.saturating_sub(*at) < window) {
            return reject(Reject::Duplicate, i128::from(window), 0);
        }
        if pacing {
            match self.window.check_new(inputs.now) {
                Some(RatioBreach::OrderToTrade(limit, seen)) => {
                    return reject(Reject::OrderToTrade, i128::from(limit), i128::from(seen));
                }
                Some(RatioBreach::CancelToNew(limit, seen)) => {
                    return reject(Reject::CancelToNew, i128::from(limit), i128::from(seen));
                }
                None => {}
            }
            let venue = inputs.venue.min(MAX_VENUES - 1);
            if !self.buckets.get_mut(venue).is_some_and(|b| b.try_take(inputs.now)) {
                let rate = self.venue_rates.get(venue).map_or(0, |r| r.orders_per_sec);
                return reject(Reject::Throttled, i128::from(rate), 0);
            }
            if let Some(bucket) = self.instrument_buckets.get_mut(order.instrument.0 as usize)
                && !bucket.try_take(inputs.now)
            {
                // Not sent: the venue's token goes back.
                if let Some(b) = self.buckets.get_mut(venue) {
                    b.refund();
                }
                return reject(Reject::InstrumentThrottled, i128::from(instrument_rate), 0);
            }
        }
        let probe = match inputs.breaker.map(|b| b.try_admit(inputs.now)) {
            Some(Err(state)) => return reject(Reject::VenueCircuitOpen, 0, state as i128),
            Some(Ok(probe)) => probe,
            None => false,
        };
        Decision { reject: None, limit: 0, observed: 0, probe }
    }

    /// Checks an order that closes a position (a flatten after a trip, a stop-out):
    /// as if trading were reduce-only (the engine stays halted), and exempt from the
    /// duplicate window and the throttle, which pace a strategy, not a one-off
    /// emergency close, and from the per-order size, tick and notional bounds, which
    /// a position built from several orders can outgrow.
    pub fn check_flatten(&mut self, order: &NewOrder, inputs: &RiskInputs<'_>) -> Decision {
        let kept = self.limits.state;
        self.limits.state = TradingState::ReduceOnly;
        let decision = self.decide(order, inputs, false);
        self.limits.state = kept;
        decision
    }

    /// Whether a cancel of an order in `instrument` may go to `venue` now (the
    /// venue's cancel rate and the instrument's); counted for the cancel-to-new
    /// ratio when it may, as throttled when not.
    pub fn allow_cancel(&mut self, venue: usize, instrument: feeds::event::InstrumentId, now: u64) -> bool {
        let venue = venue.min(MAX_VENUES - 1);
        let instrument_ok =
            self.instrument_cancel_buckets.get_mut(instrument.0 as usize).is_none_or(|b| b.try_take(now));
        let venue_ok = instrument_ok && self.cancel_buckets.get_mut(venue).is_some_and(|b| b.try_take(now));
        if venue_ok {
            self.window.on_cancel(now);
            return true;
        }
        if instrument_ok && let Some(b) = self.instrument_cancel_buckets.get_mut(instrument.0 as usize) {
            b.refund(); // the venue held it back: the instrument's token goes back
        }
        self.cancels_throttled += 1;
        false
    }

    /// A cancel that bypasses the throttle (cancel-all on a trip, at shutdown), still
    /// counted for the ratios.
    pub fn on_emergency_cancel(&mut self, now: u64) {
        self.window.on_cancel(now);
    }

    /// A fill came back (for the order-to-trade ratio).
    pub fn on_fill(&mut self, now: u64) {
        self.window.on_fill(now);
    }

    /// Cancels held back by the cancel throttle.
    pub fn cancels_throttled(&self) -> u64 {
        self.cancels_throttled
    }

    /// The limits in force.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Orders accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Rejections of one reason.
    pub fn rejected(&self, reason: Reject) -> u64 {
        self.rejected.get(usize::from(reason.code())).copied().unwrap_or(0)
    }

    /// All rejections.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

#[cfg(test)]
mod tests;
