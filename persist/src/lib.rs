//! `persist` owns the cold core's sinks. Hot cores hand it fixed-size [`Record`]s
//! through SPSC rings; it writes them in batches to the [`journal`] (the embedded
//! default, no database needed) and load them into PostgreSQL / TimescaleDB by
//! binary COPY, exactly once ([`pg`]). It never runs on an engine hot core.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod journal;
pub mod pg;
pub mod record;

pub use record::{Fields, Origin, RECORD_BYTES, Record, RecordKind};
