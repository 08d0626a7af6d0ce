//! The limits risk checks against, already in the instrument's fixed-point units.

/// Whether the engine may open risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradingState {
    /// Orders pass if every check passes.
    Active,
    /// Only orders that shrink a position pass.
    ReduceOnly,
    /// Nothing passes (the kill switch tripped).
    Halted,
}

/// Limits in fixed point: prices in ticks, sizes in lots, notionals in the account's
/// money unit (see [`InstrumentLimits::money`]). These are the account's, with
/// the instrument limits every instrument has unless it has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskLimits {
    /// Trading state at start.
    pub state: TradingState,
    /// Every instrument's limits unless it has its own (`--limit`).
    pub instrument: InstrumentLimits,
    /// Largest notional of all working orders together.
    pub max_open_notional: i128,
    /// New orders per second (token refill rate).
    pub orders_per_sec: u32,
    /// Orders that may go at once (bucket size).
    pub order_burst: u32,
    /// The same order again within this window is a duplicate.
    pub duplicate_window_ns: u64,
    /// Instruments no order may be sent for (bit per instrument id).
    pub restricted: u64,
    /// Largest sum of |position| × mark over every instrument.
    pub max_gross_notional: i128,
    /// Largest |sum of position × mark| over every instrument.
    pub max_net_notional: i128,
    /// Cancels per second to the venue (token refill rate).
    pub cancels_per_sec: u32,
    /// Order-to-trade and cancel-to-new ratio limits.
    pub ratios: super::RatioLimits,
    /// Instruments whose returns correlate at least this much (ρ × 10,000) count as
    /// one exposure.
    pub correlation_cap: i32,
}

/// Limits in whole quote-currency units, as a user writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteLimits {
    /// Per-order notional.
    pub order: u64,
    /// Position notional.
    pub position: u64,
    /// Working-order notional.
    pub open: u64,
    /// Gross exposure over every instrument.
    pub gross: u64,
    /// Net exposure over every instrument.
    pub net: u64,
}

impl RiskLimits {
    /// Conservative defaults for an instrument with these scales, with notional
    /// limits given in whole quote units.
    pub fn with_quote_limits(price_scale: u8, qty_scale: u8, quote: QuoteLimits) -> Self {
        let unit = 10i128.pow(u32::from(price_scale) + u32::from(qty_scale));
        Self {
            state: TradingState::Active,
            instrument: InstrumentLimits {
                min_qty: 1,
                max_qty: i64::MAX,
                tick: 1,
                max_order_notional: i128::from(quote.order) * unit,
                collar_bps: 50,
                max_reference_age_ns: 1_000_000_000,
                max_position_notional: i128::from(quote.position) * unit,
                position_equity_bps: 200,
                max_stop_distance_bps: 200,
                max_correlated_notional: i128::from(quote.position) * unit,
                orders_per_sec: 2_000,
                cancels_per_sec: 2_000,
                money: 1,
            },
            max_open_notional: i128::from(quote.open) * unit,
            orders_per_sec: 2_000,
            order_burst: 100,
            duplicate_window_ns: 200_000,
            restricted: 0,
            max_gross_notional: i128::from(quote.gross) * unit,
            max_net_notional: i128::from(quote.net) * unit,
            cancels_per_sec: 2_000,
            ratios: super::RatioLimits::default(),
            correlation_cap: 7_000,
        }
    }
}

/// The limits that can differ per instrument (`--limit SYMBOL:...`, `SYMBOL@V:...`,
/// or `@V:...` for every symbol at a venue). The rest of [`RiskLimits`] holds for
/// the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstrumentLimits {
    /// Smallest order size (lots).
    pub min_qty: i64,
    /// Largest order size (lots).
    pub max_qty: i64,
    /// Prices must be multiples of this (ticks).
    pub tick: i64,
    /// Largest price × size of one order (money units, see `money`).
    pub max_order_notional: i128,
    /// Collar half-width around the mid, in basis points.
    pub collar_bps: i64,
    /// A book older than this is no reference.
    pub max_reference_age_ns: u64,
    /// Largest |position| × price after an order fills (money units).
    pub max_position_notional: i128,
    /// A position's value at most this many basis points of equity (0: off).
    pub position_equity_bps: u32,
    /// Stop required within this many basis points (0: not required).
    pub max_stop_distance_bps: u32,
    /// Largest exposure together with correlated positions (money units).
    pub max_correlated_notional: i128,
    /// New orders per second for this instrument.
    pub orders_per_sec: u32,
    /// Cancels per second for this instrument.
    pub cancels_per_sec: u32,
    /// Price ticks × size lots of this instrument times `money` is in the account's
    /// money unit, 10^-S of the quote currency with S the largest price + size scale
    /// of any instrument: so amounts of instruments with different scales add up.
    pub money: i128,
}

/// A venue's own message rates (`--limit @V:orders-per-sec=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueRates {
    /// New orders per second.
    pub orders_per_sec: u32,
    /// Cancels per second.
    pub cancels_per_sec: u32,
}

impl RiskLimits {
    /// The account's message rates as every venue's.
    pub fn venue(&self) -> VenueRates {
        VenueRates { orders_per_sec: self.orders_per_sec, cancels_per_sec: self.cancels_per_sec }
    }
}

/// The account's money scale for instruments with these (price, size) scales: S,
/// the largest price + size scale, and each instrument's factor 10^(S - its own).
pub fn money_scale<'a>(scales: impl Iterator<Item = (u8, u8)> + Clone + 'a) -> (u8, Vec<i128>) {
    let s = scales.clone().map(|(p, q)| p + q).max().unwrap_or(0);
    (s, scales.map(|(p, q)| 10i128.pow(u32::from(s - p - q))).collect())
}
