//! What strategies ask for and what venues answer: order intents and execution
//! reports. Fixed-size `Copy` values, so they can cross rings between cores.

use feeds::event::{InstrumentId, Price, Qty, Side};

/// The engine's id for an order, unique within a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

/// How an order executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    /// Rests at its price until filled or cancelled.
    Limit,
    /// Rests, but the venue rejects it if it would take liquidity.
    PostOnly,
    /// Fills what it can at its price at once; the rest is cancelled.
    Ioc,
    /// Takes liquidity at once, walking the book; the rest is cancelled. Its price is
    /// a protection limit (the worst price it accepts), so risk can collar it.
    Market,
    /// Fills its whole size at once at its price or better, or not at all (expired).
    Fok,
    /// Held by the engine until the reference trades through `trigger` (at or above
    /// it for a buy, at or below for a sell), then sent as a market order with the
    /// order's price as its protection limit.
    Stop {
        /// The trigger price.
        trigger: Price,
    },
    /// Like [`OrderType::Stop`], but sent as a limit order at the order's price.
    StopLimit {
        /// The trigger price.
        trigger: Price,
    },
}

impl OrderType {
    /// The code persisted for it.
    pub fn code(self) -> i64 {
        match self {
            Self::Limit => 1,
            Self::PostOnly => 2,
            Self::Ioc => 3,
            Self::Market => 4,
            Self::Fok => 5,
            Self::Stop { .. } => 6,
            Self::StopLimit { .. } => 7,
        }
    }

    /// The trigger of a stop order, `None` for the others.
    pub fn trigger(self) -> Option<Price> {
        match self {
            Self::Stop { trigger } | Self::StopLimit { trigger } => Some(trigger),
            _ => None,
        }
    }

    /// Whether it never rests at the venue (what it cannot fill at once ends).
    pub fn is_immediate(self) -> bool {
        matches!(self, Self::Ioc | Self::Market | Self::Fok)
    }
}

/// How one order picks its venue when a run has several (the router's policies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RouteChoice {
    /// As the run says (`engine run --route`).
    #[default]
    Run,
    /// At the venue whose instrument it names.
    Stay,
    /// The best average executable price for its size.
    BestPrice,
    /// The best price net of each venue's fee.
    LowestFee,
    /// Net price with latency and breaker penalties, split across venues.
    Smart,
}

impl std::str::FromStr for RouteChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "run" => Self::Run,
            "stay" => Self::Stay,
            // Both spellings: `--route` says best-price.
            "best_price" | "best-price" => Self::BestPrice,
            "lowest_fee" | "lowest-fee" => Self::LowestFee,
            "smart" => Self::Smart,
            other => {
                return Err(format!("unknown route `{other}` (expected run, stay, best-price, lowest-fee or smart)"));
            }
        })
    }
}

/// The persisted code of a side (1 buy, 2 sell).
pub fn side_code(side: Side) -> i64 {
    match side {
        Side::Buy => 1,
        Side::Sell => 2,
    }
}

/// A new order a strategy wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Size.
    pub qty: Qty,
    /// Execution type.
    pub order_type: OrderType,
    /// The protective stop on the losing side (`Price(0)`: none). Risk requires one on
    /// an order that opens or grows a position; the engine enforces it afterwards.
    pub stop: Price,
}

impl NewOrder {
    /// The stop `bps` basis points from `price` on the losing side of `side` (below a
    /// buy, above a sell), at least one tick away.
    pub fn stop_at_bps(side: Side, price: Price, bps: i64) -> Price {
        let distance = (price.0.saturating_mul(bps) / 10_000).max(1);
        match side {
            Side::Buy => Price(price.0.saturating_sub(distance)),
            Side::Sell => Price(price.0.saturating_add(distance)),
        }
    }

    /// The order a stop becomes when its trigger fires (itself for any other type).
    pub fn triggered(&self) -> NewOrder {
        let order_type = match self.order_type {
            OrderType::Stop { .. } => OrderType::Market,
            OrderType::StopLimit { .. } => OrderType::Limit,
            other => other,
        };
        NewOrder { order_type, ..*self }
    }

    /// Whether a reference price at `price` fires this stop (never for other types).
    pub fn fires_at(&self, price: Price) -> bool {
        self.order_type.trigger().is_some_and(|t| match self.side {
            Side::Buy => price >= t,
            Side::Sell => price <= t,
        })
    }
}

/// A strategy's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Send a new order (already created in the OMS under `id`).
    New {
        /// Its client id.
        id: ClientId,
        /// The order.
        order: NewOrder,
        /// Where it may go, with several venues.
        route: RouteChoice,
    },
    /// Cancel a working order.
    Cancel(ClientId),
    /// Change a working order's price and size (the size includes what is filled).
    Replace {
        /// Its client id.
        id: ClientId,
        /// New limit price.
        price: Price,
        /// New total size.
        qty: Qty,
    },
}

/// Maker or taker on a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liquidity {
    /// Our order was resting.
    Maker,
    /// Our order crossed.
    Taker,
}

/// What a venue said about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    /// Accepted and working.
    Accepted,
    /// Refused by the venue.
    Rejected,
    /// A post-only order refused because it would have taken liquidity when it
    /// arrived: the order is done, and nothing is wrong with the venue (the market
    /// moved while it was on its way). Not a reject for the circuit breaker or the
    /// reject-rate kill switch.
    WouldCross,
    /// (Part of) the order executed.
    Fill {
        /// Execution price.
        price: Price,
        /// Executed size.
        qty: Qty,
        /// Maker or taker.
        liquidity: Liquidity,
        /// The venue's trade id (duplicates are ignored on it).
        trade_id: u64,
        /// Commission in price ticks × size lots (negative: a rebate).
        fee: i64,
    },
    /// Cancelled (on request, or the unfilled rest of an IOC).
    Canceled,
    /// A cancel request was refused (the order is already done).
    CancelRejected,
    /// Ended by the venue without a request (a FOK it could not fill whole).
    Expired,
    /// A replace was applied: the order now works at this price and total size.
    Replaced {
        /// New limit price.
        price: Price,
        /// New total size.
        qty: Qty,
    },
    /// A replace was refused; the order works on unchanged.
    ReplaceRejected,
}

/// An execution report for one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecReport {
    /// Which order.
    pub client_id: ClientId,
    /// What happened.
    pub kind: ExecKind,
    /// Venue time of the event.
    pub ts: u64,
}
