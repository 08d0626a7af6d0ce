//! `engine` owns the topology and the per-core loops: the fused hot [`pipeline`]
//! (feed decode, books, [`strategy`], [`risk`], [`oms`], venue gateway), the cold
//! core's persistence and reporting, the built-in exchange [`sim`]ulator and the
//! `engine` command line. Hot cores do no I/O but the socket a stage exists for,
//! read time only from a [`clock::Clock`] and hold no `unsafe`.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

// First, so its macros are in scope in every module below.
#[macro_use]
mod stdout;

pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
mod connector;
pub mod decode;
pub mod export;
pub mod fixed;
pub mod gateway;
pub mod limit_flags;
pub mod oms;
pub mod order;
pub mod pipeline;
pub mod risk;
pub mod route;
pub mod run;
pub mod run_cli;
pub mod sim;
pub mod simserver;
pub mod strategy;
pub mod tune;
