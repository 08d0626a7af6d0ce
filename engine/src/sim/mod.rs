//! The built-in exchange simulator: a market that emits real Binance frames, and a
//! venue that matches our orders against it.

mod market;
mod rng;
mod venue;

pub use market::{MarketSim, SIM_DEPTH, SimSymbol};
pub use rng::SplitMix64;
pub use venue::{FeeSchedule, MAX_SWEEP, SimVenue};
