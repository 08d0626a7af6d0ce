//! BybitDecoder on arbitrary bytes (see `decode.rs` for what is checked).
#![no_main]

#[path = "decode.rs"]
mod decode;

use feeds::{bybit::BybitDecoder, event::UnixNanos};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let decoder = BybitDecoder::new(decode::table("BTCUSDT", 2, 3));
    decode::check(frame, |f, out| decoder.decode(f, UnixNanos(1), out));
});
