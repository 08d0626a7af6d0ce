//! The pre-trade check set, ours against a naive baseline in the same run.
//!
//! Ours is `engine::risk::Risk::check`: limits scaled once at start-up, integer
//! comparisons, state owned by the risk stage. The baseline does what a first
//! version typically does: limits in a `HashMap` keyed by symbol string, state behind
//! a `Mutex`, the reason as a `String`. Both see the same 20 instruments (4 symbols
//! at each of 5 venues, each venue with its own circuit breaker for ours), the same
//! books and the same order stream (every check passes or fails the same way: the
//! harness checks that the decisions agree). Orders are checked in batches of 64;
//! each batch is timed, so the percentiles are of ns per check within a batch.
//!
//! `cargo run --release -p benches --bin risk-bench -- [--quick] [--json PATH]`

#![allow(clippy::disallowed_methods, reason = "a benchmark measures wall time")]

use std::{collections::HashMap, sync::Mutex, time::Instant};

use clap::Parser;
use engine::{
    oms::Position,
    order::{NewOrder, OrderType},
    risk::{Exposure, InstrumentLimits, OwnTop, QuoteLimits, Risk, RiskInputs, RiskLimits},
};
use feeds::{
    book::Book,
    event::{BookDelta, BookSide, InstrumentId, Level, Price, Qty, Side, UnixNanos, Venue},
};
use hdrhistogram::Histogram;

#[derive(Debug, Parser)]
struct Args {
    /// A short run.
    #[arg(long)]
    quick: bool,
    /// Write results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

const INSTRUMENTS: usize = 20;
const VENUES: usize = 5;
const BATCH: usize = 64;

fn book(mid: i64) -> Book {
    let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
    d.push(BookSide::Bid, Level { price: Price(mid - 1), qty: Qty(500) });
    d.push(BookSide::Ask, Level { price: Price(mid + 1), qty: Qty(500) });
    d.set_snapshot();
    d.set_last();
    let mut b = Book::with_depth(16);
    let _ = b.apply(&d);
    b
}

/// Per symbol: orders accepted, and the recent orders for duplicate detection.
type NaiveState = HashMap<String, (u64, Vec<(NewOrder, u64)>)>;

/// The baseline: the same checks, written the obvious way.
struct Naive {
    limits: HashMap<String, RiskLimits>,
    state: Mutex<NaiveState>,
}

impl Naive {
    fn check(&self, symbol: &str, o: &NewOrder, inputs: &RiskInputs<'_>) -> Option<String> {
        let l = self.limits.get(symbol)?;
        let mut state = self.state.lock().ok()?;
        let (count, recent) = state.entry(symbol.to_owned()).or_default();
        let (price, qty) = (o.price.0, o.qty.0);
        if qty < l.instrument.min_qty || qty > l.instrument.max_qty {
            return Some("qty_out_of_range".to_owned());
        }
        if price % l.instrument.tick != 0 {
            return Some("off_tick".into());
        }
        let notional = i128::from(price) * i128::from(qty);
        if notional > l.instrument.max_order_notional {
            return Some("order_notional".into());
        }
        let (bid, ask) = (inputs.book.best_bid()?, inputs.book.best_ask()?);
        let mid2 = i128::from(bid.price.0 + ask.price.0);
        if (2 * i128::from(price) - mid2).abs() * 10_000 > i128::from(l.instrument.collar_bps) * mid2 {
            return Some("outside_collar".into());
        }
        let signed = if o.side == Side::Buy { qty } else { -qty };
        let after = i128::from(inputs.position.net + signed);
        if after.abs() * i128::from(price) > l.instrument.max_position_notional {
            return Some("position_limit".into());
        }
        if inputs.open_notional + notional > l.max_open_notional {
            return Some("open_notional".into());
        }
        if recent.iter().any(|(r, at)| r == o && inputs.now - at < l.duplicate_window_ns) {
            return Some("duplicate".into());
        }
        recent.push((*o, inputs.now));
        if recent.len() > 8 {
            recent.remove(0);
        }
        *count += 1;
        None
    }
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let batches: usize = if args.quick { 20_000 } else { 200_000 };
    let mut limits = RiskLimits::with_quote_limits(
        2,
        5,
        QuoteLimits { order: 10_000, position: 50_000, open: 100_000, gross: 200_000, net: 100_000 },
    );
    limits.orders_per_sec = u32::MAX; // measure the checks, not the throttle's verdict
    limits.order_burst = u32::MAX;
    let books: Vec<Book> = (0..INSTRUMENTS).map(|i| book(6_000_000 + 1_000 * i as i64)).collect();
    let symbols: Vec<String> = (0..INSTRUMENTS).map(|i| format!("SYM{i}USDT")).collect();
    let orders: Vec<(usize, NewOrder)> = (0..4096)
        .map(|k| {
            let i = k % INSTRUMENTS;
            let mid = 6_000_000 + 1_000 * i as i64;
            // Mostly inside the collar, some outside, sizes varied: every path runs.
            let offset = [-3, 2, 40_000, -1, 5][k % 5];
            let order = NewOrder {
                instrument: InstrumentId(i as u32),
                side: if k % 2 == 0 { Side::Buy } else { Side::Sell },
                price: Price(mid + offset),
                qty: Qty(1 + (k as i64 * 37) % 400),
                order_type: OrderType::Limit,
                // Every order carries a stop 1% away: the stop check runs on all.
                stop: NewOrder::stop_at_bps(if k % 2 == 0 { Side::Buy } else { Side::Sell }, Price(mid + offset), 100),
            };
            (i, order)
        })
        .collect();
    // Each instrument has limits of its own (size and collar here), as a desk
    // configures them: ours in its per-instrument table, the baseline in its map.
    let own = |i: usize| RiskLimits {
        instrument: InstrumentLimits { max_qty: 300 + 10 * i as i64, collar_bps: 40 + i as i64, ..limits.instrument },
        ..limits
    };
    let naive = Naive {
        limits: symbols.iter().enumerate().map(|(i, s)| (s.clone(), own(i))).collect(),
        state: Mutex::new(HashMap::new()),
    };
    let mut ours = Risk::new(limits, 0);
    for i in 0..INSTRUMENTS {
        ours.set_instrument(i, own(i).instrument, 0);
    }
    // Ours also asks the order's venue's (closed) circuit breaker, as the engine
    // does: the 20 instruments are 4 symbols at each of 5 venues, venue `i / 4`. The
    // naive baseline has no breaker.
    let breakers: Vec<engine::risk::CircuitBreaker> =
        (0..VENUES).map(|_| engine::risk::CircuitBreaker::new(&engine::risk::BreakerConfig::default())).collect();
    let position = Position::default();
    let mut hist_ours = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let mut hist_naive = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let (mut total_ours, mut total_naive) = (0f64, 0f64);
    let mut now = 1_000_000_000u64;
    let mut disagreements = 0u64;
    for b in 0..batches {
        let start = (b * BATCH) % orders.len();
        let batch = &orders[start..(start + BATCH).min(orders.len())];
        // Alternate which goes first, so neither always runs on a warmer cache.
        for round in 0..2 {
            let run_ours = (b + round) % 2 == 0;
            let t = Instant::now();
            let mut accepted = 0u32;
            for (i, o) in batch {
                now += 1_000_000; // 1 ms apart: no duplicates unless the same order repeats
                let inputs = RiskInputs {
                    now,
                    book: &books[*i],
                    book_ts: now,
                    position,
                    open_notional: 0,
                    working: (0, 0),
                    elsewhere: 0,
                    venue: *i / (INSTRUMENTS / VENUES),
                    own: OwnTop::default(),
                    exposure: Exposure { equity: 1 << 100, ..Exposure::default() },
                    breaker: breakers.get(*i / (INSTRUMENTS / VENUES)),
                };
                let ok = if run_ours {
                    ours.check(o, &inputs).reject.is_none()
                } else {
                    naive.check(&symbols[*i], o, &inputs).is_none()
                };
                accepted += u32::from(ok);
            }
            let ns = t.elapsed().as_nanos() as f64 / batch.len() as f64;
            std::hint::black_box(accepted);
            if run_ours {
                let _ = hist_ours.record(ns.round().max(1.0) as u64);
                total_ours += ns * batch.len() as f64;
            } else {
                let _ = hist_naive.record(ns.round().max(1.0) as u64);
                total_naive += ns * batch.len() as f64;
            }
        }
        // Same verdicts on one order from the batch (state differs in time only).
        if let Some((i, o)) = batch.first() {
            let inputs = RiskInputs {
                now: now + 10_000_000_000,
                book: &books[*i],
                book_ts: now + 10_000_000_000,
                position,
                open_notional: 0,
                working: (0, 0),
                elsewhere: 0,
                venue: *i / (INSTRUMENTS / VENUES),
                own: OwnTop::default(),
                exposure: Exposure { equity: 1 << 100, ..Exposure::default() },
                breaker: breakers.get(*i / (INSTRUMENTS / VENUES)),
            };
            let a = ours.check(o, &inputs).reject.is_none();
            let n = naive.check(&symbols[*i], o, &inputs).is_none();
            disagreements += u64::from(a != n);
        }
    }
    if disagreements > 0 {
        return Err(format!("ours and the baseline disagreed on {disagreements} orders"));
    }
    let checks = (batches * BATCH) as f64;
    let row = |h: &Histogram<u64>, total_ns: f64| serde_json::json!({"p50_ns": h.value_at_quantile(0.5), "p99_ns": h.value_at_quantile(0.99), "checks_per_s": checks / (total_ns / 1e9)});
    let (o, n) = (row(&hist_ours, total_ours), row(&hist_naive, total_naive));
    println!(
        "{} checks in batches of {BATCH}, {INSTRUMENTS} instruments over {VENUES} venues; ns per check within a batch",
        checks as u64
    );
    println!("{:<8} {:>8} {:>8} {:>14}", "", "p50 ns", "p99 ns", "checks/s");
    for (name, r) in [("ours", &o), ("naive", &n)] {
        let n = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!("{name:<8} {:>8} {:>8} {:>14.0}", n("p50_ns"), n("p99_ns"), n("checks_per_s"));
    }
    println!(
        "ours is {:.1}x the baseline's throughput",
        o["checks_per_s"].as_f64().unwrap_or(0.0) / n["checks_per_s"].as_f64().unwrap_or(1.0)
    );
    if let Some(path) = args.json {
        let v = serde_json::json!({"ours": o, "naive": n});
        std::fs::write(&path, serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
