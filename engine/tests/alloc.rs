//! Hot-path rule 1: after warm-up the whole fused pipeline (frame decode, books,
//! strategy, risk, OMS, venue, latency histograms, persist ring) runs a million
//! frames with zero heap allocations on its thread, gap recoveries included.

use engine::{
    cli::{Cli, Command},
    clock::{Clock, LiveClock},
    pipeline::{Pipeline, RecordSink},
    run::{SimFeed, sim_symbol_spec, step},
    run_cli::options,
    sim::{MarketSim, SimSymbol},
};
use feeds::{Events, event::InstrumentId};
use persist::Record;

mod common;

#[global_allocator]
static GLOBAL: common::counting::Counting = common::counting::Counting;

/// The hot stage's configuration for `engine run ARGS`.
fn config_of(args: &[&str]) -> engine::pipeline::PipelineConfig {
    let argv = ["engine", "run"].iter().chain(args);
    let Command::Run(args) = <Cli as clap::Parser>::parse_from(argv).command else { panic!("not a run") };
    options(&args).unwrap().pipeline
}

#[test]
fn a_million_frames_after_warm_up_allocate_nothing() {
    let config = config_of(&["--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--persist", "none"]);
    let (tx, mut rx) = rings::spsc::channel::<Record>(1 << 16).unwrap();
    let clock = LiveClock::new();
    let mut pipeline = Pipeline::new(&config, RecordSink::new(Some(tx), 1, 0));
    let symbols = config
        .instruments
        .iter()
        .enumerate()
        .map(|(i, (name, ps, qs))| SimSymbol::new(name, InstrumentId(i as u32), (*ps, *qs), sim_symbol_spec(name).2))
        .collect();
    let mut feed = SimFeed::new(MarketSim::new(symbols, 3).with_gap_every(10_000), 0, 0);
    let mut snapshot = Events::with_capacity(64);
    let mut drained = vec![Record::new(persist::RecordKind::Trade, Default::default(), 0, [0; 6]); 4096];
    let mut journaled = 0u64;
    let mut run = |n: u64, pipeline: &mut Pipeline, journaled: &mut u64| {
        for i in 0..n {
            step(pipeline, &mut feed, &clock, clock.now_ns(), &mut snapshot);
            if i % 512 == 0 {
                // Stand-in for the cold core: keep the ring from filling.
                while !rx.is_empty() {
                    *journaled += rx.pop_slice(&mut drained) as u64;
                }
            }
        }
    };
    run(200_000, &mut pipeline, &mut journaled);
    common::counting::start();
    run(1_000_000, &mut pipeline, &mut journaled);
    let allocs = common::counting::stop();
    let c = pipeline.counters();
    assert!(c.orders > 1_000 && c.fills > 100 && c.gaps > 50, "the run must exercise the whole path: {c:?}");
    journaled += rx.pop_slice(&mut drained) as u64;
    assert_eq!(pipeline.sink().dropped_market, 0);
    assert_eq!(journaled, pipeline.sink().seq(), "every record made it through the ring");
    assert!(journaled > 300_000, "{journaled}");
    assert_eq!(allocs, 0, "heap allocations on the hot path after warm-up");
}

/// Several venues (a feed, books, breaker and simulated order entry each), with the
/// smart router splitting the taker's orders, and with the market maker cancelling
/// at every venue: after warm-up, nothing allocates.
#[test]
fn several_venues_with_routing_allocate_nothing() {
    for strategy in ["taker:cooldown_us=100,threshold_pct=40", "mm"] {
        several_venues_allocate_nothing(strategy);
    }
}

fn several_venues_allocate_nothing(strategy: &str) {
    let config = config_of(&[
        "--feed",
        "sim,sim,sim",
        "--route",
        "smart",
        "--symbols",
        "BTCUSDT,ETHUSDT",
        "--strategy",
        strategy,
        "--persist",
        "none",
    ]);
    let layout = engine::pipeline::VenueLayout::of(&config);
    let (tx, mut rx) = rings::spsc::channel::<Record>(1 << 16).unwrap();
    let clock = LiveClock::new();
    let mut pipeline = Pipeline::new(&config, RecordSink::new(Some(tx), 1, 0));
    let feeds =
        (0..layout.venues).map(|v| SimFeed::new(engine::run::sim_market(&config, v, 5, 10_000), 0, 0)).collect();
    let mut feed = engine::run::MultiFeed::new(feeds, layout);
    let mut snapshot = Events::with_capacity(64);
    let mut drained = vec![Record::new(persist::RecordKind::Trade, Default::default(), 0, [0; 6]); 4096];
    let mut run = |n: u64, pipeline: &mut Pipeline| {
        for i in 0..n {
            step(pipeline, &mut feed, &clock, clock.now_ns(), &mut snapshot);
            if i % 512 == 0 {
                while !rx.is_empty() {
                    rx.pop_slice(&mut drained);
                }
            }
        }
    };
    run(100_000, &mut pipeline);
    common::counting::start();
    run(500_000, &mut pipeline);
    let allocs = common::counting::stop();
    let c = pipeline.counters();
    if strategy == "mm" {
        assert!(c.cancels > 1_000 && c.fills > 100, "{strategy}: the run must cancel and fill: {c:?}");
    } else {
        assert!(c.routed_children > 100 && c.fills > 100, "{strategy}: the run must route and fill: {c:?}");
    }
    assert!(c.gaps > 10, "{strategy}: and recover gaps: {c:?}");
    assert_eq!(allocs, 0, "{strategy}: heap allocations on the hot path after warm-up");
}

/// Routing (every policy, splits included) and an order's whole OMS life (create,
/// send, accept, replace, fills, cancel) allocate nothing once the slab exists.
#[test]
fn routing_and_order_lives_allocate_nothing() {
    use engine::{
        oms::{Oms, OrderEvent},
        order::{NewOrder, OrderType},
        risk::BreakerState,
        route::{Policy, Route, SmartWeights, VenueView, route},
        sim::FeeSchedule,
    };
    use feeds::{
        book::Book,
        event::{BookDelta, BookSide, Level, Price, Qty, Side, UnixNanos, Venue},
    };
    let books: Vec<Book> = (0..5i64)
        .map(|v| {
            let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
            for k in 0..5 {
                d.push(BookSide::Bid, Level { price: Price(9_999 - v - k), qty: Qty(10 + k) });
                d.push(BookSide::Ask, Level { price: Price(10_001 + v + k), qty: Qty(10 + k) });
            }
            d.set_snapshot();
            d.set_last();
            let mut b = Book::with_depth(8);
            b.apply(&d).unwrap();
            b
        })
        .collect();
    let views: Vec<VenueView<'_>> = books
        .iter()
        .enumerate()
        .map(|(v, book)| VenueView {
            venue: v as u8,
            book,
            fees: FeeSchedule { maker_bps: 0, taker_bps: v as i64 },
            ack_ns: 1_000_000 * v as u64,
            breaker: if v == 4 { BreakerState::Open } else { BreakerState::Closed },
            stale: false,
            barred: false,
        })
        .collect();
    let policies = [Policy::BestPrice, Policy::LowestFee, Policy::SmartRoute(SmartWeights::default())];
    let mut oms = Oms::new(64, 1);
    let mut decision = Route::default();
    common::counting::start();
    let mut sent = 0i64;
    for k in 0..10_000i64 {
        let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
        let price = Price(if side == Side::Buy { 10_010 } else { 9_990 });
        let order = NewOrder {
            instrument: InstrumentId(0),
            side,
            price,
            qty: Qty(1 + k % 90),
            order_type: OrderType::Limit,
            stop: Price(0),
        };
        route(&order, &views, policies[(k % 3) as usize], &mut decision);
        for child in decision.children() {
            let id = oms.create(child.order).unwrap();
            oms.apply(id, OrderEvent::Send).unwrap();
            oms.apply(id, OrderEvent::Accept).unwrap();
            oms.request_replace(id, child.order.price, Qty(child.order.qty.0 + 1)).unwrap();
            oms.apply(id, OrderEvent::ReplaceAck).unwrap();
            oms.fill(id, child.order.price.0, 1, 1, 0).unwrap();
            oms.apply(id, OrderEvent::RequestCancel).unwrap();
            oms.apply(id, OrderEvent::Cancel).unwrap();
            sent += 1;
        }
    }
    assert_eq!(common::counting::stop(), 0, "allocations while routing and managing orders");
    assert!(sent >= 10_000, "every order went somewhere: {sent}");
    assert_eq!(oms.live(), 0);
}
