//! `engine` owns the topology and the per-core loops: strategy, risk, OMS, router and
//! venue gateways, plus the `engine` command line. Hot cores run its stages; it does
//! no I/O on a hot core but the socket a stage exists for, reads no wall clock and
//! holds no `unsafe`. Today it carries the command line and `engine tune` (the host
//! audit); the pipeline stages land with issues 5-7.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

pub mod cli;
pub mod decode;
pub mod tune;
