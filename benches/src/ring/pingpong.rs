//! The machine's floor: two cache lines bounced between two pinned threads, no ring.
#![allow(clippy::disallowed_types, reason = "the baseline is two bare atomics, not ring code")]

use std::sync::Arc;

use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;
use rings::sync::{AtomicU64, Ordering};

use super::measure::{histogram, on_cpu};

#[derive(Default)]
struct Lines {
    ping: CachePadded<AtomicU64>,
    pong: CachePadded<AtomicU64>,
}

/// One-way latency of a bare store/load hand-off, measured like the rings' (one clock
/// read per round trip). Sequence numbers start at 1 so 0 means "nothing yet".
pub fn latency(cpus: (usize, usize), warmup: u64, samples: u64) -> Histogram<u64> {
    let lines = Arc::new(Lines::default());
    let total = warmup + samples;
    let echo_lines = lines.clone();
    let echoer = on_cpu(cpus.1, move || {
        for seq in 1..=total {
            while echo_lines.ping.load(Ordering::Acquire) != seq {
                std::hint::spin_loop();
            }
            echo_lines.pong.store(seq, Ordering::Release);
        }
    });
    let hist = on_cpu(cpus.0, move || {
        let mut hist = histogram();
        let mut start = std::time::Instant::now();
        for seq in 1..=total {
            lines.ping.store(seq, Ordering::Release);
            while lines.pong.load(Ordering::Acquire) != seq {
                std::hint::spin_loop();
            }
            let now = std::time::Instant::now();
            if seq > warmup {
                hist.saturating_record(((now - start).as_nanos() as u64 / 2).max(1));
            }
            start = now;
        }
        hist
    })
    .join()
    .unwrap_or_else(|_| panic!("ping-pong initiator panicked"));
    echoer.join().unwrap_or_else(|_| panic!("ping-pong echo panicked"));
    hist
}
