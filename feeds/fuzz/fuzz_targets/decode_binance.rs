//! BinanceDecoder on arbitrary bytes (see `decode.rs` for what is checked).
#![no_main]

#[path = "decode.rs"]
mod decode;

use feeds::{binance::BinanceDecoder, event::UnixNanos};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let decoder = BinanceDecoder::new(decode::table("BNBBTC", 8, 8));
    decode::check(frame, |f, out| decoder.decode(f, UnixNanos(1), out));
});
