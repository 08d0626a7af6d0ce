//! `decode-ops`: decodes Binance `depthUpdate` (or, with `--ticker`, `bookTicker`)
//! frames written as Binance writes them
//! (eight places whatever the tick, `"58800.01000000"`) for an instrument at the
//! given scales (the engine's BTCUSDT default: 2 and 5). `parse-bench` interns every
//! symbol at scale 8, so this is the workload for the other scales. Not timed: run it
//! under callgrind, which counts the same instructions every run:
//!
//! `valgrind --tool=callgrind --toggle-collect='decode_ops::decode_all'
//! target/release/decode-ops --price-scale 2 --qty-scale 5`

use benches::parse::tally::Tally;
use clap::Parser;
use feeds::Events;
use feeds::binance::BinanceDecoder;
use feeds::event::UnixNanos;
use feeds::symbols::SymbolTable;

/// Decode Binance depth frames at chosen scales, for callgrind.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Decimal places of the instrument's prices.
    #[arg(long, default_value_t = 2)]
    price_scale: u8,
    /// Decimal places of its sizes.
    #[arg(long, default_value_t = 5)]
    qty_scale: u8,
    /// Frames (a depth frame has three levels; a ticker, one bid and one ask).
    #[arg(long, default_value_t = 20_000)]
    frames: u64,
    /// `bookTicker` frames instead (no documented-layout path: the general decoder).
    #[arg(long)]
    ticker: bool,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    if args.price_scale > 8 || args.qty_scale > 8 {
        return Err("scales above 8 would need more than Binance's eight places".into());
    }
    let mut symbols = SymbolTable::new();
    symbols.intern("BTCUSDT", args.price_scale, args.qty_scale);
    let decoder = BinanceDecoder::new(symbols);
    // Prices on the instrument's tick and sizes on its lot, padded with zeros to
    // eight places: every frame is valid at these scales.
    let eight = |units: u64, scale: u8| {
        let one = 10u64.pow(u32::from(scale));
        let places = 10u64.pow(8 - u32::from(scale));
        format!("{}.{:08}", units / one, (units % one) * places)
    };
    let frames: Vec<String> = (0..args.frames)
        .map(|i| {
            let p = 5_880_000 + (i * 7919) % 10_000;
            let price = |units: u64| eight(units, args.price_scale);
            let (bid, bid2, ask) = (price(p), price(p - 1), price(p + 1));
            let (q1, q2) = (eight(1 + i % 100_000, args.qty_scale), eight(1 + (i * 31) % 100_000, args.qty_scale));
            if args.ticker {
                return format!(r#"{{"u":{i},"s":"BTCUSDT","b":"{bid2}","B":"{q1}","a":"{ask}","A":"{q2}"}}"#);
            }
            format!(
                r#"{{"e":"depthUpdate","E":1672515782136,"s":"BTCUSDT","U":{},"u":{},"b":[["{bid}","{q1}"],["{bid2}","{q2}"]],"a":[["{ask}","0.00000000"]]}}"#,
                i * 3,
                i * 3 + 2
            )
        })
        .collect();
    let tally = decode_all(&decoder, &frames)?;
    println!("{} frames decoded, tally {tally}", frames.len());
    Ok(())
}

/// The measured part (`--toggle-collect='decode_ops::decode_all'`): every frame
/// decoded and its events tallied.
#[inline(never)]
fn decode_all(decoder: &BinanceDecoder, frames: &[String]) -> Result<u64, String> {
    let mut out = Events::with_capacity(64);
    let mut tally = Tally::default();
    for frame in frames {
        out.clear();
        decoder.decode(frame.as_bytes(), UnixNanos(0), &mut out).map_err(|e| format!("{e} in {frame}"))?;
        tally.events(out.as_slice());
    }
    Ok(tally.value())
}
