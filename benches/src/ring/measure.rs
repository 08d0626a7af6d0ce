//! The two scenarios, written once for every contender: round-trip latency (one-way =
//! round trip / 2) and one-way throughput, unbatched or in batches of [`MAX_BATCH`].
//!
//! Every message carries a sequence number that the receiving side checks, so a
//! contender that loses, duplicates or reorders anything fails the run instead of
//! posting a number. All contenders move the same number of messages.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::ends::{MAX_BATCH, Rx, Tx};
use super::msg::Msg;

/// Sent by a throughput consumer in another process when it is attached and waiting.
pub const READY: u64 = u64::MAX - 1;

/// A fresh histogram for one-way nanoseconds (1 ns to 100 s, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).unwrap_or_else(|e| unreachable!("static bounds: {e}"))
}

#[inline]
fn push_spin<M: Msg>(tx: &mut impl Tx<M>, m: M) {
    while !tx.push(m) {
        std::hint::spin_loop();
    }
}

#[inline]
fn pop_spin<M: Msg>(rx: &mut impl Rx<M>) -> M {
    loop {
        if let Some(m) = rx.pop() {
            return m;
        }
        std::hint::spin_loop();
    }
}

/// The initiating side of the latency test: sends `warmup + samples` pings, waits for
/// each echo, and records every round trip / 2 after warm-up. One clock read per
/// round trip (the previous read is the next start), so timer cost is the same small
/// constant for every contender.
pub fn ping<M: Msg>(tx: &mut impl Tx<M>, rx: &mut impl Rx<M>, warmup: u64, samples: u64) -> Histogram<u64> {
    let mut hist = histogram();
    let mut start = Instant::now();
    for seq in 0..warmup + samples {
        push_spin(tx, M::new(seq));
        let echo = pop_spin(rx);
        assert_eq!(echo.seq(), seq, "echo out of order");
        let now = Instant::now();
        if seq >= warmup {
            let one_way = (now - start).as_nanos() as u64 / 2;
            hist.saturating_record(one_way.max(1));
        }
        start = now;
    }
    hist
}

/// The echoing side of the latency test.
pub fn echo<M: Msg>(rx: &mut impl Rx<M>, tx: &mut impl Tx<M>, total: u64) {
    for seq in 0..total {
        let m = pop_spin(rx);
        assert_eq!(m.seq(), seq, "ping out of order");
        push_spin(tx, m);
    }
}

/// Sends `0..n` as fast as the ring takes them.
pub fn produce<M: Msg, T: Tx<M>>(tx: &mut T, n: u64, batched: bool) {
    if !batched {
        for seq in 0..n {
            push_spin(tx, M::new(seq));
        }
        return;
    }
    let mut buf = [M::zeroed(); MAX_BATCH];
    let mut next = 0;
    while next < n {
        let len = (n - next).min(MAX_BATCH as u64) as usize;
        for (i, slot) in buf[..len].iter_mut().enumerate() {
            *slot = M::new(next + i as u64);
        }
        let mut sent = 0;
        while sent < len {
            let pushed = tx.push_batch(&buf[sent..len]);
            if pushed == 0 {
                std::hint::spin_loop();
            }
            sent += pushed;
        }
        next += len as u64;
    }
}

/// Receives and checks `0..n`; returns the time from the first message to the last
/// and how many polls after the first found the ring empty (the consumer had caught
/// up with its producer).
pub fn consume<M: Msg, R: Rx<M>>(rx: &mut R, n: u64, batched: bool) -> (Duration, u64) {
    let first = pop_spin(rx);
    assert_eq!(first.seq(), 0, "first message");
    let start = Instant::now();
    let mut expect = 1;
    let mut empty = 0;
    if batched {
        let mut buf = [M::zeroed(); MAX_BATCH];
        while expect < n {
            let want = (n - expect).min(MAX_BATCH as u64) as usize;
            let got = rx.pop_batch(&mut buf[..want]);
            for m in &buf[..got] {
                assert_eq!(m.seq(), expect, "lost, duplicated or reordered");
                expect += 1;
            }
            if got == 0 {
                empty += 1;
                std::hint::spin_loop();
            }
        }
    } else {
        while expect < n {
            let Some(m) = rx.pop() else {
                empty += 1;
                std::hint::spin_loop();
                continue;
            };
            assert_eq!(m.seq(), expect, "lost, duplicated or reordered");
            expect += 1;
        }
    }
    (start.elapsed(), empty)
}

/// One throughput measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Million messages per second.
    pub mps: f64,
    /// Empty polls per message on the consuming side, where it was counted.
    pub empty_per_msg: Option<f64>,
}

/// Runs `f` on a thread pinned to `cpu` (pinning failures are reported, not fatal).
pub fn on_cpu<T: Send + 'static>(cpu: usize, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name(format!("bench-cpu{cpu}"))
        .spawn(move || {
            if let Err(e) = tuning::pin_current_thread(cpu) {
                eprintln!("warning: {e}; running unpinned");
            }
            f()
        })
        .unwrap_or_else(|e| panic!("cannot spawn a benchmark thread: {e}"))
}

/// Latency of an in-process contender: `make` builds one ring; ping and pong each get one.
pub fn latency_in_process<M, T, R>(
    make: impl Fn() -> (T, R),
    cpus: (usize, usize),
    warmup: u64,
    samples: u64,
) -> Histogram<u64>
where
    M: Msg,
    T: Tx<M> + 'static,
    R: Rx<M> + 'static,
{
    let (mut ping_tx, mut ping_rx) = make();
    let (mut pong_tx, mut pong_rx) = make();
    let echoer = on_cpu(cpus.1, move || echo(&mut ping_rx, &mut pong_tx, warmup + samples));
    let hist = on_cpu(cpus.0, move || ping(&mut ping_tx, &mut pong_rx, warmup, samples))
        .join()
        .unwrap_or_else(|_| panic!("latency initiator panicked"));
    echoer.join().unwrap_or_else(|_| panic!("latency echo panicked"));
    hist
}

/// Throughput of an in-process contender.
pub fn throughput_in_process<M, T, R>(
    make: impl Fn() -> (T, R),
    cpus: (usize, usize),
    n: u64,
    batched: bool,
) -> Throughput
where
    M: Msg,
    T: Tx<M> + 'static,
    R: Rx<M> + 'static,
{
    let (mut tx, mut rx) = make();
    let consumer = on_cpu(cpus.1, move || consume(&mut rx, n, batched));
    on_cpu(cpus.0, move || produce(&mut tx, n, batched)).join().unwrap_or_else(|_| panic!("producer panicked"));
    let (elapsed, empty) = consumer.join().unwrap_or_else(|_| panic!("consumer panicked"));
    Throughput { mps: mps(n, elapsed), empty_per_msg: Some(empty as f64 / n as f64) }
}

/// Million messages per second for `n` messages (the first starts the clock).
pub fn mps(n: u64, elapsed: Duration) -> f64 {
    (n - 1) as f64 / elapsed.as_secs_f64() / 1e6
}

/// The median of a few runs: robust to one run that the hypervisor disturbed.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_runs() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn scenarios_run_and_check_sequences_on_our_ring() {
        let make = || rings::spsc::channel::<u64>(64).unwrap();
        let cpus = tuning::allowed_cpus().unwrap();
        let cpus = (cpus[0], cpus[cpus.len() - 1]);
        let h = latency_in_process(make, cpus, 10, 100);
        assert_eq!(h.len(), 100);
        for batched in [false, true] {
            let t = throughput_in_process(make, cpus, 10_000, batched);
            assert!(t.mps > 0.0 && t.empty_per_msg.is_some_and(|e| e >= 0.0), "{t:?}");
        }
    }

    #[test]
    #[should_panic(expected = "lost, duplicated or reordered")]
    fn a_lossy_contender_fails_the_run() {
        struct Skips(u64);
        impl Rx<u64> for Skips {
            fn pop(&mut self) -> Option<u64> {
                self.0 += if self.0 == 5 { 2 } else { 1 };
                Some(self.0 - 1)
            }
            fn pop_batch(&mut self, _: &mut [u64]) -> usize {
                0
            }
        }
        consume(&mut Skips(0), 100, false);
    }
}
