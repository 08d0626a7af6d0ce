//! The fused hot stage: feed decode → L2 books → strategy → risk → OMS → venue
//! gateway, called directly on one core (no ring hop between them), stamping each
//! hop into pre-sized histograms and handing every record to the cold core's ring.
//! Nothing here allocates after construction, locks or does I/O.
//!
//! This file holds the stage and its market-data side (frames, books, trades). The
//! rest of `impl Pipeline` is split by concern: `orders` (intents to the gateway),
//! `executions` (answers and fills), `safety` (the kill switch and the per-tick
//! checks) and `venue_link` (breakers, reconnects, timeouts, settling).

mod executions;
mod latency;
mod orders;
mod safety;
mod sink;
mod venue_link;
mod venues;

pub use latency::{Hop, HopRecorder, Latencies, Percentiles, hgrm};
pub use sink::{PersistGone, RecordSink};
pub use venues::{Decoders, KRAKEN_DEPTH, VenueLayout, book_depth, instrument_labels, subscribed_depth, venue_symbol};

use feeds::{
    DecodeError, Events,
    book::Book,
    event::{Event, FeedStatus, InstrumentId, Price, StatusKind, Trade, UnixNanos, Venue},
};
use persist::record::{BookTopFields, FillFields, OrderFields, PositionFields, RiskFields, TradeFields};

use crate::{
    cli::MismatchPolicy,
    clock::Clock,
    fixed::Bounded,
    gateway::{SimGateway, SimGatewayConfig, VenueGateway},
    oms::{Oms, OmsError, Order, OrderEvent, OrderState},
    order::{ExecKind, ExecReport, Intent, Liquidity, NewOrder, RouteChoice, side_code},
    risk::{
        BreakerConfig, CircuitBreaker, Decision, Exposure, KillLimits, KillSwitch, RearmPlan, Reject, Risk, RiskInputs,
        RiskLimits, TradingState, Trip, TripReason,
    },
    sim::MAX_SWEEP,
    strategy::{Ctx, Market, Strategy, StrategyConfig},
};

/// Feed-status events are journaled as audit records with code `FEED_STATUS + kind`
/// (171 connected … 175 stale).
pub const FEED_STATUS: u16 = 170;
/// A router's child order is journaled as an audit record with this code: its size,
/// the parent's limit (as the price: the router looks only at levels within it),
/// its venue (as the limit) and the average price the router expected there (as
/// observed). The child's own terms are in its order events.
pub const ROUTED: u16 = 180;

/// Audit codes of the cold core falling behind (records held on the hot core, the
/// backlog policy applied) and of it catching up (the hold lifted).
pub const PERSIST_BEHIND: u16 = 185;
/// See [`PERSIST_BEHIND`].
pub const PERSIST_CAUGHT_UP: u16 = 186;

/// The risk-event code of a stop-out (beside the trips' 100+ codes).
pub const STOP_OUT: u16 = 160;
/// Trade ids remembered per instrument to drop a repeated trade frame.
const RECENT_TRADES: usize = 16;
/// How long a book's last valid top still judges prints while the book resyncs: a
/// resync takes milliseconds; a book down longer may no longer say where the
/// market is.
const LAST_TOP_TRUSTED_NS: u64 = 1_000_000_000;
/// Instruments one fused stage can carry (a bit each in the changed-books mask).
pub const MAX_INSTRUMENTS: usize = 64;

/// Bits `0..venues` set: every venue of a run (at most 64, as instruments are).
fn venue_bits(venues: usize) -> u64 {
    if venues >= 64 { u64::MAX } else { (1u64 << venues) - 1 }
}

/// Why re-arming was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RearmError {
    /// The kill switch has not tripped.
    #[error("the kill switch is armed: nothing to re-arm")]
    NotTripped,
    /// Records can no longer be kept: the engine is stopping.
    #[error("persistence is gone: the engine must stop")]
    PersistGone,
    /// A venue over-filled us: positions must be reconciled first.
    #[error("an over-fill halted trading: reconcile positions with the venue and restart")]
    OverFill,
}

/// Why the stage stopped trading by itself. Sticky: only an operator re-arms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Halt {
    /// The cold core stopped draining records: the engine must stop.
    #[error(transparent)]
    PersistGone(#[from] PersistGone),
    /// A venue filled more than we ordered.
    #[error("kill switch: {0}")]
    OverFill(OmsError),
    /// A kill-switch condition: trading halted, working orders cancelled, the engine
    /// keeps running (books, status) until stopped.
    #[error("kill switch: {} (limit {}, observed {})", .0.reason.name(), .0.limit, .0.observed)]
    KillSwitch(Trip),
}

impl Halt {
    /// Whether the engine must stop (rather than run on, halted).
    pub fn must_stop(&self) -> bool {
        matches!(self, Self::PersistGone(_))
    }
}

/// Counters the live status and the final report show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Frames received.
    pub frames: u64,
    /// Events decoded.
    pub events: u64,
    /// Frames that failed to decode (counted, skipped).
    pub decode_errors: u64,
    /// Venue answers refusing one of our requests (a subscription): the books it
    /// covers cannot sync. Not decode errors: the frames were well formed.
    pub refused_requests: u64,
    /// Sequence gaps detected (book invalidated until a snapshot).
    pub gaps: u64,
    /// Book updates dropped as already applied (a repeat, or one older than the book).
    pub stale_updates: u64,
    /// Trades dropped as repeats (a trade id among the instrument's recent ones).
    pub duplicate_trades: u64,
    /// Trades printed outside the collar around a valid book's mid: journaled as
    /// the feed said, but no stop fires on them and no quote is matched by them.
    pub off_market_trades: u64,
    /// Snapshots applied.
    pub resyncs: u64,
    /// Book updates refused (full depth, crossed).
    pub book_errors: u64,
    /// Book updates after which the venue's checksum (OKX, Kraken) and the book's
    /// disagreed (book invalidated until a snapshot).
    pub checksum_mismatches: u64,
    /// Orders handed to the venue gateway.
    pub orders: u64,
    /// Cancels sent.
    pub cancels: u64,
    /// Fills applied.
    pub fills: u64,
    /// Orders refused by pre-trade risk.
    pub risk_rejects: u64,
    /// Orders refused by the venue.
    pub venue_rejects: u64,
    /// Post-only orders the venue refused because they would have crossed (the
    /// market moved while they were on their way; not counted in `venue_rejects`).
    pub would_cross: u64,
    /// Venue answers the OMS refused (unknown order, bad transition, duplicate fill).
    pub oms_errors: u64,
    /// Feed connections lost (books invalid until resynced).
    pub disconnects: u64,
    /// Operator re-arms of the kill switch.
    pub rearms: u64,
    /// Re-arm requests refused (nothing tripped, or a halt that cannot be cleared).
    pub rearms_refused: u64,
    /// Orders sent to flatten positions after a trip.
    pub flatten_orders: u64,
    /// Cancels the cancel throttle held back (sent later, never dropped).
    pub cancels_deferred: u64,
    /// Positions closed because the touch crossed their stop.
    pub stop_outs: u64,
    /// Stop orders whose trigger a trade crossed.
    pub stops_triggered: u64,
    /// Replace requests sent to the venue.
    pub replaces: u64,
    /// Orders the router placed (one per child; with one venue, none).
    pub routed_children: u64,
    /// Requests the venue gateway could not send, or answers it could not receive.
    pub gateway_errors: u64,
    /// Venue connections re-established.
    pub venue_reconnects: u64,
    /// Refusals of a cancel or replace that arrived after the order had finished.
    pub late_answers: u64,
    /// Orders settled by querying the venue after a reconnect.
    pub settled: u64,
    /// Our resting orders cancelled to let a new order through (`--self-trade
    /// cancel-resting`).
    pub self_trade_cancels: u64,
    /// Requests found unanswered past `--ack-timeout` (each then settled by asking
    /// the venue).
    pub ack_timeouts: u64,
    /// Feed-status events by kind: connected, disconnected, gap detected, resynced,
    /// stale.
    pub feed_status: [u64; 5],
}

/// What the fused stage is built from.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Venue symbols with their price and size scales; ids follow this order. With
    /// several venues, each venue's symbols in turn (the same symbols at each: see
    /// [`VenueLayout`]).
    pub instruments: Vec<(String, u8, u8)>,
    /// Venues (one feed and one order entry each).
    pub venues: usize,
    /// Each simulated venue's own settings (fees, reject rate), where they differ
    /// from `venue`; the router counts each venue's fees. Missing entries take
    /// `venue`.
    pub venue_configs: Vec<SimGatewayConfig>,
    /// The strategy.
    pub strategy: StrategyConfig,
    /// Pre-trade limits: the account's, and every instrument's and venue's unless
    /// below. Notionals in the account's money unit (see [`crate::risk::money_scale`]).
    pub limits: RiskLimits,
    /// Per instrument id, its own limits (missing: the account's). Their `money`
    /// factor is set from the instruments' scales.
    pub instrument_limits: Vec<crate::risk::InstrumentLimits>,
    /// Per venue, its own message rates (missing: the account's).
    pub venue_rates: Vec<crate::risk::VenueRates>,
    /// Kill-switch trip limits.
    pub kill: KillLimits,
    /// The simulated venue (fees, latency, random rejects).
    pub venue: SimGatewayConfig,
    /// Live orders the OMS can hold.
    pub order_capacity: usize,
    /// The top bits of this run's client ids (0 with the simulated venue, which
    /// starts empty every run; distinct per run against a venue that does not).
    pub client_id_epoch: u16,
    /// Book depth per side.
    pub book_depth: usize,
    /// The venue's circuit breaker.
    pub breaker: BreakerConfig,
    /// On a kill-switch trip, after cancelling, close every position with IOC orders
    /// at the touch (reduce-only).
    pub flatten_on_trip: bool,
    /// What an order that would trade with one of our own does.
    pub self_trade: SelfTradeMode,
    /// A request unanswered this long (ns) makes the engine ask the venue (0: never).
    pub ack_timeout_ns: u64,
    /// A live feed silent this long (ns) is stale (0: never).
    pub feed_stale_ns: u64,
    /// How crossing orders pick their venue when there are several (`None`: each
    /// stays at the venue whose book the strategy traded on).
    pub route: Option<crate::route::Policy>,
    /// What trading does while the cold core is behind and records are held.
    pub on_persist_backlog: BacklogPolicy,
    /// What trading does when a position may have moved unseen: a start-up
    /// mismatch with the journal, or a venue report that could not be applied.
    pub on_mismatch: MismatchPolicy,
    /// Whose message format every feed speaks (its decoder and sequencing rules):
    /// any of the five venues.
    pub dialect: Venue,
}

/// What trading does while the cold core is behind (`--on-persist-backlog`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BacklogPolicy {
    /// Reduce-only until the backlog is journaled, then trading resumes by itself.
    #[default]
    ReduceOnly,
    /// Trip the kill switch (orders cancelled; an operator re-arms).
    Halt,
}

/// Self-trade prevention (`--self-trade`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SelfTradeMode {
    /// Refuse the new order (`self_trade`).
    #[default]
    Reject,
    /// Cancel our resting orders it would cross, then send it.
    CancelResting,
}

/// The signed notional of the other open positions whose returns correlate with
/// instrument `i`'s at or beyond `cap` (an anti-correlated one counts with its sign
/// flipped). Unknown correlations (no snapshot yet, a publish racing the read) count
/// as none.
fn correlated_with(
    i: usize,
    snapshot: &crate::risk::CorrelationSnapshot,
    row: &mut [i32],
    oms: &Oms,
    marks: &[i64],
    money: &[i128],
    cap: i32,
) -> i128 {
    let others_open = marks.iter().enumerate().any(|(j, _)| j != i && oms.position(InstrumentId(j as u32)).net != 0);
    if !others_open || !snapshot.row_into(i, row) {
        return 0;
    }
    let mut sum = 0i128;
    for (j, (rho, mark)) in row.iter().zip(marks).enumerate() {
        let net = oms.position(InstrumentId(j as u32)).net;
        if j == i || net == 0 || rho.abs() < cap {
            continue;
        }
        let factor = money.get(j).copied().unwrap_or(1);
        sum += i128::from(rho.signum()) * i128::from(net) * i128::from(*mark) * factor;
    }
    sum
}

/// The fused hot stage.
#[derive(Debug)]
pub struct Pipeline {
    decoders: Decoders,
    layout: VenueLayout,
    events: Events,
    books: Vec<Book>,
    book_ts: Vec<u64>,
    /// Each book's venue sequencing (Binance's `U`/`u` chain, Bybit's `u`, OKX's
    /// `prevSeqId`/`seqId` and checksum).
    sequencers: Vec<feeds::sequencer::Sequencer>,
    /// Each book's (price, size) decimals, for the venue checksums.
    scales: Vec<(u8, u8)>,
    /// Whose message format the feeds speak (and what records name as the venue).
    dialect: Venue,
    /// The depth the venue holds our books at, trimmed to after each update
    /// (Kraken's), looked up once here rather than per update.
    trim_to: Option<usize>,
    /// Books in the middle of a multi-delta update the sequencer already accepted.
    mid_update: u64,
    needs_snapshot: u64,
    last_trade: Vec<Option<Price>>,
    /// Per instrument, its last trade ids (a ring; 0 is empty): a repeated frame is
    /// dropped rather than journaled, matched and fired on twice.
    recent_trades: Vec<[u64; RECENT_TRADES]>,
    /// Per instrument, the last top of its book while valid (bid, size, ask, size).
    last_top: Vec<[i64; 4]>,
    strategy: Box<dyn Strategy>,
    risk: Risk,
    oms: Oms,
    venue: Box<dyn VenueGateway>,
    /// When a lost venue connection was last retried (ns).
    last_reconnect: u64,
    /// When settling with the venues in `unsettled` was last tried (ns).
    last_settle: u64,
    /// Venues (bit `v`) whose order entry was up at the last look.
    entry_up: u64,
    /// Venues whose order entry is back but whose waiting orders are not yet
    /// settled: new orders there are refused until they are.
    unsettled: u64,
    /// Venues (bit `v`) asked which orders they hold, their answers not taken yet.
    asking: u64,
    /// The orders waiting on each venue in `asking` when it was asked.
    questions: Vec<venue_link::Asked>,
    /// Since when every venue has been unusable (0: one is usable).
    venue_down_since: u64,
    /// Reduce-only since a start-up reconciliation mismatch or an unapplied venue
    /// report (until re-armed).
    reconcile_hold: bool,
    on_mismatch: MismatchPolicy,
    /// The venue's count of unapplied reports when last looked at.
    unapplied_seen: u64,
    /// While records are held for a cold core that is behind: whether the hold
    /// itself made trading reduce-only (and so may lift it). A trip, a re-arm or a
    /// start-up reconciliation since then decides the state instead.
    persist_hold: Option<bool>,
    on_persist_backlog: BacklogPolicy,
    self_trade: SelfTradeMode,
    ack_timeout_ns: u64,
    /// When overdue answers were last looked for (ns).
    last_ack_check: u64,
    feed_stale_ns: u64,
    /// Venues (a bit each) reported stale, and not heard from since.
    feed_stale: u64,
    /// Each venue's last event time (with one venue, `last_event` serves).
    venue_last: Vec<u64>,
    /// The first tick's time (a feed that never sends is measured from it).
    first_tick: u64,
    /// One circuit breaker per venue (shared: the cold core reads and reconfigures them).
    breakers: Vec<std::sync::Arc<CircuitBreaker>>,
    intents: Bounded<Intent>,
    /// The intents being sent while the strategy may add new ones to `intents`.
    sending: Bounded<Intent>,
    reports: Bounded<ExecReport>,
    sink: RecordSink,
    latency: HopRecorder,
    counters: Counters,
    /// The last request the gateway could not send, and why (kept only when its
    /// kind changes: a disconnected venue fails every order alike).
    last_gateway_error: Option<(std::mem::Discriminant<crate::gateway::GatewayError>, String)>,
    last_decode_error: Option<DecodeError>,
    halt: Option<Halt>,
    last_event: u64,
    kill: KillSwitch,
    /// When each instrument's book became invalid (0: valid).
    invalid_since: Vec<u64>,
    /// A trip happened mid-frame: cancel everything once the frame is done.
    cancel_pending: bool,
    /// Exposure and equity as of the last mark to market.
    exposure: Exposure,
    /// Each instrument's mid as of the last mark (0: no book).
    marks: Vec<i64>,
    flatten_on_trip: bool,
    /// Sending emergency messages (cancel-all, flattening after a trip): cancels skip
    /// the throttle, orders are checked reduce-only though halted.
    emergency: bool,
    /// Cancels the throttle held back, sent as tokens come (never dropped: a dropped
    /// cancel would leave an order working that its strategy has forgotten).
    deferred_cancels: Bounded<crate::order::ClientId>,
    /// The spare buffer `deferred_cancels` swaps with while retrying.
    retrying: Bounded<crate::order::ClientId>,
    /// Orders `flatten` made, the only ones checked as a flatten.
    flatten_ids: Bounded<crate::order::ClientId>,
    /// Orders the breaker admitted as half-open probes, awaiting their venue answer.
    probe_ids: Bounded<crate::order::ClientId>,
    /// Fills moved positions since the last mark to market.
    exposure_stale: bool,
    /// Each position's protective stop price (0: none).
    stops: Vec<i64>,
    /// Return correlations the cold core publishes; read one row per order.
    correlations: std::sync::Arc<crate::risk::CorrelationSnapshot>,
    /// The row being read (pre-sized: reading allocates nothing).
    correlation_row: Vec<i32>,
    /// The router's policy, with several venues.
    route: Option<crate::route::Policy>,
    /// The last routing decision (kept: it is a few hundred bytes, built in place).
    decision: crate::route::Route,
    /// Each venue's measured ack latency, for SmartRoute.
    ack_latency: Vec<crate::route::AckLatency>,
    /// Each venue's fees, for the router.
    fees: Vec<crate::sim::FeeSchedule>,
    /// Per instrument: ticks × lots to the account's money unit.
    money: Vec<i128>,
}

impl Pipeline {
    /// Builds the stage, allocating everything it will ever use. Its clock starts
    /// at the first event it sees (event time), so live runs and replays agree.
    pub fn new(config: &PipelineConfig, sink: RecordSink) -> Self {
        let n = config.instruments.len().min(MAX_INSTRUMENTS);
        let layout = VenueLayout::of(config);
        let sim = |v: usize| {
            let own = config.venue_configs.get(v).copied().unwrap_or(config.venue);
            SimGateway::new(
                config.order_capacity,
                n,
                SimGatewayConfig { seed: config.venue.seed.wrapping_add(v as u64), ..own },
            )
        };
        let venue: Box<dyn VenueGateway> = if layout.venues == 1 {
            Box::new(sim(0))
        } else {
            let venues = (0..layout.venues).map(|v| Box::new(sim(v)) as Box<dyn VenueGateway>).collect();
            Box::new(crate::gateway::VenueSet::new(venues, layout))
        };
        Self::with_gateway(config, sink, venue)
    }

    /// The stage, sending orders through `venue` instead of the simulated venue.
    pub fn with_gateway(config: &PipelineConfig, sink: RecordSink, venue: Box<dyn VenueGateway>) -> Self {
        let n = config.instruments.len().min(MAX_INSTRUMENTS);
        let (_, money) = crate::risk::money_scale(config.instruments.iter().take(n).map(|(_, p, q)| (*p, *q)));
        let mut risk = Risk::new(config.limits, 0);
        for (i, factor) in money.iter().enumerate() {
            let own = config.instrument_limits.get(i).copied().unwrap_or(config.limits.instrument);
            risk.set_instrument(i, crate::risk::InstrumentLimits { money: *factor, ..own }, 0);
        }
        for (v, rates) in config.venue_rates.iter().enumerate() {
            risk.set_venue(v, *rates, 0);
        }
        Self {
            decoders: Decoders::new(config),
            layout: VenueLayout::of(config),
            events: Events::with_capacity(256),
            // One by one: a cloned Book would lose its reserved capacity and grow,
            // allocating, on the hot path.
            books: (0..n).map(|_| Book::with_depth(config.book_depth)).collect(),
            book_ts: vec![0; n],
            sequencers: vec![feeds::sequencer::Sequencer::new(config.dialect); n],
            scales: config.instruments.iter().map(|(_, p, q)| (*p, *q)).collect(),
            dialect: config.dialect,
            trim_to: subscribed_depth(config.dialect),
            mid_update: 0,
            needs_snapshot: if n == 64 { u64::MAX } else { (1u64 << n) - 1 },
            last_trade: vec![None; n],
            recent_trades: vec![[0; RECENT_TRADES]; n],
            last_top: vec![[0; 4]; n],
            strategy: crate::strategy::build(&config.strategy, n, VenueLayout::of(config).per_venue),
            risk,
            oms: Oms::new(config.order_capacity, n).with_epoch(config.client_id_epoch).with_money(&money),
            venue,
            last_reconnect: 0,
            last_settle: 0,
            entry_up: venue_bits(VenueLayout::of(config).venues),
            unsettled: 0,
            asking: 0,
            questions: Vec::new(),
            venue_down_since: 0,
            reconcile_hold: false,
            on_mismatch: config.on_mismatch,
            unapplied_seen: 0,
            persist_hold: None,
            on_persist_backlog: config.on_persist_backlog,
            self_trade: config.self_trade,
            ack_timeout_ns: config.ack_timeout_ns,
            last_ack_check: 0,
            feed_stale_ns: config.feed_stale_ns,
            feed_stale: 0,
            venue_last: vec![0; VenueLayout::of(config).venues],
            first_tick: 0,
            breakers: (0..VenueLayout::of(config).venues)
                .map(|_| std::sync::Arc::new(CircuitBreaker::new(&config.breaker)))
                .collect(),
            intents: Bounded::with_capacity(64),
            sending: Bounded::with_capacity(64),
            // Room for every report one round of intents can make (an order sweeping
            // the book makes one fill per level), and for resting fills besides.
            reports: Bounded::with_capacity(4 * config.order_capacity.max(16) + 64 * (MAX_SWEEP + 2)),
            sink,
            latency: HopRecorder::new(),
            counters: Counters::default(),
            last_gateway_error: None,
            last_decode_error: None,
            halt: None,
            last_event: 0,
            kill: KillSwitch::new(config.kill),
            invalid_since: vec![0; n],
            cancel_pending: false,
            exposure: Exposure { equity: config.kill.equity, ..Exposure::default() },
            marks: vec![0; n],
            flatten_on_trip: config.flatten_on_trip,
            emergency: false,
            deferred_cancels: Bounded::with_capacity(config.order_capacity.max(16)),
            retrying: Bounded::with_capacity(config.order_capacity.max(16)),
            flatten_ids: Bounded::with_capacity(MAX_INSTRUMENTS),
            probe_ids: Bounded::with_capacity(64),
            exposure_stale: false,
            stops: vec![0; n],
            correlations: std::sync::Arc::new(crate::risk::CorrelationSnapshot::new(n)),
            correlation_row: vec![0; n],
            route: config.route.filter(|_| VenueLayout::of(config).venues > 1),
            decision: crate::route::Route::default(),
            ack_latency: vec![crate::route::AckLatency::default(); VenueLayout::of(config).venues],
            fees: (0..VenueLayout::of(config).venues)
                .map(|v| config.venue_configs.get(v).map_or(config.venue.fees, |c| c.fees))
                .collect(),
            money,
        }
    }

    /// Instruments whose book needs a snapshot (bit per id); the caller fetches them
    /// and calls [`Pipeline::on_snapshot`].
    pub fn snapshot_requests(&self) -> u64 {
        self.needs_snapshot
    }

    /// Applies a snapshot (its `BookDelta` events) for one instrument.
    pub fn on_snapshot(&mut self, instrument: InstrumentId, events: &Events, now: u64) {
        let i = instrument.0 as usize;
        let (Some(book), Some(seq)) = (self.books.get_mut(i), self.sequencers.get_mut(i)) else { return };
        for e in events.as_slice() {
            if let Event::BookDelta(d) = e
                && d.instrument == instrument
            {
                if book.apply(d).is_err() {
                    self.counters.book_errors += 1;
                }
                if d.is_last() {
                    seq.resync(d.last_seq);
                }
            }
        }
        self.mid_update &= !(1u64 << i);
        if book.is_valid() {
            let resynced = seq.last();
            self.needs_snapshot &= !(1u64 << i);
            self.feed_status(StatusKind::Resynced, instrument, (resynced, 0), now);
            if let Some(since) = self.invalid_since.get_mut(i) {
                *since = 0;
            }
            self.counters.resyncs += 1;
            if let Some(ts) = self.book_ts.get_mut(i) {
                *ts = now;
            }
        } else {
            seq.invalidate();
        }
    }

    /// Processes one frame from `venue`'s feed received at `ts_recv`.
    ///
    /// Decisions use event time: `ts_recv` is "now" for the strategy, risk, the OMS and
    /// every record, so a replay of the same frames makes the same decisions. Latency
    /// is measured on `clock` from `arrived` (in a live run the frame's due time; in a
    /// replay, when the replay feed handed it over).
    pub fn on_frame(&mut self, venue: usize, frame: &[u8], ts_recv: u64, arrived: u64, clock: &impl Clock) {
        self.events.clear();
        if let Err(e) = self.decoders.decode(venue, frame, UnixNanos(ts_recv), &mut self.events) {
            self.on_decode_error(venue, ts_recv, Some(e));
            return;
        }
        self.heard(venue, ts_recv);
        let t_parse = clock.now_ns();
        self.latency.record(Hop::Parse, t_parse.saturating_sub(arrived));
        self.run_events(ts_recv, arrived, t_parse, clock);
    }

    /// A frame from `venue` that failed to decode (on this stage, or on a feed stage
    /// upstream).
    pub fn on_decode_error(&mut self, venue: usize, ts_recv: u64, error: Option<DecodeError>) {
        self.heard(venue, ts_recv);
        self.counters.frames += 1;
        self.last_event = self.last_event.max(ts_recv);
        if error.is_some_and(|e| e.kind == feeds::DecodeErrorKind::Refused) {
            self.counters.refused_requests += 1;
            return;
        }
        self.counters.decode_errors += 1;
        if error.is_some() {
            self.last_decode_error = error;
        }
    }

    /// The buffer a feed stage on another core fills with one frame's decoded events
    /// before [`Pipeline::on_decoded`].
    pub fn decoded_events(&mut self) -> &mut Events {
        &mut self.events
    }

    /// Processes a frame from `venue` that a feed stage on another core decoded into
    /// [`Pipeline::decoded_events`]: `arrived` and `parsed` are that core's stamps (one
    /// shared clock), `popped` when this core took the events off the ring.
    pub fn on_decoded(
        &mut self,
        venue: usize,
        ts_recv: u64,
        (arrived, parsed, popped): (u64, u64, u64),
        clock: &impl Clock,
    ) {
        self.heard(venue, ts_recv);
        self.latency.record(Hop::Parse, parsed.saturating_sub(arrived));
        self.latency.record(Hop::Ring, popped.saturating_sub(parsed));
        self.run_events(ts_recv, arrived, popped, clock);
    }

    /// Books, strategy, risk and routing for the events in `self.events`; `t_parse`
    /// is when they became available to this core.
    fn run_events(&mut self, ts_recv: u64, arrived: u64, t_parse: u64, clock: &impl Clock) {
        self.counters.frames += 1;
        self.last_event = self.last_event.max(ts_recv);
        let fills_before = self.counters.fills;
        self.counters.events += self.events.len() as u64;

        let mut changed = 0u64;
        for n in 0..self.events.len() {
            let Some(event) = self.events.as_slice().get(n).copied() else { break };
            match event {
                Event::BookDelta(d) => changed |= self.apply_delta(&d, ts_recv),
                Event::Trade(t) => self.on_trade(&t, ts_recv),
                Event::Bbo(_) => {}
                // A status from the feed layer: journaled like the pipeline's own.
                Event::Status(st) => self.record_status(&st),
            }
        }
        let t_book = clock.now_ns();
        self.latency.record(Hop::Book, t_book.saturating_sub(t_parse));
        self.retry_deferred_cancels(ts_recv);
        self.handle_reports(ts_recv);
        if changed != 0 || !self.intents.is_empty() {
            let mut bits = changed;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                self.record_top(i, ts_recv);
                let Some(book) = self.books.get(i) else { continue };
                let market = Market {
                    instrument: InstrumentId(i as u32),
                    book,
                    last_trade: self.last_trade.get(i).copied().flatten(),
                };
                let mut ctx = Ctx::new(ts_recv, &mut self.oms, &mut self.intents);
                self.strategy.on_book(&market, &mut ctx);
            }
            let t_strategy = clock.now_ns();
            self.latency.record(Hop::Strategy, t_strategy.saturating_sub(t_book));
            self.send_intents(ts_recv, arrived, clock);
        }
        // Stops: a position whose stop the touch has crossed is closed now.
        let mut bits = changed;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            self.enforce_stop(i, ts_recv);
        }
        // Kill-switch conditions, on event time so replays trip where the run did.
        if changed != 0 || self.counters.fills != fills_before {
            self.check_pnl(self.counters.fills != fills_before);
        }
        self.check_stale(ts_recv);
        self.finish_trip(ts_recv);
    }

    fn apply_delta(&mut self, d: &feeds::event::BookDelta, ts_recv: u64) -> u64 {
        use feeds::sequencer::Verdict;
        let i = d.instrument.0 as usize;
        let bit = 1u64 << i;
        let (Some(book), Some(seq)) = (self.books.get_mut(i), self.sequencers.get_mut(i)) else { return 0 };
        // The sequencer judges an update by its first delta; the rest of an accepted
        // update follows it.
        let verdict = if self.mid_update & bit != 0 { Verdict::Apply } else { seq.check(d) };
        match verdict {
            Verdict::Apply | Verdict::Resync => {}
            Verdict::Stale => {
                self.counters.stale_updates += 1;
                return 0;
            }
            Verdict::Waiting => return 0,
            Verdict::Gap { expected, got } => {
                self.counters.gaps += 1;
                book.invalidate();
                self.needs_snapshot |= bit;
                let gap = (expected.saturating_sub(1), got);
                self.feed_status(StatusKind::GapDetected, d.instrument, gap, ts_recv);
                return 0;
            }
        }
        if book.apply(d).is_err() {
            self.counters.book_errors += 1;
            self.mid_update &= !bit;
            if !d.is_snapshot() {
                // A book that would cross has lost its integrity as surely as one with
                // a missing update: reported the same way, then resynced.
                let at = (seq.last(), d.last_seq);
                seq.invalidate();
                self.needs_snapshot |= bit;
                self.feed_status(StatusKind::GapDetected, d.instrument, at, ts_recv);
            }
            return 0;
        }
        if !d.is_last() {
            self.mid_update |= bit;
            return 0;
        }
        self.mid_update &= !bit;
        if let Some(depth) = self.trim_to {
            // Before the checksum, as Kraken's documentation orders it.
            book.trim_to(depth);
        }
        if d.checksum().is_some() {
            // The venue's precision is taken to be the book's scale: true of the
            // simulator; a live Kraken pair needs `--scales` set as Kraken quotes it.
            let scale = self.scales.get(i).copied().unwrap_or_default();
            if seq.verify(d, book, scale, scale).is_err() {
                // The update, and the checksum the venue sent for it.
                let at = (d.last_seq, u64::from(d.checksum().unwrap_or(0)));
                self.counters.checksum_mismatches += 1;
                book.invalidate();
                self.needs_snapshot |= bit;
                self.feed_status(StatusKind::GapDetected, d.instrument, at, ts_recv);
                return 0;
            }
        }
        if let Some(ts) = self.book_ts.get_mut(i) {
            *ts = ts_recv;
        }
        if !book.is_valid() {
            return 0;
        }
        if d.is_snapshot() {
            // In-stream snapshots (a WebSocket feed's partial depth) resync the book.
            let resynced = self.needs_snapshot & bit != 0;
            if resynced {
                self.needs_snapshot &= !bit;
                self.counters.resyncs += 1;
            }
            if let Some(since) = self.invalid_since.get_mut(i) {
                *since = 0;
            }
            if resynced {
                self.feed_status(StatusKind::Resynced, d.instrument, (d.last_seq, 0), ts_recv);
            }
        }
        bit
    }

    /// `venue`'s feed connection dropped: its books are stale until their next
    /// snapshots (other venues' books stand).
    pub fn on_disconnect(&mut self, venue: usize) {
        self.counters.disconnects += 1;
        self.feed_status(StatusKind::Disconnected, self.venue_status_id(venue), (venue as u64, 0), self.last_event);
        self.invalidate_venue(venue);
    }

    /// `venue`'s feed connection is up (at start, and after each reconnect).
    pub fn on_connect(&mut self, venue: usize, now: u64) {
        self.feed_status(StatusKind::Connected, self.venue_status_id(venue), (venue as u64, 0), now);
    }

    /// What a venue-wide status names: every instrument with one venue, else the
    /// venue's first instrument (the status's `seq` names the venue).
    fn venue_status_id(&self, venue: usize) -> InstrumentId {
        if self.layout.venues == 1 { FeedStatus::ALL } else { InstrumentId(self.layout.ids(venue).start as u32) }
    }

    /// A feed-status event: counted per kind and journaled (as an audit record,
    /// code 170 + its kind, beside the risk decisions it changes: a book that is
    /// not whole makes risk refuse orders).
    fn feed_status(&mut self, kind: StatusKind, instrument: InstrumentId, (seq, detail): (u64, u64), now: u64) {
        let status = FeedStatus::new(self.dialect, instrument, kind, (seq, detail), UnixNanos(now));
        self.record_status(&status);
    }

    fn record_status(&mut self, status: &FeedStatus) {
        let Some(kind) = status.kind() else { return };
        if let Some(n) = self.counters.feed_status.get_mut(kind as usize - 1) {
            *n += 1;
        }
        let instrument = if status.instrument == FeedStatus::ALL { 0 } else { status.instrument.0 };
        let values = (status.seq as i64, status.detail as i64);
        self.audit(FEED_STATUS + kind as u16, values, status.ts_recv.0, instrument);
    }

    /// An audit record about no one order (a trip, a re-arm, a feed status): its
    /// code, and its limit and observed values.
    fn audit(&mut self, reason: u16, (limit, observed): (i64, i64), now: u64, instrument: u32) {
        let record = RiskFields { reason, client_id: 0, side: 0, price: 0, qty: 0, limit, observed };
        self.must_record(record, now, instrument);
    }

    /// Marks every book invalid until its next snapshot (the feeds disconnected).
    pub fn invalidate_books(&mut self) {
        for venue in 0..self.layout.venues {
            self.invalidate_venue(venue);
        }
    }

    /// Marks `venue`'s books invalid until their next snapshots.
    fn invalidate_venue(&mut self, venue: usize) {
        for i in self.layout.ids(venue) {
            if let (Some(book), Some(seq)) = (self.books.get_mut(i), self.sequencers.get_mut(i)) {
                book.invalidate();
                seq.invalidate();
                self.mid_update &= !(1u64 << i);
                self.needs_snapshot |= 1u64 << i;
            }
        }
    }

    fn on_trade(&mut self, t: &Trade, now: u64) {
        let i = t.instrument.0 as usize;
        if let Some(recent) = self.recent_trades.get_mut(i)
            && t.trade_id != 0
        {
            if recent.contains(&t.trade_id) {
                self.counters.duplicate_trades += 1;
                return;
            }
            recent.rotate_right(1);
            recent[0] = t.trade_id;
        }
        let off_market = self.off_market(t, now);
        if !off_market && let Some(last) = self.last_trade.get_mut(i) {
            *last = Some(t.price);
        }
        let aggressor = match t.aggressor() {
            None => 0,
            Some(side) => side_code(side) as u16,
        };
        let fields = TradeFields {
            aggressor,
            ts_exchange: t.ts_exchange.0 as i64,
            trade_id: t.trade_id as i64,
            price: t.price.0,
            qty: t.qty.0,
        };
        self.sink.market(fields, now, self.dialect as u16, t.instrument.0);
        if off_market {
            self.counters.off_market_trades += 1;
            return;
        }
        self.venue.on_trade(t, now);
        self.fire_stops(i, t.price, now);
    }

    /// Whether `t` printed outside the instrument's collar around its book's mid (a
    /// bad print: a stop must not fire on it). A book being resynced is judged by its
    /// last valid top for [`LAST_TOP_TRUSTED_NS`], so a bad print in a resync is
    /// caught too. Past that, or before the book was ever valid, a print cannot be
    /// judged and is taken as it is: a market that moved on while the book was down
    /// must not make every genuine print look off the market.
    fn off_market(&self, t: &Trade, now: u64) -> bool {
        let i = t.instrument.0 as usize;
        let book = self.books.get(i).filter(|b| b.is_valid());
        let recent = self
            .invalid_since
            .get(i)
            .is_some_and(|&since| since == 0 || now.saturating_sub(since) < LAST_TOP_TRUSTED_NS);
        let (bid, ask) = match book.map(|b| (b.best_bid(), b.best_ask())) {
            Some((Some(bid), Some(ask))) => (bid.price.0, ask.price.0),
            _ => match self.last_top.get(i) {
                Some(&[bid, _, ask, _]) if bid > 0 && ask > 0 && recent => (bid, ask),
                _ => return false,
            },
        };
        let mid2 = i128::from(bid) + i128::from(ask);
        let off2 = (2 * i128::from(t.price.0) - mid2).abs();
        off2 * 10_000 > i128::from(self.risk.instrument(t.instrument).collar_bps) * mid2
    }

    fn record_top(&mut self, i: usize, now: u64) {
        let (Some(book), Some(last)) = (self.books.get(i), self.last_top.get_mut(i)) else { return };
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else { return };
        let top = [bid.price.0, bid.qty.0, ask.price.0, ask.qty.0];
        if *last == top {
            return;
        }
        *last = top;
        let update_id = self.sequencers.get(i).map_or(0, feeds::sequencer::Sequencer::last) as i64;
        let fields = BookTopFields {
            flags: 0,
            ts_exchange: 0,
            update_id,
            bid: top[0],
            bid_qty: top[1],
            ask: top[2],
            ask_qty: top[3],
        };
        self.sink.market(fields, now, self.dialect as u16, i as u32);
    }

    /// The latest event time seen (engine time for shutdown actions).
    pub fn last_event_time(&self) -> u64 {
        self.last_event
    }

    /// Why the stage halted itself, if it did.
    pub fn halt(&self) -> Option<Halt> {
        self.halt
    }

    /// The correlation snapshot the cold core publishes into.
    pub fn correlations(&self) -> &std::sync::Arc<crate::risk::CorrelationSnapshot> {
        &self.correlations
    }

    /// Each venue's circuit breaker, shared: other threads may read their state and
    /// replace their configuration.
    pub fn breakers(&self) -> &[std::sync::Arc<CircuitBreaker>] {
        &self.breakers
    }

    /// Why the gateway last failed to send a request (see `Counters::gateway_errors`).
    pub fn last_gateway_error(&self) -> Option<&str> {
        self.last_gateway_error.as_ref().map(|(_, text)| text.as_str())
    }

    /// What the venue gateway counted.
    pub fn gateway_counters(&self) -> crate::gateway::GatewayCounters {
        self.venue.counters()
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The latency samples so far (the hot stage's own: cold callers turn them into
    /// histograms with [`HopRecorder::latencies`]).
    pub fn latency(&self) -> &HopRecorder {
        &self.latency
    }

    /// The record sink (held records, drops, waits).
    pub fn sink(&self) -> &RecordSink {
        &self.sink
    }

    /// The OMS (positions, live orders).
    pub fn oms(&self) -> &Oms {
        &self.oms
    }

    /// The risk stage (counters by reason).
    pub fn risk(&self) -> &Risk {
        &self.risk
    }

    /// The last decode error, for the report.
    pub fn last_decode_error(&self) -> Option<DecodeError> {
        self.last_decode_error
    }
}
