//! `engine run` and `engine journal`: flags into options, outcomes into output and
//! exit codes.

use std::process::ExitCode;

use persist::journal::{JournalReader, JournalSummary, summarize};

use crate::{
    cli::{ExportArgs, JournalArgs, LoadArgs, PersistArg, RunArgs},
    pipeline::{MAX_INSTRUMENTS, PipelineConfig},
    risk::{QuoteLimits, RiskLimits},
    run::{
        PersistTarget, RunError, RunOptions, Topology, check_scales, default_cores, default_pipelined_cores, run,
        symbol_scales, write_hgrms,
    },
};

/// Builds run options from flags.
///
/// # Errors
/// A message for flags that cannot work together.
pub fn options(args: &RunArgs) -> Result<RunOptions, String> {
    if args.symbols.is_empty() || args.symbols.len() > MAX_INSTRUMENTS {
        return Err(format!("--symbols: give 1 to {MAX_INSTRUMENTS} symbols"));
    }
    if let Some(bad) = args.symbols.iter().find(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(format!("--symbols: `{bad}` is not a venue symbol (letters and digits, like BTCUSDT)"));
    }
    if let Some((i, twice)) =
        args.symbols.iter().enumerate().find(|(i, s)| args.symbols.get(..*i).is_some_and(|before| before.contains(s)))
    {
        return Err(format!("--symbols: `{twice}` is listed twice (again as symbol {}); list each once", i + 1));
    }
    if args.maker_fee_bps.iter().chain(&args.taker_fee_bps).any(|b| !(-100..=100).contains(b)) {
        return Err("--maker-fee-bps/--taker-fee-bps: expected -100 to 100 basis points".into());
    }
    if !(1..=10_000).contains(&args.collar_bps) {
        return Err(format!("--collar-bps {}: must be 1 to 10000", args.collar_bps));
    }
    let venues = feed_venues(args)?;
    let sim_venue = crate::gateway::SimGatewayConfig {
        fees: crate::sim::FeeSchedule::default(),
        ack_latency_ns: args.sim_ack_latency.as_nanos() as u64,
        fill_latency_ns: args.sim_fill_latency.as_nanos() as u64,
        reject_ppm: 0,
        seed: args.seed,
        reject_after: None,
    };
    let venue_configs = venue_configs(args, venues, sim_venue)?;
    check_scales(&args.scales, &args.symbols)?;
    let first_venue = venue_configs.first().copied().unwrap_or(sim_venue);
    // Each venue trades every symbol: venue v's k-th symbol is instrument v × S + k.
    let instruments: Vec<(String, u8, u8)> = (0..venues)
        .flat_map(|_| args.symbols.iter())
        .map(|s| {
            let (ps, qs) = symbol_scales(s, &args.scales);
            (s.clone(), ps, qs)
        })
        .collect();
    // Every amount is in the account's money unit: 10^-money of the quote currency,
    // the finest price × size scale of any instrument.
    let (money, _) = crate::risk::money_scale(instruments.iter().map(|(_, p, q)| (*p, *q)));
    let mut limits = RiskLimits::with_quote_limits(
        money,
        0,
        QuoteLimits {
            order: args.max_order_notional,
            position: args.max_position_notional,
            open: args.max_open_notional,
            gross: args.max_gross_notional,
            net: args.max_net_notional,
        },
    );
    limits.instrument.position_equity_bps = args.max_position_equity_bps;
    limits.instrument.max_stop_distance_bps = args.max_stop_distance_bps;
    limits.correlation_cap = args.correlation_cap;
    if let Some(quote) = args.max_correlated_notional {
        limits.instrument.max_correlated_notional = i128::from(quote) * 10i128.pow(u32::from(money));
    }
    limits.instrument.orders_per_sec = args.instrument_orders_per_sec;
    limits.instrument.cancels_per_sec = args.instrument_cancels_per_sec;
    limits.cancels_per_sec = args.cancels_per_sec;
    limits.ratios.max_order_to_trade = args.max_order_to_trade;
    limits.ratios.max_cancel_to_new_pct = args.max_cancel_to_new_pct;
    for symbol in &args.restricted {
        if !args.symbols.contains(symbol) {
            return Err(format!("--restricted {symbol}: not one of --symbols {}", args.symbols.join(",")));
        }
        // Restricted at every venue.
        for (id, _) in instruments.iter().enumerate().filter(|(_, (name, _, _))| name == symbol) {
            limits.restricted |= 1u64 << id;
        }
    }
    limits.instrument.collar_bps = args.collar_bps;
    limits.orders_per_sec = args.orders_per_sec;
    let scales: Vec<(u8, u8)> = instruments.iter().take(args.symbols.len()).map(|(_, p, q)| (*p, *q)).collect();
    let own = crate::limit_flags::resolve(&args.limit, &args.symbols, &scales, venues, &limits, money)?;
    limits.restricted = own.restricted;
    // P&L is in the money unit: amounts parse exactly at that scale.
    let amount = |flag: &str, text: &str| {
        feeds::decimal::parse_fixed(text.as_bytes(), money)
            .ok()
            .filter(|v| *v >= 0)
            .map(i128::from)
            .ok_or_else(|| format!("{flag} `{text}`: expected a non-negative amount with at most {money} decimals"))
    };
    let kill = crate::risk::KillLimits {
        max_daily_loss: amount("--max-daily-loss", &args.max_daily_loss)?,
        equity: amount("--equity", &args.equity)?,
        max_drawdown_pct: i128::from(args.max_drawdown_pct),
        max_rejects_per_sec: args.max_rejects_per_sec,
        max_book_invalid_ns: args.max_book_invalid.as_nanos() as u64,
        max_venue_down_ns: args.max_venue_down.as_nanos() as u64,
        max_messages_per_sec: args.max_messages_per_sec,
    };
    if args.topology == crate::cli::TopologyArg::Pipelined && matches!(args.feed[..], [crate::cli::FeedArg::Replay(_)])
    {
        return Err(RunError::ReplayPipelined.to_string());
    }
    let (topology, cores) = cores(args)?;
    let (persist, url_db) = match &args.persist {
        PersistArg::None => (PersistTarget::None, None),
        PersistArg::Journal(dir) => (PersistTarget::Journal(dir.clone(), args.fsync), None),
        PersistArg::Postgres(url) => (PersistTarget::Journal("engine-journal".into(), args.fsync), Some(url.clone())),
    };
    let database = match (url_db, args.db.as_deref()) {
        (Some(_), Some(_)) => return Err("give the database once: --persist postgres://... or --db, not both".into()),
        (Some(url), None) => {
            warn_if_password_in(&url);
            Some(Some(url))
        }
        (None, Some("env")) => Some(None),
        (None, Some(url)) => {
            persist::pg::config(Some(url)).map_err(|e| format!("--db: {e}"))?;
            warn_if_password_in(url);
            Some(Some(url.to_owned()))
        }
        (None, None) => None,
    };
    let feed = match args.feed.first() {
        None | Some(crate::cli::FeedArg::Sim) => crate::run::FeedSource::Sim,
        Some(crate::cli::FeedArg::Replay(path)) => crate::run::FeedSource::Replay(path.clone()),
        Some(crate::cli::FeedArg::Ws(_)) => crate::run::FeedSource::Ws(
            args.feed
                .iter()
                .filter_map(|f| if let crate::cli::FeedArg::Ws(url) = f { Some(url.clone()) } else { None })
                .collect(),
        ),
    };
    if matches!(feed, crate::run::FeedSource::Replay(_)) && args.venue != crate::cli::OrderVenue::Sim {
        return Err(
            "--venue: a replay trades against the simulated venue (its determinism needs one); drop --venue".into()
        );
    }
    if args.sim_gap_every > 0 && matches!(args.dialect, crate::cli::Dialect::Coinbase | crate::cli::Dialect::Kraken) {
        return Err(format!(
            "--sim-gap-every: {}'s book updates carry no sequence, so no gap could be seen for sure; \
             use another --dialect",
            if args.dialect == crate::cli::Dialect::Kraken { "Kraken" } else { "Coinbase" }
        ));
    }
    let tls = match &args.tls_ca {
        Some(path) => feeds::ws::TlsConfig::with_ca_file(path).map_err(|e| format!("--tls-ca: {e}"))?,
        None => feeds::ws::TlsConfig::default(),
    };
    Ok(RunOptions {
        feed,
        tls,
        reconnect_max_wait: args.reconnect_max_wait,
        venue: args.venue.clone(),
        cancel_on_disconnect: args.cancel_on_disconnect,
        on_mismatch: args.on_mismatch,
        record: args.record.clone(),
        pipeline: PipelineConfig {
            on_persist_backlog: args.on_persist_backlog,
            on_mismatch: args.on_mismatch,
            instruments,
            venues,
            venue_configs,
            strategy: args.strategy,
            limits,
            instrument_limits: own.instruments,
            venue_rates: own.venues,
            kill,
            venue: first_venue,
            order_capacity: 4096,
            client_id_epoch: 0,
            book_depth: crate::pipeline::book_depth(args.dialect.venue()),
            breaker: breaker_config(args),
            flatten_on_trip: args.flatten_on_trip,
            self_trade: args.self_trade,
            ack_timeout_ns: args.ack_timeout.as_nanos() as u64,
            feed_stale_ns: args.feed_stale_after.as_nanos() as u64,
            route: args.route.policy(),
            dialect: args.dialect.venue(),
        },
        rate: args.rate,
        duration: args.duration,
        max_frames: args.frames,
        persist,
        cores,
        topology,
        fifo: args.sched_fifo,
        mlock: args.mlock,
        huge_pages: args.huge_pages,
        drain_every: crate::run::DRAIN_EVERY,
        seed: args.seed,
        gap_every: args.sim_gap_every,
        watchdog: args.watchdog,
        status_every: (!args.quiet).then_some(std::time::Duration::from_secs(1)),
        faults: args.inject_fault.unwrap_or_default(),
        reload: Some(reload_breaker_settings),
        control: args.control.clone(),
        database,
        db_writers: args.db_writers,
    })
}

/// SIGHUP: the venue breaker's settings as the process's own command line (and its
/// `--config` file, read again) now give them.
fn reload_breaker_settings() -> Result<crate::risk::BreakerConfig, String> {
    let argv = crate::config::expand(std::env::args_os().collect())?;
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv).map_err(|e| e.to_string())?;
    let args = match &cli.command {
        crate::cli::Command::Run(args) => args.as_ref(),
        crate::cli::Command::Replay(r) => &r.run,
        crate::cli::Command::Record(r) => &r.run,
        crate::cli::Command::Bench(crate::cli::BenchCmd::E2e(e)) => &e.run,
        _ => return Err("not a run".into()),
    };
    // Not `options`: its CPU checks would run on the (pinned) cold thread.
    Ok(breaker_config(args))
}

fn breaker_config(args: &RunArgs) -> crate::risk::BreakerConfig {
    crate::risk::BreakerConfig {
        consecutive_failures: args.breaker_failures,
        failure_rate_pct: args.breaker_failure_rate_pct,
        min_calls: 20,
        window_ns: 1_000_000_000,
        cool_down_ns: args.breaker_cooldown.as_nanos() as u64,
        probes: args.breaker_probes,
    }
}

/// The topology and its CPUs from `--topology` and `--cores`, checked against the
/// CPUs this process may use.
fn cores(args: &crate::cli::RunArgs) -> Result<(Topology, (usize, usize)), String> {
    use crate::cli::{CoreList, TopologyArg};
    let allowed = tuning::allowed_cpus().map_err(|e| e.to_string())?;
    if let Some(CoreList(cpus)) = &args.cores
        && let Some(cpu) = cpus.iter().find(|c| !allowed.contains(c))
    {
        let list = tuning::format_cpu_list(&allowed);
        return Err(format!("--cores: CPU {cpu} is not available to this process (it may use {list})"));
    }
    // The same rules as every hot stage placement: CPU 0 only when forced.
    let place = |stages: &[&str], hot: &[usize]| {
        tuning::place(stages, hot, &allowed, args.force_cpu0).map(|_| ()).map_err(|e| format!("--cores: {e}"))
    };
    match (args.topology, args.cores.as_ref().map(|c| c.0.as_slice())) {
        (TopologyArg::Fused, None) => Ok((Topology::Fused, default_cores().map_err(|e| e.to_string())?)),
        (TopologyArg::Fused, Some(&[hot, cold])) => {
            if hot == cold {
                return Err(format!("--cores {hot},{cold}: the hot and cold cores must differ"));
            }
            place(&["hot-fused"], &[hot])?;
            Ok((Topology::Fused, (hot, cold)))
        }
        (TopologyArg::Pipelined, None) => {
            let (feed_cpu, trade, cold) = default_pipelined_cores().map_err(|e| e.to_string())?;
            place(&["hot-feed", "hot-trade"], &[feed_cpu, trade])?;
            Ok((Topology::Pipelined { feed_cpu }, (trade, cold)))
        }
        (TopologyArg::Pipelined, Some(&[feed_cpu, trade, cold])) => {
            place(&["hot-feed", "hot-trade"], &[feed_cpu, trade])?;
            if cold == trade {
                return Err(format!("--cores: the cold core cannot share the trading core's CPU {trade}"));
            }
            if cold == feed_cpu {
                eprintln!(
                    "warning: the cold core shares CPU {cold} with the feed core: journal writes and status \
                     will preempt the feed stage (a lab setup for hosts with fewer than 3 CPUs)"
                );
            }
            Ok((Topology::Pipelined { feed_cpu }, (trade, cold)))
        }
        (TopologyArg::Fused, Some(cpus)) => {
            Err(format!("--cores: the fused topology takes `HOT,COLD`, got {} CPUs", cpus.len()))
        }
        (TopologyArg::Pipelined, Some(cpus)) => {
            Err(format!("--cores: the pipelined topology takes `FEED,TRADE,COLD`, got {} CPUs", cpus.len()))
        }
    }
}

/// How many venues `--feed` gives (one per feed), refusing combinations that cannot
/// work: a replay among others (a capture is one venue's frames), sims mixed with
/// WebSockets, order-entry URLs that are not one per feed, or several venues with
/// one capture.
fn feed_venues(args: &RunArgs) -> Result<usize, String> {
    use crate::cli::FeedArg;
    let venues = args.feed.len().max(1);
    // A replay's own check says what is wrong with --venue there.
    let replay = args.feed.iter().any(|f| matches!(f, FeedArg::Replay(_)));
    if let crate::cli::OrderVenue::Ws(urls) = &args.venue
        && urls.len() != venues
        && !replay
    {
        return Err(format!(
            "--venue: {} order-entry URL{} for {venues} feed{}; give one per --feed, in the same order",
            urls.len(),
            if urls.len() == 1 { "" } else { "s" },
            if venues == 1 { "" } else { "s" },
        ));
    }
    check_venue_order(args)?;
    if venues == 1 {
        return Ok(1);
    }
    if replay {
        return Err("--feed: a replay is one venue's capture; give it alone".into());
    }
    if args
        .feed
        .iter()
        .zip(args.feed.iter().skip(1))
        .any(|(a, b)| std::mem::discriminant(a) != std::mem::discriminant(b))
    {
        return Err("--feed: give every venue the same kind of feed (all `sim`, or all `ws://`)".into());
    }
    if args.record.is_some() {
        return Err("--record: a capture holds one venue's frames; record with one --feed".into());
    }
    if venues * args.symbols.len() > MAX_INSTRUMENTS {
        return Err(format!(
            "--feed/--symbols: {venues} venues × {} symbols is more than the {MAX_INSTRUMENTS} instruments a run holds",
            args.symbols.len()
        ));
    }
    Ok(venues)
}

/// Feeds and order entry at the same host and port (as `engine sim` serves both)
/// must be given in the same order: venue `v`'s orders must not go to another
/// venue's server. Servers that differ (a real exchange's market data and order
/// entry) cannot be matched, so nothing is checked for them.
fn check_venue_order(args: &RunArgs) -> Result<(), String> {
    /// `host:port`, lower case, with the scheme's default port and `localhost`
    /// written as the loopback address.
    fn server(url: &str) -> Option<String> {
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?']).next().unwrap_or(rest).to_ascii_lowercase();
        // An IPv6 host is bracketed: its colons are not the port's.
        let host_end = authority.rfind(']').map_or(0, |i| i + 1);
        let colon = authority.get(host_end..)?.find(':').map(|i| host_end + i);
        let (host, port) = colon.map_or((authority.as_str(), ""), |i| authority.split_at(i));
        let default = if scheme.eq_ignore_ascii_case("wss") { "443" } else { "80" };
        let port = port.strip_prefix(':').filter(|p| !p.is_empty()).unwrap_or(default);
        let host = if host == "localhost" { "127.0.0.1" } else { host };
        Some(format!("{host}:{port}"))
    }
    let crate::cli::OrderVenue::Ws(urls) = &args.venue else { return Ok(()) };
    let feeds: Vec<Option<String>> = args
        .feed
        .iter()
        .map(|f| match f {
            crate::cli::FeedArg::Ws(url) => server(url),
            _ => None,
        })
        .collect();
    for (v, url) in urls.iter().enumerate() {
        let at = server(url);
        let own = feeds.get(v).cloned().flatten();
        if let Some(other) = feeds.iter().position(|f| f.is_some() && *f == at)
            && own != at
        {
            return Err(format!(
                "--venue: venue {v}'s order entry ({url}) is at venue {other}'s feed server; give --venue in --feed's \
                 order"
            ));
        }
    }
    Ok(())
}

/// Each simulated venue's settings: every per-venue flag (fees, reject rate) takes
/// one value for all venues or one per venue.
fn venue_configs(
    args: &RunArgs,
    venues: usize,
    base: crate::gateway::SimGatewayConfig,
) -> Result<Vec<crate::gateway::SimGatewayConfig>, String> {
    fn per_venue<T: Copy>(flag: &str, values: &[T], venues: usize) -> Result<Vec<T>, String> {
        match values {
            [one] => Ok(vec![*one; venues]),
            _ if values.len() == venues => Ok(values.to_vec()),
            _ => Err(format!("{flag}: give one value, or one per venue ({venues}), not {}", values.len())),
        }
    }
    let maker = per_venue("--maker-fee-bps", &args.maker_fee_bps, venues)?;
    let taker = per_venue("--taker-fee-bps", &args.taker_fee_bps, venues)?;
    let rejects = per_venue("--sim-reject-ppm", &args.sim_reject_ppm, venues)?;
    Ok((0..venues)
        .map(|v| crate::gateway::SimGatewayConfig {
            fees: crate::sim::FeeSchedule {
                maker_bps: maker.get(v).copied().unwrap_or(0),
                taker_bps: taker.get(v).copied().unwrap_or(0),
            },
            reject_ppm: rejects.get(v).copied().unwrap_or(0),
            ..base
        })
        .collect())
}

/// `engine replay FILE [run flags]`.
///
/// # Errors
/// As [`run_command`].
pub fn replay_command(args: &crate::cli::ReplayArgs) -> Result<ExitCode, String> {
    let mut run = args.run.clone();
    run.feed = vec![crate::cli::FeedArg::Replay(args.capture.clone())];
    run_command(&run)
}

/// `engine record`: a run that only records.
///
/// # Errors
/// As [`run_command`].
pub fn record_command(args: &crate::cli::RecordArgs) -> Result<ExitCode, String> {
    let mut run = args.run.clone();
    if run.feed.iter().any(|f| matches!(f, crate::cli::FeedArg::Replay(_))) {
        return Err("engine record: record a live feed (--feed sim or ws://...), not a replay".into());
    }
    run.record = Some(args.out.clone());
    run.strategy = crate::strategy::StrategyConfig::Idle;
    run.persist = crate::cli::PersistArg::None;
    run.venue = crate::cli::OrderVenue::Sim;
    run_command(&run)
}

/// `engine run`.
///
/// # Errors
/// Bad flags or a run that could not start.
pub fn run_command(args: &RunArgs) -> Result<ExitCode, String> {
    let options = options(args)?;
    host_audit(&options, args.require_tuned_host, args.quiet)?;
    let outcome = match run(&options) {
        Ok(o) => o,
        Err(e @ (RunError::StagePanicked(_) | RunError::Stalled(..) | RunError::FeedStalled(_))) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(4));
        }
        Err(e @ RunError::JournalFailed { .. }) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(5));
        }
        Err(e) => return Err(e.to_string()),
    };
    out!("{}", outcome.summary.table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&outcome.summary).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    if let Some(dir) = &args.latency_out {
        write_hgrms(dir, &outcome.latency).map_err(|e| format!("--latency-out {}: {e}", dir.display()))?;
    }
    if let Some(ms) = outcome.summary.watchdog_stop_ms {
        // The stage came back in time to wind down, but a stall that long is a
        // failure of the run, as one it never came back from is.
        eprintln!(
            "error: watchdog: a hot core sent no heartbeat for {ms} ms (--watchdog {:?}); the engine stopped the run. \
             It answered the stop and wound down: the report above says what was cancelled and journaled",
            options.watchdog
        );
        return Ok(ExitCode::from(4));
    }
    Ok(if outcome.summary.halt.is_some() { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

fn summary_json(s: &JournalSummary) -> serde_json::Value {
    let streams: serde_json::Map<String, serde_json::Value> = s
        .streams
        .iter()
        .map(|(id, st)| {
            let v = serde_json::json!({
                "records": st.records, "first_seq": st.first_seq, "last_seq": st.last_seq,
                "missing": st.missing, "repeated": st.repeated,
            });
            (id.to_string(), v)
        })
        .collect();
    serde_json::json!({
        "segments": s.segments,
        "records": s.records,
        "kinds": s.kinds,
        "streams": streams,
        "time_range_ns": s.time_range,
        "torn_tail": s.torn_tail.as_ref().map(|t| serde_json::json!({
            "segment": t.at.segment, "offset": t.at.offset, "bytes": t.bytes, "reason": t.reason,
        })),
        "sequences_intact": s.sequences_intact(),
    })
}

fn summary_text(s: &JournalSummary) -> String {
    let mut out = format!("{} segment(s), {} records\n", s.segments, s.records);
    for (kind, n) in &s.kinds {
        out += &format!("  {kind:<10} {n}\n");
    }
    for (id, st) in &s.streams {
        out += &format!(
            "  stream {id}: seq {}..={} ({} records, {} missing, {} repeated)\n",
            st.first_seq, st.last_seq, st.records, st.missing, st.repeated
        );
    }
    if let Some((lo, hi)) = s.time_range {
        out += &format!("  time range: {lo} .. {hi} ns since the epoch ({:.3} s)\n", (hi - lo) as f64 / 1e9);
    }
    if let Some(t) = &s.torn_tail {
        out += &format!(
            "  torn tail: {} bytes at segment {} byte {} ({}); the next open truncates it\n",
            t.bytes, t.at.segment, t.at.offset, t.reason
        );
    }
    out
}

/// `engine journal inspect|verify`.
///
/// # Errors
/// The journal cannot be read.
pub fn journal_command(args: &JournalArgs, verify: bool) -> Result<ExitCode, String> {
    if !args.dir.is_dir() {
        return Err(format!("{}: not a journal directory", args.dir.display()));
    }
    let summary = JournalReader::open(&args.dir).and_then(|r| summarize(&r));
    let summary = match summary {
        Ok(s) => s,
        Err(e) if verify => {
            eprintln!("corrupt: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.to_string()),
    };
    if args.json {
        outln!("{}", summary_json(&summary));
    } else {
        out!("{}", summary_text(&summary));
    }
    if verify && !summary.sequences_intact() {
        eprintln!("verify: some stream has missing or repeated sequence numbers");
        return Ok(ExitCode::from(1));
    }
    if verify {
        eprintln!("verify: every checksum and sequence intact");
    }
    Ok(ExitCode::SUCCESS)
}

/// A password in a `--db` URL is on the command line, which any local user can read
/// (`ps`): say so once, and how to keep it out.
fn warn_if_password_in(url: &str) {
    if persist::pg::url_has_password(url) {
        eprintln!(
            "warning: the database URL carries a password, which other local users can read in the process \
             list; leave it out of the URL and set PGPASSWORD instead"
        );
    }
}

/// `engine journal load`.
///
/// # Errors
/// The journal or the database failed; what was committed stays committed.
pub fn load_command(args: &LoadArgs) -> Result<ExitCode, String> {
    if !args.dir.is_dir() {
        return Err(format!("{}: not a journal directory", args.dir.display()));
    }
    let reader = JournalReader::open(&args.dir).map_err(|e| e.to_string())?;
    if let Some(url) = &args.db {
        warn_if_password_in(url);
    }
    let (mut sink, mode, migrated) =
        persist::pg::open_sink(args.db.as_deref(), args.writers).map_err(|e| e.to_string())?;
    eprintln!("schema: {} ({})", mode.name(), if migrated { "migrated now" } else { "already current" });
    let report = persist::pg::load_journal(&mut sink, &reader, args.batch.max(1)).map_err(|e| e.to_string())?;
    outln!(
        "loaded {} rows in {} batch(es); {} already in the database; {} of an unknown kind skipped",
        report.written,
        report.batches,
        report.already_there,
        report.unknown_kind
    );
    Ok(ExitCode::SUCCESS)
}

/// `engine journal export`: the journal as CSV files, one per event table.
///
/// # Errors
/// Not a journal, or a file cannot be made or written (a corrupt journal is exit 2
/// after writing what came before the damage).
pub fn export_command(args: &ExportArgs) -> Result<ExitCode, String> {
    if !args.dir.is_dir() {
        return Err(format!("{}: not a journal directory", args.dir.display()));
    }
    let reader = JournalReader::open(&args.dir).map_err(|e| e.to_string())?;
    let report = match crate::export::export(&reader, &args.out) {
        Ok(report) => report,
        Err(e @ crate::export::ExportError::Corrupt { .. }) => {
            eprintln!("corrupt: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.to_string()),
    };
    for (path, rows) in &report.files {
        outln!("{rows:>10} rows  {}", path.display());
    }
    if report.unknown_kind > 0 {
        eprintln!("warning: {} records of a kind this build does not know were skipped", report.unknown_kind);
    }
    if report.repeats > 0 {
        eprintln!(
            "warning: {} records at or below their stream's sequence so far were skipped, as `journal load` skips them",
            report.repeats
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The host audit for the hot core, before anything starts: a one-line summary, or a
/// refusal with `--require-tuned-host`.
fn host_audit(options: &RunOptions, required: bool, quiet: bool) -> Result<(), String> {
    use tuning::audit::{self, AuditOptions, Host, Status};
    let hot = options.cores.0;
    let audit_options = AuditOptions { hot_cores: vec![hot], sched_fifo: options.fifo.is_some(), irq_sample: None };
    let findings = audit::audit(&Host::at(std::path::Path::new("/")), &audit_options);
    let named =
        |status: Status| -> Vec<&str> { findings.iter().filter(|f| f.status == status).map(|f| f.check).collect() };
    let (fails, warns) = (named(Status::Fail), named(Status::Warn));
    let summary = format!(
        "host audit for hot CPU {hot}: {} fail{}, {} warn; `engine tune check --cores {hot}` explains each",
        fails.len(),
        if fails.is_empty() { String::new() } else { format!(" ({})", fails.join(", ")) },
        warns.len()
    );
    if required && !fails.is_empty() {
        return Err(format!("--require-tuned-host: {summary}"));
    }
    if !quiet && (!fails.is_empty() || !warns.is_empty()) {
        eprintln!("warning: {summary}");
    }
    Ok(())
}

/// `engine bench e2e`.
///
/// # Errors
/// Bad flags, a failed run, or an output that cannot be written.
pub fn bench_e2e_command(args: &crate::cli::E2eArgs) -> Result<ExitCode, String> {
    if args.rates.is_empty() || args.rates.contains(&0) {
        return Err("--rates: give one or more offered rates above 0".into());
    }
    let base = options(&args.run)?;
    let mut topologies = Vec::new();
    for topology in &args.topologies {
        topologies.push(match topology {
            crate::cli::TopologyArg::Fused => {
                let cores = default_cores().map_err(|e| e.to_string())?;
                ("fused".to_owned(), RunOptions { topology: Topology::Fused, cores, ..base.clone() })
            }
            crate::cli::TopologyArg::Pipelined => match default_pipelined_cores() {
                Ok((feed_cpu, trade, cold)) => (
                    "pipelined".to_owned(),
                    RunOptions { topology: Topology::Pipelined { feed_cpu }, cores: (trade, cold), ..base.clone() },
                ),
                Err(RunError::TooFewCores { .. }) => {
                    let (trade, cold) = default_cores().map_err(|e| e.to_string())?;
                    (
                        "pipelined-shared".to_owned(),
                        RunOptions {
                            topology: Topology::Pipelined { feed_cpu: cold },
                            cores: (trade, cold),
                            ..base.clone()
                        },
                    )
                }
                Err(e) => return Err(e.to_string()),
            },
        });
    }
    let as_png = args.plot.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")));
    if as_png {
        // Before minutes of runs, not after them.
        crate::bench::png_font().map_err(|e| format!("--plot: {e}"))?;
    }
    let results = crate::bench::e2e(&topologies, &args.rates, args.seconds.max(1)).map_err(|e| e.to_string())?;
    out!("{}", crate::bench::table(&results));
    if let Some(path) = &args.run.json {
        let rows: Vec<_> = results.iter().map(|(r, _)| r).collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({ "results": rows })).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    if let Some(dir) = &args.hgrm_dir {
        crate::bench::write_hgrms(dir, &results).map_err(|e| format!("--hgrm-dir {}: {e}", dir.display()))?;
    }
    if let Some(path) = &args.plot {
        if as_png {
            crate::bench::png(&results, path).map_err(|e| format!("--plot {}: {e}", path.display()))?;
        } else {
            std::fs::write(path, crate::bench::svg(&results)).map_err(|e| format!("--plot {}: {e}", path.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `engine kill (PID | --control FILE)`.
///
/// # Errors
/// No such process, not an engine, a refused signal, or an unwritable control file.
pub fn kill_command(args: &crate::cli::KillArgs) -> Result<ExitCode, String> {
    use crate::run::control::{Command, send};
    if let Some(path) = &args.control {
        send(path, Command::Kill)?;
        outln!("wrote `kill` to {}: the engine trips its kill switch within 100 ms", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let pid = args.pid.ok_or("give a PID or --control FILE")?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_err(|e| format!("process {pid}: {e}"))?
        .trim()
        .to_owned();
    if comm != "engine" {
        return Err(format!("process {pid} is `{comm}`, not an engine: no signal sent"));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGUSR1)
        .map_err(|e| format!("signalling process {pid}: {e}"))?;
    outln!("sent SIGUSR1 to engine {pid}: its kill switch trips, working orders are cancelled");
    Ok(ExitCode::SUCCESS)
}

/// `engine rearm --control FILE [--plan standard|aggressive]`.
///
/// # Errors
/// The control file cannot be written.
pub fn rearm_command(args: &crate::cli::RearmArgs) -> Result<ExitCode, String> {
    use crate::{
        cli::PlanArg,
        risk::RearmPlan,
        run::control::{Command, send},
    };
    let plan = match args.plan {
        PlanArg::Standard => RearmPlan::Standard,
        PlanArg::Aggressive => RearmPlan::Aggressive,
    };
    send(&args.control, Command::Rearm(plan))?;
    outln!(
        "wrote `rearm {}` to {}: the engine re-arms within 100 ms if its kill switch tripped \
         (the run's report counts refused re-arms)",
        plan.name(),
        args.control.display()
    );
    Ok(ExitCode::SUCCESS)
}
