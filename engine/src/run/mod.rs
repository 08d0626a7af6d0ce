//! `engine run`: one fused hot core (feed → books → strategy → risk → OMS → venue)
//! and one cold core (journal, live status, watchdog, report), linked by rings.
//!
//! The cold core is the calling thread. It drains the hot core's record ring into
//! the journal, prints a status line a second, watches the hot core's heartbeat,
//! and on SIGINT/SIGTERM, `--duration` or `--frames` asks it to stop: the hot core
//! cancels its working orders and returns, the ring is drained, the journal synced,
//! and the report printed.

pub mod control;
mod feed;
mod hot;
mod pipelined;
pub mod reconcile;
mod report;
mod ship;
mod source;

use std::{path::PathBuf, time::Duration};

pub use feed::{Feed, MultiFeed, Recording, ReplayFeed, Session, SimFeed, WsFeed};
pub use hot::{Control, Faults, Input, Status, step};
use persist::{
    Record,
    journal::{FsyncPolicy, Journal, JournalError, JournalOptions},
};
pub use pipelined::{FEED_RING, FeedMsg, FeedStage, FeedStageReport, RingInput};
pub use report::{RunSummary, write_hgrms};
use rings::spsc;
pub use ship::{ShipReport, ShipperThread};
use source::{FeedCore, Fused, HotIo, Source, drive_source};

use crate::{
    clock::{Clock, LiveClock},
    pipeline::{Decoders, Latencies, Pipeline, PipelineConfig, RecordSink, VenueLayout},
    risk::Reject,
    sim::{MarketSim, SimSymbol},
};

/// How the hot thread ran, from the kernel's view (`/proc/thread-self/status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HotThreadSummary {
    /// Thread name.
    pub name: String,
    /// The CPU it was pinned to.
    pub cpu: usize,
    /// Whether it ran SCHED_FIFO.
    pub sched_fifo: bool,
    /// Times the kernel took the CPU away during the run (preemptions: each one a
    /// latency spike on a busy-polling core; 0 on an isolated core).
    pub involuntary_switches: u64,
    /// Times it gave the CPU up itself (should be 0: it never blocks).
    pub voluntary_switches: u64,
}

/// Where the kernel put the hot core's record ring (built and prefaulted on the hot
/// thread, so first-touch placement puts it on the hot core's node).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RingMemory {
    /// The ring's slot bytes.
    pub ring_bytes: u64,
    /// Whether huge pages were asked for (`--huge-pages`).
    pub huge_pages_requested: bool,
    /// Where the kernel placed the mapping holding the ring (None: `/proc` unreadable).
    pub placement: Option<tuning::MemoryPlacement>,
    /// The hot CPU's NUMA node (None: the host reports no nodes).
    pub hot_cpu_node: Option<usize>,
}

impl RingMemory {
    /// What is wrong with the placement, for a warning.
    pub fn problem(&self) -> Option<String> {
        let placement = self.placement.as_ref()?;
        let nodes = placement.nodes();
        if let Some(hot) = self.hot_cpu_node
            && nodes.iter().any(|n| *n != hot)
        {
            return Some(format!("the record ring has pages on NUMA node(s) {nodes:?}, the hot CPU is on node {hot}"));
        }
        (self.huge_pages_requested && placement.huge_page_bytes == 0).then(|| {
            "--huge-pages: the host gave the record ring no huge pages \
             (see /sys/kernel/mm/transparent_hugepage/enabled; `engine tune check`)"
                .to_owned()
        })
    }
}

/// Builds the hot core's record ring on the calling (hot) thread, so its pages are
/// first touched, hence placed, on that core's node.
fn record_ring(
    huge_pages: bool,
    hot_cpu: usize,
) -> Result<(spsc::Producer<Record>, spsc::Consumer<Record>, RingMemory), rings::CapacityError> {
    let memory = if huge_pages { spsc::Memory::HugePages } else { spsc::Memory::Heap };
    let (tx, rx) = match spsc::channel_with::<Record>(RECORD_RING, memory) {
        Err(e) if huge_pages => {
            eprintln!("warning: --huge-pages: {e}; the record ring uses ordinary pages");
            spsc::channel::<Record>(RECORD_RING)?
        }
        other => other?,
    };
    let span = tx.slot_memory();
    let ring = RingMemory {
        ring_bytes: span.len() as u64,
        huge_pages_requested: huge_pages,
        placement: tuning::MemoryPlacement::of(&span),
        hot_cpu_node: tuning::node_of_cpu(&tuning::audit::Host::live(), hot_cpu),
    };
    Ok((tx, rx, ring))
}

/// Which stages run on which cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One hot core runs every stage, calling each other directly.
    Fused,
    /// A feed core reads and decodes (on `feed_cpu`) and hands events over a ring to
    /// the trading core (books, strategy, risk, OMS, venue).
    Pipelined {
        /// The feed core's CPU.
        feed_cpu: usize,
    },
}

/// What becomes of a stalled hot stage's working orders, which it cannot cancel.
fn stalled_orders(options: &RunOptions) -> &'static str {
    match (&options.venue, options.cancel_on_disconnect) {
        (crate::cli::OrderVenue::Ws(_), true) => {
            "the venue cancels its resting orders (cancel-on-disconnect) when the engine's connection closes at exit"
        }
        (crate::cli::OrderVenue::Ws(_), false) => {
            "they may still rest at the venue (--cancel-on-disconnect is off): check and cancel them there"
        }
        _ => "they were at the simulated venue, which ends with the engine",
    }
}

/// A venue gateway handed to the hot thread.
type Gateway = Box<dyn crate::gateway::VenueGateway>;

/// Where feed and order-entry reconnects run: the cold core, unless a hot stage
/// shares its CPU (`--cores` may give the feed core's to the cold core), and then
/// wherever the scheduler puts them.
fn connect_cpu(options: &RunOptions) -> Option<usize> {
    let (hot_cpu, cold_cpu) = options.cores;
    let feed_core = match options.topology {
        Topology::Pipelined { feed_cpu } => feed_cpu,
        Topology::Fused => hot_cpu,
    };
    (cold_cpu != hot_cpu && cold_cpu != feed_core).then_some(cold_cpu)
}

/// Connects the WebSocket venues, one per feed, and reconciles with them (none for
/// the simulated venue, which starts empty with every run).
fn connect_venue(options: &RunOptions) -> Result<(Option<Gateway>, Option<reconcile::Reconciliation>), RunError> {
    let crate::cli::OrderVenue::Ws(urls) = &options.venue else { return Ok((None, None)) };
    let creds = crate::gateway::protocol::Credentials::from_env().map_err(RunError::Venue)?;
    let layout = crate::pipeline::VenueLayout::of(&options.pipeline);
    let mut venues: Vec<Gateway> = Vec::with_capacity(urls.len());
    for (v, url) in urls.iter().enumerate() {
        let ids = layout.ids(v);
        let symbols = options.pipeline.instruments.get(ids.clone()).unwrap_or_default().to_vec();
        let gateway = crate::gateway::WsGateway::connect_with(
            url,
            creds.clone(),
            (symbols, options.cancel_on_disconnect),
            options.tls.clone(),
        )
        .map_err(|e| RunError::Venue(format!("{url}: {e}")))?
        .with_first_instrument(ids.start as u32)
        .with_connect_cpu(connect_cpu(options));
        venues.push(Box::new(gateway));
    }
    let mut gateway: Gateway = match venues.len() {
        1 => venues.pop().ok_or_else(|| RunError::Venue("no order-entry URL".into()))?,
        _ => Box::new(crate::gateway::VenueSet::new(venues, layout)),
    };
    let journal = match &options.persist {
        PersistTarget::Journal(dir, _) => reconcile::journal_positions(dir).map_err(RunError::Venue)?,
        PersistTarget::None | PersistTarget::Discard => Vec::new(),
    };
    let names = crate::pipeline::instrument_labels(&options.pipeline);
    let found = reconcile::startup(gateway.as_mut(), &journal, &names, options.on_mismatch)
        .map_err(|e| RunError::Venue(format!("start-up reconciliation: {e}")))?;
    if found.mismatched() {
        eprintln!(
            "warning: the venue's positions differ from the journal's ({}); the venue's are taken, and the engine \
             starts {}",
            found.mismatches.join("; "),
            match found.policy {
                crate::cli::MismatchPolicy::ReduceOnly => "reduce-only until `engine rearm`",
                crate::cli::MismatchPolicy::Halt => "halted until `engine rearm`",
                crate::cli::MismatchPolicy::TrustVenue => "trading on them (--on-mismatch trust-venue)",
            }
        );
    }
    Ok((Some(gateway), Some(found)))
}

/// Builds the simulator on the thread that reads it: venue `v`'s feed.
type SimFactory = Box<dyn Fn(usize) -> SimFeed + Send>;

/// What the trading core reads.
enum HotInput {
    /// The feed itself (fused), with the capture to record into.
    Feed(Box<Source>, Option<(PathBuf, feeds::event::Venue)>, SimFactory),
    /// The feed core's ring (pipelined).
    Ring(Box<RingInput>),
}

/// A hot thread's context switches, from its start to its end.
struct HotThreadWatch {
    name: &'static str,
    cpu: usize,
    fifo: bool,
    at_start: tuning::ThreadReport,
}

impl HotThreadWatch {
    fn start(name: &'static str, cpu: usize, start: &tuning::HotThreadStart) -> Self {
        if let Some(w) = &start.warning {
            eprintln!("warning: {name} setup: {w}; running without it");
        }
        Self { name, cpu, fifo: start.fifo, at_start: start.report.clone() }
    }

    fn finish(self) -> HotThreadSummary {
        let at_end = tuning::ThreadReport::current().unwrap_or_else(|| self.at_start.clone());
        HotThreadSummary {
            name: self.name.into(),
            cpu: self.cpu,
            sched_fifo: self.fifo,
            involuntary_switches: at_end.involuntary_switches.saturating_sub(self.at_start.involuntary_switches),
            voluntary_switches: at_end.voluntary_switches.saturating_sub(self.at_start.voluntary_switches),
        }
    }
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistTarget {
    /// Nowhere (for measuring the cost of persistence).
    None,
    /// Through the record ring to the cold core, which drops them: what the hand-over
    /// alone costs the hot core (for measuring; the journal's writes are the rest).
    Discard,
    /// The local journal in this directory.
    Journal(PathBuf, FsyncPolicy),
}

impl std::fmt::Display for PersistTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => write!(f, "none"),
            Self::Discard => write!(f, "discard"),
            Self::Journal(dir, _) => write!(f, "journal:{}", dir.display()),
        }
    }
}

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// The built-in simulator, paced at `RunOptions::rate`.
    Sim,
    /// A capture, replayed as fast as the hot core takes it.
    Replay(PathBuf),
    /// WebSocket URLs (`ws://`), one per venue: a venue's stream or `engine sim`.
    Ws(Vec<String>),
}

/// Everything `engine run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where frames come from.
    pub feed: FeedSource,
    /// Where orders go.
    pub venue: crate::cli::OrderVenue,
    /// With a WebSocket venue, have it cancel our resting orders if we disconnect.
    pub cancel_on_disconnect: bool,
    /// With a WebSocket venue, what a start-up position mismatch does.
    pub on_mismatch: crate::cli::MismatchPolicy,
    /// Record every frame and snapshot into this capture file.
    pub record: Option<PathBuf>,
    /// Whom wss:// feeds and venues trust.
    pub tls: feeds::ws::TlsConfig,
    /// The longest wait between a dropped feed's reconnect attempts.
    pub reconnect_max_wait: Duration,
    /// The hot stage.
    pub pipeline: PipelineConfig,
    /// Frames per second the simulator offers (0: as fast as the stage takes them).
    pub rate: u64,
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many frames (for tests and replays).
    pub max_frames: Option<u64>,
    /// Where records go.
    pub persist: PersistTarget,
    /// (hot, cold) CPUs: the hot one runs the fused stage or, pipelined, the trading core.
    pub cores: (usize, usize),
    /// Fused or pipelined.
    pub topology: Topology,
    /// SCHED_FIFO priority for the hot thread.
    pub fifo: Option<u8>,
    /// mlockall before starting.
    pub mlock: bool,
    /// Put the record ring on transparent huge pages.
    pub huge_pages: bool,
    /// How often the cold core drains the record ring into the journal (sooner if a
    /// quarter full): fewer, larger writes keep its system calls, and what they do to
    /// the hot core, rare.
    pub drain_every: Duration,
    /// Simulator seed.
    pub seed: u64,
    /// Simulator drops an update id every this many depth frames (0: never).
    pub gap_every: u64,
    /// The hot core must send a heartbeat at least this often.
    pub watchdog: Duration,
    /// Print a status line this often (None: quiet).
    pub status_every: Option<Duration>,
    /// Injected faults (reliability tests only).
    pub faults: Faults,
    /// A control file the cold core polls for operator commands.
    pub control: Option<PathBuf>,
    /// Re-reads the breaker settings (flags and `--config` file) on SIGHUP.
    pub reload: Option<fn() -> Result<crate::risk::BreakerConfig, String>>,
    /// Also ship the journal into PostgreSQL: `Some(None)` from the PG* variables,
    /// `Some(Some(url))` from a URL.
    pub database: Option<Option<String>>,
    /// Connections the database follower may split a large shipment among.
    pub db_writers: usize,
}

/// Why a run could not start or did not end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The topology needs more CPUs than this process may use.
    #[error("topology `{topology}` needs {required} cores ({layout}); this process may use CPUs `{available}`{hint}")]
    TooFewCores {
        /// The topology.
        topology: &'static str,
        /// Cores needed.
        required: usize,
        /// What they are for.
        layout: &'static str,
        /// Cores allowed.
        available: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The journal failed during the run (disk full, I/O error): trading was
    /// stopped and working orders cancelled; the records handed over after the
    /// failure could not be journaled and are counted here, never dropped silently.
    #[error(
        "journal failed during the run: {error}; the engine stopped trading and cancelled its orders. \
         {journaled} records were journaled, {unconfirmed} of them written after the last successful fsync \
         (after a failed one they may be lost); {lost} handed over after the failure were not ({detail}). \
         The segment's torn tail, if any, is truncated on the next open."
    )]
    JournalFailed {
        /// What failed.
        error: JournalError,
        /// Records written to the journal.
        journaled: u64,
        /// Of those, records written after the last successful fsync.
        unconfirmed: u64,
        /// Records that could not be journaled.
        lost: u64,
        /// Those per kind.
        detail: String,
    },
    /// A thread or the signal handler could not be set up.
    #[error("{what}: {source}")]
    Setup {
        /// What failed.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The hot core could not be placed.
    #[error("hot core placement: {0}")]
    Placement(tuning::Error),
    /// A replay asked for the pipelined topology.
    #[error(
        "a replay runs fused (--topology fused): its determinism rests on each frame's snapshots being fetched \
         before the next frame, which only one core can promise"
    )]
    ReplayPipelined,
    /// The journal holds ids from the last client-id epoch: none is left above them.
    #[error(
        "the journal holds client order ids from the last of the 32768 id epochs, so this run's ids would \
         repeat earlier runs'; start a new journal directory (and a new database: its orders are keyed by id)"
    )]
    ClientIdsExhausted,
    /// A database was asked for without the journal it is shipped from.
    #[error("--db ships the journal into PostgreSQL, so it needs --persist journal:DIR, not none")]
    DatabaseWithoutJournal,
    /// The capture to replay could not be read.
    #[error("replay: {0}")]
    Capture(String),
    /// The feed could not be reached at start-up.
    #[error("feed: {0}")]
    Feed(String),
    /// The venue could not be reached or reconciled at start-up.
    #[error("venue: {0}")]
    Venue(String),
    /// The hot stage panicked; it tripped the kill switch and cancelled its working
    /// orders on the way out, and records it had handed over were journaled.
    #[error(
        "the hot stage panicked ({0}); the kill switch tripped (stage_failed) and working orders were cancelled \
         on the way out; every record it handed over was journaled"
    )]
    StagePanicked(String),
    /// The pipelined feed core stopped sending heartbeats.
    #[error(
        "watchdog: the feed core sent no heartbeat for {0:?}; the trading core cancelled its working orders and \
         stopped; every record it handed over was journaled"
    )]
    FeedStalled(Duration),
    /// The hot stage stopped sending heartbeats; the text says what becomes of the
    /// orders it could not cancel.
    #[error(
        "watchdog: the hot stage sent no heartbeat for {0:?}; engine stopped. The stalled stage could not cancel \
         its working orders: {1}. Every record it handed over before the engine gave up on it was journaled"
    )]
    Stalled(Duration, &'static str),
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report.
    pub summary: RunSummary,
    /// Merged histograms, for `.hgrm` output.
    pub latency: Latencies,
}

/// Venue `venue`'s simulated market: its instruments, its own random walk.
pub fn sim_market(config: &PipelineConfig, venue: usize, seed: u64, gap_every: u64) -> MarketSim {
    let symbols = config
        .instruments
        .iter()
        .enumerate()
        .skip(VenueLayout::of(config).ids(venue).start)
        .take(VenueLayout::of(config).per_venue)
        .map(|(i, (name, ps, qs))| {
            SimSymbol::new(name, feeds::event::InstrumentId(i as u32), (*ps, *qs), sim_start_ticks(name, *ps))
        })
        .collect();
    MarketSim::new(symbols, seed.wrapping_add(venue as u64)).with_gap_every(gap_every).with_dialect(config.dialect)
}

/// A symbol's (price, size) decimals: its `--scales` entry if it has one (the last,
/// if several), else the built-in table's.
pub fn symbol_scales(name: &str, scales: &[crate::cli::SymbolScales]) -> (u8, u8) {
    scales.iter().rev().find(|s| s.symbol == name).map_or_else(
        || {
            let (price, size, _) = sim_symbol_spec(name);
            (price, size)
        },
        |s| (s.price, s.size),
    )
}

/// Checks that every `--scales` entry names one of `symbols`.
///
/// # Errors
/// The first entry that does not, with the symbols there are.
pub fn check_scales(scales: &[crate::cli::SymbolScales], symbols: &[String]) -> Result<(), String> {
    if let Some(s) = scales.iter().find(|s| !symbols.contains(&s.symbol)) {
        return Err(format!("--scales: {} is not one of --symbols ({})", s.symbol, symbols.join(",")));
    }
    match scales.iter().find(|s| s.price + s.size > MAX_MONEY_SCALE) {
        Some(s) => Err(format!(
            "--scales: {}={}:{}: {} decimals together, at most {MAX_MONEY_SCALE} (the account keeps amounts such as \
             --equity at the largest price + size scale, in 64 bits)",
            s.symbol,
            s.price,
            s.size,
            s.price + s.size
        )),
        None => Ok(()),
    }
}

/// The most price + size decimals one instrument may have: the account's amounts
/// are `i64` at the largest such sum, and the default `--equity` (100,000) must fit.
pub const MAX_MONEY_SCALE: u8 = 12;

/// Where the simulator starts a symbol's best bid, in ticks at `price_scale`: the
/// built-in table's price, at least one tick.
pub fn sim_start_ticks(name: &str, price_scale: u8) -> i64 {
    let (table_scale, _, start) = sim_symbol_spec(name);
    let step = |d: u8| 10i64.pow(u32::from(d));
    let ticks = if price_scale >= table_scale {
        start.saturating_mul(step(price_scale - table_scale))
    } else {
        start / step(table_scale - price_scale)
    };
    ticks.max(1)
}

/// Scales and a starting price for the simulator's symbols.
pub fn sim_symbol_spec(name: &str) -> (u8, u8, i64) {
    match name {
        "BTCUSDT" => (2, 5, 6_000_000),
        "ETHUSDT" => (2, 4, 300_000),
        "SOLUSDT" => (2, 3, 15_000),
        _ => (2, 3, 10_000),
    }
}

/// The CPUs the fused topology uses: (hot, cold) from the ones this process may use.
///
/// # Errors
/// [`RunError::TooFewCores`] with fewer than two.
pub fn default_cores() -> Result<(usize, usize), RunError> {
    let allowed = tuning::allowed_cpus().map_err(RunError::Placement)?;
    match allowed.as_slice() {
        [cold, .., hot] => Ok((*hot, *cold)),
        _ => Err(RunError::TooFewCores {
            topology: "fused",
            required: 2,
            layout: "1 hot + 1 cold",
            available: tuning::format_cpu_list(&allowed),
            hint: "",
        }),
    }
}

/// The CPUs the pipelined topology uses: (feed, trading, cold), the hot ones last.
///
/// # Errors
/// [`RunError::TooFewCores`] with fewer than three.
pub fn default_pipelined_cores() -> Result<(usize, usize, usize), RunError> {
    let allowed = tuning::allowed_cpus().map_err(RunError::Placement)?;
    match allowed.as_slice() {
        [cold, .., feed, trade] if allowed.len() >= 3 => Ok((*feed, *trade, *cold)),
        _ => Err(RunError::TooFewCores {
            topology: "pipelined",
            required: 3,
            layout: "feed + trading + cold",
            available: tuning::format_cpu_list(&allowed),
            hint: "; on a small host give --cores FEED,TRADE,COLD with the cold core sharing the feed core \
                   (e.g. 0,1,0 --force-cpu0), a lab setup in which journal writes preempt the feed stage",
        }),
    }
}

/// The cold core's correlation estimate: mids from the records it drains, sampled
/// every 100 ms, correlations over the last 30 s published to the risk core every
/// second. (With `--persist none` no records flow, so no correlations are known and
/// the correlation check passes everything.)
struct Returns {
    snapshot: std::sync::Arc<crate::risk::CorrelationSnapshot>,
    estimator: crate::risk::ReturnsEstimator,
    mids: Vec<i64>,
    next_sample: u64,
    next_publish: u64,
}

const SAMPLE_NS: u64 = 100_000_000;
const PUBLISH_NS: u64 = 1_000_000_000;

impl Returns {
    fn new(snapshot: std::sync::Arc<crate::risk::CorrelationSnapshot>, now: u64) -> Self {
        let n = snapshot.len();
        Self {
            snapshot,
            estimator: crate::risk::ReturnsEstimator::new(n, 300),
            mids: vec![0; n],
            next_sample: now + SAMPLE_NS,
            next_publish: now + PUBLISH_NS,
        }
    }

    /// Takes the latest mid of every top-of-book record.
    fn observe(&mut self, records: &[Record]) {
        for r in records {
            if let Some(top) = <persist::record::BookTopFields as persist::Fields>::from_record(r)
                && let Some(mid) = self.mids.get_mut(r.instrument as usize)
                && top.bid > 0
                && top.ask > 0
            {
                // Both positive: halves summed cannot overflow, as the sum can.
                *mid = top.bid / 2 + top.ask / 2 + (top.bid % 2 + top.ask % 2) / 2;
            }
        }
    }

    fn tick(&mut self, now: u64) {
        if now >= self.next_sample {
            self.next_sample = now + SAMPLE_NS;
            self.estimator.sample(&self.mids);
        }
        if now >= self.next_publish {
            self.next_publish = now + PUBLISH_NS;
            self.snapshot.publish(&self.estimator.matrix());
        }
    }
}

struct Cold {
    journal: Option<Journal>,
    batch: Vec<Record>,
    journaled: u64,
    /// The first journal failure; from then on nothing more can be journaled.
    failed: Option<JournalError>,
    /// Records handed over after the journal failed, per kind code (0: unknown).
    lost: [u64; 7],
}

impl Cold {
    /// Moves what the ring holds into the journal; returns how many records it took.
    /// Once the journal has failed, records are still taken (the hot core must never
    /// block on a dead disk) but counted per kind as not journaled.
    fn drain(&mut self, ring: &mut spsc::Consumer<Record>) -> usize {
        self.batch.clear();
        let chunk = ring.read_chunk(self.batch.capacity());
        let (a, b) = chunk.as_slices();
        self.batch.extend_from_slice(a);
        self.batch.extend_from_slice(b);
        let n = self.batch.len();
        chunk.commit(n);
        if n == 0 {
            return 0;
        }
        if self.failed.is_none()
            && let Some(j) = self.journal.as_mut()
        {
            match j.append(&self.batch) {
                Ok(()) => {
                    self.journaled += n as u64;
                    return n;
                }
                Err(e) => self.failed = Some(e),
            }
        } else if self.journal.is_none() {
            return n; // --persist none
        }
        for r in &self.batch {
            if let Some(c) = self.lost.get_mut(usize::from(r.kind_code()).min(6)) {
                *c += 1;
            }
        }
        n
    }

    fn sync(&mut self, only_if_due: bool) {
        if self.failed.is_some() {
            return;
        }
        if let Some(j) = self.journal.as_mut() {
            let result = if only_if_due { j.sync_if_due() } else { j.sync() };
            if let Err(e) = result {
                self.failed = Some(e);
            }
        }
    }

    /// The journal failure as a run error, with what could not be journaled.
    fn failure(&mut self) -> Option<RunError> {
        let error = self.failed.take()?;
        let lost: Vec<String> = self
            .lost
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| {
                let kind = persist::RecordKind::from_code(code as u16).map_or("unknown", persist::RecordKind::name);
                format!("{n} {kind}")
            })
            .collect();
        let total = self.lost.iter().sum();
        let synced = self.journal.as_ref().map_or(0, |j| j.stats().synced_records);
        Some(RunError::JournalFailed {
            error,
            journaled: self.journaled,
            unconfirmed: self.journaled.saturating_sub(synced),
            lost: total,
            detail: lost.join(", "),
        })
    }
}

/// Tells the database follower how far the journal is durable, when that moved.
fn publish_durable(
    shipper: &mut Option<ShipperThread>,
    cold: &Cold,
    published: &mut Option<persist::journal::Position>,
) {
    if let (Some(s), Some(p)) = (shipper.as_mut(), durable_of(cold))
        && *published != Some(p)
        // Not taken (the follower is busy): offered again next time round.
        && s.durable(p)
    {
        *published = Some(p);
    }
}

/// How far the journal is durable, unless it failed.
fn durable_of(cold: &Cold) -> Option<persist::journal::Position> {
    cold.journal.as_ref().filter(|_| cold.failed.is_none()).map(|j| j.durable_position())
}

fn status_line(s: &Status, prev: &Status, capacity: usize) -> String {
    let dt = (s.ts.saturating_sub(prev.ts)).max(1) as f64 / 1e9;
    let rate = |a: u64, b: u64| (a.saturating_sub(b)) as f64 / dt;
    // Only when it happened: a refused subscription leaves books that never sync.
    let refused = if s.refused > 0 {
        format!("  VENUE REFUSED {} REQUEST(S): check --symbols and --dialect", s.refused)
    } else {
        String::new()
    };
    format!(
        "events {:>9.0}/s  orders {:>7.0}/s  fills {:>6}  rejects {:>6}  gaps {:>3}  persist ring {:>5.1}%  \
         tick-to-order p50 {:>6} ns p99 {:>7} ns  kill switch {}{refused}",
        rate(s.events, prev.events),
        rate(s.orders, prev.orders),
        s.fills,
        s.rejects,
        s.gaps,
        s.backlog as f64 * 100.0 / capacity.max(1) as f64,
        s.p50,
        s.p99,
        match (s.halted, crate::risk::TripReason::from_code(s.halt_code)) {
            (false, _) => "armed".to_owned(),
            (true, Some(r)) => format!("TRIPPED ({})", r.name()),
            (true, None) => "TRIPPED".to_owned(),
        }
    )
}

const RECORD_RING: usize = 1 << 16;
/// How often the cold core looks for a control file.
const CONTROL_POLL_NS: u64 = 100_000_000;
/// The default of [`RunOptions::drain_every`].
pub const DRAIN_EVERY: Duration = Duration::from_millis(5);

/// Runs the engine until the duration, a frame limit or a signal.
///
/// # Errors
/// A [`RunError`]; a halt by the kill switch is not an error but a report with
/// `halt` set.
pub fn run(options: &RunOptions) -> Result<RunOutcome, RunError> {
    let setup = |what| move |source| RunError::Setup { what, source };
    let (hot_cpu, cold_cpu) = options.cores;
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGUSR1,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(setup("installing SIGINT/SIGTERM/SIGUSR1/SIGHUP handlers"))?;
    let layout = VenueLayout::of(&options.pipeline);
    let names: Vec<&str> = options.pipeline.instruments.iter().map(|(name, ..)| name.as_str()).collect();
    let per_venue = names.get(..layout.per_venue).unwrap_or(&names);
    let session = |venue: usize| {
        let first = layout.ids(venue).start as u32;
        feed::Session::new(options.pipeline.dialect, per_venue, first)
    };
    let connect_cpu = connect_cpu(options);
    let source = match &options.feed {
        FeedSource::Sim => Source::Sim,
        FeedSource::Replay(path) => {
            Source::Replay(ReplayFeed::open(path, options.pipeline.dialect).map_err(RunError::Capture)?)
        }
        FeedSource::Ws(urls) => match &urls[..] {
            [url] => Source::Ws(
                WsFeed::connect(url, &options.tls, session(0))
                    .map_err(RunError::Feed)?
                    .with_max_backoff(options.reconnect_max_wait)
                    .with_connect_cpu(connect_cpu),
            ),
            _ => Source::WsVenues(MultiFeed::new(
                urls.iter()
                    .enumerate()
                    .map(|(venue, url)| {
                        WsFeed::connect(url, &options.tls, session(venue))
                            .map(|feed| feed.with_max_backoff(options.reconnect_max_wait).with_connect_cpu(connect_cpu))
                            .map_err(|e| RunError::Feed(format!("{url}: {e}")))
                    })
                    .collect::<Result<_, _>>()?,
                VenueLayout::of(&options.pipeline),
            )),
        },
    };
    let (journal, last_seq, max_client_id) = match &options.persist {
        PersistTarget::None | PersistTarget::Discard => (None, 0, 0),
        PersistTarget::Journal(dir, fsync) => {
            let (journal, recovery) =
                Journal::open(dir, JournalOptions { fsync: *fsync, ..JournalOptions::default() })?;
            if let Some(torn) = &recovery.truncated {
                eprintln!(
                    "journal {}: truncated a torn tail of {} bytes at segment {} byte {} ({})",
                    dir.display(),
                    torn.bytes,
                    torn.at.segment,
                    torn.at.offset,
                    torn.reason
                );
            }
            (Some(journal), recovery.last_seq.get(&1).copied().unwrap_or(0), recovery.max_client_id)
        }
    };
    let mut shipper = match (&options.database, &options.persist) {
        (None, _) => None,
        (Some(url), PersistTarget::Journal(dir, _)) => Some(
            ShipperThread::spawn(url.clone(), dir.clone(), options.db_writers)
                .map_err(setup("spawning the database follower"))?,
        ),
        (Some(_), PersistTarget::None | PersistTarget::Discard) => return Err(RunError::DatabaseWithoutJournal),
    };
    let (venue, reconciliation) = connect_venue(options)?;
    if options.mlock
        && let Err(e) = tuning::lock_memory()
    {
        eprintln!("warning: mlockall refused ({e}); running without locked memory");
    }
    let cap = |e: rings::CapacityError| RunError::Setup { what: "creating rings", source: std::io::Error::other(e) };
    let (mut control_tx, control_rx) = spsc::channel::<Control>(8).map_err(cap)?;
    let (beat_tx, mut beat_rx) = spsc::channel::<Status>(64).map_err(cap)?;
    // The record ring is built on the hot thread; its consumer comes back here.
    let (ring_back, ring_here) = std::sync::mpsc::sync_channel(1);
    let (huge_pages, persist_none) = (options.huge_pages, options.persist == PersistTarget::None);

    let mut config = options.pipeline.clone();
    let (rate, seed, gap_every, max_frames) = (options.rate, options.seed, options.gap_every, options.max_frames);
    let faults = options.faults;
    let record = options.record.clone().map(|path| (path, options.pipeline.dialect));
    let start_state = reconciliation.clone();
    let hot_options = tuning::HotThreadOptions { fifo_priority: options.fifo, ..Default::default() };
    // One clock for every thread: the ring hop is measured across cores.
    let clock = LiveClock::new();
    // The journal (and the database's `orders`, which follows it) remembers earlier
    // runs' orders: this run numbers its own in the next epoch above them. Only a
    // journal with no orders yet leaves the choice free; against a real venue, which
    // remembers runs on other journals too, a clock-derived epoch then makes a
    // repeat unlikely.
    config.client_id_epoch = match (max_client_id, crate::oms::Oms::epoch_above(max_client_id)) {
        (0, _) if venue.is_some() => (clock.now_ns() / 1_000_000 % 0x8000) as u16,
        (0, _) => 0,
        (_, Some(above)) => above,
        (_, None) => return Err(RunError::ClientIdsExhausted),
    };
    let sim: SimFactory = {
        let (config, clock) = (config.clone(), clock.clone());
        let venues = VenueLayout::of(&config).venues as u64;
        // The offered rate is shared by the venues, their frames interleaved evenly.
        let rate = if rate == 0 { 0 } else { rate.div_ceil(venues) };
        let stagger = 1_000_000_000u64.checked_div(rate.saturating_mul(venues)).unwrap_or(0);
        Box::new(move |v| {
            let start = clock.now_ns() + 1_000_000 + v as u64 * stagger;
            SimFeed::new(sim_market(&config, v, seed, gap_every), rate, start)
        })
    };
    let layout = VenueLayout::of(&config);
    let (input, mut feed_core) = match options.topology {
        Topology::Fused => (HotInput::Feed(Box::new(source), record, sim), None),
        Topology::Pipelined { feed_cpu } => {
            if matches!(source, Source::Replay(_)) {
                return Err(RunError::ReplayPipelined);
            }
            let (feed_tx, feed_rx) = spsc::channel::<FeedMsg>(FEED_RING).map_err(cap)?;
            let (request_tx, request_rx) = spsc::channel::<u64>(16).map_err(cap)?;
            let (feed_beat_tx, feed_beat_rx) = spsc::channel::<u64>(64).map_err(cap)?;
            let stage = FeedStage::new(Decoders::new(&config), feed_tx, request_rx, feed_beat_tx);
            let clock = clock.clone();
            let feed = tuning::spawn_hot("hot-feed", feed_cpu, hot_options, move |start| {
                let start = start.map_err(RunError::Placement)?;
                let mut stage = stage;
                let mut core = FeedCore { stage: &mut stage, clock: &clock, report: FeedStageReport::default() };
                let thread = HotThreadWatch::start("hot-feed", feed_cpu, &start);
                if let Some(w) = drive_source(&mut core, source, (&sim, layout), record) {
                    eprintln!("warning: {w}");
                }
                Ok::<_, RunError>((core.report, thread.finish()))
            })
            .map_err(setup("spawning the feed thread"))?;
            (HotInput::Ring(Box::new(RingInput::new(feed_rx, request_tx))), Some((feed, feed_beat_rx)))
        }
    };
    let stage_name = if feed_core.is_some() { "hot-trade" } else { "hot-fused" };
    let hot_clock = clock.clone();
    let handle = tuning::spawn_hot(stage_name, hot_cpu, hot_options, move |start| {
        let start = start.map_err(RunError::Placement)?;
        let thread = HotThreadWatch::start(stage_name, hot_cpu, &start);
        let (record_tx, record_rx, ring_memory) = record_ring(huge_pages, hot_cpu).map_err(cap)?;
        let record_tx = (!persist_none).then_some(record_tx);
        let clock = hot_clock;
        let live = !matches!(&input, HotInput::Feed(source, ..) if matches!(**source, Source::Replay(_)));
        // A replay waits for the cold core rather than hold records, so its orders
        // never depend on how fast the cold core happened to be.
        let sink =
            if live { RecordSink::new(record_tx, 1, last_seq) } else { RecordSink::waiting(record_tx, 1, last_seq) };
        let mut pipeline = match venue {
            Some(gateway) => Pipeline::with_gateway(&config, sink, gateway),
            None => Pipeline::new(&config, sink),
        };
        if let Some(r) = &start_state {
            pipeline.start_reconciled(&r.seed, r.mismatched().then_some(r.policy));
        }
        // The receiver lives until the cold thread has it; it cannot be gone here.
        let shared = (pipeline.breakers().to_vec(), pipeline.correlations().clone());
        let _ = ring_back.send((record_rx, ring_memory, shared));
        if let Some(orders) = faults.venue_rejects_after {
            pipeline.inject_venue_rejects(orders);
        }
        let mut io = HotIo { control: control_rx, heartbeat: beat_tx, max_frames, faults };
        let driven = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match input {
            HotInput::Feed(source, record, sim) => {
                let fused = &mut Fused { io: &mut io, pipeline: &mut pipeline, clock: &clock };
                drive_source(fused, *source, (&sim, layout), record)
            }
            HotInput::Ring(mut ring) => {
                let HotIo { control, heartbeat, .. } = &mut io;
                hot::run_input(&mut pipeline, &mut *ring, &clock, control, heartbeat, max_frames, faults);
                None
            }
        }));
        let warning = match driven {
            Ok(warning) => warning,
            Err(panic) => {
                // The stage's state may be half-updated, but its orders at the venues are
                // real: trip the kill switch (audited) and cancel them, then let the
                // panic end the run.
                // A second panic on the way out must not hide the first.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    pipeline.kill_switch(crate::risk::TripReason::StageFailed, pipeline.last_event_time());
                    hot::wind_down(&mut pipeline, live, &clock, &mut io.heartbeat);
                }));
                std::panic::resume_unwind(panic);
            }
        };
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        Ok::<_, RunError>((pipeline, thread.finish()))
    })
    .map_err(setup("spawning the hot thread"))?;
    let (mut record_rx, ring_memory, (breakers, correlations)) = match ring_here.recv() {
        Ok(ring) => ring,
        // The hot thread ended before building its ring: report why.
        Err(_) => {
            return Err(match handle.join() {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => RunError::StagePanicked("the hot stage ended before starting".into()),
                Err(p) => {
                    RunError::StagePanicked(format!("the hot stage panicked while starting: {}", panic_message(&*p)))
                }
            });
        }
    };
    if let Some(problem) = ring_memory.problem() {
        eprintln!("warning: {problem}");
    }

    // The cold loop gets its own thread, so pinning it leaves the caller's affinity alone.
    let options = options.clone();
    let cold_thread = std::thread::Builder::new()
        .name("cold".into())
        .spawn(move || -> Result<RunOutcome, RunError> {
            let options = &options;
            if let Err(e) = tuning::pin_current_thread(cold_cpu) {
                eprintln!("warning: cold core not pinned to CPU {cold_cpu}: {e}");
            }
            let clock = LiveClock::new();
            let started = clock.now_ns();
            let deadline = started.saturating_add(nanos(options.duration));
            let mut cold =
                Cold { journal, batch: Vec::with_capacity(RECORD_RING), journaled: 0, failed: None, lost: [0; 7] };
            let mut returns = Returns::new(correlations, started);
            let mut last_beat_at = started;
            let mut last_feed_beat_at = started;
            let mut next_control_poll = started;
            let mut last_status = Status { ts: started, ..Status::default() };
            let mut printed = last_status;
            let mut last_drain = started;
            let drain_every_ns = nanos(options.drain_every);
            let mut next_print = started.saturating_add(options.status_every.map_or(u64::MAX / 2, nanos));
            // The longest gap between heartbeats that made the watchdog stop the run.
            let mut late_beat: Option<u64> = None;
            let mut stop_sent = false;
            let mut published = None;
            let mut failure = None;
            let mut persist_stall = options.faults.persist_stall_ms;
            while !handle.is_finished() {
                // Batches of a few milliseconds: fewer, larger writes and syncs keep the
                // cold core's system calls (and their interrupts) rare.
                let mut now = clock.now_ns();
                if let Some(ms) = persist_stall
                    && now.saturating_sub(started) > 1_000_000_000
                {
                    persist_stall = None;
                    std::thread::sleep(Duration::from_millis(ms));
                    now = clock.now_ns();
                }
                let due = now.saturating_sub(last_drain) >= drain_every_ns || record_rx.len() >= RECORD_RING / 4;
                let drained = if due {
                    last_drain = now;
                    let n = cold.drain(&mut record_rx);
                    returns.observe(&cold.batch[..n.min(cold.batch.len())]);
                    n
                } else {
                    0
                };
                returns.tick(clock.now_ns());
                if cold.failed.is_some() && !stop_sent {
                    // A journal that cannot write: stop opening risk, cancel, end the run.
                    eprintln!("error: journal write failed; stopping the engine");
                    stop_sent = control_tx.try_push(Control::Stop).is_ok();
                }
                while let Ok(s) = beat_rx.try_pop() {
                    last_status = s;
                    last_beat_at = clock.now_ns();
                }
                // Pipelined: the watchdog watches the older of the two hot cores' beats.
                if let Some((_, feed_beat)) = feed_core.as_mut() {
                    while feed_beat.try_pop().is_ok() {
                        last_feed_beat_at = clock.now_ns();
                    }
                    last_beat_at = last_beat_at.min(last_feed_beat_at);
                }
                let now = clock.now_ns();
                let mut stop_asked = now >= deadline;
                for signal in signals.pending() {
                    if signal == signal_hook::consts::SIGHUP {
                        reload_breakers(options.reload, &breakers);
                    } else if signal == signal_hook::consts::SIGUSR1 {
                        eprintln!("SIGUSR1: tripping the kill switch (trading halts; the engine runs on)");
                        let _ = control_tx.try_push(Control::Kill);
                    } else {
                        stop_asked = true;
                    }
                }
                if let Some(path) = &options.control
                    && now >= next_control_poll
                {
                    next_control_poll = now + CONTROL_POLL_NS;
                    match control::take(path) {
                        Ok(None) => {}
                        Ok(Some(command)) => {
                            eprintln!("control file {}: {}", path.display(), command.text());
                            match command {
                                control::Command::Kill => {
                                    let _ = control_tx.try_push(Control::Kill);
                                }
                                control::Command::Rearm(plan) => {
                                    let _ = control_tx.try_push(Control::Rearm(plan));
                                }
                                control::Command::Stop => stop_asked = true,
                            }
                        }
                        Err(e) => eprintln!("control file {}: {e}", path.display()),
                    }
                }
                if !stop_sent && stop_asked {
                    stop_sent = control_tx.try_push(Control::Stop).is_ok();
                }
                let gap = now.saturating_sub(last_beat_at);
                if gap > nanos(options.watchdog) {
                    let _ = control_tx.try_push(Control::Stop);
                    late_beat = late_beat.max(Some(gap));
                    // A stalled hot core gets a grace period to answer the stop; then we go.
                    if gap > nanos(options.watchdog).saturating_mul(2) {
                        failure = Some(RunError::Stalled(options.watchdog, stalled_orders(options)));
                        break;
                    }
                }
                if let Some(every) = options.status_every
                    && now >= next_print
                {
                    next_print = now.saturating_add(nanos(every));
                    if last_status.ts > printed.ts {
                        eprintln!("{}", status_line(&last_status, &printed, RECORD_RING));
                        printed = last_status;
                    }
                }
                if drained < RECORD_RING / 4 {
                    std::thread::sleep(Duration::from_micros(500));
                }
                cold.sync(true);
                publish_durable(&mut shipper, &cold, &mut published);
            }
            let finished = clock.now_ns();
            if let Some(e) = failure {
                // Give a preempted (not dead) hot core a last chance to hand over its
                // stop-time records, still draining, before giving up on it.
                let give_up = clock.now_ns().saturating_add(nanos(options.watchdog));
                while !handle.is_finished() && clock.now_ns() < give_up {
                    if cold.drain(&mut record_rx) == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                while cold.drain(&mut record_rx) > 0 {}
                cold.sync(false);
                publish_durable(&mut shipper, &cold, &mut published);
                let _ = shipper.map(|s| s.finish(durable_of(&cold)));
                // The stall is the run's error (it says what becomes of the orders
                // the stage could not cancel); a journal failure beside it is told too.
                if let Some(journal) = cold.failure() {
                    eprintln!("error: {journal}");
                }
                return Err(e);
            }
            let joined = handle.join();
            while cold.drain(&mut record_rx) > 0 {}
            cold.sync(false);
            publish_durable(&mut shipper, &cold, &mut published);
            if let Some(journal) = cold.failure() {
                let _ = shipper.map(|s| s.finish(durable_of(&cold)));
                // A stage that failed is the graver news: it is the error, and the
                // journal's failure is told beside it.
                return Err(match joined {
                    Ok(Ok(_)) => journal,
                    Ok(Err(stage)) => {
                        eprintln!("error: {journal}");
                        stage
                    }
                    Err(p) => {
                        eprintln!("error: {journal}");
                        RunError::StagePanicked(panic_message(&*p))
                    }
                });
            }
            let db = shipper.map(|s| s.finish(durable_of(&cold)));
            let (pipeline, thread) = joined.map_err(|p| RunError::StagePanicked(panic_message(&*p)))??;
            // The feed core stops once the trading core has let go of its ring; one
            // that does not within the watchdog's time is stuck (and was the reason
            // the watchdog stopped the run): never wait on it forever.
            let feed = match feed_core {
                None => None,
                Some((h, _)) => {
                    let give_up = clock.now_ns().saturating_add(nanos(options.watchdog));
                    while !h.is_finished() && clock.now_ns() < give_up {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    if !h.is_finished() {
                        return Err(RunError::FeedStalled(options.watchdog));
                    }
                    match h.join() {
                        Ok(Ok(feed)) => Some(feed),
                        Ok(Err(e)) => return Err(e),
                        Err(p) => {
                            return Err(RunError::StagePanicked(format!("feed core: {}", panic_message(&*p))));
                        }
                    }
                }
            };
            let mut outcome = outcome(&pipeline, options, cold.journaled, (finished - started) as f64 / 1e9);
            outcome.summary.db = db;
            outcome.summary.watchdog_stop_ms = late_beat.map(|ns| ns / 1_000_000);
            outcome.summary.hot_thread = Some(thread);
            if let Some((report, thread)) = feed {
                outcome.summary.feed_thread = Some(thread);
                outcome.summary.feed_ring_full = Some(report.ring_full);
            }
            outcome.summary.ring_memory = Some(ring_memory);
            outcome.summary.correlations =
                correlation_pairs(&returns.snapshot, &crate::pipeline::instrument_labels(&options.pipeline));
            outcome.summary.reconciliation = reconciliation;
            Ok(outcome)
        })
        .map_err(setup("spawning the cold thread"))?;
    cold_thread
        .join()
        .unwrap_or_else(|p| Err(RunError::StagePanicked(format!("the cold thread: {}", panic_message(&*p)))))
}

/// SIGHUP: the venue breakers' new settings, applied while they run.
fn reload_breakers(
    reload: Option<fn() -> Result<crate::risk::BreakerConfig, String>>,
    breakers: &[std::sync::Arc<crate::risk::CircuitBreaker>],
) {
    match reload.map(|read| read()) {
        None => eprintln!("SIGHUP: nothing to reload (no settings source)"),
        Some(Err(e)) => eprintln!("SIGHUP: kept the current settings: {e}"),
        Some(Ok(config)) => {
            for breaker in breakers {
                breaker.reconfigure(&config);
            }
            eprintln!(
                "SIGHUP: venue circuit breaker reloaded (at each of {} venue(s)): {config:?}; other settings take \
                 effect on the next start",
                breakers.len()
            );
        }
    }
}

/// The last published correlation of every instrument pair, for the report.
fn correlation_pairs(snapshot: &crate::risk::CorrelationSnapshot, labels: &[String]) -> Vec<(String, String, f64)> {
    let n = snapshot.len();
    let mut row = vec![0; n];
    let mut pairs = Vec::new();
    for i in 0..n {
        if !snapshot.row_into(i, &mut row) {
            continue;
        }
        for j in i + 1..n {
            if let (Some(a), Some(b), Some(rho)) = (labels.get(i), labels.get(j), row.get(j)) {
                pairs.push((a.clone(), b.clone(), f64::from(*rho) / f64::from(crate::risk::CORRELATION_ONE)));
            }
        }
    }
    pairs
}

/// A duration in nanoseconds, saturating (a `--duration` of years must not wrap a
/// deadline into the past).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Every instrument's position at every venue that traded it, as exact decimals.
fn positions_of(p: &Pipeline, config: &PipelineConfig) -> Vec<report::PositionLine> {
    let layout = VenueLayout::of(config);
    let labels = crate::pipeline::instrument_labels(config);
    let decimal = |v: i128, scale: u8| {
        i64::try_from(v).map_or_else(|_| v.to_string(), |v| feeds::decimal::format_fixed(v, scale))
    };
    config
        .instruments
        .iter()
        .zip(labels)
        .enumerate()
        .filter_map(|(i, ((symbol, ps, qs), label))| {
            let id = feeds::event::InstrumentId(i as u32);
            let pos = p.oms().position(id);
            (pos != crate::oms::Position::default()).then(|| report::PositionLine {
                instrument: label,
                symbol: symbol.clone(),
                venue: layout.venue_of(id),
                net: feeds::decimal::format_fixed(pos.net, *qs),
                avg_price: feeds::decimal::format_fixed(pos.avg_price, *ps),
                realised: decimal(pos.realised, ps + qs),
                fees: decimal(pos.fees, ps + qs),
            })
        })
        .collect()
}

fn outcome(p: &Pipeline, options: &RunOptions, journaled: u64, seconds: f64) -> RunOutcome {
    let latency = p.latency().latencies();
    let c = p.counters();
    let hops = RunSummary::hops_of(&latency);
    let summary = RunSummary {
        events: c.events,
        orders: c.orders,
        fills: c.fills,
        rejects: c.risk_rejects + c.venue_rejects,
        gaps: c.gaps,
        tick_to_order_ns: hops.get("tick_to_order").copied().unwrap_or_default(),
        hops,
        topology: match options.topology {
            Topology::Fused => format!("fused: hot cpu {}, cold cpu {}", options.cores.0, options.cores.1),
            Topology::Pipelined { feed_cpu } => {
                format!("pipelined: feed cpu {feed_cpu}, trading cpu {}, cold cpu {}", options.cores.0, options.cores.1)
            }
        },
        persist: options.persist.to_string(),
        counters: c,
        last_decode_error: p.last_decode_error().map(|e| e.to_string()),
        risk_rejects: Reject::ALL.iter().map(|r| (r.name(), p.risk().rejected(*r))).filter(|(_, n)| *n > 0).collect(),
        dropped_market_records: p.sink().dropped_market,
        persist_held: p.sink().held,
        persist_held_peak: p.sink().held_peak,
        persist_waits: p.sink().waits,
        journaled,
        seconds,
        offered_rate: options.rate,
        halt: p.halt().map(|h| h.to_string()),
        watchdog_stop_ms: None,
        db: None,
        venue_breaker: report::VenueBreaker::of_all(p.breakers()),
        venue_breakers: p.breakers().iter().map(|b| report::VenueBreaker::of(b)).collect(),
        hot_thread: None,
        feed_thread: None,
        feed_ring_full: None,
        ring_memory: None,
        correlations: Vec::new(),
        oms: p.oms().counters(),
        gateway: p.gateway_counters(),
        last_gateway_error: p.last_gateway_error().map(str::to_owned),
        trading_state: format!("{:?}", p.risk().limits().state),
        reconciliation: None,
        positions: positions_of(p, &options.pipeline),
    };
    RunOutcome { summary, latency }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::SymbolScales;

    #[test]
    fn scales_come_from_the_flag_else_the_table_and_the_sim_starts_at_the_same_price() {
        let scales = [
            SymbolScales { symbol: "BTCUSDT".into(), price: 1, size: 8 },
            SymbolScales { symbol: "BTCUSDT".into(), price: 3, size: 8 },
        ];
        assert_eq!(symbol_scales("BTCUSDT", &scales), (3, 8), "the last entry wins");
        assert_eq!(symbol_scales("ETHUSDT", &scales), (2, 4), "the table's");
        // 60,000.00 at the table's 2 decimals, whatever the scale.
        assert_eq!(sim_start_ticks("BTCUSDT", 2), 6_000_000);
        assert_eq!(sim_start_ticks("BTCUSDT", 1), 600_000);
        assert_eq!(sim_start_ticks("BTCUSDT", 5), 6_000_000_000);
        assert_eq!(sim_start_ticks("XYZUSDT", 0), 100);
        let symbols = ["BTCUSDT".to_owned()];
        assert!(check_scales(&scales, &symbols).is_ok());
        assert!(check_scales(&scales, &["ETHUSDT".to_owned()]).unwrap_err().contains("BTCUSDT is not one of"));
        let wide = [SymbolScales { symbol: "BTCUSDT".into(), price: 4, size: 9 }];
        assert!(check_scales(&wide, &symbols).unwrap_err().contains("13 decimals together, at most 12"));
    }

    /// A book top's mid, even one whose bid and ask sum past `i64::MAX`, is the
    /// floor of their mean (it once overflowed: a negative mid in the correlations).
    #[test]
    fn the_correlation_mid_of_a_book_top_never_overflows() {
        use persist::Fields as _;
        let mut returns = Returns::new(std::sync::Arc::new(crate::risk::CorrelationSnapshot::new(1)), 0);
        let top = |bid: i64, ask: i64| {
            let fields = persist::record::BookTopFields { bid, ask, bid_qty: 1, ask_qty: 1, ..Default::default() };
            fields.into_record(persist::Origin { stream: 1, seq: 1, ts: 1, venue: 0, instrument: 0 })
        };
        for (bid, ask, mid) in
            [(100, 103, 101), (7, 7, 7), (i64::MAX - 2, i64::MAX, i64::MAX - 1), (i64::MAX, i64::MAX, i64::MAX)]
        {
            returns.observe(&[top(bid, ask)]);
            assert_eq!(returns.mids, [mid], "{bid} {ask}");
        }
    }
}
