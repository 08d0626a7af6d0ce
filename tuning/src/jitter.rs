//! How often, and for how long, a spinning thread loses its CPU: the host's own
//! latency floor, measured the way `sysjitter` does.
//!
//! A thread pinned to the CPU reads the clock in a tight loop. Any gap between two
//! reads longer than a threshold is a *hiccup*: an interrupt, another task, the
//! hypervisor running something else on the vCPU. A hot core busy-polling a feed
//! loses the same time, so a frame due during a hiccup waits for its end whatever the
//! engine does. [`JitterReport::paced`] turns the hiccups into exactly that: the
//! latency a stream paced at a given rate would show from the hiccups alone, the
//! floor under a tick-to-order percentile measured on the same CPU.

use std::time::{Duration, Instant};

use crate::Error;

/// Hiccups kept one by one; beyond this they are only counted (and their time added).
const MAX_KEPT: usize = 1 << 18;

/// One gap in the spinning loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hiccup {
    /// When it began, in ns from the start of the measurement.
    pub at_ns: u64,
    /// How long the loop did not run, in ns.
    pub len_ns: u64,
}

/// What one measurement saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterReport {
    /// The CPU measured.
    pub cpu: usize,
    /// How long the loop ran, in ns.
    pub duration_ns: u64,
    /// The shortest gap seen between two clock reads: the loop's own cost.
    pub loop_min_ns: u64,
    /// Gaps longer than this (ns) are hiccups.
    pub threshold_ns: u64,
    /// Every hiccup, in order (the first [`MAX_KEPT`] of them).
    pub hiccups: Vec<Hiccup>,
    /// Hiccups beyond the kept ones: counted in [`JitterReport::count`] and
    /// [`JitterReport::lost_ns`], left out of the distributions.
    pub overflow: u64,
    /// Time lost in overflowed hiccups, in ns.
    pub overflow_ns: u64,
}

/// The nearest-rank percentiles of a set of delays, in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p999: u64,
    /// The 99.99th percentile.
    pub p9999: u64,
    /// The largest.
    pub max: u64,
}

/// What the hiccups alone do to a stream paced at one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Paced {
    /// Frames per second.
    pub rate: u64,
    /// Frames that would have been due during the measurement.
    pub frames: u64,
    /// Of those, how many were due inside a hiccup.
    pub delayed: u64,
    /// The delay over every frame (zero for most).
    pub delay_ns: Percentiles,
}

impl JitterReport {
    /// Hiccups seen, kept or not.
    pub fn count(&self) -> u64 {
        self.hiccups.len() as u64 + self.overflow
    }

    /// Time the loop did not run, in ns.
    pub fn lost_ns(&self) -> u64 {
        self.hiccups.iter().map(|h| h.len_ns).sum::<u64>() + self.overflow_ns
    }

    /// The share of the measurement lost to hiccups (0 to 1).
    pub fn lost_fraction(&self) -> f64 {
        if self.duration_ns == 0 { 0.0 } else { self.lost_ns() as f64 / self.duration_ns as f64 }
    }

    /// The hiccups' own lengths.
    pub fn lengths(&self) -> Percentiles {
        let mut lengths: Vec<u64> = self.hiccups.iter().map(|h| h.len_ns).collect();
        lengths.sort_unstable();
        let total = lengths.len() as u128;
        Percentiles::by_rank(total, |rank| lengths.get((rank - 1) as usize).copied().unwrap_or(0))
    }

    /// The delay each frame of a stream paced at `rate` per second would have had
    /// from the hiccups alone: frame `k` is due at `k / rate` seconds from the start
    /// (exactly, whatever the rate), and one due inside a hiccup waits until the
    /// hiccup ends. Counted per hiccup, not per frame, so no rate costs memory.
    pub fn paced(&self, rate: u64) -> Paced {
        let rate = u128::from(rate.max(1));
        let frames = u128::from(self.duration_ns) * rate / NS;
        let delayed: u128 = self.hiccups.iter().map(|h| frames_waiting(h, rate, frames, 0)).sum();
        let longer = |v: u64| -> u128 { self.hiccups.iter().map(|h| frames_waiting(h, rate, frames, v)).sum() };
        let longest = self.hiccups.iter().map(|h| h.len_ns).max().unwrap_or(0);
        let mut delay_ns = Percentiles::by_rank(frames, |rank| {
            // The smallest v with at most `frames - rank` frames waiting longer than v.
            let (mut lo, mut hi) = (0u64, longest);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if longer(mid) <= frames - rank { hi = mid } else { lo = mid + 1 }
            }
            lo
        });
        delay_ns.max = self.hiccups.iter().filter_map(|h| first_wait(h, rate, frames)).max().unwrap_or(0);
        Paced { rate: rate as u64, frames: frames as u64, delayed: delayed as u64, delay_ns }
    }
}

/// How many of the first `frames` frames, due every `1/rate` s, fall inside hiccup
/// `h` and wait for it longer than `longer_than` ns.
fn frames_waiting(h: &Hiccup, rate: u128, frames: u128, longer_than: u64) -> u128 {
    let start = u128::from(h.at_ns);
    let Some(last) = u128::from(h.at_ns + h.len_ns).checked_sub(u128::from(longer_than)) else { return 0 };
    // Due in [start, last): k in [ceil(start * rate / NS), ceil(last * rate / NS)).
    let first = (start * rate).div_ceil(NS);
    let end = (last * rate).div_ceil(NS).min(frames);
    end.saturating_sub(first)
}

/// Nanoseconds per second.
const NS: u128 = 1_000_000_000;

/// The wait of the first frame due inside hiccup `h`, if any (the longest it causes).
fn first_wait(h: &Hiccup, rate: u128, frames: u128) -> Option<u64> {
    let k = (u128::from(h.at_ns) * rate).div_ceil(NS);
    let due = k * NS; // in ns x rate
    let end = u128::from(h.at_ns + h.len_ns) * rate;
    (k < frames && due < end).then(|| ((end - due) / rate) as u64)
}

impl Percentiles {
    /// Nearest-rank percentiles of `total` values: `value_at(rank)` is the
    /// `rank`-th smallest (1-based), and `max` the largest.
    fn by_rank(total: u128, value_at: impl Fn(u128) -> u64) -> Self {
        if total == 0 {
            return Self::default();
        }
        // Nearest rank: the smallest value with at least q of all values at or below it.
        let at = |q: f64| value_at(((q * total as f64).ceil() as u128).clamp(1, total));
        Self { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), p9999: at(0.9999), max: value_at(total) }
    }
}

/// Spins on `cpu` for `duration`, recording every gap between two clock reads longer
/// than `threshold`. The calling thread is pinned for the measurement and keeps
/// that pin: call it from a thread of its own.
///
/// # Errors
/// The CPU cannot be pinned ([`Error::CpuNotAllowed`], [`Error::PinFailed`]).
#[expect(clippy::disallowed_methods, reason = "the meter times the host itself; no replay runs it")]
pub fn measure(cpu: usize, duration: Duration, threshold: Duration) -> Result<JitterReport, Error> {
    crate::pin_current_thread(cpu)?;
    let threshold_ns = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
    let duration_ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    // Allocated and touched before the loop: a page fault inside it is a hiccup of
    // our own making.
    let mut hiccups = vec![Hiccup { at_ns: 0, len_ns: 0 }; MAX_KEPT];
    hiccups.clear();
    let (mut overflow, mut overflow_ns, mut loop_min_ns) = (0, 0, u64::MAX);
    let start = Instant::now();
    let mut prev = 0u64;
    loop {
        let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let gap = now - prev;
        loop_min_ns = loop_min_ns.min(gap);
        if gap > threshold_ns {
            if hiccups.len() < MAX_KEPT {
                hiccups.push(Hiccup { at_ns: prev, len_ns: gap });
            } else {
                overflow += 1;
                overflow_ns += gap;
            }
        }
        prev = now;
        if now >= duration_ns {
            break;
        }
    }
    Ok(JitterReport { cpu, duration_ns: prev, loop_min_ns, threshold_ns, hiccups, overflow, overflow_ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(hiccups: &[(u64, u64)], duration_ns: u64) -> JitterReport {
        JitterReport {
            cpu: 0,
            duration_ns,
            loop_min_ns: 20,
            threshold_ns: 1_000,
            hiccups: hiccups.iter().map(|&(at_ns, len_ns)| Hiccup { at_ns, len_ns }).collect(),
            overflow: 0,
            overflow_ns: 0,
        }
    }

    #[test]
    fn frames_due_inside_a_hiccup_wait_for_its_end() {
        // 1 ms at 100k/s: 100 frames, due at 0, 10, 20, ... µs. A hiccup from 15 to
        // 42 µs holds the frames due at 20, 30 and 40 µs: they wait 22, 12 and 2 µs.
        let r = report(&[(15_000, 27_000)], 1_000_000);
        let paced = r.paced(100_000);
        assert_eq!((paced.frames, paced.delayed), (100, 3));
        assert_eq!(paced.delay_ns.max, 22_000);
        // 97 of 100 frames wait nothing, so everything up to p97 is 0; p99 is the
        // 99th smallest delay: the second-largest, 12 µs.
        assert_eq!((paced.delay_ns.p50, paced.delay_ns.p90, paced.delay_ns.p99), (0, 0, 12_000));
        assert_eq!(r.lost_fraction(), 0.027);
    }

    #[test]
    fn a_hiccup_between_two_due_times_delays_nothing() {
        let r = report(&[(11_000, 8_000)], 1_000_000);
        assert_eq!(r.paced(100_000).delayed, 0);
        // At a higher rate the same hiccup holds frames due at 12, 14, 16 and 18 µs.
        let fast = r.paced(500_000);
        assert_eq!((fast.delayed, fast.delay_ns.max), (4, 7_000));
    }

    #[test]
    fn a_frame_due_as_the_hiccup_starts_waits_all_of_it() {
        let r = report(&[(20_000, 5_000), (500_000, 3_000)], 1_000_000);
        let paced = r.paced(100_000);
        assert_eq!((paced.delayed, paced.delay_ns.max), (2, 5_000));
        assert_eq!(r.count(), 2);
        assert_eq!(r.lengths().p50, 3_000);
        assert_eq!(r.lengths().max, 5_000);
    }

    #[test]
    fn any_rate_is_exact_and_costs_no_memory_per_frame() {
        // 300k/s does not divide a second into whole ns: frames are due at 0,
        // 3333.3 and 6666.7 ns, all inside a 10 µs hiccup: they wait 10, 6.67 and
        // 3.33 µs, and the median is the middle one (rounded up to whole ns).
        let r = report(&[(0, 10_000)], 10_000);
        let p = r.paced(300_000);
        assert_eq!((p.frames, p.delayed, p.delay_ns.max), (3, 3, 10_000));
        assert_eq!((p.delay_ns.p50, p.delay_ns.p90), (6_667, 10_000));
        // 10 s at a billion frames a second: 10^10 frames, counted per hiccup.
        let r = report(&[(5_000_000_000, 2_000)], 10_000_000_000);
        let p = r.paced(1_000_000_000);
        assert_eq!((p.frames, p.delayed, p.delay_ns.max), (10_000_000_000, 2_000, 2_000));
        assert_eq!(p.delay_ns.p9999, 0);
    }

    #[test]
    fn no_hiccups_means_no_delay() {
        let r = report(&[], 1_000_000);
        assert_eq!(r.paced(100_000).delay_ns, Percentiles::default());
        assert_eq!(r.lengths(), Percentiles::default());
        assert_eq!(r.lost_fraction(), 0.0);
    }

    #[test]
    fn another_thread_on_the_same_cpu_is_seen_as_hiccups() {
        // Two spinning threads share one CPU: the scheduler gives each about half of
        // it, in slices of milliseconds, which the meter must see as lost time.
        let cpu = crate::allowed_cpus().unwrap()[0];
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let rival = std::thread::spawn(move || {
            crate::pin_current_thread(cpu).unwrap();
            while let Err(std::sync::mpsc::TryRecvError::Empty) = stopped.try_recv() {
                std::hint::spin_loop();
            }
        });
        // Dropping the sender stops the rival too, so a failing meter cannot leave
        // it spinning.
        let r = std::thread::spawn(move || measure(cpu, Duration::from_millis(400), Duration::from_micros(1))).join();
        drop(stop);
        rival.join().unwrap();
        let r = r.unwrap().unwrap();
        assert!(r.lost_fraction() > 0.25, "lost {:.3} of the time sharing CPU {cpu}", r.lost_fraction());
        assert!(r.lengths().max >= 100_000, "longest gap {} ns", r.lengths().max);
        assert!(r.duration_ns >= 400_000_000);
    }

    #[test]
    fn an_unavailable_cpu_is_an_error() {
        assert!(matches!(
            measure(usize::MAX, Duration::from_millis(1), Duration::from_micros(1)),
            Err(Error::CpuNotAllowed { .. })
        ));
    }
}
