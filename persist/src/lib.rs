//! `persist` owns the journal (the embedded default) and the PostgreSQL/TimescaleDB
//! sink. It runs on the cold core, draining rings of fixed-size records in batches,
//! and never runs on an engine hot core. (Filled in by issue 4.)
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
