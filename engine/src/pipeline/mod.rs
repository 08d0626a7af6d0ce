//! The fused hot stage: feed decode → L2 books → strategy → risk → OMS → venue
//! gateway, called directly on one core (no ring hop between them), stamping each
//! hop into pre-sized histograms and handing every record to the cold core's ring.
//! Nothing here allocates after construction, locks or does I/O.

mod latency;
mod sink;
mod venues;

pub use latency::{Hop, Latencies, Percentiles, hgrm};
pub use sink::{PersistGone, RecordSink};
pub use venues::{Decoders, VenueLayout, book_depth, instrument_labels, venue_symbol};

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
    /// Whose message format every feed speaks (its decoder and sequencing rules):
    /// Binance or Bybit.
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
    /// When the venue connection was last retried (ns).
    last_reconnect: u64,
    /// Order entry is back but the orders waiting on it are not yet settled.
    settle_pending: bool,
    /// Since when every venue has been unusable (0: one is usable).
    venue_down_since: u64,
    /// Reduce-only since a start-up reconciliation mismatch (until re-armed).
    reconcile_hold: bool,
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
    latency: Latencies,
    counters: Counters,
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
            mid_update: 0,
            needs_snapshot: if n == 64 { u64::MAX } else { (1u64 << n) - 1 },
            last_trade: vec![None; n],
            recent_trades: vec![[0; RECENT_TRADES]; n],
            last_top: vec![[0; 4]; n],
            strategy: crate::strategy::build(&config.strategy, n),
            risk,
            oms: Oms::new(config.order_capacity, n).with_epoch(config.client_id_epoch).with_money(&money),
            venue,
            last_reconnect: 0,
            settle_pending: false,
            venue_down_since: 0,
            reconcile_hold: false,
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
            latency: Latencies::new(),
            counters: Counters::default(),
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
        if d.checksum().is_some() {
            // The venue's precision is the book's scale here (the run's instruments
            // are scaled as the venue quotes them).
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

    fn send_intents(&mut self, now: u64, arrived: u64, clock: &impl Clock) {
        // Strategy reactions to fills may add intents; a few rounds settle it.
        for _ in 0..4 {
            if self.intents.is_empty() {
                return;
            }
            std::mem::swap(&mut self.intents, &mut self.sending);
            let mut k = 0;
            while let Some(intent) = self.sending.as_slice().get(k).copied() {
                k += 1;
                match intent {
                    Intent::New { id, order, route } => {
                        let t0 = clock.now_ns();
                        let order = self.route_new(id, order, route, now);
                        let to_venue = order.order_type.trigger().is_none();
                        let Some(decision) = self.pre_trade(id, &order, now, to_venue) else { continue };
                        if to_venue && decision.reject.is_none() && self.self_trade == SelfTradeMode::CancelResting {
                            // Checked as if the orders of ours it would cross were
                            // gone; now that it passed, they go, ahead of it.
                            self.cancel_crossed(&order, now);
                        }
                        let t1 = clock.now_ns();
                        self.latency.record(Hop::Risk, t1.saturating_sub(t0));
                        if self.halt.is_some_and(|h| h.must_stop()) {
                            // Its records can no longer be kept: it must not leave.
                            if decision.reject.is_none() {
                                // An admitted order that never leaves: the breaker
                                // must not wait for its outcome.
                                if let Some(b) = self.breaker_of(order.instrument) {
                                    b.record_failure(decision.probe, now);
                                }
                            }
                            self.order_event(id, OrderEvent::Deny, now);
                            continue;
                        }
                        if let Some(reject) = decision.reject {
                            self.counters.risk_rejects += 1;
                            // Self-inflicted pacing (throttles, ratios, duplicates, the
                            // halt or reduce-only state, an open breaker) is not a
                            // reject storm; everything else counts.
                            if !matches!(
                                reject,
                                Reject::Throttled
                                    | Reject::InstrumentThrottled
                                    | Reject::OrderToTrade
                                    | Reject::CancelToNew
                                    | Reject::Duplicate
                                    | Reject::Halted
                                    | Reject::ReduceOnly
                                    | Reject::VenueCircuitOpen
                            ) {
                                self.count_reject(now);
                            }
                            // The strategy hears of a risk rejection as a local reject.
                            if let Some(order) = self.order_event(id, OrderEvent::Deny, now) {
                                let report = ExecReport { client_id: id, kind: ExecKind::Rejected, ts: now };
                                let mut ctx = Ctx::new(now, &mut self.oms, &mut self.intents);
                                self.strategy.on_exec(&order, &report, &mut ctx);
                            }
                            continue;
                        }
                        if order.order_type.trigger().is_some() {
                            // A stop waits in the engine; nothing reaches the venue yet.
                            self.order_event(id, OrderEvent::Arm, now);
                            continue;
                        }
                        self.order_event(id, OrderEvent::Send, now);
                        if decision.probe
                            && !self.probe_ids.push(id)
                            && let Some(b) = self.breaker_of(order.instrument)
                        {
                            b.record_failure(true, now); // cannot track it: failed
                        }
                        let Some(book) = self.books.get(order.instrument.0 as usize) else { continue };
                        if let Err(e) = self.venue.submit(id, &order, book, now) {
                            self.not_sent(id, ExecKind::Rejected, &e, now);
                        }
                        let t2 = clock.now_ns();
                        self.latency.record(Hop::Route, t2.saturating_sub(t1));
                        self.latency.record(Hop::TickToOrder, t2.saturating_sub(arrived));
                        self.counters.orders += 1;
                        self.count_message(now);
                    }
                    Intent::Cancel(id) => {
                        if self.emergency {
                            self.risk.on_emergency_cancel(now);
                        } else if !self.allow_cancel(id, now) {
                            // Already cancelling, or already waiting: nothing to add.
                            let cancelling = self.oms.get(id).is_some_and(|o| o.state == OrderState::PendingCancel);
                            if cancelling || self.deferred_cancels.as_slice().contains(&id) {
                                continue;
                            }
                            self.counters.cancels_deferred += 1;
                            if self.deferred_cancels.push(id) {
                                continue;
                            }
                            // No room to wait: send it anyway rather than orphan it.
                            self.risk.on_emergency_cancel(now);
                        }
                        self.send_cancel(id, now);
                    }
                    Intent::Replace { id, price, qty } => self.send_replace(id, price, qty, now),
                }
            }
            self.sending.clear();
            self.handle_reports(now);
        }
    }

    /// With several venues, sends a crossing order that opens or adds to a position
    /// where the router says: the order is re-pointed at the best venue's book, and
    /// SmartRoute's further children become orders of their own, queued behind it.
    /// Each child's choice is journaled (audit code [`ROUTED`]: its venue, and the
    /// average price the router expected there). Returns the order as it now is.
    ///
    /// Orders that rest stay where the strategy put them (it quoted that book), and
    /// an order that reduces a position stays at that position's venue.
    fn route_new(&mut self, id: crate::order::ClientId, order: NewOrder, route: RouteChoice, now: u64) -> NewOrder {
        let policy = match route {
            RouteChoice::Run => self.route,
            RouteChoice::Stay => None,
            RouteChoice::BestPrice => Some(crate::route::Policy::BestPrice),
            RouteChoice::LowestFee => Some(crate::route::Policy::LowestFee),
            RouteChoice::Smart => Some(crate::route::Policy::SmartRoute(crate::route::SmartWeights::default())),
        };
        let Some(policy) = policy.filter(|_| self.layout.venues > 1) else { return order };
        // Positions are per venue: an order that reduces one stays where it is.
        let net = self.oms.position(order.instrument).net;
        let reduces = net != 0 && (net > 0) == (order.side == feeds::event::Side::Sell);
        let fresh = self.oms.get(id).is_some_and(|o| o.state == OrderState::Initialized);
        // An order over the per-order limits is not split into pieces under them:
        // it stays whole, for risk to refuse.
        let l = self.risk.instrument(order.instrument);
        let notional = (i128::from(order.price.0) * i128::from(order.qty.0)).saturating_mul(l.money);
        let oversized = order.qty.0 > l.max_qty || notional > l.max_order_notional;
        if !order.order_type.is_immediate() || reduces || !fresh || oversized || self.halt.is_some() {
            return order;
        }
        let Some(fallback) = self.books.first() else { return order };
        let layout = self.layout;
        let restricted = self.risk.limits().restricted;
        let views: [crate::route::VenueView<'_>; crate::route::MAX_VENUES] = std::array::from_fn(|v| {
            let i = layout.at_venue(order.instrument, v).0 as usize;
            let own = self.risk.instrument(InstrumentId(i as u32));
            crate::route::VenueView {
                venue: v as u8,
                book: self.books.get(i).unwrap_or(fallback),
                fees: self.fees.get(v).copied().unwrap_or_default(),
                ack_ns: self.ack_latency.get(v).map_or(0, |a| a.get()),
                breaker: self.breakers.get(v).map_or(crate::risk::BreakerState::Closed, |b| {
                    // As the order's own check would find it: a venue that would
                    // refuse (cooling down, or every probe out) is open; one past its
                    // cool-down admits a probe, so it is half-open.
                    match b.state() {
                        _ if !b.would_admit(now) => crate::risk::BreakerState::Open,
                        crate::risk::BreakerState::Closed => crate::risk::BreakerState::Closed,
                        _ => crate::risk::BreakerState::HalfOpen,
                    }
                }),
                // Each venue's instrument by its own limits, as risk will check it.
                stale: now.saturating_sub(self.book_ts.get(i).copied().unwrap_or(0)) > own.max_reference_age_ns,
                barred: restricted & (1u64 << (i & 63)) != 0 || order.qty.0 > own.max_qty || order.qty.0 < own.min_qty,
            }
        });
        let venues = views.get(..layout.venues.min(crate::route::MAX_VENUES)).unwrap_or(&[]);
        crate::route::route(&order, venues, policy, &mut self.decision);
        let mut routed = order;
        // Child by child, not a copy of the whole decision (about 2 KB with its scratch).
        for k in 0..crate::route::MAX_VENUES {
            let Some(child) = self.decision.child(k) else { break };
            let instrument = layout.at_venue(order.instrument, usize::from(child.venue));
            let child_order = self.at_venue(&order, &child.order, instrument);
            let child_id = if k == 0 {
                if self.oms.reroute(id, child_order).is_err() {
                    self.counters.oms_errors += 1;
                    return order;
                }
                routed = child_order;
                id
            } else {
                let Ok(child_id) = self.oms.create(child_order) else {
                    self.counters.oms_errors += 1;
                    break; // no room for more children: the rest of the size is not sent
                };
                // Queued behind its parent, placed already: it stays where it goes.
                let child = Intent::New { id: child_id, order: child_order, route: RouteChoice::Stay };
                if !self.sending.push(child) {
                    self.order_event(child_id, OrderEvent::Deny, now);
                    break;
                }
                child_id
            };
            self.counters.routed_children += 1;
            let expected = self.decision.scores().get(child.score).map_or(0, crate::route::VenueScore::avg_price);
            let record = RiskFields {
                reason: ROUTED,
                client_id: child_id.0 as i64,
                side: side_code(child_order.side),
                price: order.price.0,
                qty: child_order.qty.0,
                limit: i64::from(child.venue),
                observed: expected,
            };
            self.must_record(record, now, child_order.instrument.0);
        }
        routed
    }

    /// A router's child as it leaves for its venue's `instrument`. A whole-order
    /// child keeps the parent's limit only as far as that venue's book needs: its
    /// limit is the deepest level it takes there (the parent's limit was set against
    /// another venue's prices, which a collar at this venue would not know). Its stop
    /// keeps its distance from the limit.
    fn at_venue(&self, parent: &NewOrder, child: &NewOrder, instrument: InstrumentId) -> NewOrder {
        let mut out = NewOrder { instrument, ..*child };
        if child.price == parent.price
            && let Some(book) = self.books.get(instrument.0 as usize)
        {
            let (side, buy) = match parent.side {
                feeds::event::Side::Buy => (feeds::event::BookSide::Ask, true),
                feeds::event::Side::Sell => (feeds::event::BookSide::Bid, false),
            };
            let mut left = child.qty.0;
            for level in book.levels(side).take(crate::route::ROUTE_DEPTH) {
                let within = if buy { level.price.0 <= parent.price.0 } else { level.price.0 >= parent.price.0 };
                if !within {
                    break;
                }
                left -= level.qty.0.min(left);
                if left == 0 {
                    out.price = level.price;
                    break;
                }
            }
        }
        if parent.stop.0 != 0 {
            out.stop = Price(parent.stop.0 + (out.price.0 - parent.price.0));
        }
        out
    }

    /// The order's symbol at the other venues, for the position limit: the net
    /// position there plus working size on the order's side (0 with one venue).
    fn elsewhere(&self, order: &NewOrder) -> i64 {
        let mut sum = 0i64;
        for v in 0..self.layout.venues {
            let other = self.layout.at_venue(order.instrument, v);
            if other == order.instrument {
                continue;
            }
            let (buys, sells) = self.oms.working_qty(other);
            let working = match order.side {
                feeds::event::Side::Buy => buys,
                feeds::event::Side::Sell => -sells,
            };
            sum = sum.saturating_add(self.oms.position(other).net).saturating_add(working);
        }
        sum
    }

    /// Pre-trade risk for an order (new, or a working order's replacement terms),
    /// audited. `None` if the instrument has no book.
    /// `to_venue`: the order goes to the venue now, so the venue's circuit breaker
    /// is asked (an armed stop or a replace does not claim a breaker call).
    fn pre_trade(
        &mut self,
        id: crate::order::ClientId,
        order: &NewOrder,
        now: u64,
        to_venue: bool,
    ) -> Option<Decision> {
        let i = order.instrument.0 as usize;
        if self.exposure_stale {
            // Fills since the last mark moved positions: re-mark, so gross and net
            // exposure count them.
            self.mark_to_market();
        }
        // An order already working (a fired stop, a replace) is checked as if it
        // were not there yet, so its own size is not counted twice.
        let (mut open_notional, mut working) = (self.oms.open_notional(), self.oms.working_qty(order.instrument));
        if let Some((side, qty, notional)) = self.oms.contribution(id) {
            open_notional -= notional;
            match side {
                feeds::event::Side::Buy => working.0 -= qty,
                feeds::event::Side::Sell => working.1 -= qty,
            }
        }
        let elsewhere = self.elsewhere(order);
        let book = self.books.get(i)?;
        let inputs = RiskInputs {
            now,
            book,
            book_ts: self.book_ts.get(i).copied().unwrap_or(0),
            position: self.oms.position(order.instrument),
            open_notional,
            working,
            elsewhere,
            venue: self.layout.venue_of(order.instrument),
            own: match self.self_trade {
                SelfTradeMode::Reject => self.oms.own_top(order.instrument, false),
                // The orders it would cross are cancelled before it leaves.
                SelfTradeMode::CancelResting => self.oms.own_top_beyond(order),
            },
            exposure: Exposure {
                mark: self.marks.get(i).copied().unwrap_or(0),
                correlated: correlated_with(
                    i,
                    &self.correlations,
                    &mut self.correlation_row,
                    &self.oms,
                    &self.marks,
                    &self.money,
                    self.risk.limits().correlation_cap,
                ),
                ..self.exposure
            },
            breaker: if to_venue {
                self.breakers.get(self.layout.venue_of(order.instrument)).map(|b| &**b)
            } else {
                None
            },
        };
        // Only the orders `flatten` made are checked as a flatten; a strategy's order
        // is checked as usual, halt included.
        let entry_down = to_venue && (self.settle_pending || !self.venue.venue_connected(inputs.venue));
        let decision = if self.emergency && self.flatten_ids.remove(&id) {
            self.risk.check_flatten(order, &inputs)
        } else if entry_down {
            // Order entry is down (or back but not yet settled): the order could
            // not be sent, and the working orders it would be checked against are
            // unsettled. Refused as an open breaker refuses (pacing, not a reject
            // storm), before the checks that would judge it against them.
            self.risk.refuse_entry_down()
        } else {
            self.risk.check(order, &inputs)
        };
        let audit = RiskFields {
            reason: decision.reject.map_or(0, Reject::code),
            client_id: id.0 as i64,
            side: side_code(order.side),
            price: order.price.0,
            qty: order.qty.0,
            limit: decision.limit,
            observed: decision.observed,
        };
        self.must_record(audit, now, order.instrument.0);
        Some(decision)
    }

    /// A strategy's replace: the new terms pass pre-trade risk like a new order (the
    /// old terms stay working meanwhile, and are not counted twice), then go to the
    /// venue. A replace refused here (an order not in a state to replace, risk, the
    /// venue's open circuit) reaches the strategy as a replace reject.
    fn send_replace(&mut self, id: crate::order::ClientId, price: Price, qty: feeds::event::Qty, now: u64) {
        let Some(order) = self.oms.get(id).copied() else {
            self.counters.oms_errors += 1;
            return;
        };
        let terms = NewOrder { price, qty, ..order.new };
        let replaceable = matches!(order.state, OrderState::Accepted | OrderState::PartiallyFilled);
        let circuit_open = !order.is_armed() && self.breaker_of(order.new.instrument).is_some_and(|b| b.refusing(now));
        let refused =
            !replaceable || circuit_open || self.pre_trade(id, &terms, now, false).is_none_or(|d| d.reject.is_some());
        if refused {
            self.counters.risk_rejects += u64::from(replaceable);
            return self.refuse_locally(id, ExecKind::ReplaceRejected, now);
        }
        match self.oms.request_replace(id, price, qty) {
            Ok(order) if order.is_armed() => {
                // An armed stop lives only here: its new terms apply at once.
                self.persist_order(&order, now);
                self.order_event(id, OrderEvent::ReplaceAck, now);
            }
            Ok(order) => {
                self.persist_order(&order, now);
                self.oms.stamp(id, now);
                let Some(book) = self.books.get(order.new.instrument.0 as usize) else { return };
                if let Err(e) = self.venue.replace(id, order.new.instrument, (price, qty), book, now) {
                    self.not_sent(id, ExecKind::ReplaceRejected, &e, now);
                }
                self.counters.replaces += 1;
                self.count_message(now);
            }
            Err(_) => {
                self.counters.oms_errors += 1;
                self.refuse_locally(id, ExecKind::ReplaceRejected, now);
            }
        }
    }

    /// Self-trade prevention by cancelling: cancels our working orders on the other
    /// side of `order`'s instrument that it would cross (they go before it, so the
    /// venue takes them out first). Returns how many cancels were sent.
    fn cancel_crossed(&mut self, order: &NewOrder, now: u64) -> usize {
        let mut crossed = [crate::order::ClientId(0); 32];
        let mut n = 0;
        let candidates = self.oms.working_in(order.instrument).filter(|o| {
            o.new.side != order.side
                && o.state != OrderState::PendingCancel
                && !o.is_armed()
                && match order.side {
                    feeds::event::Side::Buy => o.new.price <= order.price,
                    feeds::event::Side::Sell => o.new.price >= order.price,
                }
        });
        for (slot, o) in crossed.iter_mut().zip(candidates) {
            *slot = o.id;
            n += 1;
        }
        let mut sent = 0;
        for id in crossed.into_iter().take(n) {
            // Past the cancel throttle: leaving it would let us trade with ourselves.
            self.risk.on_emergency_cancel(now);
            self.send_cancel(id, now);
            if self.oms.get(id).is_none_or(|o| o.state == OrderState::PendingCancel || o.state.is_terminal()) {
                sent += 1;
            }
        }
        self.counters.self_trade_cancels += sent as u64;
        sent
    }

    /// Tells the strategy a request of its was refused before it left the engine
    /// (the order itself is unchanged).
    fn refuse_locally(&mut self, id: crate::order::ClientId, kind: ExecKind, now: u64) {
        if let Some(order) = self.oms.get(id).copied() {
            let report = ExecReport { client_id: id, kind, ts: now };
            let mut ctx = Ctx::new(now, &mut self.oms, &mut self.intents);
            self.strategy.on_exec(&order, &report, &mut ctx);
        }
    }

    /// A request the gateway could not send: the venue never saw it, so its answer
    /// is the refusal (`kind`), applied like any venue answer (a rejected new order
    /// also counts as a breaker failure). Counted as a gateway error.
    fn not_sent(&mut self, id: crate::order::ClientId, kind: ExecKind, error: &crate::gateway::GatewayError, now: u64) {
        self.gateway_failed(error);
        if !self.reports.push(ExecReport { client_id: id, kind, ts: now }) {
            // No room for the answer: the order stays pending, settled with the
            // venue after the reconnect.
            self.counters.oms_errors += 1;
        }
    }

    /// Armed stops in instrument `i` that a trade at `price` fires: each is marked
    /// triggered and queued as the order it becomes, which passes risk again before
    /// it leaves (a halt in between stops it).
    fn fire_stops(&mut self, i: usize, price: Price, now: u64) {
        let mut fired = [crate::order::ClientId(0); 16];
        // Only as many as the intent buffer takes now; the rest stay armed and fire
        // on the next trade through them.
        let room = self.intents.room().min(fired.len());
        let n = self.oms.stops_fired_by(InstrumentId(i as u32), price, &mut fired[..room]);
        for id in fired.into_iter().take(n) {
            let Some(order) = self.order_event(id, OrderEvent::Trigger, now) else { continue };
            self.counters.stops_triggered += 1;
            // room checked; a fired stop goes to its own venue
            let _ = self.intents.push(Intent::New { id, order: order.new.triggered(), route: RouteChoice::Stay });
        }
    }

    /// Applies an OMS event and persists the order's new state.
    fn send_cancel(&mut self, id: crate::order::ClientId, now: u64) {
        // Already being cancelled (self-trade prevention got there first): done.
        if self.oms.get(id).is_some_and(|o| o.state == OrderState::PendingCancel) {
            return;
        }
        let armed = self.oms.get(id).is_some_and(Order::is_armed);
        if armed {
            // An armed stop lives only here: cancelling it needs no venue.
            if self.order_event(id, OrderEvent::RequestCancel, now).is_some() {
                self.order_event(id, OrderEvent::Cancel, now);
            }
            return;
        }
        if let Some(order) = self.order_event(id, OrderEvent::RequestCancel, now) {
            if let Err(e) = self.venue.cancel(id, order.new.instrument, now) {
                self.not_sent(id, ExecKind::CancelRejected, &e, now);
            }
            self.counters.cancels += 1;
            self.count_message(now);
        }
    }

    /// Sends the cancels the throttle held back, as far as tokens allow, oldest first.
    fn retry_deferred_cancels(&mut self, now: u64) {
        if self.deferred_cancels.is_empty() {
            return;
        }
        std::mem::swap(&mut self.deferred_cancels, &mut self.retrying);
        let mut k = 0;
        while let Some(id) = self.retrying.as_slice().get(k).copied() {
            k += 1;
            // Filled or cancelled meanwhile: nothing left to cancel.
            if !self.oms.get(id).is_some_and(|o| o.state.is_working() && o.state != OrderState::PendingCancel) {
                continue;
            }
            if self.allow_cancel(id, now) {
                self.send_cancel(id, now);
            } else {
                let _ = self.deferred_cancels.push(id); // it came from there: room is certain
            }
        }
        self.retrying.clear();
        self.handle_reports(now);
    }

    /// One more message (order or cancel) to the venue: the message-rate trip.
    fn count_message(&mut self, now: u64) {
        if let Some(t) = self.kill.on_message(now) {
            self.trip(Halt::KillSwitch(t));
        }
    }

    fn order_event(&mut self, id: crate::order::ClientId, event: OrderEvent, now: u64) -> Option<Order> {
        match self.oms.apply(id, event) {
            Ok(order) => {
                if matches!(event, OrderEvent::Send | OrderEvent::RequestCancel) {
                    self.oms.stamp(id, now);
                }
                self.persist_order(&order, now);
                Some(order)
            }
            Err(_) => {
                self.counters.oms_errors += 1;
                None
            }
        }
    }

    fn persist_order(&mut self, order: &Order, now: u64) {
        let fields = OrderFields {
            state: order.state as u16,
            client_id: order.id.0 as i64,
            side: side_code(order.new.side),
            price: order.new.price.0,
            qty: order.new.qty.0,
            filled: order.filled,
            order_type: order.new.order_type.code(),
        };
        self.must_record(fields, now, order.new.instrument.0);
    }

    fn must_record(&mut self, fields: impl persist::Fields, now: u64, instrument: u32) {
        if let Err(gone) = self.sink.must(fields, now, self.dialect as u16, instrument) {
            self.trip(Halt::PersistGone(gone));
        }
    }

    fn trip(&mut self, halt: Halt) {
        self.risk.set_state(TradingState::Halted);
        self.forget_hold_state();
        if self.halt.is_some() {
            return;
        }
        self.halt = Some(halt);
        self.cancel_pending = true;
        let trip = match halt {
            Halt::KillSwitch(t) => t,
            Halt::OverFill(_) => Trip { reason: TripReason::OverFill, limit: 0, observed: 0 },
            Halt::PersistGone(_) => return, // nothing can be recorded any more
        };
        // The trip itself is a risk event, for the audit trail.
        self.audit(trip.reason as u16, (trip.limit, trip.observed), self.last_event, 0);
    }

    /// Trips the kill switch by hand (SIGUSR1): trading halts, orders are cancelled.
    pub fn kill_switch(&mut self, reason: TripReason, now: u64) {
        self.trip(Halt::KillSwitch(Trip { reason, limit: 0, observed: 0 }));
        self.finish_trip(now);
    }

    /// An operator re-arms a tripped kill switch: trading resumes reduce-only
    /// (`Standard`) or normally (`Aggressive`), audited as a risk event. Conditions
    /// still breached trip it again at once.
    ///
    /// # Errors
    /// Nothing to re-arm, or a halt that re-arming cannot clear.
    pub fn rearm(&mut self, plan: RearmPlan, now: u64) -> Result<TradingState, RearmError> {
        match self.halt {
            // Reduce-only since a start-up mismatch: an operator may lift it.
            None if self.reconcile_hold => {}
            None => return Err(RearmError::NotTripped),
            Some(Halt::PersistGone(_)) => return Err(RearmError::PersistGone),
            Some(Halt::OverFill(_)) => return Err(RearmError::OverFill),
            Some(Halt::KillSwitch(_)) => {}
        }
        self.forget_hold_state();
        self.halt = None;
        self.reconcile_hold = false;
        self.kill.reset_windows();
        let state = match plan {
            RearmPlan::Standard => TradingState::ReduceOnly,
            RearmPlan::Aggressive => TradingState::Active,
        };
        self.risk.set_state(state);
        self.counters.rearms += 1;
        self.audit(plan as u16, (0, 0), now, 0);
        // Re-check at once: a drawdown or a dead feed that is still there trips again.
        self.check_pnl(true);
        self.check_stale(now);
        self.finish_trip(now);
        Ok(state)
    }

    /// [`Pipeline::rearm`] from the control ring: a refusal is counted (the hot core
    /// does no I/O; the report shows it).
    pub fn rearm_or_count(&mut self, plan: RearmPlan, now: u64) {
        if self.rearm(plan, now).is_err() {
            self.counters.rearms_refused += 1;
        }
    }

    fn finish_trip(&mut self, now: u64) {
        if std::mem::take(&mut self.cancel_pending) {
            self.cancel_all(now);
            // A stage that failed cannot trust its positions: it only cancels.
            let trusted = !matches!(self.halt, Some(Halt::KillSwitch(t)) if t.reason == TripReason::StageFailed);
            if self.flatten_on_trip && trusted && matches!(self.halt, Some(Halt::KillSwitch(_))) {
                self.flatten(now);
            }
        }
    }

    /// Time-based checks between frames (a live feed that went quiet): a book left
    /// invalid too long trips the kill switch.
    pub fn on_tick(&mut self, now: u64) {
        // Venue answers arrive whether or not the market moves.
        self.handle_reports(now);
        self.keep_venue_connected(now);
        self.check_ack_timeouts(now);
        self.check_feed_silence(now);
        self.retry_deferred_cancels(now);
        self.check_stale(now);
        self.check_venue_down(now);
        self.check_persist_backlog(now);
        self.finish_trip(now);
    }

    /// A trip, a re-arm or a reconciliation sets the trading state: a persistence
    /// hold lifting later must not undo it.
    fn forget_hold_state(&mut self) {
        if let Some(lowered) = self.persist_hold.as_mut() {
            *lowered = false;
        }
    }

    /// Moves the records held for a cold core that fell behind into the ring as it
    /// makes room: `true` while some are still held. A cold core that is gone halts
    /// the stage (and `false`: nothing more can be handed over).
    pub fn flush_records(&mut self) -> bool {
        if let Err(gone) = self.sink.flush() {
            self.trip(Halt::PersistGone(gone));
            return false;
        }
        self.sink.is_behind()
    }

    /// Moves held records into the ring; while the cold core is behind, applies the
    /// backlog policy, and lifts a reduce-only hold once it has caught up.
    fn check_persist_backlog(&mut self, now: u64) {
        if let Err(gone) = self.sink.flush() {
            self.trip(Halt::PersistGone(gone));
            return;
        }
        let behind = self.sink.is_behind();
        if behind && self.persist_hold.is_none() {
            self.audit(PERSIST_BEHIND, (0, self.sink.backlog() as i64), now, 0);
            let lowered = self.on_persist_backlog == BacklogPolicy::ReduceOnly
                && self.risk.state() == TradingState::Active
                && self.halt.is_none();
            if lowered {
                self.risk.set_state(TradingState::ReduceOnly);
            }
            self.persist_hold = Some(lowered);
        }
        // Halt: tripped while behind, and again if re-armed while still behind.
        if behind && self.on_persist_backlog == BacklogPolicy::Halt && self.halt.is_none() {
            let observed = self.sink.backlog() as i64;
            self.trip(Halt::KillSwitch(Trip { reason: TripReason::PersistBacklog, limit: 0, observed }));
        }
        if !behind && let Some(lowered) = self.persist_hold.take() {
            self.audit(PERSIST_CAUGHT_UP, (0, self.sink.held_peak as i64), now, 0);
            // Only what the hold itself changed is undone.
            if lowered && self.risk.state() == TradingState::ReduceOnly && self.halt.is_none() {
                self.risk.set_state(TradingState::Active);
            }
        }
    }

    /// Every venue unusable (circuit open, or disconnected) too long trips the kill
    /// switch: nothing can be traded or cancelled there.
    fn check_venue_down(&mut self, now: u64) {
        let down = self.breakers.iter().enumerate().all(|(v, b)| b.refusing(now) || !self.venue.venue_connected(v));
        if !down {
            self.venue_down_since = 0;
            return;
        }
        if self.venue_down_since == 0 {
            self.venue_down_since = now;
        }
        if self.halt.is_none()
            && let Some(t) = self.kill.on_venue_down(now, self.venue_down_since)
        {
            self.trip(Halt::KillSwitch(t));
        }
    }

    fn check_stale(&mut self, now: u64) {
        if self.needs_snapshot == 0 || self.halt.is_some() {
            return;
        }
        let mut oldest = u64::MAX;
        for (i, since) in self.invalid_since.iter_mut().enumerate() {
            if self.needs_snapshot & (1u64 << i) != 0 {
                if *since == 0 {
                    *since = now;
                }
                oldest = oldest.min(*since);
            }
        }
        if self.layout.venues > 1 {
            // Several venues: one venue's dead feed does not stop the others (its
            // books refuse orders meanwhile); every venue with a book invalid too
            // long does. Each venue counts from its oldest invalid book.
            oldest = 0;
            for v in 0..self.layout.venues {
                let venue_oldest = self
                    .layout
                    .ids(v)
                    .filter(|i| self.needs_snapshot & (1u64 << (i & 63)) != 0)
                    .filter_map(|i| self.invalid_since.get(i).copied())
                    .min();
                let Some(venue_oldest) = venue_oldest else { return };
                oldest = oldest.max(venue_oldest);
            }
        }
        if let Some(t) = self.kill.on_invalid_book(now, oldest) {
            self.trip(Halt::KillSwitch(t));
        }
    }

    /// Marks every position to its mid: the exposure and equity the next orders are
    /// checked against. Returns total P&L (realised + unrealised, net of fees).
    fn mark_to_market(&mut self) -> i128 {
        let (mut pnl, mut gross, mut net) = (0i128, 0i128, 0i128);
        for (i, (book, money)) in self.books.iter().zip(&self.money).enumerate() {
            let p = self.oms.position(InstrumentId(i as u32));
            pnl += (p.realised - p.fees) * money;
            let mark = match (book.best_bid(), book.best_ask()) {
                (Some(b), Some(a)) => (b.price.0 + a.price.0) / 2,
                _ => 0,
            };
            if let Some(m) = self.marks.get_mut(i) {
                *m = mark;
            }
            if p.net != 0 && mark > 0 {
                pnl += p.unrealised(mark) * money;
                gross += i128::from(p.net).abs() * i128::from(mark) * money;
                net += i128::from(p.net) * i128::from(mark) * money;
            }
        }
        self.exposure = Exposure { gross, net, equity: self.kill.equity(pnl), mark: 0, correlated: 0 };
        self.exposure_stale = false;
        pnl
    }

    /// Marks to market, then the P&L trips and, after fills, the exposure trip.
    fn check_pnl(&mut self, fills_moved: bool) {
        let pnl = self.mark_to_market();
        if self.halt.is_some() {
            return;
        }
        if let Some(t) = self.kill.on_pnl(pnl) {
            self.trip(Halt::KillSwitch(t));
            return;
        }
        // Reduce-only after a re-arm can only shrink positions: tripping again on an
        // exposure still over its limit would stop the very orders that lower it.
        if !fills_moved || self.risk.limits().state != TradingState::Active {
            return;
        }
        if let Some(t) = self.kill.on_exposure(self.exposure.gross, self.risk.limits().max_gross_notional) {
            self.trip(Halt::KillSwitch(t));
            return;
        }
        // A position past its limit after fills (the pre-trade check counts every
        // working order, so only a moving mark gets here).
        // Each venue's position against its instrument's limit, and the symbol over
        // every venue against the largest of them (an order at that venue was
        // checked against it).
        for (i, mark) in self.marks.iter().enumerate().take(self.layout.per_venue) {
            let (mut total, mut widest) = (0i128, 0i128);
            for v in 0..self.layout.venues {
                let at = self.layout.at_venue(InstrumentId(i as u32), v);
                let mark = self.marks.get(at.0 as usize).copied().unwrap_or(*mark);
                let limits = self.risk.instrument(at);
                let value = i128::from(self.oms.position(at).net) * i128::from(mark) * limits.money;
                total += value;
                widest = widest.max(limits.max_position_notional);
                if value.abs() > limits.max_position_notional {
                    self.trip_position(limits.max_position_notional, value.abs());
                    return;
                }
            }
            if total.abs() > widest {
                self.trip_position(widest, total.abs());
                return;
            }
        }
    }

    fn trip_position(&mut self, limit: i128, value: i128) {
        let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
        let t = Trip { reason: TripReason::PositionBreach, limit: clamp(limit), observed: clamp(value) };
        self.trip(Halt::KillSwitch(t));
    }

    fn count_reject(&mut self, now: u64) {
        if let Some(t) = self.kill.on_reject(now) {
            self.trip(Halt::KillSwitch(t));
        }
    }

    fn handle_reports(&mut self, now: u64) {
        self.poll_venue(now);
        if self.reports.is_empty() {
            return;
        }
        let mut reports = std::mem::replace(&mut self.reports, Bounded::with_capacity(0));
        for report in reports.drain() {
            let id = report.client_id;
            let result = match report.kind {
                ExecKind::Accepted => {
                    if self.layout.venues > 1
                        && let Some(order) = self.oms.get(id)
                    {
                        let venue = self.layout.venue_of(order.new.instrument);
                        if let Some(ewma) = self.ack_latency.get_mut(venue) {
                            ewma.record(now.saturating_sub(order.sent_at));
                        }
                    }
                    let probe = self.probe_ids.remove(&id);
                    if let Some(b) = self.breaker_of_order(id) {
                        b.record_success(probe);
                    }
                    self.oms.apply(id, OrderEvent::Accept)
                }
                ExecKind::Rejected => {
                    let probe = self.probe_ids.remove(&id);
                    if let Some(b) = self.breaker_of_order(id) {
                        b.record_failure(probe, now);
                    }
                    self.counters.venue_rejects += 1;
                    self.count_reject(now);
                    self.oms.apply(id, OrderEvent::Reject)
                }
                ExecKind::Canceled => self.oms.apply(id, OrderEvent::Cancel),
                ExecKind::CancelRejected => self.oms.apply(id, OrderEvent::CancelReject),
                ExecKind::Expired => self.oms.apply(id, OrderEvent::Expire),
                ExecKind::Replaced { .. } => self.oms.apply(id, OrderEvent::ReplaceAck),
                ExecKind::ReplaceRejected => self.oms.apply(id, OrderEvent::ReplaceReject),
                ExecKind::Fill { price, qty, liquidity, trade_id, fee } => {
                    self.risk.on_fill(now);
                    self.exposure_stale = true;
                    self.oms.fill(id, price.0, qty.0, trade_id, fee).inspect(|order| {
                        self.track_stop(order, qty.0);
                        self.counters.fills += 1;
                        self.persist_fill(order, (price, qty.0, fee), liquidity, trade_id, now);
                    })
                }
            };
            match result {
                Ok(order) => {
                    self.persist_order(&order, now);
                    let mut ctx = Ctx::new(now, &mut self.oms, &mut self.intents);
                    self.strategy.on_exec(&order, &report, &mut ctx);
                }
                Err(e @ OmsError::OverFill { .. }) => self.trip(Halt::OverFill(e)),
                // A cancel or replace that crossed the fill that finished the order:
                // its refusal finds the order gone. Expected with any real venue.
                Err(OmsError::UnknownOrder(_))
                    if matches!(report.kind, ExecKind::CancelRejected | ExecKind::ReplaceRejected) =>
                {
                    self.counters.late_answers += 1;
                }
                Err(_) => self.counters.oms_errors += 1,
            }
        }
        self.reports = reports;
    }

    fn persist_fill(
        &mut self,
        order: &Order,
        (price, qty, fee): (Price, i64, i64),
        liquidity: Liquidity,
        trade_id: u64,
        now: u64,
    ) {
        let instrument = order.new.instrument;
        let fill = FillFields {
            liquidity: if liquidity == Liquidity::Maker { 1 } else { 2 },
            client_id: order.id.0 as i64,
            venue_trade_id: trade_id as i64,
            side: side_code(order.new.side),
            price: price.0,
            qty,
            fee,
        };
        self.must_record(fill, now, instrument.0);
        let p = self.oms.position(instrument);
        let mark = self
            .books
            .get(instrument.0 as usize)
            .and_then(|b| Some((b.best_bid()?.price.0 + b.best_ask()?.price.0) / 2));
        let mark = mark.unwrap_or(price.0);
        let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
        let snapshot = PositionFields {
            flags: 0,
            net_qty: p.net,
            avg_price: p.avg_price,
            realised: clamp(p.realised),
            unrealised: clamp(p.unrealised(mark)),
            fees: clamp(p.fees),
            mark,
        };
        self.must_record(snapshot, now, instrument.0);
    }

    /// Cancels every working order (shutdown with cancel-on-exit), in as many
    /// rounds as the intent buffer needs.
    pub fn cancel_all(&mut self, now: u64) {
        let clock = crate::clock::ReplayClock::starting_at(now);
        // Everything working goes now, deferred cancels included, past the throttle.
        self.deferred_cancels.clear();
        self.emergency = true;
        // In batches from a fixed array: a trip happens on the hot path, which must
        // not allocate. Bounded, in case cancels are refused and orders stay working.
        for _ in 0..=self.oms.live() / 32 + 1 {
            let mut batch = [crate::order::ClientId(0); 32];
            let mut n = 0;
            for order in self.oms.working().filter(|o| o.state != crate::oms::OrderState::PendingCancel) {
                let Some(slot) = batch.get_mut(n) else { break };
                *slot = order.id;
                n += 1;
            }
            if n == 0 {
                break;
            }
            for id in batch.iter().take(n) {
                let _ = self.intents.push(Intent::Cancel(*id));
            }
            self.send_intents(now, now, &clock);
        }
        self.emergency = false;
    }

    /// Closes every position with an IOC at the touch, checked as reduce-only.
    fn flatten(&mut self, now: u64) {
        for i in 0..self.books.len() {
            if self.queue_close(i, now) {
                self.counters.flatten_orders += 1;
            }
        }
        self.send_closes(now);
    }

    /// Queues an IOC at the touch closing instrument `i`'s position; `false` if flat or
    /// there is no touch to close against.
    fn queue_close(&mut self, i: usize, now: u64) -> bool {
        let instrument = InstrumentId(i as u32);
        let net = self.oms.position(instrument).net;
        let Some(book) = self.books.get(i) else { return false };
        let (side, touch) = match net.signum() {
            1 => (feeds::event::Side::Sell, book.best_bid()),
            -1 => (feeds::event::Side::Buy, book.best_ask()),
            _ => return false,
        };
        let Some(touch) = touch else { return false };
        let order = crate::order::NewOrder {
            instrument,
            side,
            price: touch.price,
            qty: feeds::event::Qty(net.abs()),
            order_type: crate::order::OrderType::Ioc,
            stop: Price(0), // it closes a position: no stop needed
        };
        match Ctx::new(now, &mut self.oms, &mut self.intents).submit(order) {
            // At most one close per instrument at a time: room is certain.
            Some(id) => self.flatten_ids.push(id),
            None => false,
        }
    }

    /// Sends the queued closes, checked as closes (reduce-only, no pacing).
    fn send_closes(&mut self, now: u64) {
        let clock = crate::clock::ReplayClock::starting_at(now);
        self.emergency = true;
        self.send_intents(now, now, &clock);
        self.emergency = false;
        self.flatten_ids.clear();
    }

    /// The protective stop of instrument `i`'s position after a fill of `order`:
    /// the opening order's stop, tightened by every order that grows the position,
    /// gone when the position is flat.
    fn track_stop(&mut self, order: &Order, qty: i64) {
        let i = order.new.instrument.0 as usize;
        let after = self.oms.position(order.new.instrument).net;
        let before = after - crate::oms::signed(order.new.side, qty);
        let Some(stop) = self.stops.get_mut(i) else { return };
        let new = order.new.stop.0;
        if after == 0 {
            *stop = 0;
        } else if before == 0 || before.signum() != after.signum() {
            *stop = new;
        } else if after.abs() > before.abs() && new > 0 {
            // Growing: keep the tighter of the two (higher under a long, lower above a short).
            *stop = if *stop == 0 {
                new
            } else if after > 0 {
                (*stop).max(new)
            } else {
                (*stop).min(new)
            };
        }
    }

    /// Closes instrument `i`'s position if the touch has crossed its stop.
    fn enforce_stop(&mut self, i: usize, now: u64) {
        let stop = self.stops.get(i).copied().unwrap_or(0);
        let net = self.oms.position(InstrumentId(i as u32)).net;
        let Some(book) = self.books.get(i) else { return };
        if stop == 0 || net == 0 || !book.is_valid() {
            return;
        }
        let touch = if net > 0 { book.best_bid() } else { book.best_ask() };
        let Some(touch) = touch else { return };
        let crossed = if net > 0 { touch.price.0 <= stop } else { touch.price.0 >= stop };
        if !crossed {
            return;
        }
        // The stop-out is audited like a trip (code 160: the closing side and size, limit
        // = the stop, observed = the touch that crossed it).
        let close = if net > 0 { feeds::event::Side::Sell } else { feeds::event::Side::Buy };
        let record = RiskFields {
            reason: STOP_OUT,
            client_id: 0,
            side: side_code(close),
            price: touch.price.0,
            qty: net.abs(),
            limit: stop,
            observed: touch.price.0,
        };
        self.must_record(record, now, i as u32);
        // First the instrument's working orders, so the close cannot trade with one of
        // ours (self-trade prevention would refuse it while they stand); the next book
        // update tries again if a cancel is still pending.
        let instrument = InstrumentId(i as u32);
        let mut cancels = [crate::order::ClientId(0); 32];
        let mut n = 0;
        for order in self.oms.working_in(instrument).filter(|o| o.state != OrderState::PendingCancel) {
            let Some(slot) = cancels.get_mut(n) else { break };
            *slot = order.id;
            n += 1;
        }
        for id in cancels.iter().take(n) {
            let _ = self.intents.push(Intent::Cancel(*id));
        }
        self.send_closes(now);
        if self.queue_close(i, now) {
            self.counters.stop_outs += 1;
            self.send_closes(now);
        }
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

    /// The circuit breaker of the venue trading `instrument`.
    fn breaker_of(&self, instrument: InstrumentId) -> Option<&CircuitBreaker> {
        self.breakers.get(self.layout.venue_of(instrument)).map(|b| &**b)
    }

    /// Whether a cancel of `id` may go now (its venue's and its instrument's rates).
    /// An order already being cancelled, or an armed stop (it lives only here), sends
    /// nothing to a venue: it spends no token.
    fn allow_cancel(&mut self, id: crate::order::ClientId, now: u64) -> bool {
        let Some(order) = self.oms.get(id) else {
            return self.risk.allow_cancel(0, InstrumentId(u32::MAX), now);
        };
        if order.state == OrderState::PendingCancel || order.is_armed() {
            return true;
        }
        let instrument = order.new.instrument;
        self.risk.allow_cancel(self.layout.venue_of(instrument), instrument, now)
    }

    /// The circuit breaker of the venue an order went to (with one venue, its one
    /// breaker, whether or not the OMS still holds the order).
    fn breaker_of_order(&self, id: crate::order::ClientId) -> Option<&CircuitBreaker> {
        if self.layout.venues == 1 {
            return self.breakers.first().map(|b| &**b);
        }
        self.oms.get(id).and_then(|o| self.breaker_of(o.new.instrument))
    }

    /// Reliability tests: the simulated venue rejects every order after `orders`
    /// (no effect on a real venue's gateway).
    pub fn inject_venue_rejects(&mut self, orders: u64) {
        self.venue.inject_rejects_after(orders);
    }

    /// A request that could not be sent: counted; its order's outcome stays
    /// unknown (pending) until a venue query settles it, never invented.
    fn gateway_failed(&mut self, _error: &crate::gateway::GatewayError) {
        self.counters.gateway_errors += 1;
    }

    /// A lost venue connection is retried once a second (the connection is made off
    /// the hot core, looked in on every step until it is). Meanwhile risk refuses
    /// new orders for it; on reconnecting the venue replays every answer missed and
    /// the orders still waiting are settled by asking it, so no outcome is guessed.
    /// Until that settle succeeds (retried once a second), new orders stay refused.
    fn keep_venue_connected(&mut self, now: u64) {
        if self.venue.is_connected() {
            if self.settle_pending && now.saturating_sub(self.last_reconnect) >= 1_000_000_000 {
                self.last_reconnect = now;
                self.settle_pending = !self.settle_with_venue(now);
            }
            return;
        }
        if !self.venue.is_reconnecting() {
            if now.saturating_sub(self.last_reconnect) < 1_000_000_000 {
                return;
            }
            self.last_reconnect = now;
        }
        match self.venue.reconnect() {
            Ok(()) => {
                self.counters.venue_reconnects += 1;
                self.settle_pending = !self.settle_with_venue(now);
            }
            Err(crate::gateway::GatewayError::Connecting) => {}
            Err(e) => self.gateway_failed(&e),
        }
    }

    /// A live feed that sends nothing for `--feed-stale-after` is stale: reported
    /// once (until a frame comes), and its books are invalidated, so risk refuses
    /// orders on them and, if it lasts, the stale-book kill switch trips.
    fn check_feed_silence(&mut self, now: u64) {
        let limit = self.feed_stale_ns;
        if self.first_tick == 0 {
            self.first_tick = now;
        }
        if limit == 0 {
            return;
        }
        let single = self.layout.venues == 1;
        for v in 0..self.layout.venues.min(64) {
            let last = if single { self.last_event } else { self.venue_last.get(v).copied().unwrap_or(0) };
            let since = last.max(self.first_tick);
            if self.feed_stale & (1u64 << v) != 0 || now.saturating_sub(since) <= limit {
                continue;
            }
            self.feed_stale |= 1u64 << v;
            let silent_ms = now.saturating_sub(since) / 1_000_000;
            // One venue among several names its first instrument and, as the
            // sequence, the venue; the detail is how long it has been silent.
            let which = if single { FeedStatus::ALL } else { InstrumentId(self.layout.ids(v).start as u32) };
            self.feed_status(StatusKind::Stale, which, (v as u64, silent_ms), now);
            self.invalidate_venue(v);
        }
    }

    /// A frame from `venue`'s feed, whatever it held: that venue is not silent.
    fn heard(&mut self, venue: usize, ts_recv: u64) {
        if self.layout.venues == 1 {
            self.feed_stale = 0;
        } else if let Some(last) = self.venue_last.get_mut(venue) {
            *last = (*last).max(ts_recv);
            self.feed_stale &= !(1u64 << (venue & 63));
        }
    }

    /// A request unanswered for `--ack-timeout` is not given up on: the venue is
    /// asked what it holds and every waiting order is settled from its answer (at
    /// most once per half timeout).
    fn check_ack_timeouts(&mut self, now: u64) {
        let timeout = self.ack_timeout_ns;
        if timeout == 0 || now.saturating_sub(self.last_ack_check) < timeout / 2 || !self.venue.is_connected() {
            return;
        }
        // Answers already made and on their way: they settle it; asking now would
        // race them.
        if self.venue.answers_in_flight() {
            return;
        }
        self.last_ack_check = now;
        let overdue = self
            .oms
            .working()
            .filter(|o| !o.is_armed() && (o.state == OrderState::Submitted || o.state.is_pending()))
            .filter(|o| now.saturating_sub(o.sent_at) > timeout)
            .count() as u64;
        if overdue > 0 {
            self.counters.ack_timeouts += overdue;
            self.settle_with_venue(now);
        }
    }

    /// After a reconnect, every order still waiting on the venue is settled by
    /// asking it. The venue replays every answer it sent while we were away before it
    /// answers the query, so once those are applied an order still waiting has
    /// nothing more coming:
    /// - sent but unknown to the venue: it never arrived (rejected here);
    /// - a cancel pending on an order the venue still holds: the cancel never
    ///   arrived (sent again); on one it does not hold: it ended with no fill beyond
    ///   those reported (cancelled);
    /// - a replace pending: settled by the terms the venue holds.
    ///
    /// Cold work on the hot thread, like the login: it happens once per outage.
    /// Whether the venue answered.
    fn settle_with_venue(&mut self, now: u64) -> bool {
        let open = match self.venue.open_orders() {
            Ok(open) => open,
            Err(e) => {
                self.gateway_failed(&e);
                return false;
            }
        };
        self.handle_reports(now);
        let waiting: Vec<Order> = self.oms.working().filter(|o| !o.is_armed()).copied().collect();
        for order in waiting {
            let at_venue = open.iter().find(|v| v.id == order.id);
            let answer = match (order.state, at_venue) {
                (OrderState::Submitted, None) => Some(ExecKind::Rejected),
                // Working there, its ack lost: what the venue says is what it is.
                (OrderState::Submitted, Some(_)) => Some(ExecKind::Accepted),
                (OrderState::PendingCancel, Some(_)) => {
                    if let Err(e) = self.venue.cancel(order.id, order.new.instrument, now) {
                        self.gateway_failed(&e);
                    }
                    self.oms.stamp(order.id, now);
                    None
                }
                (OrderState::PendingCancel | OrderState::Accepted | OrderState::PartiallyFilled, None) => {
                    Some(ExecKind::Canceled)
                }
                (OrderState::PendingUpdate, Some(v)) if (v.price, v.qty) == order.replace => {
                    Some(ExecKind::Replaced { price: v.price, qty: v.qty })
                }
                (OrderState::PendingUpdate, Some(_)) => Some(ExecKind::ReplaceRejected),
                (OrderState::PendingUpdate, None) => Some(ExecKind::Canceled),
                _ => None,
            };
            match answer {
                Some(kind) => {
                    self.counters.settled += 1;
                    if !self.reports.push(ExecReport { client_id: order.id, kind, ts: now }) {
                        self.counters.oms_errors += 1;
                    }
                }
                // Still waiting, and rightly: a new timeout starts now, so the same
                // order does not count as overdue again at the next check.
                None => self.oms.stamp(order.id, now),
            }
        }
        self.handle_reports(now);
        true
    }

    /// Start-up reconciliation's outcome: the venue's positions become the OMS's.
    /// A mismatch is audited as trip 109 and, by `policy`, halts the engine (as any
    /// trip) or starts it reduce-only, in the state a standard re-arm leaves (every
    /// other check and trip still live); `engine rearm` lifts either.
    pub fn start_reconciled(&mut self, venue: &[crate::gateway::VenuePosition], mismatch: Option<MismatchPolicy>) {
        self.forget_hold_state();
        for p in venue {
            self.oms.seed_position(p.instrument, p.net, p.avg_price);
        }
        self.exposure_stale = true;
        let trip = Trip { reason: TripReason::ReconcileMismatch, limit: 0, observed: 0 };
        match mismatch {
            None | Some(MismatchPolicy::TrustVenue) => {}
            Some(MismatchPolicy::Halt) => self.trip(Halt::KillSwitch(trip)),
            Some(MismatchPolicy::ReduceOnly) => {
                self.audit(trip.reason as u16, (0, 0), self.last_event, 0);
                self.risk.set_state(TradingState::ReduceOnly);
                self.reconcile_hold = true;
            }
        }
    }

    /// Why the engine started reduce-only, if reconciliation put it there.
    pub fn reconcile_hold(&self) -> bool {
        self.reconcile_hold
    }

    /// Moves the venue's answers that have arrived into the report buffer.
    fn poll_venue(&mut self, now: u64) {
        if let Err(e) = self.venue.poll(now, &mut self.reports) {
            self.gateway_failed(&e);
        }
    }

    /// Whether a request of ours still waits on a connected venue's answer (a new
    /// order not yet acked, a cancel or replace not yet answered).
    pub fn awaiting_venue(&self) -> bool {
        self.venue.is_connected()
            && self.oms.working().any(|o| !o.is_armed() && (o.state == OrderState::Submitted || o.state.is_pending()))
    }

    /// Applies the venue's answers that have arrived (shutdown: the last cancels').
    pub fn take_answers(&mut self, now: u64) {
        self.handle_reports(now);
    }

    /// What the venue gateway counted.
    pub fn gateway_counters(&self) -> crate::gateway::GatewayCounters {
        self.venue.counters()
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The latency histograms.
    pub fn latency(&self) -> &Latencies {
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
