//! KrakenDecoder on arbitrary bytes (see `decode.rs` for what is checked).
#![no_main]

#[path = "decode.rs"]
mod decode;

use feeds::{event::UnixNanos, kraken::KrakenDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let decoder = KrakenDecoder::new(decode::table("MATIC/USD", 4, 8));
    decode::check(frame, |f, out| decoder.decode(f, UnixNanos(1), out));
});
