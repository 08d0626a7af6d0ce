//! `parse-bench`: our venue decoders against serde_json (typed, borrowed),
//! simd-json and sonic-rs on the same frames, decimal conversion included for all.

pub mod peers;
pub mod sets;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::ring::measure::median;

/// One candidate's figures on one set.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Figures {
    /// Megabytes of frames per second.
    pub mb_s: f64,
    /// Frames per second.
    pub msgs_s: f64,
    /// Heap allocations per frame.
    pub allocs_per_msg: f64,
}

/// Decodes every frame and returns a checksum of every price and size it produced,
/// so all candidates can be checked to agree before they are timed.
pub type Candidate = fn(&[Vec<u8>]) -> u64;

/// Every candidate, ours first.
pub const CANDIDATES: [(&str, Candidate); 4] = [
    ("ours", peers::ours),
    ("serde_json", peers::serde_json),
    ("simd_json", peers::simd_json),
    ("sonic_rs", peers::sonic_rs),
];

/// Measures one set: checks the candidates agree, then runs `rounds` interleaved
/// rounds and reports medians. `allocs` counts allocations made while running a pass.
pub fn measure(
    frames: &[Vec<u8>],
    rounds: usize,
    allocs: &dyn Fn(&dyn Fn()) -> u64,
) -> BTreeMap<&'static str, Figures> {
    let reference = peers::ours(frames);
    for (name, candidate) in CANDIDATES {
        assert_eq!(
            candidate(frames),
            reference,
            "{name} disagrees with ours: a contender must decode correctly before it is timed"
        );
    }
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let mut seconds: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for _ in 0..rounds {
        for (name, candidate) in CANDIDATES {
            let start = Instant::now();
            std::hint::black_box(candidate(std::hint::black_box(frames)));
            seconds.entry(name).or_default().push(start.elapsed().as_secs_f64());
        }
    }
    CANDIDATES
        .iter()
        .map(|(name, candidate)| {
            let s = median(seconds.remove(name).unwrap_or_default());
            let allocations = allocs(&|| {
                std::hint::black_box(candidate(frames));
            });
            let figures = Figures {
                mb_s: bytes as f64 / s / 1e6,
                msgs_s: frames.len() as f64 / s,
                allocs_per_msg: allocations as f64 / frames.len() as f64,
            };
            (*name, figures)
        })
        .collect()
}
