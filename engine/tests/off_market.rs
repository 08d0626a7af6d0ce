//! How long a book's last valid top judges trade prints while the book waits for a
//! snapshot: a bad print half a second into a resync is caught (counted, no stop
//! fires on it); past a second the market may have moved on, and a print is taken
//! as it is. Frames are handed to the pipeline one by one, on event time.

use engine::{
    cli::{Cli, Command},
    clock::ReplayClock,
    pipeline::{Pipeline, RecordSink},
    run_cli::options,
};

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

#[path = "off_market/kraken_depth.rs"]
mod kraken_depth;

fn trade(id: u64, price: &str) -> String {
    format!(r#"{{"e":"trade","E":1,"s":"BTCUSDT","t":{id},"p":"{price}","q":"0.10000","T":1,"m":true,"M":true}}"#)
}

#[test]
fn the_last_valid_top_judges_prints_for_a_second_of_a_resync() {
    let args = ["engine", "run", "--symbols", "BTCUSDT", "--persist", "none"];
    let Command::Run(args) = <Cli as clap::Parser>::parse_from(args).command else { panic!() };
    let config = options(&args).unwrap().pipeline;
    let clock = ReplayClock::starting_at(T0);
    let mut p = Pipeline::new(&config, RecordSink::new(None, 1, 0));
    let mut frame = |at: u64, text: &str| {
        clock.advance_to(T0 + at);
        p.on_frame(0, text.as_bytes(), T0 + at, T0 + at, &clock);
        p.counters()
    };
    let snapshot = r#"{"stream":"btcusdt@depth20","data":{"lastUpdateId":100,"bids":[["60000.00","1.00000"]],"asks":[["60000.02","1.00000"]]}}"#;
    frame(0, snapshot);
    assert_eq!(frame(MS, &trade(1, "600000.00")).off_market_trades, 1, "ten times the market, on a valid book");
    assert_eq!(frame(2 * MS, &trade(2, "60000.01")).off_market_trades, 1, "a print at the mid is no fault");

    // Update 105 when 101 was due: the book waits for its next snapshot.
    let gap = r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":105,"u":105,"b":[],"a":[]}"#;
    assert_eq!(frame(3 * MS, gap).gaps, 1);
    assert_eq!(frame(500 * MS, &trade(3, "6000.00")).off_market_trades, 2, "half a second in: judged by the last top");
    assert_eq!(frame(600 * MS, &trade(4, "60000.01")).off_market_trades, 2, "a good print meanwhile is taken");
    let late = frame(1_500 * MS, &trade(5, "600000.00"));
    assert_eq!(late.off_market_trades, 2, "a second and a half in, the old top no longer judges");
    assert_eq!(late.resyncs, 1, "still waiting for the snapshot (the first one only)");
}
