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

#[test]
fn a_million_frames_after_warm_up_allocate_nothing() {
    let Command::Run(args) = <Cli as clap::Parser>::parse_from([
        "engine",
        "run",
        "--symbols",
        "BTCUSDT,ETHUSDT,SOLUSDT",
        "--persist",
        "none",
    ])
    .command
    else {
        panic!()
    };
    let config = options(&args).unwrap().pipeline;
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
