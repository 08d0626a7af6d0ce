//! A circuit breaker per venue, lock-free so the trading core, a router and the status
//! line can all read it without a lock.
//!
//! Closed: calls pass; N consecutive failures, or a failure rate over a window (with
//! enough calls to mean something), open it. Open: calls are refused until a cool-down
//! has passed; then the first caller moves it to HalfOpen. HalfOpen: a fixed number
//! of probe calls are admitted (each claims a token with a compare-and-swap, so
//! exactly that many get through however many threads ask); a probe's success closes
//! the breaker, a failure re-opens it. Time comes from the caller, so tests drive it.
//!
//! Every call holds a [`Call`] guard; a guard dropped without [`Call::success`] counts
//! as a failure, so an early return (`?`) is never lost.

#![allow(
    clippy::disallowed_types,
    reason = "the atomics come from rings::sync (loom's under --features loom); the lint sees through the re-export"
)]

use rings::sync::{AtomicU32, AtomicU64, Ordering};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// A limited number of probe calls pass.
    HalfOpen,
}

/// When to open and how to recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (0: never on a streak).
    pub consecutive_failures: u32,
    /// Failure percentage over a window that opens it (0: never on a rate).
    pub failure_rate_pct: u32,
    /// Calls a window needs before its rate counts.
    pub min_calls: u32,
    /// The rate window.
    pub window_ns: u64,
    /// Open → HalfOpen after this long.
    pub cool_down_ns: u64,
    /// Probe calls admitted while HalfOpen.
    pub probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_rate_pct: 50,
            min_calls: 20,
            window_ns: 1_000_000_000,
            cool_down_ns: 5_000_000_000,
            probes: 1,
        }
    }
}

/// The state word: the state in the low byte, HalfOpen's remaining probe tokens in
/// the next 24 bits, and a generation in the high 32 that every opening bumps, so a
/// thread that read an older Open cannot move a freshly re-opened breaker on (ABA).
const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const TOKENS_MAX: u64 = (1 << 24) - 1;

fn word(state: u64, tokens: u64, generation: u64) -> u64 {
    state | tokens.min(TOKENS_MAX) << 8 | generation << 32
}

fn state_of(word: u64) -> u64 {
    word & 0xff
}

fn tokens_of(word: u64) -> u64 {
    (word >> 8) & TOKENS_MAX
}

fn generation_of(word: u64) -> u64 {
    word >> 32
}

/// A venue's circuit breaker. Share it by reference (or `Arc`) between threads.
#[derive(Debug, Default)]
pub struct CircuitBreaker {
    state: AtomicU64,
    /// Only ever moves forward (`fetch_max`), so a late writer cannot shorten a
    /// cool-down.
    opened_at: AtomicU64,
    /// When the breaker last went HalfOpen: probes without an outcome by then plus a
    /// cool-down count as failed, so a lost answer cannot hold it HalfOpen forever.
    half_open_at: AtomicU64,
    consecutive: AtomicU32,
    window_start: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
    opened: AtomicU64,
    // The configuration, one atomic per field so it can be replaced while running.
    consecutive_failures: AtomicU32,
    failure_rate_pct: AtomicU32,
    min_calls: AtomicU32,
    window_ns: AtomicU64,
    cool_down_ns: AtomicU64,
    probes: AtomicU32,
}

/// A call the breaker admitted. Record its outcome; dropping it unrecorded is a failure.
#[derive(Debug)]
#[must_use = "a dropped call counts as a failure"]
pub struct Call<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    now: u64,
    done: bool,
}

impl Call<'_> {
    /// Whether this call is a HalfOpen probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded.
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record_success(self.probe);
    }

    /// The call failed (reject, timeout, disconnect) at `now`.
    pub fn failure(mut self, now: u64) {
        self.done = true;
        self.breaker.record_failure(self.probe, now);
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record_failure(self.probe, self.now);
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker with `config`.
    pub fn new(config: &BreakerConfig) -> Self {
        let breaker = Self::default();
        breaker.reconfigure(config);
        breaker
    }

    /// Replaces the configuration while running (e.g. on SIGHUP). Each field changes
    /// on its own, so a call racing the change may see some old and some new values:
    /// every mix is a valid configuration.
    pub fn reconfigure(&self, config: &BreakerConfig) {
        self.consecutive_failures.store(config.consecutive_failures, Ordering::Relaxed);
        self.failure_rate_pct.store(config.failure_rate_pct, Ordering::Relaxed);
        self.min_calls.store(config.min_calls, Ordering::Relaxed);
        self.window_ns.store(config.window_ns, Ordering::Relaxed);
        self.cool_down_ns.store(config.cool_down_ns, Ordering::Relaxed);
        self.probes.store(config.probes.clamp(1, TOKENS_MAX as u32), Ordering::Relaxed);
    }

    /// The current configuration.
    pub fn config(&self) -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: self.consecutive_failures.load(Ordering::Relaxed),
            failure_rate_pct: self.failure_rate_pct.load(Ordering::Relaxed),
            min_calls: self.min_calls.load(Ordering::Relaxed),
            window_ns: self.window_ns.load(Ordering::Relaxed),
            cool_down_ns: self.cool_down_ns.load(Ordering::Relaxed),
            probes: self.probes.load(Ordering::Relaxed),
        }
    }

    /// The state as of now (Open past its cool-down still reads Open until a call
    /// moves it on).
    pub fn state(&self) -> BreakerState {
        match state_of(self.state.load(Ordering::Acquire)) {
            OPEN => BreakerState::Open,
            HALF_OPEN => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }

    /// Whether it would refuse a call at `now`: Open and still cooling down.
    pub fn refusing(&self, now: u64) -> bool {
        state_of(self.state.load(Ordering::Acquire)) == OPEN
            && now.saturating_sub(self.opened_at.load(Ordering::Acquire)) < self.cool_down_ns.load(Ordering::Relaxed)
    }

    /// Whether a call at `now` would be admitted, without taking a probe token: what
    /// a router asks before choosing the venue (the order's own risk check admits it
    /// for real).
    pub fn would_admit(&self, now: u64) -> bool {
        let current = self.state.load(Ordering::Acquire);
        match state_of(current) {
            CLOSED => true,
            OPEN => {
                now.saturating_sub(self.opened_at.load(Ordering::Acquire)) >= self.cool_down_ns.load(Ordering::Relaxed)
            }
            _ => tokens_of(current) > 0,
        }
    }

    /// Times the breaker has opened.
    pub fn times_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Admits a call at `now`, or says why not.
    ///
    /// # Errors
    /// [`BreakerState::Open`] during the cool-down, [`BreakerState::HalfOpen`] when
    /// every probe token is taken.
    pub fn try_call(&self, now: u64) -> Result<Call<'_>, BreakerState> {
        let probe = self.try_admit(now)?;
        Ok(Call { breaker: self, probe, now, done: false })
    }

    /// Admits a call whose outcome arrives later, as a venue report; `Ok(true)` for a
    /// HalfOpen probe. Record the outcome with [`CircuitBreaker::record_success`] or
    /// [`CircuitBreaker::record_failure`], passing that flag back.
    ///
    /// # Errors
    /// As [`CircuitBreaker::try_call`].
    pub fn try_admit(&self, now: u64) -> Result<bool, BreakerState> {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let generation = generation_of(current);
            let cool_down = self.cool_down_ns.load(Ordering::Relaxed);
            let next = match state_of(current) {
                CLOSED => return Ok(false),
                OPEN => {
                    if now.saturating_sub(self.opened_at.load(Ordering::Acquire)) < cool_down {
                        return Err(BreakerState::Open);
                    }
                    // Whoever moves it to HalfOpen takes the first token.
                    self.half_open_at.fetch_max(now, Ordering::AcqRel);
                    let tokens = u64::from(self.probes.load(Ordering::Relaxed).max(1));
                    word(HALF_OPEN, tokens - 1, generation)
                }
                _ if tokens_of(current) > 0 => word(HALF_OPEN, tokens_of(current) - 1, generation),
                _ => {
                    // Every probe is out. Unanswered for a whole cool-down: failed.
                    if now.saturating_sub(self.half_open_at.load(Ordering::Acquire)) >= cool_down {
                        self.open(current, now);
                        return Err(BreakerState::Open);
                    }
                    return Err(BreakerState::HalfOpen);
                }
            };
            // SYNC: AcqRel so the winner sees `opened_at` and the counters as the
            // thread that opened the breaker left them; the generation in the word
            // makes a stale Open fail this CAS.
            match self.state.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(true),
                Err(seen) => current = seen,
            }
        }
    }

    /// Moves the breaker from the state in `seen` to Open at `now`, retrying while
    /// that state holds; counts the opening if this thread made it.
    fn open(&self, seen: u64, now: u64) {
        // Forward only: a late, stale `now` cannot shorten the cool-down.
        self.opened_at.fetch_max(now, Ordering::AcqRel);
        let from = state_of(seen);
        let mut current = seen;
        while state_of(current) == from {
            let next = word(OPEN, 0, generation_of(current).wrapping_add(1));
            // SYNC: Release publishes `opened_at` to the thread that later moves the
            // breaker out of Open.
            match self.state.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.opened.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(now_seen) => current = now_seen,
            }
        }
    }

    /// A call succeeded; `probe` as [`CircuitBreaker::try_admit`] returned it. A
    /// probe's success closes a HalfOpen breaker.
    pub fn record_success(&self, probe: bool) {
        self.consecutive.store(0, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !probe {
            return;
        }
        let mut current = self.state.load(Ordering::Acquire);
        while state_of(current) == HALF_OPEN {
            match self.state.compare_exchange_weak(
                current,
                word(CLOSED, 0, generation_of(current)),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.calls.store(0, Ordering::Relaxed);
                    self.failures.store(0, Ordering::Relaxed);
                    return;
                }
                Err(seen) => current = seen,
            }
        }
    }

    /// A call failed at `now` (or a failure that went through no call: a disconnect,
    /// a timeout noticed later, with `probe` false). A probe's failure re-opens a
    /// HalfOpen breaker; enough failures open a Closed one.
    pub fn record_failure(&self, probe: bool, now: u64) {
        let streak = self.consecutive.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let window = self.window_ns.load(Ordering::Relaxed);
        let start = self.window_start.load(Ordering::Relaxed);
        if now.saturating_sub(start) >= window
            && self.window_start.compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            // A new window: approximate under concurrent calls, exact on one thread.
            self.calls.store(0, Ordering::Relaxed);
            self.failures.store(0, Ordering::Relaxed);
        }
        let calls = self.calls.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let failures = self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let current = self.state.load(Ordering::Acquire);
        let trip = match state_of(current) {
            CLOSED => {
                let limit = self.consecutive_failures.load(Ordering::Relaxed);
                let rate = self.failure_rate_pct.load(Ordering::Relaxed);
                (limit > 0 && streak >= limit)
                    || (rate > 0
                        && calls >= self.min_calls.load(Ordering::Relaxed)
                        && u64::from(failures) * 100 >= u64::from(rate) * u64::from(calls))
            }
            HALF_OPEN => probe,
            _ => false,
        };
        if trip {
            self.open(current, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn config() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            failure_rate_pct: 50,
            min_calls: 10,
            window_ns: 1_000 * MS,
            cool_down_ns: 100 * MS,
            probes: 2,
        }
    }

    #[test]
    fn a_streak_of_failures_opens_it_and_the_cool_down_half_opens_it() {
        let b = CircuitBreaker::new(&config());
        b.try_call(0).unwrap().failure(0);
        b.try_call(1).unwrap().failure(1);
        assert_eq!(b.state(), BreakerState::Closed, "two failures are under the streak of three");
        b.try_call(2).unwrap().failure(2);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.try_call(2 + 100 * MS - 1).unwrap_err(), BreakerState::Open, "cool-down is 100 ms");
        let probe = b.try_call(2 + 100 * MS).unwrap();
        assert!(probe.is_probe());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let second = b.try_call(2 + 100 * MS).unwrap();
        assert_eq!(b.try_call(2 + 100 * MS).unwrap_err(), BreakerState::HalfOpen, "two probes only");
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed, "a probe's success closes it");
        second.success();
        assert_eq!(b.times_opened(), 1);
    }

    #[test]
    fn would_admit_says_what_a_call_would_get_without_taking_a_token() {
        let b = CircuitBreaker::new(&config());
        assert!(b.would_admit(0));
        for t in 0..10 {
            b.record_failure(false, t);
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.would_admit(10), "cooling down");
        let later = 10 + config().cool_down_ns;
        assert!(b.would_admit(later), "past the cool-down a probe may go");
        assert_eq!(b.state(), BreakerState::Open, "asking took nothing");
        let mut admitted = 0u32;
        while b.would_admit(later) {
            assert!(b.try_admit(later).is_ok());
            admitted += 1;
        }
        assert_eq!(admitted, config().probes, "every probe token, then no more");
        assert_eq!(b.try_admit(later), Err(BreakerState::HalfOpen));
    }

    #[test]
    fn a_failed_probe_reopens_it_for_another_cool_down() {
        let b = CircuitBreaker::new(&config());
        for t in 0..3 {
            b.try_call(t).unwrap().failure(t);
        }
        let probe = b.try_call(200 * MS).unwrap();
        probe.failure(200 * MS);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.try_call(250 * MS).unwrap_err(), BreakerState::Open);
        let probe = b.try_call(300 * MS).unwrap();
        assert!(probe.is_probe());
        probe.success();
        assert_eq!(b.times_opened(), 2);
    }

    #[test]
    fn a_success_resets_the_streak() {
        let b = CircuitBreaker::new(&BreakerConfig { failure_rate_pct: 0, ..config() });
        for t in 0..20 {
            b.try_call(t).unwrap().failure(t);
            b.try_call(t).unwrap().failure(t);
            b.try_call(t).unwrap().success();
        }
        assert_eq!(b.state(), BreakerState::Closed, "never three failures in a row");
    }

    #[test]
    fn a_failure_rate_over_the_window_opens_it_once_enough_calls_were_made() {
        let b = CircuitBreaker::new(&BreakerConfig { consecutive_failures: 0, ..config() });
        // Alternating: 50% failures, no streak. Below min_calls (10) it stays closed.
        for t in 0..8 {
            let call = b.try_call(t).unwrap();
            if t % 2 == 0 { call.failure(t) } else { call.success() }
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.try_call(8).unwrap().success();
        b.try_call(9).unwrap().failure(9);
        assert_eq!(b.state(), BreakerState::Open, "5 of 10 failed: 50%");
    }

    #[test]
    fn the_rate_window_forgets_old_failures() {
        let b = CircuitBreaker::new(&BreakerConfig { consecutive_failures: 0, ..config() });
        for t in 0..9 {
            let call = b.try_call(t).unwrap();
            if t % 2 == 0 { call.failure(t) } else { call.success() }
        }
        // A second later the window restarts: one failure among few calls is not a rate.
        b.try_call(2_000 * MS).unwrap().failure(2_000 * MS);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_dropped_call_counts_as_a_failure() {
        let b = CircuitBreaker::new(&config());
        let attempt = |now| -> Result<(), ()> {
            let _call = b.try_call(now).map_err(|_| ())?;
            Err(()) // an early return: the guard records the failure
        };
        for t in 0..3 {
            assert!(attempt(t).is_err());
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn an_unanswered_probe_counts_as_failed_after_a_cool_down() {
        let b = CircuitBreaker::new(&BreakerConfig { probes: 1, ..config() });
        for _ in 0..3 {
            b.try_call(0).unwrap().failure(0);
        }
        assert_eq!(b.try_admit(100 * MS), Ok(true), "the probe goes out; its answer never comes");
        assert_eq!(b.try_admit(150 * MS), Err(BreakerState::HalfOpen));
        assert_eq!(b.try_admit(200 * MS), Err(BreakerState::Open), "a cool-down later the probe has failed");
        assert_eq!(b.times_opened(), 2);
        assert_eq!(b.try_admit(250 * MS), Err(BreakerState::Open));
        assert_eq!(b.try_admit(300 * MS), Ok(true), "and the next cool-down brings a new probe");
    }

    #[test]
    fn only_a_probes_outcome_moves_a_half_open_breaker() {
        let b = CircuitBreaker::new(&config());
        for _ in 0..3 {
            b.try_call(0).unwrap().failure(0);
        }
        assert_eq!(b.try_admit(100 * MS), Ok(true));
        // Answers for orders sent before it opened arrive now: they are not the probe.
        b.record_success(false);
        b.record_failure(false, 100 * MS);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.record_success(true);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn reconfiguring_changes_the_thresholds_of_a_running_breaker() {
        let b = CircuitBreaker::new(&config());
        b.reconfigure(&BreakerConfig { consecutive_failures: 1, ..config() });
        b.try_call(0).unwrap().failure(0);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.config().consecutive_failures, 1);
    }
}
