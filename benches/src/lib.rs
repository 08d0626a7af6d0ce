//! `benches` measures the workspace's crates against their peers, always in the same
//! run on the same machine, and prints ratios rather than lone absolute numbers.
//! Whole-run harnesses live in `src/bin` (`ring-bench`), their logic here so it can be
//! tested; criterion micro-benches live in `benches/`. Nothing depends on this crate.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![allow(clippy::disallowed_methods, reason = "benchmarks measure wall time with Instant::now")]

pub mod journal_io;
pub mod order;
pub mod parse;
pub mod ring;
pub mod risk;
