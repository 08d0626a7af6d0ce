//! The candidates: our decoder and serde-based peers decoding the same Binance frames
//! into the same fixed-point numbers (decimal conversion is part of every candidate).

use std::cell::RefCell;

use feeds::Events;
use feeds::binance::BinanceDecoder;
use feeds::decimal::parse_fixed;
use feeds::event::{Event, UnixNanos};
use feeds::symbols::SymbolTable;
use serde::Deserialize;

use super::sets::binance_symbols;

/// The peers' typed view of a Binance trade or depthUpdate, borrowing from the frame.
#[derive(Debug, Deserialize)]
#[allow(non_snake_case, reason = "Binance's field names")]
struct Msg<'a> {
    #[serde(borrow)]
    e: &'a str,
    #[serde(borrow)]
    s: &'a str,
    #[serde(default)]
    E: u64,
    #[serde(default)]
    T: u64,
    #[serde(default)]
    t: u64,
    #[serde(default)]
    U: u64,
    #[serde(default)]
    u: u64,
    #[serde(default)]
    m: bool,
    #[serde(borrow, default)]
    p: Option<&'a str>,
    #[serde(borrow, default)]
    q: Option<&'a str>,
    #[serde(borrow, default)]
    b: Option<Vec<[&'a str; 2]>>,
    #[serde(borrow, default)]
    a: Option<Vec<[&'a str; 2]>>,
}

fn fixed(text: &str) -> u64 {
    parse_fixed(text.as_bytes(), 8).unwrap_or_else(|e| panic!("bench frames are valid: {e}")) as u64
}

/// What every candidate sums: each price and size, plus ids and the symbol's length
/// (so a peer that skipped fields would not match).
fn checksum(m: &Msg<'_>) -> u64 {
    let mut sum = m.t ^ m.U ^ m.u ^ (m.E | m.T) ^ m.s.len() as u64 ^ u64::from(m.m) ^ m.e.len() as u64;
    if let (Some(p), Some(q)) = (m.p, m.q) {
        sum = sum.wrapping_add(fixed(p)).wrapping_add(fixed(q));
    }
    for level in m.b.iter().chain(&m.a).flatten() {
        sum = sum.wrapping_add(fixed(level[0])).wrapping_add(fixed(level[1]));
    }
    sum
}

/// Ours: `feeds::binance::BinanceDecoder` into a reused event buffer.
pub fn ours(frames: &[Vec<u8>]) -> u64 {
    // Symbol lengths by instrument id, so the checksum costs what the peers' `s.len()` does.
    thread_local!(static STATE: RefCell<(BinanceDecoder, Events, Vec<u64>)> = RefCell::new({
        let mut symbols = SymbolTable::new();
        for s in binance_symbols() {
            symbols.intern(s, 8, 8);
        }
        let lens = binance_symbols().iter().map(|s| s.len() as u64).collect();
        (BinanceDecoder::new(symbols), Events::with_capacity(64), lens)
    }));
    STATE.with_borrow_mut(|(decoder, out, lens)| {
        let sym_len = |id: feeds::event::InstrumentId| lens.get(id.0 as usize).copied().unwrap_or(0);
        let mut total = 0u64;
        for frame in frames {
            out.clear();
            decoder.decode(frame, UnixNanos(0), out).unwrap_or_else(|e| panic!("bench frames are valid: {e}"));
            let mut sum = 0u64;
            let mut first = true;
            for event in out.as_slice() {
                match event {
                    Event::Trade(t) => {
                        let sym = sym_len(t.instrument);
                        let maker = u64::from(t.aggressor() == Some(feeds::event::Side::Sell));
                        sum = (t.trade_id ^ (t.ts_exchange.0 / 1_000_000) ^ sym ^ maker ^ 5)
                            .wrapping_add(t.price.0 as u64)
                            .wrapping_add(t.qty.0 as u64);
                    }
                    Event::BookDelta(d) => {
                        if first {
                            let sym = sym_len(d.instrument);
                            sum = d.first_seq ^ d.last_seq ^ (d.ts_exchange.0 / 1_000_000) ^ sym ^ 11;
                            first = false;
                        }
                        for (_, l) in d.levels() {
                            sum = sum.wrapping_add(l.price.0 as u64).wrapping_add(l.qty.0 as u64);
                        }
                    }
                    Event::Bbo(_) | Event::Status(_) => {}
                }
            }
            total = total.wrapping_add(sum);
        }
        total
    })
}

/// serde_json, typed and borrowing (`from_slice` into `Msg<'_>`).
pub fn serde_json(frames: &[Vec<u8>]) -> u64 {
    frames.iter().fold(0u64, |total, frame| {
        let m: Msg<'_> = serde_json::from_slice(frame).unwrap_or_else(|e| panic!("{e}"));
        total.wrapping_add(checksum(&m))
    })
}

/// simd-json's serde API; it parses in place, so each frame is first copied into a
/// reused buffer (that copy is part of using it on a borrowed frame).
pub fn simd_json(frames: &[Vec<u8>]) -> u64 {
    thread_local!(static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096)));
    BUF.with_borrow_mut(|buf| {
        frames.iter().fold(0u64, |total, frame| {
            buf.clear();
            buf.extend_from_slice(frame);
            let m: Msg<'_> = simd_json::serde::from_slice(buf).unwrap_or_else(|e| panic!("{e}"));
            total.wrapping_add(checksum(&m))
        })
    })
}

/// sonic-rs, typed and borrowing.
pub fn sonic_rs(frames: &[Vec<u8>]) -> u64 {
    frames.iter().fold(0u64, |total, frame| {
        let m: Msg<'_> = sonic_rs::from_slice(frame).unwrap_or_else(|e| panic!("{e}"));
        total.wrapping_add(checksum(&m))
    })
}
