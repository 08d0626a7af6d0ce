//! What every decoder target checks: on arbitrary bytes a decoder never panics
//! (libFuzzer reports one), an error leaves the output untouched and points inside
//! the frame (all or nothing per frame), and a success reports the events it added.

use feeds::{DecodeError, Events, symbols::SymbolTable};

/// A symbol table with one symbol at these scales.
pub fn table(symbol: &str, price_scale: u8, qty_scale: u8) -> SymbolTable {
    let mut table = SymbolTable::new();
    table.intern(symbol, price_scale, qty_scale);
    table
}

/// Runs `decode` on `frame` and checks the outcome.
pub fn check(frame: &[u8], decode: impl Fn(&[u8], &mut Events) -> Result<usize, DecodeError>) {
    let mut out = Events::with_capacity(64);
    match decode(frame, &mut out) {
        Ok(n) => assert_eq!(n, out.len()),
        Err(e) => {
            assert!(out.is_empty(), "a failed frame left events behind");
            assert!(e.offset as usize <= frame.len(), "error offset {} past the frame ({})", e.offset, frame.len());
        }
    }
}
