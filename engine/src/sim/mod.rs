//! The built-in exchange simulator: a market that emits real Binance (or Bybit, or OKX) frames, and a
//! venue that matches our orders against it; and the feed faults `engine sim` can
//! inject into that market's frames.

mod faults;
mod frames;
mod market;
mod rng;
mod venue;

pub use faults::{FaultCounts, Faults, FaultyMarket};
pub use market::{MarketSim, SIM_DEPTH, SimSymbol};
pub use rng::SplitMix64;
pub use venue::{FeeSchedule, MAX_SWEEP, SimVenue};
