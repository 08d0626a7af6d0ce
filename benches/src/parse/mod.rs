//! `parse-bench`: our venue decoders against serde_json (typed, borrowed),
//! simd-json and sonic-rs on the same frames, decimal conversion included for all.
//!
//! Each venue module gives its synthetic frames (in the venue's documented format),
//! the peers' typed view of a message, and how to tally it; [`candidates`] builds the
//! four contenders from that, and [`measure`] checks they agree before timing them.

pub mod binance;
pub mod bybit;
pub mod coinbase;
pub mod kraken;
pub mod okx;
pub mod rng;
pub mod tally;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

use feeds::event::UnixNanos;
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, Events};
use serde::{Deserialize, Serialize};

use crate::ring::measure::median;
use tally::Tally;

/// One candidate's figures on one set.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Figures {
    /// Megabytes of frames per second.
    pub mb_s: f64,
    /// Frames per second.
    pub msgs_s: f64,
    /// Heap allocations per frame.
    pub allocs_per_msg: f64,
    /// Speed over serde_json's: the median over rounds of the ratio within a round.
    pub vs_serde_json: f64,
    /// Speed over sonic-rs's, the same way.
    pub vs_sonic_rs: f64,
}

/// Decodes every frame and returns the [`Tally`] of what it produced.
pub type Candidate = Box<dyn Fn(&[Vec<u8>]) -> u64>;

/// A peer's typed message, summed the way our events are.
pub trait Tallied {
    /// Adds everything this message says to `tally`.
    fn tally(&self, tally: &mut Tally);
}

/// One venue's part in the benchmark.
pub trait VenueSet {
    /// The venue's symbols; interned in this order, so an instrument id is its index.
    const SYMBOLS: &'static [&'static str];
    /// The peers' typed, borrowing view of one frame.
    type Msg<'a>: Deserialize<'a> + Tallied;
    /// Our decoder for `symbols`.
    fn ours(symbols: SymbolTable) -> impl Decode;
}

/// Our decoders' common shape: one frame, its receive time, the caller's buffer.
pub trait Decode: Fn(&[u8], UnixNanos, &mut Events) -> Result<usize, DecodeError> + 'static {}

impl<F: Fn(&[u8], UnixNanos, &mut Events) -> Result<usize, DecodeError> + 'static> Decode for F {}

/// The index of `symbol` in `symbols`: how a peer maps a venue symbol to an instrument.
pub fn instrument(symbols: &[&str], symbol: &str) -> usize {
    symbols.iter().position(|s| *s == symbol).unwrap_or_else(|| panic!("bench symbol {symbol} is listed"))
}

/// A decimal string at 8 places, exactly (the conversion every string venue needs).
pub fn fixed(text: &str) -> i64 {
    feeds::decimal::parse_fixed(text.as_bytes(), 8).unwrap_or_else(|e| panic!("bench frames are valid: {e}"))
}

/// An RFC 3339 time in nanoseconds.
pub fn rfc3339(text: &str) -> u64 {
    feeds::time::rfc3339_ns(text.as_bytes()).unwrap_or_else(|| panic!("bench times are valid: {text}"))
}

/// The four contenders for venue `V`, ours first.
pub fn candidates<V: VenueSet + 'static>() -> Vec<(&'static str, Candidate)> {
    let mut symbols = SymbolTable::new();
    for s in V::SYMBOLS {
        symbols.intern(s, 8, 8);
    }
    let decode = V::ours(symbols);
    let out = RefCell::new(Events::with_capacity(64));
    let ours: Candidate = Box::new(move |frames| {
        let mut out = out.borrow_mut();
        let mut tally = Tally::default();
        for frame in frames {
            out.clear();
            decode(frame, UnixNanos(0), &mut out).unwrap_or_else(|e| panic!("bench frames are valid: {e}"));
            tally.events(out.as_slice());
        }
        tally.value()
    });
    vec![
        ("ours", ours),
        ("serde_json", Box::new(serde_json::<V>)),
        ("simd_json", Box::new(simd_json::<V>)),
        ("sonic_rs", Box::new(sonic_rs::<V>)),
    ]
}

/// serde_json, typed and borrowing (`from_slice` into the venue's message).
fn serde_json<V: VenueSet>(frames: &[Vec<u8>]) -> u64 {
    let mut tally = Tally::default();
    for frame in frames {
        let m: V::Msg<'_> = serde_json::from_slice(frame).unwrap_or_else(|e| panic!("{e}"));
        m.tally(&mut tally);
    }
    tally.value()
}

/// simd-json's serde API; it parses in place, so each frame is first copied into a
/// reused buffer (that copy is part of using it on a borrowed frame).
fn simd_json<V: VenueSet>(frames: &[Vec<u8>]) -> u64 {
    let mut buf = Vec::with_capacity(4096);
    let mut tally = Tally::default();
    for frame in frames {
        buf.clear();
        buf.extend_from_slice(frame);
        let m: V::Msg<'_> = simd_json::serde::from_slice(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        m.tally(&mut tally);
    }
    tally.value()
}

/// sonic-rs, typed and borrowing.
fn sonic_rs<V: VenueSet>(frames: &[Vec<u8>]) -> u64 {
    let mut tally = Tally::default();
    for frame in frames {
        let m: V::Msg<'_> = sonic_rs::from_slice(frame).unwrap_or_else(|e| panic!("{e}"));
        m.tally(&mut tally);
    }
    tally.value()
}

/// Measures one set: checks the candidates agree, then runs `rounds` interleaved
/// rounds and reports medians. Ratios to the peers are taken within each round (the
/// candidates tens of milliseconds apart) and the median over rounds reported: this
/// host's speed drifts by 2x over seconds, which a ratio of medians would take in.
/// `allocs` counts allocations made while running a pass.
pub fn measure(
    frames: &[Vec<u8>],
    candidates: &[(&'static str, Candidate)],
    rounds: usize,
    allocs: &dyn Fn(&dyn Fn()) -> u64,
) -> BTreeMap<&'static str, Figures> {
    let Some((first, reference)) = candidates.first() else { return BTreeMap::new() };
    let reference = reference(frames);
    assert_ne!(reference, 0, "the set decoded to nothing");
    for (name, candidate) in candidates {
        assert_eq!(
            candidate(frames),
            reference,
            "{name} disagrees with {first}: a contender must decode correctly before it is timed"
        );
    }
    let bytes: usize = frames.iter().map(Vec::len).sum();
    // seconds[round][candidate]; the order rotates each round so no candidate always
    // runs first (after the previous set's frames left the caches).
    let mut seconds = vec![vec![f64::NAN; candidates.len()]; rounds];
    for (round, times) in seconds.iter_mut().enumerate() {
        for k in 0..candidates.len() {
            let i = (round + k) % candidates.len();
            let start = Instant::now();
            std::hint::black_box((candidates[i].1)(std::hint::black_box(frames)));
            times[i] = start.elapsed().as_secs_f64();
        }
    }
    let index = |peer: &str| candidates.iter().position(|(name, _)| *name == peer);
    let ratio = |i: usize, peer: Option<usize>| {
        peer.map_or(f64::NAN, |p| median(seconds.iter().map(|times| times[p] / times[i]).collect()))
    };
    candidates
        .iter()
        .enumerate()
        .map(|(i, (name, candidate))| {
            let s = median(seconds.iter().map(|times| times[i]).collect());
            let allocations = allocs(&|| {
                std::hint::black_box(candidate(frames));
            });
            let figures = Figures {
                mb_s: bytes as f64 / s / 1e6,
                msgs_s: frames.len() as f64 / s,
                allocs_per_msg: allocations as f64 / frames.len() as f64,
                vs_serde_json: ratio(i, index("serde_json")),
                vs_sonic_rs: ratio(i, index("sonic_rs")),
            };
            (*name, figures)
        })
        .collect()
}
