//! A prototype of the other SPSC layout, kept as a contender so its trade-off is
//! measured in the same run as everything else: each slot carries its own stamp
//! (the sequence number + 1 of the item in it) in the cache line of its data, and the
//! consumer polls the stamp instead of the producer's tail index. Availability and
//! data then cross cores in one cache line instead of two, which pays off for one-at-
//! a-time transfers; the price is a stamp word per item (2x memory for 8-byte items,
//! so batches move half as many items per line) and no contiguous `&[T]` slices.
//!
//! Written with safe atomics (one `AtomicU64` per word), so it needs `M`'s size to be a
//! multiple of 8. Not a product: `rings::spsc` is the ring the engine uses.
#![allow(clippy::disallowed_types, reason = "a benchmark prototype built from bare atomics")]

use std::sync::Arc;

use crossbeam_utils::CachePadded;
use rings::sync::{AtomicU64, Ordering};

use super::ends::{Rx, Tx};
use super::msg::Msg;

struct Shared {
    head: CachePadded<AtomicU64>,
    /// Slot `i` is words `[i * stride, (i + 1) * stride)`: stamp first, then the item.
    words: Box<[AtomicU64]>,
    stride: usize,
    mask: u64,
}

/// The producing end.
pub struct StampedTx<M> {
    shared: Arc<Shared>,
    tail: u64,
    cached_head: u64,
    _msg: std::marker::PhantomData<M>,
}

/// The consuming end.
pub struct StampedRx<M> {
    shared: Arc<Shared>,
    head: u64,
    _msg: std::marker::PhantomData<M>,
}

impl<M> std::fmt::Debug for StampedTx<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StampedTx").field("tail", &self.tail).finish_non_exhaustive()
    }
}

impl<M> std::fmt::Debug for StampedRx<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StampedRx").field("head", &self.head).finish_non_exhaustive()
    }
}

/// A stamped ring of `capacity` (a power of two) messages.
///
/// # Panics
/// If `capacity` is not a power of two or `M`'s size is not a multiple of 8.
pub fn channel<M: Msg>(capacity: usize) -> (StampedTx<M>, StampedRx<M>) {
    assert!(capacity.is_power_of_two() && size_of::<M>().is_multiple_of(8), "prototype limits");
    let stride = 1 + size_of::<M>() / 8;
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicU64::new(0)),
        words: (0..capacity * stride).map(|_| AtomicU64::new(0)).collect(),
        stride,
        mask: capacity as u64 - 1,
    });
    let tx = StampedTx { shared: shared.clone(), tail: 0, cached_head: 0, _msg: std::marker::PhantomData };
    (tx, StampedRx { shared, head: 0, _msg: std::marker::PhantomData })
}

impl Shared {
    #[inline]
    fn slot(&self, seq: u64) -> &[AtomicU64] {
        let start = (seq & self.mask) as usize * self.stride;
        &self.words[start..start + self.stride]
    }
}

impl<M: Msg> StampedTx<M> {
    #[inline]
    fn free(&mut self) -> u64 {
        let cap = self.shared.mask + 1;
        if self.tail - self.cached_head == cap {
            // SYNC: pairs with the Release store of `head` in `StampedRx::release`.
            self.cached_head = self.shared.head.load(Ordering::Acquire);
        }
        cap - (self.tail - self.cached_head)
    }

    #[inline]
    fn write(&mut self, m: M) {
        let slot = self.shared.slot(self.tail);
        for (dst, word) in slot[1..].iter().zip(bytemuck::cast_slice::<M, u64>(std::slice::from_ref(&m))) {
            dst.store(*word, Ordering::Relaxed);
        }
        self.tail += 1;
        // SYNC: pairs with the Acquire load of the stamp in `StampedRx::pop`.
        slot[0].store(self.tail, Ordering::Release);
    }
}

impl<M: Msg> Tx<M> for StampedTx<M> {
    const BATCHED: bool = true;
    #[inline]
    fn push(&mut self, m: M) -> bool {
        if self.free() == 0 {
            return false;
        }
        self.write(m);
        true
    }
    #[inline]
    fn push_batch(&mut self, src: &[M]) -> usize {
        let mut free = self.free();
        if free < src.len() as u64 {
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            free = self.shared.mask + 1 - (self.tail - self.cached_head);
        }
        let n = (free as usize).min(src.len());
        for m in &src[..n] {
            self.write(*m);
        }
        n
    }
}

impl<M: Msg> StampedRx<M> {
    #[inline]
    fn take(&mut self) -> Option<M> {
        let slot = self.shared.slot(self.head);
        if slot[0].load(Ordering::Acquire) != self.head + 1 {
            return None;
        }
        let mut m = M::zeroed();
        for (word, src) in bytemuck::cast_slice_mut::<M, u64>(std::slice::from_mut(&mut m)).iter_mut().zip(&slot[1..]) {
            *word = src.load(Ordering::Relaxed);
        }
        self.head += 1;
        Some(m)
    }

    #[inline]
    fn release(&self) {
        // SYNC: pairs with the Acquire load in `StampedTx::free`.
        self.shared.head.store(self.head, Ordering::Release);
    }
}

impl<M: Msg> Rx<M> for StampedRx<M> {
    #[inline]
    fn pop(&mut self) -> Option<M> {
        let m = self.take()?;
        self.release();
        Some(m)
    }
    #[inline]
    fn pop_batch(&mut self, dst: &mut [M]) -> usize {
        let mut n = 0;
        while let Some(slot) = dst.get_mut(n) {
            match self.take() {
                Some(m) => *slot = m,
                None => break,
            }
            n += 1;
        }
        if n > 0 {
            self.release();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::msg::Msg64;

    #[test]
    fn fifo_across_wraps_single_and_batched() {
        let (mut tx, mut rx) = channel::<Msg64>(4);
        let mut next = 0;
        let mut expect = 0;
        for round in 0..20 {
            let batch: Vec<Msg64> = (next..next + 3).map(Msg64::new).collect();
            let pushed = if round % 2 == 0 { tx.push_batch(&batch) } else { usize::from(tx.push(batch[0])) };
            next += pushed as u64;
            let mut out = [Msg64::new(0); 4];
            let got =
                if round % 3 == 0 { rx.pop_batch(&mut out) } else { rx.pop().map(|m| out[0] = m).map_or(0, |()| 1) };
            for m in &out[..got] {
                assert_eq!(m.seq(), expect);
                assert_eq!(*m, Msg64::new(expect));
                expect += 1;
            }
        }
        assert!(expect > 10);
        assert!(!tx.push(Msg64::new(99)) || tx.free() < 4);
    }
}
