//! How a consumer waits for data. The choice is explicit at every call site:
//! hot cores [`BusySpin`], shared or lightly loaded cores [`SpinYield`], cold
//! consumers (persistence, metrics) [`Park`].
//!
//! None of them needs the producer's help: the producer never signals, so waiting
//! costs the hot path nothing. The price is that [`Park`] wakes up to `max_sleep`
//! late, which is what a cold consumer can afford.

use core::time::Duration;

use crossbeam_utils::Backoff;

use crate::sync::spin_hint;

/// One step of waiting between two failed polls.
pub trait WaitStrategy {
    /// Called once before a wait begins.
    fn reset(&mut self);
    /// Called after each poll that found nothing.
    fn wait(&mut self);
}

/// Spin with a pause instruction: lowest wake-up latency, burns the core.
#[derive(Debug, Clone, Copy, Default)]
pub struct BusySpin;

impl WaitStrategy for BusySpin {
    #[inline(always)] // reason: the whole strategy is one pause instruction
    fn reset(&mut self) {}
    #[inline(always)] // reason: the whole strategy is one pause instruction
    fn wait(&mut self) {
        spin_hint();
    }
}

/// Spin with exponential backoff, then yield the core (crossbeam's `Backoff`).
#[derive(Debug, Default)]
pub struct SpinYield {
    backoff: Backoff,
}

impl WaitStrategy for SpinYield {
    fn reset(&mut self) {
        self.backoff.reset();
    }
    fn wait(&mut self) {
        self.backoff.snooze();
    }
}

/// Spin, then yield, then sleep in growing steps up to `max_sleep`.
#[derive(Debug)]
pub struct Park {
    backoff: Backoff,
    sleep: Duration,
    max_sleep: Duration,
}

impl Park {
    /// A parking strategy that sleeps at most `max_sleep` between polls.
    pub fn new(max_sleep: Duration) -> Self {
        Self { backoff: Backoff::new(), sleep: Duration::ZERO, max_sleep }
    }
}

impl Default for Park {
    /// Sleeps at most 1 ms: fine for a persistence core draining in batches.
    fn default() -> Self {
        Self::new(Duration::from_millis(1))
    }
}

impl WaitStrategy for Park {
    fn reset(&mut self) {
        self.backoff.reset();
        self.sleep = Duration::ZERO;
    }
    fn wait(&mut self) {
        if !self.backoff.is_completed() {
            self.backoff.snooze();
            return;
        }
        self.sleep = (self.sleep * 2).max(Duration::from_micros(10)).min(self.max_sleep);
        #[cfg(not(feature = "loom"))]
        std::thread::sleep(self.sleep);
        #[cfg(feature = "loom")]
        spin_hint();
    }
}
