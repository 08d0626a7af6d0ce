//! Where engine time comes from. Live runs read a TSC-based clock (quanta uses the
//! TSC when the CPU has an invariant one, `constant_tsc` + `nonstop_tsc`, and falls
//! back to `CLOCK_MONOTONIC` otherwise); replays are driven by recorded timestamps so
//! two replays of one capture produce the same orders and fills.

use std::cell::Cell;

/// A source of engine time in nanoseconds since the Unix epoch.
pub trait Clock {
    /// Now.
    fn now_ns(&self) -> u64;
}

/// The live clock: a TSC (or monotonic) counter anchored once to the wall clock.
#[derive(Debug, Clone)]
pub struct LiveClock {
    counter: quanta::Clock,
    anchor_raw: u64,
    anchor_unix_ns: u64,
}

impl LiveClock {
    /// Anchors the counter to the wall clock. Call at start-up, not on a hot path.
    #[allow(clippy::disallowed_methods, reason = "the one wall-clock read that anchors engine time")]
    pub fn new() -> Self {
        let counter = quanta::Clock::new();
        let anchor_raw = counter.raw();
        let anchor_unix_ns =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Self { counter, anchor_raw, anchor_unix_ns }
    }
}

impl Default for LiveClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for LiveClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.anchor_unix_ns + self.counter.delta_as_nanos(self.anchor_raw, self.counter.raw())
    }
}

/// Replay time: whatever the last replayed event said.
#[derive(Debug, Default)]
pub struct ReplayClock {
    now: Cell<u64>,
}

impl ReplayClock {
    /// A replay clock starting at `ns`.
    pub fn starting_at(ns: u64) -> Self {
        Self { now: Cell::new(ns) }
    }

    /// Moves time to `ns` (never backwards: recorded clocks can step back, engine time must not).
    pub fn advance_to(&self, ns: u64) {
        self.now.set(self.now.get().max(ns));
    }
}

impl Clock for ReplayClock {
    fn now_ns(&self) -> u64 {
        self.now.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_time_moves_forward_from_the_wall_clock() {
        let clock = LiveClock::new();
        let a = clock.now_ns();
        let b = clock.now_ns();
        assert!(b >= a);
        assert!(a > 1_700_000_000_000_000_000, "anchored to the Unix epoch: {a}");
    }

    #[test]
    fn replay_time_is_what_the_recording_says_and_never_goes_back() {
        let clock = ReplayClock::starting_at(10);
        clock.advance_to(50);
        clock.advance_to(40);
        assert_eq!(clock.now_ns(), 50);
    }
}
