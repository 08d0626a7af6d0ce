//! Order processing, ours against a baseline in the same run: the OMS transitions of
//! one order's life with its position update, and a SmartRoute decision across five
//! venues.
//!
//! Ours and the baseline are described in `benches::order`. Both see the same orders
//! and books and must agree (final positions, and every split); the harness fails
//! otherwise.
//!
//! Everything is timed alone with the TSC (quanta's raw counter; the median cost of
//! an empty timed region is subtracted): each routing decision (`route_*`), each
//! OMS call (`oms_*`: a create, a transition, or a fill's transition with its
//! position update), and each order's whole OMS life, create to terminal
//! (`oms_life_*`, the sum of its calls). Orders run in batches of 64, ours and the
//! baseline's batches alternating which goes first. `orders_per_s` is OMS and
//! routing together on one core, from the timed totals.
//!
//! `cargo run --release -p benches --bin order-bench -- [--quick] [--json PATH]`

#![allow(clippy::disallowed_methods, reason = "a benchmark measures wall time")]

use benches::order::{Baseline, Clocked, Fixture, INSTRUMENTS, VENUES, base_life, naive_route, our_life, policy};
use clap::Parser;
use engine::{
    oms::Oms,
    route::{Route, route},
};
use feeds::event::InstrumentId;
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

const BATCH: usize = 64;

/// The median ns of an empty timed region: what every reading is charged besides
/// the work.
fn timer_overhead(tsc: &quanta::Clock) -> u64 {
    let mut samples: Vec<u64> = (0..100_001)
        .map(|_| {
            let t0 = tsc.raw();
            let t1 = tsc.raw();
            tsc.delta_as_nanos(t0, t1)
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Times single calls with the TSC into one histogram (ns, the timer's own cost
/// subtracted), and the time of a whole order's life into another.
struct Timer<'a> {
    tsc: &'a quanta::Clock,
    overhead: u64,
    calls: &'a mut Histogram<u64>,
    total: f64,
}

impl Clocked for Timer<'_> {
    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let t0 = self.tsc.raw();
        let r = f();
        let ns = self.tsc.delta_as_nanos(t0, self.tsc.raw()).saturating_sub(self.overhead);
        let _ = self.calls.record(ns.max(1));
        self.total += ns as f64;
        r
    }
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let batches: usize = if args.quick { 5_000 } else { 60_000 };
    let fixture = Fixture::default();
    let (books, venue_fees, symbols, orders) = (&fixture.books, &fixture.fees, &fixture.symbols, &fixture.orders);
    let views = fixture.views();
    let policy = policy();
    let mut oms = Oms::new(1024, INSTRUMENTS);
    let mut base = Baseline::default();
    let mut decision = Route::default();
    // Ours then the baseline's: OMS calls, routing decisions, OMS lives.
    let mut hists: [Histogram<u64>; 6] =
        std::array::from_fn(|_| Histogram::<u64>::new(3).expect("3 significant digits is valid"));
    let mut totals = [0f64; 6];
    let mut checked = 0u64;
    let tsc = quanta::Clock::new();
    let overhead = timer_overhead(&tsc);
    for b in 0..batches {
        let start = (b * BATCH) % orders.len();
        let batch = &orders[start..(start + BATCH).min(orders.len())];
        // Alternate which goes first, so neither always runs on a warmer cache.
        for round in 0..2 {
            let run_ours = (b + round) % 2 == 0;
            let at = if run_ours { 0 } else { 3 };
            let mut sink = 0i64;
            for (o, life) in batch {
                let t0 = tsc.raw();
                if run_ours {
                    route(o, &views, policy, &mut decision);
                    sink += decision.children().map(|c| c.order.qty.0).sum::<i64>();
                } else {
                    sink += naive_route(o, books, venue_fees).iter().map(|(_, q)| q).sum::<i64>();
                }
                let ns = tsc.delta_as_nanos(t0, tsc.raw()).saturating_sub(overhead);
                let _ = hists[at + 1].record(ns.max(1));
                totals[at + 1] += ns as f64;
                let [calls, life_hist] = hists.get_disjoint_mut([at, at + 2]).map_err(|e| e.to_string())?;
                let mut t = Timer { tsc: &tsc, overhead, calls, total: 0.0 };
                sink += if run_ours {
                    our_life(&mut oms, o, *life, &mut t)?
                } else {
                    base_life(&mut base, symbols, o, *life, &mut t)
                };
                totals[at] += t.total;
                let _ = life_hist.record((t.total as u64).max(1));
            }
            std::hint::black_box(sink);
        }
        // Every split must match the baseline's (checked outside the timing; the
        // 4,096 orders repeat, so the first pass over them checks them all).
        if b * BATCH < orders.len() {
            for (o, _) in batch {
                route(o, &views, policy, &mut decision);
                let mut ours: Vec<(u8, i64)> = decision.children().map(|c| (c.venue, c.order.qty.0)).collect();
                ours.sort_unstable();
                if ours != naive_route(o, books, venue_fees) {
                    return Err(format!("the routers disagree on {o:?}: ours {ours:?}"));
                }
                checked += 1;
            }
        }
    }
    for (i, symbol) in symbols.iter().enumerate() {
        let (ours, theirs) =
            (oms.position(InstrumentId(i as u32)), base.positions.get(symbol).copied().unwrap_or_default());
        if ours != theirs {
            return Err(format!("positions disagree on {symbol}: ours {ours:?}, baseline {theirs:?}"));
        }
    }
    if oms.live() != 0 || base.live() != 0 {
        return Err(format!("orders left over: ours {}, baseline {}", oms.live(), base.live()));
    }

    let n_orders = (batches * BATCH) as f64;
    let row = |oms: usize| {
        let (h_oms, h_route, h_life) = (&hists[oms], &hists[oms + 1], &hists[oms + 2]);
        serde_json::json!({
            "oms_p50_ns": h_oms.value_at_quantile(0.5),
            "oms_p99_ns": h_oms.value_at_quantile(0.99),
            "oms_life_p50_ns": h_life.value_at_quantile(0.5),
            "oms_life_p99_ns": h_life.value_at_quantile(0.99),
            "route_p50_ns": h_route.value_at_quantile(0.5),
            "route_p99_ns": h_route.value_at_quantile(0.99),
            "orders_per_s": n_orders / ((totals[oms] + totals[oms + 1]) / 1e9),
        })
    };
    let (ours, baseline) = (row(0), row(3));
    println!(
        "{} orders in batches of {BATCH}, {INSTRUMENTS} instruments, SmartRoute over {VENUES} venues; \
         ns per order, each timed alone (TSC, {overhead} ns timer cost subtracted); all {checked} distinct orders' splits and every position checked equal",
        n_orders as u64
    );
    println!(
        "{:<9} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12} {:>14}",
        "", "oms p50", "oms p99", "life p50", "life p99", "route p50", "route p99", "orders/s"
    );
    for (name, r) in [("ours", &ours), ("baseline", &baseline)] {
        let n = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!(
            "{name:<9} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12} {:>14.0}",
            n("oms_p50_ns"),
            n("oms_p99_ns"),
            n("oms_life_p50_ns"),
            n("oms_life_p99_ns"),
            n("route_p50_ns"),
            n("route_p99_ns"),
            n("orders_per_s")
        );
    }
    let ratio = |k: &str| ours[k].as_f64().unwrap_or(0.0) / baseline[k].as_f64().unwrap_or(f64::MAX).max(1e-9);
    println!("ours is {:.1}x the baseline's throughput", ratio("orders_per_s"));
    if let Some(path) = args.json {
        let json = serde_json::json!({"ours": ours, "baseline": baseline});
        std::fs::write(&path, serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
