//! The pipelined topology's two stages, stepped in turn on one thread: they make
//! exactly the decisions the fused stage makes on the same frames (gap recoveries
//! included), and after warm-up they allocate nothing.

use engine::{
    cli::{Cli, Command},
    clock::ReplayClock,
    pipeline::{Decoders, Pipeline, PipelineConfig, RecordSink},
    run::{FEED_RING, FeedStage, Input, RingInput, SimFeed, sim_symbol_spec, step},
    run_cli::options,
    sim::{MarketSim, SimSymbol},
};
use feeds::{Events, event::InstrumentId};
use persist::Record;
use rings::spsc::{self, Consumer};

mod common;

#[global_allocator]
static GLOBAL: common::counting::Counting = common::counting::Counting;

fn config() -> PipelineConfig {
    let args = ["engine", "run", "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--persist", "none"];
    let Command::Run(args) = <Cli as clap::Parser>::parse_from(args).command else { panic!() };
    options(&args).unwrap().pipeline
}

/// The simulator, unpaced: frame `n` is stamped with the `now` it is polled at.
fn sim(config: &PipelineConfig) -> SimFeed {
    let symbols = config
        .instruments
        .iter()
        .enumerate()
        .map(|(i, (name, ps, qs))| SimSymbol::new(name, InstrumentId(i as u32), (*ps, *qs), sim_symbol_spec(name).2))
        .collect();
    SimFeed::new(MarketSim::new(symbols, 11).with_gap_every(5_000), 0, 0)
}

/// Takes everything in the record ring.
fn drain(rx: &mut Consumer<Record>, into: &mut Vec<Record>) {
    let chunk = rx.read_chunk(usize::MAX);
    let (a, b) = chunk.as_slices();
    into.extend_from_slice(a);
    into.extend_from_slice(b);
    let n = a.len() + b.len();
    chunk.commit(n);
}

const FRAMES: u64 = 300_000;
const START: u64 = 1_700_000_000_000_000_000;

#[test]
fn pipelined_stages_decide_exactly_as_the_fused_stage_and_allocate_nothing() {
    let config = config();
    // Event time drives every decision; a replay clock makes latency stamps fixed too.
    let clock = ReplayClock::starting_at(START);

    let (tx, mut fused_rx) = spsc::channel::<Record>(1 << 16).unwrap();
    let mut fused = Pipeline::new(&config, RecordSink::new(Some(tx), 1, 0));
    let mut feed = sim(&config);
    let mut snapshot = Events::with_capacity(64);
    let mut fused_records = Vec::new();
    for n in 0..FRAMES {
        let now = START + n * 10_000;
        clock.advance_to(now);
        step(&mut fused, &mut feed, &clock, now, &mut snapshot);
        drain(&mut fused_rx, &mut fused_records);
    }

    let (tx, mut trade_rx) = spsc::channel::<Record>(1 << 16).unwrap();
    let mut trade = Pipeline::new(&config, RecordSink::new(Some(tx), 1, 0));
    let (feed_tx, feed_rx) = spsc::channel(FEED_RING).unwrap();
    let (request_tx, request_rx) = spsc::channel(16).unwrap();
    let (beat_tx, _beat_rx) = spsc::channel(64).unwrap();
    let mut stage = FeedStage::new(Decoders::new(&config), feed_tx, request_rx, beat_tx);
    let mut input = RingInput::new(feed_rx, request_tx);
    let mut feed = sim(&config);
    let mut piped_records = Vec::with_capacity(fused_records.len() + 1024);
    let mut n = 0;
    while trade.counters().frames < FRAMES {
        if n == FRAMES / 3 {
            common::counting::start();
        }
        let now = START + n * 10_000;
        clock.advance_to(now);
        // The feed core reads frame n (and serves any snapshot asked for); the
        // trading core takes what the ring holds.
        if stage.turn(&mut feed, now, &clock) {
            n += 1;
        }
        while input.turn(&mut trade, now, &clock) {}
        drain(&mut trade_rx, &mut piped_records);
    }
    let allocs = common::counting::stop();

    let (f, p) = (fused.counters(), trade.counters());
    assert!(f.orders > 1_000 && f.fills > 100 && f.gaps > 20 && f.resyncs > 20, "exercise the whole path: {f:?}");
    assert_eq!(p, f, "the pipelined stages' counters differ from the fused stage's");
    assert_eq!(piped_records.len(), fused_records.len());
    let first_difference = piped_records.iter().zip(&fused_records).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "the record streams differ");
    assert!(trade.latency().latencies().get(engine::pipeline::Hop::Ring).is_some(), "the ring hop is measured");
    assert_eq!(allocs, 0, "heap allocations on the pipelined hot path after warm-up");
}
