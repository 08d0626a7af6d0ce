//! The `engine` command line. `--help` on every subcommand explains each flag and its
//! default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A thread-per-core trading engine for latency-tuned Linux hosts.
#[derive(Debug, Parser)]
// A flag given twice takes its last value: --config settings come first, so the
// command line overrides them.
#[command(name = "engine", version, about, propagate_version = true, args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check or tune this host for hot cores.
    #[command(subcommand)]
    Tune(Tune),
    /// Decode raw venue messages (one per line) and print one JSON object per event,
    /// with prices and sizes as exact decimal strings. Exits 0 only if every line
    /// decoded; a failing line prints {"error", "line", "offset"}.
    Decode(DecodeArgs),
    /// Run the engine: feed → books → strategy → risk → OMS → venue on one pinned hot
    /// core, journal and reporting on a cold core. Prints a status line a second and,
    /// at the end, per-hop and tick-to-order latency percentiles. Stops on
    /// --duration, --frames, SIGINT or SIGTERM (working orders are cancelled first).
    /// Exit 0 on a clean stop, 2 on bad flags or set-up errors, 3 if the kill switch
    /// halted trading, 4 if the hot stage panicked or stalled, 5 if the journal failed
    /// (disk full, I/O error) and the engine stopped itself.
    Run(Box<RunArgs>),
    /// Replay a capture through the full pipeline as fast as the hot core takes it
    /// and report throughput and latency: `engine run --feed replay:FILE`, with the
    /// same flags and defaults (add --persist none to measure without the journal).
    /// Two replays of one capture make the same orders and fills.
    Replay(Box<ReplayArgs>),
    /// Capture a feed without trading: `engine run --strategy idle --persist none
    /// --record FILE` with the feed's flags. The capture (every frame with its receive
    /// time, and every book snapshot the engine took) replays with `engine replay`.
    Record(Box<RecordArgs>),
    /// Trip a running engine's kill switch by hand: trading halts, working orders are
    /// cancelled, the engine runs on until stopped. Sends SIGUSR1 to PID, or writes
    /// `kill` into the engine's --control file.
    Kill(KillArgs),
    /// Re-arm a running engine's tripped kill switch through its --control file.
    /// `standard` resumes reduce-only (positions may only shrink), `aggressive`
    /// resumes normal trading. Audited; a condition still breached trips it again.
    Rearm(RearmArgs),
    /// Inspect or verify a journal directory.
    #[command(subcommand)]
    Journal(JournalCmd),
    /// Benchmarks of the whole engine.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Run the exchange simulator on its own: Binance-format market data over
    /// WebSocket on 127.0.0.1 (a partial-depth snapshot per symbol first, then depth
    /// updates and trades at --rate, a fresh snapshot every --snapshot-every). Prints
    /// `listening on ws://127.0.0.1:PORT/` first; runs until killed.
    Sim(SimArgs),
}

/// `engine kill` flags.
#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// The engine's process id.
    #[arg(required_unless_present = "control", conflicts_with = "control")]
    pub pid: Option<i32>,
    /// The engine's --control file, instead of a process id.
    #[arg(long, value_name = "FILE")]
    pub control: Option<PathBuf>,
}

/// `engine rearm` flags.
#[derive(Debug, Clone, Args)]
pub struct RearmArgs {
    /// The engine's --control file.
    #[arg(long, value_name = "FILE")]
    pub control: PathBuf,
    /// `standard` (reduce-only) or `aggressive` (normal trading).
    #[arg(long, value_enum, default_value = "standard")]
    pub plan: PlanArg,
}

/// Re-arm plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanArg {
    /// Resume reduce-only.
    Standard,
    /// Resume normal trading.
    Aggressive,
}

/// `engine journal ...`
#[derive(Debug, Subcommand)]
pub enum JournalCmd {
    /// Counts per record kind and per stream, the time range, and any torn tail.
    Inspect(JournalArgs),
    /// Check every checksum and that every stream's sequence has no hole and no
    /// repeat. Exit 0 if intact (a torn tail is reported: the next open truncates it),
    /// 1 if sequences have holes or repeats, 2 if the journal is corrupt.
    Verify(JournalArgs),
    /// Load the journal into PostgreSQL / TimescaleDB (migrating the schema first),
    /// exactly once: records at or below each stream's stored watermark are skipped,
    /// so it is safe to run again or after an interrupted load.
    Load(LoadArgs),
    /// Write the journal as CSV files, one per event table (market_trades.csv,
    /// book_tops.csv, ...), with the rows `journal load` stores: `COPY table FROM
    /// 'file' (FORMAT csv, HEADER)` loads one as it is. Never overwrites a file. On a
    /// corrupt journal the files hold every record before the damage, and it exits 2.
    Export(ExportArgs),
}

/// `engine sim` flags.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// TCP port on 127.0.0.1 (0: any free port, printed on the first line).
    #[arg(long, default_value_t = 9001)]
    pub port: u16,
    /// Serve wss:// (TLS) with the certificate chain in this PEM file (give
    /// --tls-key too). A client must trust its issuer: `engine run --tls-ca`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Frames per second per connection.
    #[arg(long, default_value_t = 100_000)]
    pub rate: u64,
    /// Comma-separated symbols.
    #[arg(long, value_delimiter = ',', default_value = "BTCUSDT")]
    pub symbols: Vec<String>,
    /// Each symbol's price and size decimals as the venue quotes it:
    /// `SYMBOL=PRICE:SIZE`, comma-separated (`BTCUSDT=1:8`, as Kraken quotes BTC/USDT).
    /// A symbol not listed takes the built-in table's (BTCUSDT 2:5, ETHUSDT 2:4,
    /// others 2:3). The venue's prices and sizes must fit them, and a Kraken book's
    /// checksum needs them to be exactly the venue's. At most 10 decimals each, and
    /// 12 for the two together (amounts are kept at the sum's scale).
    #[arg(long, value_delimiter = ',', value_parser = parse_scales, value_name = "SYMBOL=PRICE:SIZE", action = clap::ArgAction::Set)]
    pub scales: Vec<SymbolScales>,
    /// Random seed (same seed, same market).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Whose message format the market data is in: Binance spot (`depthUpdate`,
    /// `trade`, partial-depth snapshots in the combined-stream wrapper), Bybit v5
    /// (`orderbook.50` snapshots and deltas, `publicTrade`), OKX v5 (`books`
    /// snapshots and updates with checksums, `trades`, symbols as `BTC-USDT`) or
    /// Coinbase Exchange (`level2_batch` snapshots and `l2update`s, `matches`, times
    /// in RFC 3339, products as `BTC-USDT`) or Kraken v2 (`book` snapshots and
    /// updates with checksums, `trade`, symbols as `BTC/USDT`). With every dialect but
    /// Binance nothing streams until the client subscribes, and a book's snapshot
    /// comes only when it subscribes to the book. Read it with `engine run --dialect` set the same.
    #[arg(long, value_enum, default_value_t = Dialect::Binance)]
    pub dialect: Dialect,
    /// Feed fault: skip one update id every N depth updates (0: never). The engine
    /// detects the gap, refuses orders on that book and resyncs it from the next
    /// snapshot. This and the next five faults are counted per connection and printed
    /// on stderr when it ends (`sim: faults injected on PEER: gap=N duplicate=N ...
    /// sent=N connected_ms=N`, the last two the updates made and the connection's
    /// age), and as a running tally once a second (`faults so far`).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub gap_every: u64,
    /// Feed fault: send every Nth depth update twice in a row, same update ids (0:
    /// never). The engine drops the repeat as already applied (counter
    /// `stale_updates`); its book and its trading are unaffected.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub duplicate_every: u64,
    /// Feed fault: hold every Nth depth update back and send it right after the next
    /// update of its symbol (0: never). The engine finds a gap at the later update
    /// (the book is invalid, orders on it refused), drops the late one, and resyncs
    /// from the next snapshot.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub reorder_every: u64,
    /// Feed fault: send the first half of every Nth depth update's JSON instead of it,
    /// so that update is lost (0: never). The engine counts a decode error, finds the
    /// gap it leaves at the next update, and resyncs from the next snapshot.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub malformed_every: u64,
    /// Feed fault: print every Nth trade at ten times the market price, then at a
    /// tenth of it, alternately; nothing else is wrong with the frame, and the
    /// order-entry venue does not trade on it (0: never). The engine journals the
    /// print but prices its orders from the book, so none goes out off the market
    /// (pre-trade risk's collar around the mid would refuse one). A print is a
    /// trade through any engine-held stop, so it can fire one; its order keeps the
    /// limit it was given from the book.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub absurd_price_every: u64,
    /// Feed fault: replace every Nth depth update by one that puts a bid above the
    /// best ask, update ids intact (0: never). The engine refuses the update (counter
    /// `book_errors`), marks the book invalid until the next snapshot resyncs it:
    /// strategies are not called on it, and pre-trade risk refuses any order on it
    /// meanwhile, such as a stop entry a trade fires (`book_invalid`).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub crossed_every: u64,
    /// Feed fault, OKX and Kraken dialects only: send every Nth depth update with one
    /// level's size off by one (for Kraken, a level among the top ten its checksum
    /// covers; an update with none is sent intact), update ids intact, under the
    /// checksum of the simulator's true book (0: never). Only the checksum can tell: the engine finds the mismatch
    /// (counter `checksum_mismatches`), marks the book invalid and re-subscribes it
    /// for a fresh snapshot. Refused with the other dialects, which carry no checksum.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub corrupt_every: u64,
    /// Feed fault: drop each client's connection (a TCP close, as a venue's gateway
    /// restarting does) this long after it started streaming; the simulator keeps
    /// listening, so the client can reconnect at once and gets a new snapshot (0:
    /// never). `reconnect-bench` measures the engine's way back with it.
    #[arg(long, default_value = "0", value_parser = parse_duration_or_zero, value_name = "DURATION")]
    pub drop_every: std::time::Duration,
    /// How the `--*-every N` faults are spaced: `periodic` (every Nth) or `random`
    /// (each update a 1-in-N chance, from --seed: the same moments run after run).
    #[arg(long, value_enum, default_value_t = FaultTiming::Periodic)]
    pub fault_timing: FaultTiming,
    /// How often to send fresh snapshots.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub snapshot_every: std::time::Duration,
    /// Order entry: new orders per second per connection (the venue's published rate
    /// limit); past it a new order is rejected with `rate_limited`.
    #[arg(long, default_value_t = 200)]
    pub order_rate: u32,
    /// Order entry: hold each cancel this long before acting on it (a slow venue; lets
    /// fills race our cancels). 0: act at once.
    #[arg(long, default_value_t = 0)]
    pub cancel_delay_ms: u64,
    /// Order entry fault: never send every Nth ack (the order is live; its ack is
    /// lost), so clients must find out by asking (0: never).
    #[arg(long, default_value_t = 0)]
    pub drop_acks_every: u64,
    /// Order entry fault: leave out report number N (of each account) the first
    /// time it would be sent, so the client sees a gap in the numbers; a login
    /// resuming before it gets it. 0: never.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub skip_report: u64,
    /// Order entry fault: answer each open-orders or positions query this long late
    /// (a slow venue; the session's answers after it wait behind it). 0: at once.
    #[arg(long, default_value_t = 0)]
    pub query_delay_ms: u64,
    /// Order entry fault: report every Nth fill at a thousand times its size, more
    /// than the order: the engine must refuse it and trip its kill switch (0: never).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub overfill_every: u64,
    /// Order entry: fee on fills of resting orders, in bps of notional (negative: a rebate).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub maker_fee_bps: i64,
    /// Order entry: fee on fills that take liquidity, in bps of notional.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub taker_fee_bps: i64,
}

/// `engine bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// The latency lab: the full pipeline from the simulator at fixed offered rates,
    /// tick-to-order measured from each frame's intended arrival (no coordinated
    /// omission). Prints a table; writes JSON, one `.hgrm` per rate and a PNG or SVG plot.
    E2e(Box<E2eArgs>),
}

/// `engine bench e2e` flags.
#[derive(Debug, Clone, Args)]
pub struct E2eArgs {
    /// Offered rates, frames per second.
    #[arg(long, value_delimiter = ',', default_value = "100000,500000,1000000")]
    pub rates: Vec<u64>,
    /// Seconds per rate and topology.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Topologies to compare at each rate, on their default cores. On a host with
    /// fewer than 3 CPUs `pipelined` runs as `pipelined-shared`: the cold core on the
    /// feed core's CPU (CPU 0), whose journal and status work then preempts the feed.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "fused,pipelined")]
    pub topologies: Vec<TopologyArg>,
    /// Write the percentile plot here: a PNG for a `.png` name (its text needs a
    /// system font such as Debian's fonts-dejavu-core, or ENGINE_PLOT_FONT=FILE.ttf),
    /// else an SVG. (`--json PATH` writes the results.)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write one `.hgrm` per rate into this directory.
    #[arg(long, value_name = "DIR")]
    pub hgrm_dir: Option<PathBuf>,
    /// Everything `engine run` takes (its --rate and --duration are set per rate;
    /// its --json writes this benchmark's results).
    #[command(flatten)]
    pub run: RunArgs,
}

/// `engine journal load` flags.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The journal directory.
    pub dir: PathBuf,
    /// The database: a `postgres://` URL [default: the standard PG* variables].
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Records per batch.
    #[arg(long, default_value_t = persist::pg::BATCH)]
    pub batch: usize,
    /// Connections a batch is split among, each loading its part at once (1-16):
    /// each is a server backend, and one backend is the load's bound on a small
    /// host. A batch is split only when every part gets at least 8,192 records.
    #[arg(long, default_value_t = persist::pg::DEFAULT_WRITERS, value_parser = parse_writers)]
    pub writers: usize,
}

fn parse_writers(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=16) => Ok(n),
        _ => Err(format!("`{s}` is not a number of connections from 1 to 16")),
    }
}

/// `engine journal export` flags.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The journal directory.
    #[arg(value_name = "JOURNAL_DIR")]
    pub dir: PathBuf,
    /// The directory to write the CSV files into (made if missing; files already
    /// there are not overwritten).
    #[arg(long, value_name = "OUT_DIR")]
    pub out: PathBuf,
}

/// Which journal.
#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// The journal directory.
    pub dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `engine run` flags.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Market data source, in --dialect's message format. `sim`: the built-in
    /// simulator, emitting frames in-process at --rate. `replay:PATH`: a capture made
    /// with --record, replayed as fast as the hot core takes it (the same decisions
    /// every time: strategy, risk and OMS run on the recorded event times).
    /// `ws://host:port/path` or `wss://…` (TLS, see --tls-ca): a WebSocket stream read
    /// on the hot core (`engine sim` serves one).
    ///
    /// Several venues: one feed per venue, comma-separated (`sim,sim,sim`, or
    /// `ws://a/,ws://b/`), each venue trading every --symbols symbol with its own
    /// book, position and simulated order entry; --route sends each crossing order
    /// to the venue it picks. A replay is one venue.
    #[arg(long, value_delimiter = ',', default_value = "sim", value_parser = parse_feed, action = clap::ArgAction::Set)]
    pub feed: Vec<FeedArg>,
    /// Where orders go. `sim`: the simulated venue in-process, matching against the
    /// feed's book. `ws://host:port/orders` (or `wss://`): `engine sim`'s order entry
    /// over a WebSocket, signed with the key and secret in ENGINE_API_KEY and
    /// ENGINE_API_SECRET (feed from `ws://host:port/?account=KEY` so orders match the
    /// market you see). With several feeds, give one order-entry URL per feed, in the
    /// same order, comma-separated (`ws://a/orders,ws://b/orders`); one key pair
    /// serves them all. A WebSocket venue is reconciled at start-up: its positions
    /// become the engine's, and orders it still holds from an earlier run are
    /// cancelled before trading starts.
    #[arg(long, default_value = "sim", value_parser = parse_venue)]
    pub venue: OrderVenue,
    /// Whose message format every --feed speaks: the built-in simulator's frames, a
    /// WebSocket stream (subscribed to each symbol on every connect where the venue
    /// wants it, as all but Binance do), or a capture (give the dialect it was
    /// recorded in: a capture names it, and one from another dialect is refused).
    /// Symbols are given as Binance writes them (`BTCUSDT`); OKX's and Coinbase's are
    /// derived (`BTC-USDT`), and Kraken's (`BTC/USDT`).
    #[arg(long, value_enum, default_value_t = Dialect::Binance)]
    pub dialect: Dialect,
    /// For wss:// feeds and venues, also trust the CA certificates in this PEM file
    /// (a venue's test environment, a private CA). The public web's root CAs are
    /// always trusted; a certificate neither vouches for fails the connect.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// A dropped feed that had delivered data is retried at once; a failed attempt
    /// (or a connection dropped before any data) waits a random time (full jitter)
    /// under a bound that doubles from 100 ms up to this cap: a venue back from an
    /// outage is rejoined within about this long, and one that stays down is not
    /// hammered.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub reconnect_max_wait: std::time::Duration,
    /// A request (new, cancel, replace) unanswered this long makes the engine ask the
    /// venue which orders it holds and settle every waiting order from its answer; an
    /// outcome is never assumed on a timer (0: never ask).
    #[arg(long, default_value = "2s", value_parser = parse_duration_or_zero)]
    pub ack_timeout: std::time::Duration,
    /// With a WebSocket venue, have it cancel our resting orders if the connection drops.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub cancel_on_disconnect: bool,
    /// With a WebSocket venue: what to do when a position may differ from the
    /// engine's, because the venue's at start-up differ from the journal's last ones
    /// or because a venue report could not be applied while running (unreadable, or
    /// a fill naming another symbol than its order's). `reduce-only`: trade only to
    /// reduce, until `engine rearm`; `halt`: trade nothing until re-armed;
    /// `trust-venue`: report it and trade.
    #[arg(long, value_enum, default_value_t = MismatchPolicy::ReduceOnly)]
    pub on_mismatch: MismatchPolicy,
    /// Record every frame and book snapshot into this capture file (for `engine
    /// replay`). Adds a buffered file write per frame on the hot core: capture runs
    /// are not latency runs.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Settings from a TOML file: each key is one of these flags without the dashes
    /// (`rate = 200000`, `symbols = ["BTCUSDT", "ETHUSDT"]`, `mlock = true`). Flags on
    /// the command line override the file.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Comma-separated venue symbols to trade (at most 64).
    #[arg(long, value_delimiter = ',', default_value = "BTCUSDT", action = clap::ArgAction::Set)]
    pub symbols: Vec<String>,
    /// Each symbol's price and size decimals as the venue quotes it:
    /// `SYMBOL=PRICE:SIZE`, comma-separated (`BTCUSDT=1:8`, as Kraken quotes BTC/USDT).
    /// A symbol not listed takes the built-in table's (BTCUSDT 2:5, ETHUSDT 2:4,
    /// others 2:3). The venue's prices and sizes must fit them, and a Kraken book's
    /// checksum needs them to be exactly the venue's. At most 10 decimals each, and
    /// 12 for the two together (amounts are kept at the sum's scale).
    #[arg(long, value_delimiter = ',', value_parser = parse_scales, value_name = "SYMBOL=PRICE:SIZE", action = clap::ArgAction::Set)]
    pub scales: Vec<SymbolScales>,
    /// Frames per second the simulator offers; 0 offers them as fast as the hot core
    /// takes them (a throughput run). Latency is measured from each frame's due time,
    /// so a stall cannot hide behind a lower offered rate.
    #[arg(long, default_value_t = 100_000)]
    pub rate: u64,
    /// Strategy and parameters:
    /// `mm[:half_spread=1,size=100,skew=1,requote=2,max_inventory=1000,backoff_us=1000,stop_bps=100,amend=false]`
    /// or `taker[:levels=5,threshold_pct=60,size=100,cooldown_us=1000,max_inventory=1000,stop_bps=100,entry=ioc,slip_bps=10,route=run]`
    /// (sizes in lots, prices in ticks; `stop_bps`: each order's protective stop; `amend`: move
    /// quotes by replace, not cancel + new; `entry`: ioc, fok, market, stop or stop_limit;
    /// `route`: run (as --route), stay, best-price, lowest-fee or smart, for the taker's orders).
    #[arg(long, default_value = "mm")]
    pub strategy: crate::strategy::StrategyConfig,
    /// Stop after this long (e.g. `500ms`, `10s`, `2m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Stop after this many frames, even before --duration.
    #[arg(long)]
    pub frames: Option<u64>,
    /// Where records go: `journal:DIR` (the embedded default), `none`, or a
    /// `postgres://` URL (shorthand for the default journal plus `--db URL`).
    #[arg(long, default_value = "journal:engine-journal", value_parser = parse_persist)]
    pub persist: PersistArg,
    /// Also ship the journal into PostgreSQL / TimescaleDB while running: a
    /// `postgres://user:pass@host:port/db` URL, or `env` for the standard PG*
    /// variables. The journal is written first; an unreachable database is reported
    /// and retried, never waited for, and backfilled when it returns.
    #[arg(long, value_name = "URL|env")]
    pub db: Option<String>,
    /// Connections to the database a large shipment (a backfill after an outage)
    /// is split among, each loading its part at once (1-16). Each is a server
    /// backend busy while it lasts: on a database that shares the engine's host,
    /// more than 1 competes with the hot core.
    #[arg(long, default_value_t = 1, value_parser = parse_writers)]
    pub db_writers: usize,
    /// Journal fsync policy: `batch` (every batch the cold core writes, about every
    /// 5 ms), `none`, or an interval like `10ms`. Records reach the OS page cache at once
    /// either way (a killed engine loses nothing); the policy bounds what a power
    /// cut can take. See the README for what each costs the hot core here.
    #[arg(long, default_value = "100ms")]
    pub fsync: persist::journal::FsyncPolicy,
    /// Topology: `fused` (every hot stage on one core, called directly) or
    /// `pipelined` (feed core → ring → trading core).
    #[arg(long, value_enum, default_value = "fused")]
    pub topology: TopologyArg,
    /// CPUs: `HOT,COLD` for `fused`, `FEED,TRADE,COLD` for `pipelined` [default: the
    /// last allowed CPUs hot, the first cold]. Hot cores must differ; pipelined on a
    /// 2-CPU host may put the cold core on the feed core's CPU (with a warning).
    #[arg(long, value_name = "CPUS", value_parser = parse_core_list)]
    pub cores: Option<CoreList>,
    /// Allow the hot stage on CPU 0 (which takes housekeeping work and most
    /// interrupts, so it is refused by default).
    #[arg(long)]
    pub force_cpu0: bool,
    /// Run the hot thread SCHED_FIFO at this priority (1-99); a host that forbids it
    /// gets a warning and the default policy.
    #[arg(long, value_name = "PRIO", value_parser = clap::value_parser!(u8).range(1..=99))]
    pub sched_fifo: Option<u8>,
    /// mlockall the process before starting (warns if refused).
    #[arg(long)]
    pub mlock: bool,
    /// Put the hot core's record ring (5 MiB) on 2 MiB transparent huge pages. The
    /// ring is always built and prefaulted on the hot core's own thread, so its pages
    /// sit on that core's NUMA node; the report says where they landed and how much
    /// the host really gave as huge pages (none where THP is `never`).
    #[arg(long)]
    pub huge_pages: bool,
    /// Refuse to start if the host audit (`engine tune check`) fails any check for
    /// the hot core. Without it the audit's summary is printed as a warning.
    #[arg(long)]
    pub require_tuned_host: bool,
    /// Largest price × size of one order, in whole quote units.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_order_notional: u64,
    /// Largest position value per instrument, in whole quote units.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_position_notional: u64,
    /// Largest value of all working orders together, in whole quote units.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_open_notional: u64,
    /// Largest gross exposure (sum of |position| × mid over every instrument), in
    /// whole quote units. Fills that take it over trip the kill switch.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_gross_notional: u64,
    /// Largest net exposure (|sum of position × mid|), in whole quote units.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_net_notional: u64,
    /// A position's value may be at most this many basis points of current equity
    /// (starting --equity plus P&L); the tighter of this and --max-position-notional
    /// applies (0: off).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub max_position_equity_bps: u32,
    /// New orders per second for any one instrument (token bucket).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub instrument_orders_per_sec: u32,
    /// Cancels per second for any one instrument (token bucket). Like the venue's
    /// cancel rate, a cancel over it waits for a token; it is never dropped.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub instrument_cancels_per_sec: u32,
    /// Cancels per second to each venue (a token bucket per venue). A cancel over the rate waits
    /// for a token; it is never dropped.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub cancels_per_sec: u32,
    /// Order-to-trade ratio: messages (new orders + cancels) per fill at most, over a
    /// sliding 10 s window once it holds 500 messages (0: off).
    #[arg(long, default_value_t = 100)]
    pub max_order_to_trade: u64,
    /// Cancel-to-new ratio: cancels per 100 new orders at most, over the same window
    /// (0: off).
    #[arg(long, default_value_t = 0)]
    pub max_cancel_to_new_pct: u64,
    /// Kill switch: trip on more messages (orders + cancels) than this in one second
    /// (0: off).
    #[arg(long, default_value_t = 10_000)]
    pub max_messages_per_sec: u32,
    /// Mandatory stop-loss: an order that opens or grows a position must carry a stop
    /// on its losing side at most this many basis points from its price (0: stops are
    /// not required). The engine tracks each position's stop and closes the position
    /// with an IOC when the touch crosses it.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub max_stop_distance_bps: u32,
    /// Instruments whose returns correlate at least this much (|ρ|, 0 to 1; the cold
    /// core estimates ρ from 100 ms mids over 30 s) count as one exposure.
    #[arg(long, default_value = "0.7", value_parser = parse_correlation)]
    pub correlation_cap: i32,
    /// The largest exposure of an instrument together with the positions correlated
    /// with it, in whole quote units [default: --max-position-notional; an
    /// instrument's own max-position-notional (--limit) does not move it: set its
    /// max-correlated-notional too].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_correlated_notional: Option<u64>,
    /// What an order that would cross one of our own working orders does: `reject`
    /// it (`self_trade`), or `cancel-resting`: cancel our orders it would cross
    /// (ahead of it, so the venue takes them out first), then check and send it.
    #[arg(long, value_enum, default_value_t = crate::pipeline::SelfTradeMode::Reject)]
    pub self_trade: crate::pipeline::SelfTradeMode,
    /// With several venues (--feed sim,sim,...), where a crossing order (IOC, FOK,
    /// market) that opens or adds to a position goes. `best-price`: the one venue
    /// with the best average price for its size, from the live books. `lowest-fee`:
    /// the same net of the venue's taker fee. `smart`: every venue's top 5 levels
    /// ranked by price net of fee, ack-latency and breaker penalties, the order split
    /// into one child per venue it takes from. `off`: it stays at the venue whose
    /// book the strategy traded on. Venues whose book is invalid or older than the
    /// risk reference age, or whose circuit is open, are skipped; each child's choice is journaled (audit code
    /// 180). Orders that rest, and orders that reduce a position, stay at their
    /// venue. Each venue has its own circuit breaker, and its own fees with
    /// per-venue --taker-fee-bps/--maker-fee-bps (`4,2,6`).
    #[arg(long, value_enum, default_value_t = RouteArg::Smart)]
    pub route: RouteArg,
    /// Comma-separated symbols (from --symbols) no order may be sent for.
    #[arg(long, value_delimiter = ',', action = clap::ArgAction::Set)]
    pub restricted: Vec<String>,
    /// Price collar around the mid, in basis points.
    #[arg(long, default_value_t = 50)]
    pub collar_bps: i64,
    /// One instrument's or one venue's own limits, over the account's flags:
    /// `SCOPE:KEY=VALUE[,KEY=VALUE...]`, repeatable. SCOPE is a symbol (at every
    /// venue), SYMBOL@V (at venue V, numbered from 0 in --feed order) or @V (every
    /// symbol at venue V, and its rates); the most specific wins. Keys are named
    /// after the flags they override where there is one: max-order-notional, max-position-notional,
    /// max-correlated-notional (quote units), collar-bps, max-stop-distance-bps,
    /// max-position-equity-bps, instrument-orders-per-sec, instrument-cancels-per-sec,
    /// restricted (true/false),
    /// and min-qty, max-qty, tick (decimal sizes and prices), max-reference-age (a
    /// duration); on a venue also orders-per-sec and cancels-per-sec. Example:
    /// `--limit BTCUSDT:max-qty=0.5,collar-bps=20 --limit @1:orders-per-sec=100`.
    /// Gross, net and open-order notional, the loss and drawdown limits, ratios and
    /// the duplicate window hold for the whole account.
    #[arg(long, value_name = "SCOPE:KEY=VALUE,...", value_parser = crate::limit_flags::parse_limit, action = clap::ArgAction::Append)]
    pub limit: Vec<crate::limit_flags::LimitFlag>,
    /// New orders per second allowed at each venue (a token bucket per venue,
    /// refilled at this rate).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub orders_per_sec: u32,
    /// Kill switch: trip when realised + unrealised P&L falls below minus this, in
    /// quote units, decimals allowed (0: off).
    #[arg(long, default_value = "5000")]
    pub max_daily_loss: String,
    /// Starting equity in quote units (decimals allowed), for the drawdown check.
    #[arg(long, default_value = "100000")]
    pub equity: String,
    /// Kill switch: trip when equity falls this many percent below its high-water
    /// mark (0: off).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_drawdown_pct: u8,
    /// Kill switch: trip on more venue rejects and hard risk rejects than this in one
    /// second (throttled and duplicate orders do not count; 0: off).
    #[arg(long, default_value_t = 200)]
    pub max_rejects_per_sec: u32,
    /// A live feed that sends nothing for this long is stale: a `stale` status event,
    /// and its books are invalid until their next snapshot (0: never).
    #[arg(long, default_value = "2s", value_parser = parse_duration_or_zero)]
    pub feed_stale_after: std::time::Duration,
    /// Kill switch: trip when a book stays invalid (unrecovered gap, feed down) this
    /// long (0: never).
    #[arg(long, default_value = "5s", value_parser = parse_duration_or_zero)]
    pub max_book_invalid: std::time::Duration,
    /// Kill switch: trip when every venue has been unusable this long: its circuit
    /// breaker open, or its connection down (0: never).
    #[arg(long, default_value = "30s", value_parser = parse_duration_or_zero)]
    pub max_venue_down: std::time::Duration,
    /// The simulated venue's maker fee in basis points (negative: a rebate). With
    /// several venues, one value for all or one per venue, comma-separated
    /// (`-1,0,2`).
    #[arg(long, value_delimiter = ',', default_value = "0", allow_hyphen_values = true, action = clap::ArgAction::Set)]
    pub maker_fee_bps: Vec<i64>,
    /// The simulated venue's taker fee in basis points; one value for all venues or
    /// one per venue, as --maker-fee-bps.
    #[arg(long, value_delimiter = ',', default_value = "4", allow_hyphen_values = true, action = clap::ArgAction::Set)]
    pub taker_fee_bps: Vec<i64>,
    /// The simulated venue answers acks, rejects, cancels and replaces this late.
    #[arg(long, default_value = "0", value_parser = parse_duration_or_zero)]
    pub sim_ack_latency: std::time::Duration,
    /// The simulated venue reports fills this late.
    #[arg(long, default_value = "0", value_parser = parse_duration_or_zero)]
    pub sim_fill_latency: std::time::Duration,
    /// The simulated venue rejects this many new orders per million at random
    /// (seeded by --seed); one value for all venues or one per venue, as
    /// --maker-fee-bps.
    #[arg(long, value_delimiter = ',', default_value = "0", value_parser = clap::value_parser!(u32).range(0..=1_000_000), action = clap::ArgAction::Set)]
    pub sim_reject_ppm: Vec<u32>,
    /// Simulator random seed (same seed, same market).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulator drops one depth update every N frames to exercise gap recovery (0: never).
    #[arg(long, default_value_t = 0)]
    pub sim_gap_every: u64,
    /// Stop the engine (exit code 4) if the hot core sends no heartbeat for this
    /// long; it beats every 100 ms, so at least 300ms.
    #[arg(long, default_value = "2s", value_parser = parse_watchdog)]
    pub watchdog: std::time::Duration,
    /// Write the run summary as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write one HdrHistogram `.hgrm` percentile file per hop into this directory.
    #[arg(long, value_name = "DIR")]
    pub latency_out: Option<PathBuf>,
    /// No live status line.
    #[arg(long)]
    pub quiet: bool,
    /// When the kill switch trips: after cancelling working orders, close every
    /// position with an IOC at the touch (checked as reduce-only; one attempt, so a
    /// thin touch may leave part of a position open, which the report shows).
    #[arg(long)]
    pub flatten_on_trip: bool,
    /// A control file for operator commands while running: write `kill`, `rearm
    /// standard`, `rearm aggressive` or `stop` into it (or use `engine kill --control`
    /// and `engine rearm`); it is read within 100 ms and deleted.
    #[arg(long, value_name = "FILE")]
    pub control: Option<PathBuf>,
    /// The venue's circuit breaker opens after this many consecutive venue rejects
    /// (0: not on a streak). While open, new orders are refused locally
    /// (`venue_circuit_open`) instead of being sent into a failing venue.
    #[arg(long, default_value_t = 5)]
    pub breaker_failures: u32,
    /// ... or when this percentage of the orders sent in a second fail, once at least
    /// 20 were sent (0: not on a rate).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub breaker_failure_rate_pct: u32,
    /// How long the breaker stays open before letting probe orders through.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub breaker_cooldown: std::time::Duration,
    /// Probe orders let through after the cool-down; the first accepted one closes the
    /// breaker, a rejected one re-opens it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub breaker_probes: u32,
    /// When the cold core falls behind and the record ring fills, the hot core holds
    /// order, fill and risk records (up to 65,536, in order) rather than wait, and
    /// drops market records (counted). Meanwhile: `reduce-only` (trading resumes by
    /// itself once the backlog is journaled) or `halt` (the kill switch trips).
    #[arg(long, value_enum, default_value_t = crate::pipeline::BacklogPolicy::ReduceOnly)]
    pub on_persist_backlog: crate::pipeline::BacklogPolicy,
    /// Fault injection for reliability tests: `panic-after=N` or `stall-after=N`
    /// frames, `venue-rejects-after=N` orders, `persist-stall=N` milliseconds of the
    /// cold core, or `pause=N` milliseconds of the hot core.
    #[arg(long, hide = true, value_parser = parse_fault)]
    pub inject_fault: Option<crate::run::Faults>,
}

fn parse_fault(s: &str) -> Result<crate::run::Faults, String> {
    const EXPECTED: &str = "expected panic-after=N, stall-after=N (frames), venue-rejects-after=N (orders), \
                            persist-stall=N or pause=N (milliseconds)";
    let (kind, n) = s.split_once('=').ok_or_else(|| format!("`{s}`: {EXPECTED}"))?;
    let n: u64 = n.parse().map_err(|_| format!("`{s}`: N must be a number"))?;
    let none = crate::run::Faults::default();
    match kind {
        "panic-after" => Ok(crate::run::Faults { panic_after: Some(n), ..none }),
        "stall-after" => Ok(crate::run::Faults { stall_after: Some(n), ..none }),
        "venue-rejects-after" => Ok(crate::run::Faults { venue_rejects_after: Some(n), ..none }),
        "persist-stall" => Ok(crate::run::Faults { persist_stall_ms: Some(n), ..none }),
        "pause" => Ok(crate::run::Faults { pause_ms: Some(n), ..none }),
        _ => Err(format!("`{s}`: {EXPECTED}")),
    }
}

/// `engine sim --fault-timing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultTiming {
    /// Every Nth update.
    Periodic,
    /// A 1-in-N chance per update.
    Random,
}

/// `--dialect` values: the venues whose feed format `engine run` and `engine sim`
/// speak end to end (`engine decode` reads all five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// Binance spot.
    Binance,
    /// Bybit v5 public.
    Bybit,
    /// OKX v5 public (`books` with checksums, `trades`; symbols written `BTC-USDT`).
    Okx,
    /// Coinbase Exchange (`level2_batch` snapshots and `l2update`s, `matches`;
    /// products written `BTC-USDT`). Its book updates carry no sequence number, so
    /// the simulator refuses the faults only one could expose (gaps, duplicates,
    /// reorders, malformed updates: a lost update).
    Coinbase,
    /// Kraken WebSocket v2 (`book` snapshots and updates with checksums, `trade`;
    /// prices and sizes as JSON numbers; symbols written `BTC/USDT`). Its book
    /// carries no sequence number, only the checksum of its top ten levels, so the
    /// simulator refuses the faults only a sequence could expose, as for Coinbase.
    Kraken,
}

impl Dialect {
    /// The dialect of a venue id (`Venue as u16`), if `--dialect` offers it.
    pub fn of(venue: u16) -> Option<Self> {
        <Self as clap::ValueEnum>::value_variants().iter().copied().find(|d| d.venue() as u16 == venue)
    }

    /// Its `--dialect` value, as clap names it.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self).map_or_else(String::new, |v| v.get_name().to_owned())
    }

    /// The venue whose format it is.
    pub fn venue(self) -> feeds::event::Venue {
        match self {
            Self::Binance => feeds::event::Venue::Binance,
            Self::Bybit => feeds::event::Venue::Bybit,
            Self::Okx => feeds::event::Venue::Okx,
            Self::Coinbase => feeds::event::Venue::Coinbase,
            Self::Kraken => feeds::event::Venue::Kraken,
        }
    }
}

/// One `--scales` entry: a symbol's price and size decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolScales {
    /// The engine's name of the symbol (`BTCUSDT`).
    pub symbol: String,
    /// Price decimals.
    pub price: u8,
    /// Size decimals.
    pub size: u8,
}

/// The most decimals `--scales` takes for a price or a size: prices and sizes are
/// `i64` at their scale, and an account's money scale is a price's plus a size's.
pub const MAX_SCALE: u8 = 10;

fn parse_scales(s: &str) -> Result<SymbolScales, String> {
    let expected = "expected SYMBOL=PRICE:SIZE, the price and size decimals (e.g. BTCUSDT=1:8)";
    let (symbol, scales) = s.split_once('=').ok_or_else(|| format!("`{s}`: {expected}"))?;
    let (price, size) = scales.split_once(':').ok_or_else(|| format!("`{s}`: {expected}"))?;
    let decimals = |v: &str| match v.parse::<u8>() {
        Ok(n) if n <= MAX_SCALE => Ok(n),
        _ => Err(format!("`{s}`: `{v}` is not a number of decimals from 0 to {MAX_SCALE}")),
    };
    if symbol.is_empty() {
        return Err(format!("`{s}`: {expected}"));
    }
    Ok(SymbolScales { symbol: symbol.to_owned(), price: decimals(price)?, size: decimals(size)? })
}

/// `engine run --venue` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderVenue {
    /// The in-process simulated venue.
    Sim,
    /// WebSocket order-entry URLs, one per venue (per `--feed`, in its order).
    Ws(Vec<String>),
}

fn parse_venue(s: &str) -> Result<OrderVenue, String> {
    if s == "sim" {
        return Ok(OrderVenue::Sim);
    }
    s.split(',')
        .map(|url| match url.split_once(':') {
            Some(("ws" | "wss", _)) => Ok(url.to_owned()),
            _ => Err(format!(
                "`{url}`: expected `sim`, `ws://host:port/orders` or `wss://…` (comma-separated, one per --feed)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(OrderVenue::Ws)
}

/// `--on-mismatch` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MismatchPolicy {
    /// Trade only to reduce until re-armed.
    ReduceOnly,
    /// Trade nothing until re-armed.
    Halt,
    /// Report it and trade normally on the venue's positions.
    TrustVenue,
}

/// `--route` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RouteArg {
    /// Stay at the strategy's venue.
    Off,
    /// Best average executable price.
    BestPrice,
    /// Best price net of fee.
    LowestFee,
    /// Net price with latency and breaker penalties, split across venues.
    Smart,
}

impl RouteArg {
    /// The router's policy (`None`: no routing).
    pub fn policy(self) -> Option<crate::route::Policy> {
        match self {
            Self::Off => None,
            Self::BestPrice => Some(crate::route::Policy::BestPrice),
            Self::LowestFee => Some(crate::route::Policy::LowestFee),
            Self::Smart => Some(crate::route::Policy::SmartRoute(crate::route::SmartWeights::default())),
        }
    }
}

/// `--feed` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedArg {
    /// The built-in simulator.
    Sim,
    /// A capture file.
    Replay(PathBuf),
    /// A WebSocket URL.
    Ws(String),
}

fn parse_feed(s: &str) -> Result<FeedArg, String> {
    match s.split_once(':') {
        _ if s == "sim" => Ok(FeedArg::Sim),
        Some(("replay", path)) if !path.is_empty() => Ok(FeedArg::Replay(path.into())),
        Some(("ws" | "wss", _)) => Ok(FeedArg::Ws(s.to_owned())),
        _ => Err(format!("`{s}`: expected `sim`, `replay:PATH`, `ws://host:port/path` or `wss://…`")),
    }
}

/// `engine record` flags: the capture to write, then any `engine run` flag (its
/// strategy, persistence and venue are fixed: idle, none, sim).
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// The capture file to write.
    pub out: PathBuf,
    /// Everything `engine run` takes (--feed, --symbols, --duration, ...).
    #[command(flatten)]
    pub run: RunArgs,
}

/// `engine replay` flags: the capture, then any `engine run` flag.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The capture file (made with `engine run --record FILE`).
    pub capture: PathBuf,
    /// Everything `engine run` takes (its --feed is replaced by the capture).
    #[command(flatten)]
    pub run: RunArgs,
}

/// `--topology` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TopologyArg {
    /// One hot core runs every stage; one cold core persists and reports.
    Fused,
    /// A feed core reads and decodes, a trading core runs books, strategy, risk, OMS and
    /// venue, linked by an SPSC ring; one cold core persists and reports. Not for replays.
    Pipelined,
}

/// `--persist` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistArg {
    /// No persistence.
    None,
    /// A journal directory.
    Journal(PathBuf),
    /// The default journal, shipped to this database.
    Postgres(String),
}

fn parse_persist(s: &str) -> Result<PersistArg, String> {
    match s.split_once(':') {
        _ if s == "none" => Ok(PersistArg::None),
        Some(("journal", dir)) if !dir.is_empty() => Ok(PersistArg::Journal(dir.into())),
        Some(("postgres" | "postgresql", _)) => Ok(PersistArg::Postgres(s.to_owned())),
        _ => Err(format!("`{s}`: expected `journal:DIR`, `none` or a postgres:// URL")),
    }
}

/// Parses `250ms`, `10s`, `2m`, `1h`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{s}`: expected a number and a unit, like 500ms, 10s or 2m"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n.saturating_mul(1_000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)")),
    };
    if ms == 0 {
        return Err(format!("`{s}`: must be longer than zero"));
    }
    Ok(std::time::Duration::from_millis(ms))
}

/// `--watchdog`: a few heartbeats (one per 100 ms) at least, or every run would stop
/// itself between two beats.
fn parse_watchdog(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d < std::time::Duration::from_millis(300) {
        return Err(format!("`{s}`: the hot core beats every 100 ms; a watchdog needs at least 300ms"));
    }
    Ok(d)
}

fn parse_duration_or_zero(s: &str) -> Result<std::time::Duration, String> {
    if s == "0" { Ok(std::time::Duration::ZERO) } else { parse_duration(s) }
}

/// A correlation cap from 0 to 1, as ρ × 10,000.
fn parse_correlation(s: &str) -> Result<i32, String> {
    feeds::decimal::parse_fixed(s.as_bytes(), 4)
        .ok()
        .filter(|v| (0..=10_000).contains(v))
        .map(|v| v as i32)
        .ok_or_else(|| format!("`{s}`: expected a correlation from 0 to 1 with at most 4 decimals, like 0.7"))
}

/// `--cores`: two or three CPU numbers, in topology order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreList(pub Vec<usize>);

fn parse_core_list(s: &str) -> Result<CoreList, String> {
    let cpus: Result<Vec<usize>, _> = s.split(',').map(|c| c.trim().parse::<usize>()).collect();
    match cpus {
        Ok(cpus) if (2..=3).contains(&cpus.len()) => Ok(CoreList(cpus)),
        _ => {
            Err(format!("`{s}`: expected CPU numbers `HOT,COLD` (fused) or `FEED,TRADE,COLD` (pipelined), like `1,0`"))
        }
    }
}

/// `engine decode` flags.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Which venue's format the file holds.
    #[arg(long, value_enum)]
    pub venue: VenueArg,
    /// The file: one raw WebSocket message per line.
    pub file: PathBuf,
}

/// Venues `engine decode` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VenueArg {
    /// Binance spot: trade, aggTrade, bookTicker, depthUpdate (raw or combined
    /// stream), partial depth (combined stream).
    Binance,
    /// Bybit v5 public: orderbook.{depth}.{symbol} (snapshot, delta) and
    /// publicTrade.{symbol}.
    Bybit,
    /// OKX v5 public: books channels (snapshot, update) and trades.
    Okx,
    /// Kraken WebSocket v2: book (snapshot, update) and trade.
    Kraken,
    /// Coinbase Exchange: ticker, match, level2 snapshot and l2update.
    Coinbase,
}

/// `engine tune ...`
#[derive(Debug, Subcommand)]
pub enum Tune {
    /// Audit the host: a table of checks with what was found, what is wanted, why,
    /// and the exact fix. Exits 0 unless --strict and a check fails.
    Check(CheckArgs),
    /// Apply the runtime-changeable fixes (sysfs/procfs writes) for the chosen cores
    /// and report each result. Kernel command-line changes are printed, never made.
    Apply(ApplyArgs),
    /// Spin on each hot core and time every gap longer than a threshold (interrupts,
    /// other tasks, the hypervisor taking the vCPU), then show what those gaps alone
    /// add to a feed paced at each rate: the floor under tick-to-order percentiles on
    /// this host. Run it with the engine stopped; it busy-spins the cores it measures.
    Jitter(JitterArgs),
}

/// `engine tune jitter` flags.
#[derive(Debug, Clone, Args)]
pub struct JitterArgs {
    /// CPUs to measure, one after another, as a kernel CPU list (e.g. `1` or `2-3`)
    /// [default: every CPU this process may use except CPU 0].
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,
    /// How long to spin on each CPU.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// A gap between two clock reads longer than this many ns is a hiccup.
    #[arg(long, value_name = "NS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub threshold_ns: u64,
    /// Feed rates (frames per second, up to a billion) to show the hiccups' added
    /// latency at.
    #[arg(long, value_delimiter = ',', value_name = "RATES", default_value = "100000,500000,1000000",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub rates: Vec<u64>,
    /// Print a JSON array, one object per CPU, instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Which host and which cores an audit is about.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// CPUs that will run hot stages, as a kernel CPU list (e.g. `2,3` or `2-5`)
    /// [default: every CPU this process may use except CPU 0].
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,
    /// Hot threads will run SCHED_FIFO (adds the RT-throttling and rtprio checks).
    #[arg(long)]
    pub sched_fifo: bool,
    /// Watch /proc/interrupts this long for interrupts landing on the hot cores
    /// (0 skips the check).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub irq_sample_ms: u64,
    /// Audit the /proc and /sys found under this directory instead of the live host
    /// (a mounted image or a test fixture).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

/// `engine tune check` flags.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The host and cores.
    #[command(flatten)]
    pub target: Target,
    /// Exit 1 if any check fails (for deployment scripts).
    #[arg(long)]
    pub strict: bool,
    /// Print a JSON array of {check, status, found, want, why, fix} instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `engine tune apply` flags.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// The host and cores.
    #[command(flatten)]
    pub target: Target,
    /// Print the exact commands without running them.
    #[arg(long)]
    pub dry_run: bool,
}
