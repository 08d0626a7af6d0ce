//! The built-in exchange simulator: a market that emits real frames in any of five venues' formats, and a
//! venue that matches our orders against it; and the feed faults `engine sim` can
//! inject into that market's frames.

mod faults;
mod frames;
mod market;
mod rng;
mod venue;

pub use faults::{FaultCounts, Faults, FaultyMarket, FrameOf};
pub use market::{MarketSim, SIM_DEPTH, SimSymbol};
pub use rng::SplitMix64;
pub use venue::{FeeSchedule, MAX_SWEEP, SimVenue};
