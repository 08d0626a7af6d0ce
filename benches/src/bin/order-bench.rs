//! Order processing, ours against a baseline in the same run: the OMS transitions of
//! one order's life with its position update, and a SmartRoute decision across five
//! venues.
//!
//! Ours is `engine::oms::Oms` (a pre-allocated slab indexed by the client id, with
//! positions in a vector) and `engine::route::route` (a merge over the venues' books
//! into fixed arrays). The baseline keeps orders in a `HashMap<String, Order>` keyed
//! by a formatted client order id and positions in a `HashMap` keyed by symbol, and
//! routes by collecting every level into a `Vec`, sorting it and summing per venue
//! in a `HashMap`. Both use the same state table and position arithmetic, see the
//! same orders and books, and must agree (final positions, and every split); the
//! harness fails otherwise.
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

use std::collections::HashMap;

use clap::Parser;
use engine::{
    oms::{Oms, OrderEvent, OrderState, Position, next_state},
    order::{NewOrder, OrderType},
    risk::BreakerState,
    route::{Policy, Route, SmartWeights, VenueView, route},
    sim::FeeSchedule,
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

/// Venue `v`'s book: five levels a side, each venue a tick apart and a little
/// deeper than the last, so splits differ by order size.
fn book(v: usize) -> Book {
    let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
    let (mid, depth) = (10_000 + v as i64, 20 + 10 * v as i64);
    for k in 0..5 {
        d.push(BookSide::Bid, Level { price: Price(mid - 1 - 2 * k), qty: Qty(depth + k) });
        d.push(BookSide::Ask, Level { price: Price(mid + 1 + 2 * k), qty: Qty(depth + k) });
    }
    d.set_snapshot();
    d.set_last();
    let mut b = Book::with_depth(8);
    let _ = b.apply(&d);
    b
}

fn fees(v: usize) -> FeeSchedule {
    FeeSchedule { maker_bps: v as i64 - 2, taker_bps: [5, 2, 8, 4, 6][v % 5] }
}

/// One order's life: what the venue does to it after it is sent.
#[derive(Clone, Copy)]
enum Life {
    /// Accepted, then filled whole.
    Filled,
    /// Accepted, partly filled, then cancelled on request.
    PartialThenCancelled,
}

struct BaseOrder {
    symbol: String,
    new: NewOrder,
    state: OrderState,
    before: OrderState,
    filled: i64,
}

/// The baseline OMS: orders by formatted client id, positions by symbol.
#[derive(Default)]
struct Baseline {
    orders: HashMap<String, BaseOrder>,
    positions: HashMap<String, Position>,
    seq: u64,
}

impl Baseline {
    fn create(&mut self, symbol: &str, new: NewOrder) -> String {
        self.seq += 1;
        let id = format!("ORD-{:012}", self.seq);
        let order = BaseOrder {
            symbol: symbol.to_owned(),
            new,
            state: OrderState::Initialized,
            before: OrderState::Initialized,
            filled: 0,
        };
        self.orders.insert(id.clone(), order);
        id
    }

    fn apply(&mut self, id: &str, event: OrderEvent) -> Option<()> {
        let o = self.orders.get_mut(id)?;
        let next = next_state(o.state, event, o.before).ok()?;
        if next == OrderState::PendingCancel {
            o.before = o.state;
        }
        o.state = next;
        if next.is_terminal() {
            self.orders.remove(id);
        }
        Some(())
    }

    fn fill(&mut self, id: &str, price: i64, qty: i64) -> Option<()> {
        let o = self.orders.get_mut(id)?;
        o.filled += qty;
        let event = if o.filled == o.new.qty.0 { OrderEvent::FullFill } else { OrderEvent::PartialFill };
        let (symbol, side) = (o.symbol.clone(), o.new.side);
        self.positions.entry(symbol).or_default().apply_fill(side, price, qty);
        self.apply(id, event)
    }
}

/// The baseline router: every level into a vector, sorted, taken, summed per venue.
fn naive_route(order: &NewOrder, books: &[Book], fees: &[FeeSchedule]) -> Vec<(u8, i64)> {
    let buy = order.side == Side::Buy;
    let side = if buy { BookSide::Ask } else { BookSide::Bid };
    let mut ladder: Vec<(i128, u8, Level)> = Vec::new();
    for (v, b) in books.iter().enumerate() {
        if !b.is_valid() {
            continue;
        }
        for l in b.levels(side).take(5) {
            if (buy && l.price > order.price) || (!buy && l.price < order.price) {
                break;
            }
            let fee = i128::from(fees[v].taker_bps);
            let price = i128::from(l.price.0) * 1_000;
            let key = if buy { price * (10_000 + fee) } else { -(price * (10_000 - fee)) };
            ladder.push((key, v as u8, l));
        }
    }
    ladder.sort_by_key(|(k, v, _)| (*k, *v));
    let mut per_venue: HashMap<u8, i64> = HashMap::new();
    let mut left = order.qty.0;
    for (_, v, l) in ladder {
        if left == 0 {
            break;
        }
        let take = left.min(l.qty.0);
        *per_venue.entry(v).or_default() += take;
        left -= take;
    }
    let mut out: Vec<(u8, i64)> = per_venue.into_iter().collect();
    out.sort_unstable();
    out
}

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

impl Timer<'_> {
    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let t0 = self.tsc.raw();
        let r = f();
        let ns = self.tsc.delta_as_nanos(t0, self.tsc.raw()).saturating_sub(self.overhead);
        let _ = self.calls.record(ns.max(1));
        self.total += ns as f64;
        r
    }
}

/// One order's life in our OMS, each call timed; returns what was filled (to keep
/// the work live).
fn our_life(oms: &mut Oms, o: &NewOrder, life: Life, t: &mut Timer<'_>) -> Result<i64, String> {
    let (fill, price) = (o.qty.0, o.price.0);
    let id = t.time(|| oms.create(*o)).map_err(|e| e.to_string())?;
    let _ = t.time(|| oms.apply(id, OrderEvent::Send));
    let _ = t.time(|| oms.apply(id, OrderEvent::Accept));
    Ok(match life {
        Life::Filled => t.time(|| oms.fill(id, price, fill, 1, 0)).map_or(0, |o| o.filled),
        Life::PartialThenCancelled if fill > 1 => {
            let _ = t.time(|| oms.fill(id, price, fill / 2, 1, 0));
            let _ = t.time(|| oms.apply(id, OrderEvent::RequestCancel));
            let _ = t.time(|| oms.apply(id, OrderEvent::Cancel));
            fill / 2
        }
        Life::PartialThenCancelled => {
            let _ = t.time(|| oms.apply(id, OrderEvent::RequestCancel));
            let _ = t.time(|| oms.apply(id, OrderEvent::Cancel));
            0
        }
    })
}

/// The same life in the baseline.
fn base_life(base: &mut Baseline, symbols: &[String], o: &NewOrder, life: Life, t: &mut Timer<'_>) -> i64 {
    let (fill, price) = (o.qty.0, o.price.0);
    let id = t.time(|| base.create(&symbols[o.instrument.0 as usize], *o));
    let _ = t.time(|| base.apply(&id, OrderEvent::Send));
    let _ = t.time(|| base.apply(&id, OrderEvent::Accept));
    match life {
        Life::Filled => t.time(|| base.fill(&id, price, fill)).map_or(0, |()| fill),
        Life::PartialThenCancelled if fill > 1 => {
            let _ = t.time(|| base.fill(&id, price, fill / 2));
            let _ = t.time(|| base.apply(&id, OrderEvent::RequestCancel));
            let _ = t.time(|| base.apply(&id, OrderEvent::Cancel));
            fill / 2
        }
        Life::PartialThenCancelled => {
            let _ = t.time(|| base.apply(&id, OrderEvent::RequestCancel));
            let _ = t.time(|| base.apply(&id, OrderEvent::Cancel));
            0
        }
    }
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let batches: usize = if args.quick { 5_000 } else { 60_000 };
    let books: Vec<Book> = (0..VENUES).map(book).collect();
    let venue_fees: Vec<FeeSchedule> = (0..VENUES).map(fees).collect();
    let views: Vec<VenueView<'_>> = (0..VENUES)
        .map(|v| VenueView {
            venue: v as u8,
            book: &books[v],
            fees: venue_fees[v],
            ack_ns: 0,
            breaker: BreakerState::Closed,
            stale: false,
            barred: false,
        })
        .collect();
    // Latency and breaker penalties are off: the baseline ranks on price and fee.
    let policy = Policy::SmartRoute(SmartWeights { latency_bps_per_ms: 0, half_open_bps: 0, min_child: 1 });
    let symbols: Vec<String> = (0..INSTRUMENTS).map(|i| format!("SYM{i}USDT")).collect();
    let orders: Vec<(NewOrder, Life)> = (0..4096)
        .map(|k| {
            let buy = k % 2 == 0;
            let order = NewOrder {
                instrument: InstrumentId((k % INSTRUMENTS) as u32),
                side: if buy { Side::Buy } else { Side::Sell },
                price: Price(if buy { 10_020 } else { 9_980 }),
                qty: Qty(1 + (k as i64 * 37) % 300),
                order_type: OrderType::Ioc,
                stop: Price(0),
            };
            (order, if k % 4 == 3 { Life::PartialThenCancelled } else { Life::Filled })
        })
        .collect();

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
                    sink += naive_route(o, &books, &venue_fees).iter().map(|(_, q)| q).sum::<i64>();
                }
                let ns = tsc.delta_as_nanos(t0, tsc.raw()).saturating_sub(overhead);
                let _ = hists[at + 1].record(ns.max(1));
                totals[at + 1] += ns as f64;
                let [calls, life_hist] = hists.get_disjoint_mut([at, at + 2]).map_err(|e| e.to_string())?;
                let mut t = Timer { tsc: &tsc, overhead, calls, total: 0.0 };
                sink += if run_ours {
                    our_life(&mut oms, o, *life, &mut t)?
                } else {
                    base_life(&mut base, &symbols, o, *life, &mut t)
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
                if ours != naive_route(o, &books, &venue_fees) {
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
    if oms.live() != 0 || !base.orders.is_empty() {
        return Err(format!("orders left over: ours {}, baseline {}", oms.live(), base.orders.len()));
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
