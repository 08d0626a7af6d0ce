//! Venue gateways: how orders reach a venue and how its answers come back.
//!
//! [`VenueGateway`] is what the trading core calls. Two implementations:
//! - [`SimGateway`]: an in-process simulated venue matching against the venue's live
//!   book from the feed (price-time priority with queue position, partial fills,
//!   fees, configurable ack and fill latency and reject probability). The default.
//! - [`WsGateway`]: order entry over a WebSocket to the exchange simulator
//!   (`engine sim`), signed with the account's API secret ([`protocol`]), with
//!   cancel-on-disconnect, resumption of missed reports after a reconnect, and
//!   queries of open orders and positions for reconciliation.
//!
//! Sending never blocks on an answer: answers arrive through [`VenueGateway::poll`].
//! A request whose answer never comes stays pending in the OMS until a query settles
//! it; a gateway never invents an outcome.

pub mod protocol;
mod set;
mod sim;
mod ws;

pub use set::VenueSet;
pub use sim::{SimGateway, SimGatewayConfig};
pub use ws::WsGateway;

use feeds::{
    book::Book,
    event::{InstrumentId, Price, Qty, Side, Trade},
};

use crate::{
    fixed::Bounded,
    order::{ClientId, ExecReport, NewOrder},
};

/// Why a gateway could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The connection to the venue is gone (the request was not sent).
    #[error("venue connection lost: {0}")]
    Disconnected(#[from] feeds::ws::WsError),
    /// The venue refused our login.
    #[error("venue refused the login: {0}")]
    Login(String),
    /// The venue said something this gateway cannot read (cold-path queries).
    #[error("venue protocol: {0}")]
    Protocol(String),
    /// No answer within the time allowed (cold-path queries).
    #[error("no answer from the venue within {0:?}")]
    Timeout(std::time::Duration),
    /// The instrument has no symbol at this venue.
    #[error("instrument {0:?} is not traded at this venue")]
    UnknownInstrument(InstrumentId),
    /// An order type a venue never sees (a stop: the engine holds it).
    #[error("a stop order never goes to a venue; the engine triggers it")]
    StopAtVenue,
    /// A reconnect is being made off the hot core; a later
    /// [`VenueGateway::reconnect`] logs in on it.
    #[error("reconnecting to the venue")]
    Connecting,
    /// A reconnect found the venue unreachable.
    #[error("venue unreachable: {0}")]
    Unreachable(String),
}

/// An order the venue says is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueOrder {
    /// Its client id.
    pub id: ClientId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Total size.
    pub qty: Qty,
    /// Executed so far.
    pub filled: i64,
}

/// A position the venue holds for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenuePosition {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Signed size.
    pub net: i64,
    /// Average entry price (0 when flat).
    pub avg_price: i64,
}

/// What a gateway counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GatewayCounters {
    /// Requests refused for the venue's rate limit (they feed the circuit breaker).
    pub rate_limited: u64,
    /// Venue messages that could not be read (each counted, none applied).
    pub bad_messages: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Reports the venue sent again after a reconnect that had already arrived.
    pub duplicates_dropped: u64,
    /// Reports that skipped sequence numbers (one or more reports lost, or a bad
    /// number): not applied; the connection is dropped, and the reconnect asks the
    /// venue for everything after the last report applied.
    pub sequence_gaps: u64,
    /// Answers lost to a full buffer (a sizing bug; the run reports it).
    pub lost_answers: u64,
    /// Settle questions (which orders do you hold?) given up for no answer in time;
    /// their late answers are recognised and dropped.
    pub unanswered_questions: u64,
    /// Numbered reports that took their place in the sequence without being applied
    /// (unreadable, or a fill or replace naming another symbol than its order's):
    /// each may have moved a position the engine then does not know.
    pub unapplied_reports: u64,
}

/// A venue's order entry, as the trading core sees it.
pub trait VenueGateway: Send + std::fmt::Debug {
    /// Sends a new order. `book` is the venue's live book of the order's instrument:
    /// a simulated venue matches against it; a real one ignores it.
    ///
    /// # Errors
    /// Not sent (the order's outcome stays unknown until reconciled).
    fn submit(&mut self, id: ClientId, order: &NewOrder, book: &Book, now: u64) -> Result<(), GatewayError>;

    /// Asks to cancel an order of `instrument` (its instrument names its venue, for
    /// a gateway that speaks to several).
    ///
    /// # Errors
    /// Not sent.
    fn cancel(&mut self, id: ClientId, instrument: InstrumentId, now: u64) -> Result<(), GatewayError>;

    /// Asks to change an order's price and total size.
    ///
    /// # Errors
    /// Not sent.
    fn replace(
        &mut self,
        id: ClientId,
        instrument: InstrumentId,
        terms: (Price, Qty),
        book: &Book,
        now: u64,
    ) -> Result<(), GatewayError>;

    /// A market trade at this venue (a simulated venue fills resting orders on it).
    fn on_trade(&mut self, _trade: &Trade, _now: u64) {}

    /// Moves the answers that have arrived by `now` into `out` (as many as fit; the
    /// rest wait for the next call).
    ///
    /// # Errors
    /// The connection is gone.
    fn poll(&mut self, now: u64, out: &mut Bounded<ExecReport>) -> Result<(), GatewayError>;

    /// The orders the venue holds open for us (cold path: may wait for an answer).
    ///
    /// # Errors
    /// No answer, or one that cannot be read.
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, GatewayError>;

    /// The orders venue `venue` holds open for us, for a gateway that speaks to
    /// several: one venue down does not keep the others from being asked (a gateway
    /// for one venue: all its orders).
    ///
    /// # Errors
    /// As [`VenueGateway::open_orders`].
    fn open_orders_at(&mut self, _venue: usize) -> Result<Vec<VenueOrder>, GatewayError> {
        self.open_orders()
    }

    /// Asks venue `venue` which orders it holds open for us, without waiting for
    /// the answer where it has to travel: `Ok(Some(orders))` when answered at once
    /// (an in-process venue), `Ok(None)` when asked, its answer to be taken with
    /// [`VenueGateway::open_orders_answer`]. A gateway whose answer travels keeps it
    /// in its place among the venue's other answers: every report the venue sent
    /// before it comes through [`VenueGateway::poll`] first, and none after it until
    /// the answer is taken (an answer given at once: the caller polls first).
    ///
    /// # Errors
    /// As [`VenueGateway::open_orders`]; a question already out to that venue.
    fn ask_open_orders(&mut self, venue: usize) -> Result<Option<Vec<VenueOrder>>, GatewayError> {
        self.open_orders_at(venue).map(Some)
    }

    /// The answer to [`VenueGateway::ask_open_orders`] of venue `venue`, once it has
    /// come, or failed (no answer in time, the connection lost, an error in its
    /// place, an answer that cannot be read). A question given up on is not
    /// forgotten: its answer, when it comes, is dropped, never taken for a later
    /// question's. `None` while it is awaited, or when nothing was asked.
    fn open_orders_answer(&mut self, _venue: usize) -> Option<Result<Vec<VenueOrder>, GatewayError>> {
        None
    }

    /// The venue's positions for us (cold path).
    ///
    /// # Errors
    /// As [`VenueGateway::open_orders`].
    fn positions(&mut self) -> Result<Vec<VenuePosition>, GatewayError>;

    /// Whether the connection is up (as far as the last call knew).
    fn is_connected(&self) -> bool {
        true
    }

    /// Whether the connection to venue `venue` is up (a gateway for one venue: the
    /// connection).
    fn venue_connected(&self, _venue: usize) -> bool {
        self.is_connected()
    }

    /// Whether answers already made are on their way (a query now could race them).
    fn answers_in_flight(&self) -> bool {
        false
    }

    /// Moves a reconnect on after a lost connection (a real venue replays what was
    /// missed). A gateway that connects off the hot core starts the connection and
    /// answers [`GatewayError::Connecting`] until it is made and its login answered
    /// (each call looks, none waits).
    ///
    /// # Errors
    /// Still connecting, unreachable, or the login failed.
    fn reconnect(&mut self) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Whether a reconnect is under way (a connection being made off the hot core,
    /// or a login sent and not yet answered): call [`VenueGateway::reconnect`]
    /// again soon for its outcome.
    fn is_reconnecting(&self) -> bool {
        false
    }

    /// Reliability tests: a simulated venue rejects every new order after `orders`
    /// more; `false` where that cannot be injected (a real venue).
    fn inject_rejects_after(&mut self, _orders: u64) -> bool {
        false
    }

    /// What it counted.
    fn counters(&self) -> GatewayCounters {
        GatewayCounters::default()
    }

    /// [`GatewayCounters::unapplied_reports`] alone: the trading core asks on
    /// every tick.
    fn unapplied_reports(&self) -> u64 {
        0
    }
}
