//! BybitDecoder on arbitrary bytes: never panics; an error leaves the output untouched and
//! points inside the frame (all or nothing per frame).
#![no_main]

use feeds::{Events, bybit::BybitDecoder, event::UnixNanos, symbols::SymbolTable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT", 2, 3);
    let decoder = BybitDecoder::new(table);
    let mut out = Events::with_capacity(64);
    match decoder.decode(frame, UnixNanos(1), &mut out) {
        Ok(n) => assert_eq!(n, out.len()),
        Err(e) => {
            assert!(out.is_empty(), "a failed frame left events behind");
            assert!(e.offset as usize <= frame.len(), "error offset {} past the frame ({})", e.offset, frame.len());
        }
    }
});
