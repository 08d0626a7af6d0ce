//! Benchmarks live in `src/bin` (whole-run harnesses) and `benches/` (criterion).
#![forbid(unsafe_code)]
