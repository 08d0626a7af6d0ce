//! Hot-path rule 1: after warm-up the whole fused pipeline (frame decode, books,
//! strategy, risk, OMS, venue, latency histograms, persist ring) runs a million
//! frames with zero heap allocations on its thread, gap recoveries included.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

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

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: defers every operation to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    COUNTING.with(|c| c.set(true));
    run(1_000_000, &mut pipeline, &mut journaled);
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.with(Cell::get);
    let c = pipeline.counters();
    assert!(c.orders > 1_000 && c.fills > 100 && c.gaps > 50, "the run must exercise the whole path: {c:?}");
    journaled += rx.pop_slice(&mut drained) as u64;
    assert_eq!(pipeline.sink().dropped_market, 0);
    assert_eq!(journaled, pipeline.sink().seq(), "every record made it through the ring");
    assert!(journaled > 300_000, "{journaled}");
    assert_eq!(allocs, 0, "heap allocations on the hot path after warm-up");
}
