//! The end-of-run report: a per-hop percentile table for people and the
//! `--json` summary for scripts, plus `.hgrm` files per hop.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use serde::Serialize;

use crate::pipeline::{Counters, Hop, Latencies, Percentiles, hgrm};

/// What `engine run --json PATH` writes.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Events decoded.
    pub events: u64,
    /// Orders handed to the venue gateway.
    pub orders: u64,
    /// Fills applied.
    pub fills: u64,
    /// Risk plus venue rejections.
    pub rejects: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Frame received → order handed to the venue gateway.
    pub tick_to_order_ns: Percentiles,
    /// Each hop.
    pub hops: BTreeMap<&'static str, Percentiles>,
    /// The topology that ran (e.g. `fused: hot cpu 1, cold cpu 0`).
    pub topology: String,
    /// Where records went (e.g. `journal:engine-journal`).
    pub persist: String,
    /// Every counter of the hot stage.
    pub counters: Counters,
    /// Why the last frame that failed to decode failed (`at byte N: reason`), if one
    /// did: what a `decode_errors` count means.
    pub last_decode_error: Option<String>,
    /// Risk rejections by reason.
    pub risk_rejects: BTreeMap<&'static str, u64>,
    /// Market records dropped because the persist ring was full.
    pub dropped_market_records: u64,
    /// Order, fill and risk records held on the hot core because the persist ring
    /// was full (all journaled later, in order).
    pub persist_held: u64,
    /// The most records held at once.
    pub persist_held_peak: u64,
    /// Times a record had to wait: the hold was full too (a replay always waits).
    pub persist_waits: u64,
    /// Records journaled this run.
    pub journaled: u64,
    /// Wall time the feed ran (s).
    pub seconds: f64,
    /// Frames offered per second (0: unpaced).
    pub offered_rate: u64,
    /// Why the engine stopped itself, if it did.
    pub halt: Option<String>,
    /// The longest the hot stage went without a heartbeat (ms), if that was longer
    /// than `--watchdog`: the engine stopped it, and it answered in time to wind
    /// down (a stage that does not answer ends the run with an error instead).
    pub watchdog_stop_ms: Option<u64>,
    /// What the PostgreSQL follower did (with `--db`).
    pub db: Option<super::ShipReport>,
    /// The venues' circuit breakers taken together at the end of the run: the
    /// most severe state, and how often any opened (with one venue, its breaker).
    pub venue_breaker: VenueBreaker,
    /// Each venue's circuit breaker, in venue order.
    pub venue_breakers: Vec<VenueBreaker>,
    /// How the hot thread ran.
    pub hot_thread: Option<super::HotThreadSummary>,
    /// How the feed core ran (pipelined).
    pub feed_thread: Option<super::HotThreadSummary>,
    /// Times the feed core found its ring to the trading core full and waited
    /// (pipelined).
    pub feed_ring_full: Option<u64>,
    /// Where the hot core's record ring landed.
    pub ring_memory: Option<super::RingMemory>,
    /// The last correlation of returns the cold core published for each instrument
    /// pair (empty with one instrument, or with no records: `--persist none`).
    pub correlations: Vec<(String, String, f64)>,
    /// What the venue gateway counted (rate-limit rejects, unreadable messages,
    /// reconnects, repeats dropped, answers lost).
    pub gateway: crate::gateway::GatewayCounters,
    /// Why the gateway last failed to send a request (`counters.gateway_errors`
    /// counts them; kept when its kind differs from the one before).
    pub last_gateway_error: Option<String>,
    /// The trading state at the end: Active, ReduceOnly or Halted.
    pub trading_state: String,
    /// What the OMS counted (refused transitions, unknown orders, duplicate fills).
    pub oms: crate::oms::OmsCounters,
    /// Start-up reconciliation with a WebSocket venue (none for the simulated venue).
    pub reconciliation: Option<super::reconcile::Reconciliation>,
    /// Each instrument's position at each venue that traded it.
    pub positions: Vec<PositionLine>,
}

/// One instrument's position at one venue, as exact decimals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionLine {
    /// How the report names it (`BTCUSDT`, or `BTCUSDT@1` with several venues).
    pub instrument: String,
    /// The venue symbol.
    pub symbol: String,
    /// The venue's index among the run's feeds.
    pub venue: usize,
    /// Signed size.
    pub net: String,
    /// Average entry price of the open position (0 when flat).
    pub avg_price: String,
    /// Realised P&L before fees, in the quote currency.
    pub realised: String,
    /// Fees paid (negative: rebates).
    pub fees: String,
}

/// The venue circuit breaker in the summary.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct VenueBreaker {
    /// Its state when the run ended.
    pub state: crate::risk::BreakerState,
    /// Times it opened during the run.
    pub times_opened: u64,
}

impl VenueBreaker {
    /// One breaker as it stands.
    pub fn of(breaker: &crate::risk::CircuitBreaker) -> Self {
        Self { state: breaker.state(), times_opened: breaker.times_opened() }
    }

    /// Several taken together: the most severe state, the openings summed.
    pub fn of_all(breakers: &[std::sync::Arc<crate::risk::CircuitBreaker>]) -> Self {
        use crate::risk::BreakerState::{Closed, HalfOpen, Open};
        let severity = |s| match s {
            Closed => 0,
            HalfOpen => 1,
            Open => 2,
        };
        breakers.iter().map(|b| Self::of(b)).fold(Self { state: Closed, times_opened: 0 }, |all, b| Self {
            state: if severity(b.state) > severity(all.state) { b.state } else { all.state },
            times_opened: all.times_opened + b.times_opened,
        })
    }
}

impl RunSummary {
    /// The hop percentiles from merged histograms.
    pub fn hops_of(latency: &Latencies) -> BTreeMap<&'static str, Percentiles> {
        Hop::ALL.iter().filter_map(|h| Some((h.name(), Percentiles::of(latency.get(*h)?)))).collect()
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<14} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "hop (ns)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        );
        for hop in Hop::ALL {
            if let Some(p) = self.hops.get(hop.name()) {
                let _ = writeln!(
                    out,
                    "{:<14} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
                    hop.name(),
                    p.count,
                    p.p50,
                    p.p90,
                    p.p99,
                    p.p999,
                    p.p9999,
                    p.max
                );
            }
        }
        let c = &self.counters;
        let _ = writeln!(
            out,
            "\nframes {} events {} ({:.0}/s) orders {} cancels {} fills {} risk rejects {} venue rejects {} \
             post-only would cross {} gaps {} resyncs {} disconnects {} decode errors {} oms errors {}",
            c.frames,
            c.events,
            c.events as f64 / self.seconds.max(1e-9),
            c.orders,
            c.cancels,
            c.fills,
            c.risk_rejects,
            c.venue_rejects,
            c.would_cross,
            c.gaps,
            c.resyncs,
            c.disconnects,
            c.decode_errors,
            c.oms_errors
        );
        if let Some(e) = self.last_decode_error.as_deref().filter(|_| c.decode_errors > 0) {
            let _ =
                writeln!(out, "the last frame that failed to decode: {e} (check --dialect, --symbols and --scales)");
        }
        if c.gateway_errors > 0 {
            let _ = writeln!(
                out,
                "requests the venue gateway could not send: {} (their orders settled with the venue later); \
                 the latest kind of failure: {}",
                c.gateway_errors,
                self.last_gateway_error.as_deref().unwrap_or("?")
            );
        }
        if c.refused_requests > 0 {
            let _ = writeln!(
                out,
                "the venue refused {} request(s): subscriptions to symbols or channels it does not carry, so \
                 their books never synced (check --symbols and --dialect)",
                c.refused_requests
            );
        }
        if self.gateway.unapplied_reports > 0 {
            let _ = writeln!(
                out,
                "venue reports not applied: {} (unreadable, or a fill naming another symbol than its order's): a \
                 position may have moved unseen, so trading went by --on-mismatch; check the venue's positions",
                self.gateway.unapplied_reports
            );
        }
        if c.checksum_mismatches > 0 {
            let _ = writeln!(
                out,
                "book checksum mismatches {} (each made its book invalid until a fresh snapshot)",
                c.checksum_mismatches
            );
        }
        if c.rearms + c.rearms_refused > 0 {
            let _ = writeln!(out, "kill switch re-armed {} time(s), {} re-arm(s) refused", c.rearms, c.rearms_refused);
        }
        if !self.risk_rejects.is_empty() {
            let reasons: Vec<String> = self.risk_rejects.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(out, "risk rejects by reason: {}", reasons.join(", "));
        }
        let _ = writeln!(
            out,
            "topology: {}; persist: {} ({} records; ring full: {} market records dropped, {} records held (at most \
             {} at once), {} waits)",
            self.topology,
            self.persist,
            self.journaled,
            self.dropped_market_records,
            self.persist_held,
            self.persist_held_peak,
            self.persist_waits
        );
        for t in self.feed_thread.iter().chain(&self.hot_thread) {
            let _ = writeln!(
                out,
                "hot thread {} on CPU {} ({}): {} involuntary and {} voluntary context switches during the run",
                t.name,
                t.cpu,
                if t.sched_fifo { "SCHED_FIFO" } else { "SCHED_OTHER" },
                t.involuntary_switches,
                t.voluntary_switches
            );
        }
        if let Some(n) = self.feed_ring_full {
            let _ = writeln!(out, "feed ring: full {n} time(s), the feed core waited for the trading core");
        }
        if let Some(r) = &self.reconciliation {
            let positions: Vec<String> =
                r.venue_positions.iter().map(|(s, net, avg)| format!("{s} {net} @ {avg}")).collect();
            let _ = writeln!(
                out,
                "venue reconciliation: positions taken from the venue [{}]; {} orphan orders cancelled; {}",
                positions.join(", "),
                r.orphans_cancelled,
                if r.mismatches.is_empty() {
                    "journal agrees".to_owned()
                } else {
                    format!("MISMATCH with the journal ({}) → {:?}", r.mismatches.join("; "), r.policy)
                }
            );
        }
        if !self.positions.is_empty() {
            let lines: Vec<String> = self
                .positions
                .iter()
                .map(|p| {
                    format!("{} {} @ {} (realised {}, fees {})", p.instrument, p.net, p.avg_price, p.realised, p.fees)
                })
                .collect();
            let _ = writeln!(out, "positions: {}", lines.join("; "));
        }
        if !self.correlations.is_empty() {
            let pairs: Vec<String> = self.correlations.iter().map(|(a, b, rho)| format!("{a}/{b} {rho:+.2}")).collect();
            let _ = writeln!(out, "return correlations (last published): {}", pairs.join(", "));
        }
        if let Some(ring) = &self.ring_memory {
            let _ = writeln!(out, "record ring: {}", ring_line(ring));
        }
        if let Some(db) = &self.db {
            let _ = writeln!(
                out,
                "database: {} rows shipped, {} outage(s){}",
                db.shipped,
                db.outages,
                if db.behind_at_exit {
                    format!(
                        "; STILL BEHIND ({}): the journal has everything, run `engine journal load` to backfill",
                        db.last_error.as_deref().unwrap_or("unreachable")
                    )
                } else {
                    String::new()
                }
            );
        }
        if self.venue_breaker.times_opened > 0 && self.venue_breakers.len() <= 1 {
            let _ = writeln!(
                out,
                "venue circuit breaker: opened {} time(s), {:?} at the end",
                self.venue_breaker.times_opened, self.venue_breaker.state
            );
        } else if self.venue_breaker.times_opened > 0 {
            let each: Vec<String> = self
                .venue_breakers
                .iter()
                .enumerate()
                .map(|(v, b)| format!("venue {v}: opened {} time(s), {:?} at the end", b.times_opened, b.state))
                .collect();
            let _ = writeln!(out, "venue circuit breaker: {}", each.join("; "));
        }
        if let Some(halt) = &self.halt {
            let _ = writeln!(out, "HALTED: {halt}");
        }
        out
    }
}

fn ring_line(ring: &super::RingMemory) -> String {
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let mut line = format!("{:.1} MiB, built and prefaulted on the hot thread", mib(ring.ring_bytes));
    match &ring.placement {
        None => line.push_str("; placement unknown (/proc/self/smaps unreadable)"),
        Some(p) => {
            let nodes: Vec<String> =
                p.bytes_per_node.iter().map(|(n, bytes)| format!("{:.1} MiB on node {n}", mib(*bytes))).collect();
            let _ = write!(
                line,
                "; its mapping ({:.1} MiB) has {} and {:.1} MiB on huge pages{}",
                mib(p.mapping_bytes),
                if nodes.is_empty() { "no NUMA information".to_owned() } else { nodes.join(", ") },
                mib(p.huge_page_bytes),
                if ring.huge_pages_requested { " (--huge-pages)" } else { "" }
            );
        }
    }
    if let Some(node) = ring.hot_cpu_node {
        let _ = write!(line, "; hot CPU on node {node}");
    }
    line
}

/// Writes one `.hgrm` per hop into `dir`.
///
/// # Errors
/// The directory or a file cannot be written.
pub fn write_hgrms(dir: &Path, latency: &Latencies) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for hop in Hop::ALL {
        if let Some(h) = latency.get(hop) {
            std::fs::write(dir.join(format!("{}.hgrm", hop.name())), hgrm(h))?;
        }
    }
    Ok(())
}
