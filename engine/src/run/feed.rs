//! The simulator as a feed: frames paced at an offered rate (or as fast as the stage
//! takes them), each stamped with the time it was *due*, so a stall in the engine
//! shows up as latency instead of silently lowering the offered load.

use feeds::{Events, event::InstrumentId};

use crate::sim::MarketSim;

/// A paced simulated feed.
#[derive(Debug)]
pub struct SimFeed {
    market: MarketSim,
    interval_ns: u64,
    next_due: u64,
    ready: bool,
}

impl SimFeed {
    /// Frames at `rate` per second from `start` (0: unpaced, as fast as polled).
    pub fn new(market: MarketSim, rate: u64, start: u64) -> Self {
        let interval_ns = 1_000_000_000u64.checked_div(rate).map_or(0, |ns| ns.max(1));
        Self { market, interval_ns, next_due: start, ready: false }
    }

    /// The next frame and the time it arrived, if one is due at `now`. The frame is
    /// generated ahead of its due time, so generating it is not counted as latency
    /// unless the engine is already behind.
    pub fn poll(&mut self, now: u64) -> Option<(&[u8], u64)> {
        if self.interval_ns == 0 {
            return Some((self.market.next_frame(now), now));
        }
        if !self.ready {
            self.market.next_frame(self.next_due);
            self.ready = true;
        }
        if now < self.next_due {
            return None;
        }
        let due = self.next_due;
        self.next_due += self.interval_ns;
        self.ready = false;
        Some((self.market.current_frame(), due))
    }

    /// The current book of `instrument` as snapshot events.
    pub fn snapshot(&self, instrument: InstrumentId, now: u64, out: &mut Events) -> bool {
        self.market.snapshot(instrument, now, out)
    }
}
