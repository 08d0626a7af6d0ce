//! The two ends of every contender behind one pair of traits, so each scenario is
//! written once and run for our rings and their peers alike.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use crossbeam_queue::ArrayQueue;

use super::msg::Msg;

/// Largest batch any scenario moves at once.
pub const MAX_BATCH: usize = 64;

/// The sending end.
pub trait Tx<M>: Send {
    /// Whether this contender has a batch API.
    const BATCHED: bool;
    /// Pushes one message; `false` if full.
    fn push(&mut self, m: M) -> bool;
    /// Pushes as many of `src` as fit; returns how many.
    fn push_batch(&mut self, src: &[M]) -> usize;
}

/// The receiving end.
pub trait Rx<M>: Send {
    /// Pops one message, if any.
    fn pop(&mut self) -> Option<M>;
    /// Pops up to `dst.len()` messages; returns how many.
    fn pop_batch(&mut self, dst: &mut [M]) -> usize;
}

impl<M: Msg> Tx<M> for rings::Producer<M> {
    const BATCHED: bool = true;
    #[inline]
    fn push(&mut self, m: M) -> bool {
        self.try_push(m).is_ok()
    }
    #[inline]
    fn push_batch(&mut self, src: &[M]) -> usize {
        self.push_slice(src)
    }
}

impl<M: Msg> Rx<M> for rings::Consumer<M> {
    #[inline]
    fn pop(&mut self) -> Option<M> {
        self.try_pop().ok()
    }
    #[inline]
    fn pop_batch(&mut self, dst: &mut [M]) -> usize {
        self.pop_slice(dst)
    }
}

/// Two broadcast subscribers polled by one thread: on a 2-core host the producer gets
/// one core and both subscribers share the other (the engine's fused-stage layout).
/// Each message counts once, after both subscribers have taken it.
#[derive(Debug)]
pub struct FusedPair<M>(pub rings::Consumer<M>, pub rings::Consumer<M>);

impl<M: Msg> Rx<M> for FusedPair<M> {
    #[inline]
    fn pop(&mut self) -> Option<M> {
        let first = self.0.try_pop().ok()?;
        // Already published, so the second subscriber has it too.
        let second = loop {
            if let Ok(m) = self.1.try_pop() {
                break m;
            }
        };
        debug_assert_eq!(first.seq(), second.seq());
        Some(second)
    }
    #[inline]
    fn pop_batch(&mut self, dst: &mut [M]) -> usize {
        let n = self.0.pop_slice(dst);
        let mut taken = 0;
        let mut check = [M::zeroed(); MAX_BATCH];
        while taken < n {
            taken += self.1.pop_slice(&mut check[taken..n]);
        }
        n
    }
}

impl<M: Msg> Tx<M> for rtrb::Producer<M> {
    const BATCHED: bool = true;
    #[inline]
    fn push(&mut self, m: M) -> bool {
        rtrb::Producer::push(self, m).is_ok()
    }
    #[inline]
    fn push_batch(&mut self, src: &[M]) -> usize {
        let n = self.slots().min(src.len());
        match self.write_chunk_uninit(n) {
            Ok(chunk) => chunk.fill_from_iter(src.iter().copied()),
            Err(_) => 0,
        }
    }
}

impl<M: Msg> Rx<M> for rtrb::Consumer<M> {
    #[inline]
    fn pop(&mut self) -> Option<M> {
        rtrb::Consumer::pop(self).ok()
    }
    #[inline]
    fn pop_batch(&mut self, dst: &mut [M]) -> usize {
        let n = self.slots().min(dst.len());
        let Ok(chunk) = self.read_chunk(n) else { return 0 };
        let (a, b) = chunk.as_slices();
        dst[..a.len()].copy_from_slice(a);
        dst[a.len()..n].copy_from_slice(b);
        chunk.commit_all();
        n
    }
}

/// crossbeam's `ArrayQueue` is MPMC; one end each is its SPSC use.
#[derive(Debug)]
pub struct ArrayQueueEnd<M>(pub Arc<ArrayQueue<M>>);

impl<M: Msg> Tx<M> for ArrayQueueEnd<M> {
    const BATCHED: bool = false;
    #[inline]
    fn push(&mut self, m: M) -> bool {
        self.0.push(m).is_ok()
    }
    fn push_batch(&mut self, _: &[M]) -> usize {
        unreachable!("ArrayQueue has no batch API")
    }
}

impl<M: Msg> Rx<M> for ArrayQueueEnd<M> {
    #[inline]
    fn pop(&mut self) -> Option<M> {
        self.0.pop()
    }
    fn pop_batch(&mut self, _: &mut [M]) -> usize {
        unreachable!("ArrayQueue has no batch API")
    }
}

impl<M: Msg> Tx<M> for SyncSender<M> {
    const BATCHED: bool = false;
    #[inline]
    fn push(&mut self, m: M) -> bool {
        !matches!(self.try_send(m), Err(TrySendError::Full(_)))
    }
    fn push_batch(&mut self, _: &[M]) -> usize {
        unreachable!("sync_channel has no batch API")
    }
}

impl<M: Msg> Rx<M> for Receiver<M> {
    #[inline]
    fn pop(&mut self) -> Option<M> {
        self.try_recv().ok()
    }
    fn pop_batch(&mut self, _: &mut [M]) -> usize {
        unreachable!("sync_channel has no batch API")
    }
}
