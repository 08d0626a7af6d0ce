//! `feeds` turns venue bytes into fixed-size market-data events: exact fixed-point
//! [`decimal`] conversion, the [`event`] types that cross rings, a borrowing JSON
//! scanner and the venue decoders ([`binance`] so far). It runs on the feed core,
//! inside the hot loop: it never panics on input (every malformed frame is a
//! [`DecodeError`] with a byte offset), never allocates per message (decoders write
//! into a caller-owned [`Events`] buffer) and never touches engine state.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod binance;
pub mod book;
mod buffer;
pub mod bybit;
pub mod capture;
pub mod checksum;
pub mod coinbase;
pub mod decimal;
mod error;
pub mod event;
pub mod json;
pub mod kraken;
mod layout;
pub mod okx;
pub mod sequencer;
pub mod symbols;
pub mod time;
mod venue;
pub mod ws;

pub use buffer::Events;
pub use error::{DecodeError, DecodeErrorKind};
