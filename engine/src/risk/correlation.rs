//! Correlations of instrument returns: estimated on the cold core from the mids in
//! the record stream, published to the risk core as a snapshot the hot check reads
//! without a lock.
//!
//! The snapshot is a seqlock over atomic cells: the writer (one thread) makes the
//! sequence odd, stores every cell, makes it even again; a reader copies the cells it
//! needs between two reads of the same even sequence, or tries again. Cells are
//! atomics, so a torn read is a retry, never undefined behaviour, and no `unsafe` is
//! needed. Correlations are stored as integers: ρ × 10,000.
#![allow(
    clippy::disallowed_types,
    reason = "the atomics come from rings::sync (loom's under --features loom); the lint sees through the re-export"
)]

use rings::sync::{AtomicU32, AtomicU64, Ordering, fence};

/// ρ = 1 in the snapshot's units.
pub const ONE: i32 = 10_000;

/// The published correlation matrix: a seqlock of `n × n` cells.
#[derive(Debug)]
pub struct CorrelationSnapshot {
    n: usize,
    seq: AtomicU64,
    cells: Vec<AtomicU32>,
}

impl CorrelationSnapshot {
    /// All zeros (no correlation known) for `n` instruments.
    pub fn new(n: usize) -> Self {
        Self { n, seq: AtomicU64::new(0), cells: (0..n * n).map(|_| AtomicU32::new(0)).collect() }
    }

    /// Instruments covered.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether it covers none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Publishes a full matrix (row-major, ρ × 10,000). One writer only.
    pub fn publish(&self, matrix: &[i32]) {
        let seq = self.seq.load(Ordering::Relaxed);
        // SYNC: odd = write in progress; the fence orders it before the cell stores.
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (cell, value) in self.cells.iter().zip(matrix) {
            cell.store(*value as u32, Ordering::Relaxed);
        }
        // SYNC: Release: a reader that sees the even sequence sees every cell above.
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Copies row `i` into `out` (ρ × 10,000 against each instrument); `false` if a
    /// publish kept racing it for a few tries (the caller then treats correlations as
    /// unknown for this order).
    pub fn row_into(&self, i: usize, out: &mut [i32]) -> bool {
        let Some(row) = self.cells.get(i * self.n..(i + 1) * self.n) else { return false };
        for _ in 0..4 {
            // SYNC: Acquire pairs with the writer's final Release store.
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            for (o, cell) in out.iter_mut().zip(row) {
                *o = cell.load(Ordering::Relaxed) as i32;
            }
            // SYNC: the cell loads above happen before the re-check of the sequence.
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return true;
            }
        }
        false
    }
}

/// Pearson correlations of returns over a rolling window of sampled mids. Cold core
/// only: it allocates at construction and uses floats.
#[derive(Debug, Clone)]
pub struct ReturnsEstimator {
    n: usize,
    window: usize,
    /// The last sampled mid per instrument (0: none yet).
    last: Vec<f64>,
    /// Returns, `window` per instrument, as rings (`next` is the oldest slot).
    returns: Vec<f64>,
    next: usize,
    filled: usize,
}

impl ReturnsEstimator {
    /// `n` instruments, correlations over the last `window` returns.
    pub fn new(n: usize, window: usize) -> Self {
        let window = window.max(2);
        Self { n, window, last: vec![0.0; n], returns: vec![0.0; n * window], next: 0, filled: 0 }
    }

    /// One sample of every instrument's mid (0: no price); adds one return each.
    pub fn sample(&mut self, mids: &[i64]) {
        let slot = self.next;
        for (i, mid) in mids.iter().enumerate().take(self.n) {
            let mid = *mid as f64;
            let r = match self.last.get(i) {
                Some(last) if *last > 0.0 && mid > 0.0 => (mid / last).ln(),
                _ => 0.0,
            };
            if let Some(cell) = self.returns.get_mut(i * self.window + slot) {
                *cell = r;
            }
            if let Some(last) = self.last.get_mut(i) {
                *last = mid;
            }
        }
        self.next = (slot + 1) % self.window;
        self.filled = (self.filled + 1).min(self.window);
    }

    /// The correlation matrix (ρ × 10,000, row-major); zero where a series is flat or
    /// too short to say.
    pub fn matrix(&self) -> Vec<i32> {
        let k = self.filled;
        let mut out = vec![0i32; self.n * self.n];
        if k < 3 {
            return out;
        }
        let series = |i: usize| &self.returns[i * self.window..i * self.window + k];
        let stats: Vec<(f64, f64)> = (0..self.n)
            .map(|i| {
                let s = series(i);
                let mean = s.iter().sum::<f64>() / k as f64;
                let var = s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>();
                (mean, var)
            })
            .collect();
        for i in 0..self.n {
            for j in 0..self.n {
                let ((mi, vi), (mj, vj)) = (stats[i], stats[j]);
                let rho = if i == j && vi > 0.0 {
                    1.0
                } else if vi > 0.0 && vj > 0.0 {
                    let cov: f64 = series(i).iter().zip(series(j)).map(|(a, b)| (a - mi) * (b - mj)).sum();
                    (cov / (vi * vj).sqrt()).clamp(-1.0, 1.0)
                } else {
                    0.0
                };
                out[i * self.n + j] = (rho * f64::from(ONE)).round() as i32;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_together_apart_and_against() {
        let mut e = ReturnsEstimator::new(4, 64);
        let mut price = [10_000i64, 20_000, 30_000, 40_000];
        let mut x: u64 = 7;
        for _ in 0..65 {
            // A pseudo-random walk for 0; 1 follows it, 2 mirrors it, 3 walks alone.
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let step = (x >> 33) as i64 % 21 - 10;
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let own = (x >> 33) as i64 % 21 - 10;
            price[0] += step;
            price[1] += 2 * step;
            price[2] -= 3 * step;
            price[3] += own;
            e.sample(&price);
        }
        let m = e.matrix();
        let rho = |i: usize, j: usize| m[i * 4 + j];
        assert_eq!(rho(0, 0), ONE);
        assert!(rho(0, 1) > 9_900, "{}", rho(0, 1));
        assert!(rho(0, 2) < -9_900, "{}", rho(0, 2));
        assert!(rho(0, 3).abs() < 4_000, "{}", rho(0, 3));
        assert_eq!(rho(1, 2), rho(2, 1), "symmetric");
    }

    #[test]
    fn a_flat_or_missing_series_correlates_with_nothing() {
        let mut e = ReturnsEstimator::new(2, 16);
        for k in 0..20 {
            e.sample(&[1_000 + k % 3, 0]);
        }
        let m = e.matrix();
        assert_eq!((m[1], m[2], m[3]), (0, 0, 0));
    }

    #[test]
    fn a_reader_never_sees_a_torn_snapshot() {
        let n = 16;
        let snapshot = CorrelationSnapshot::new(n);
        std::thread::scope(|s| {
            s.spawn(|| {
                for k in 1..20_000 {
                    snapshot.publish(&vec![k; n * n]);
                }
            });
            s.spawn(|| {
                let mut row = vec![0; n];
                let mut read = 0;
                while read < 20_000 {
                    if snapshot.row_into(3, &mut row) {
                        assert!(row.iter().all(|v| *v == row[0]), "torn: {row:?}");
                        read += 1;
                    }
                }
            });
        });
    }
}
