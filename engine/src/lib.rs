//! `engine` owns the topology and the per-core loops: strategy, risk, OMS, router and
//! venue gateways. Hot cores run its stages; it does no I/O on a hot core but the
//! socket a stage exists for, reads no wall clock and holds no `unsafe`. (Filled in
//! by issue 5.)
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
