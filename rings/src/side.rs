//! The two ends every ring hands out: [`Producer`] and [`Consumer`].
//!
//! The same types serve the in-process rings ([`crate::spsc`], [`crate::broadcast`])
//! and the shared-memory ones ([`crate::shm`]), so a stage's code does not change when
//! its ring moves across a process boundary.

use core::fmt;

use crate::error::{PopError, PushError};
use crate::owner::{Owner, PeerStatus};
use crate::ring::{Reader, Writer};
use crate::wait::WaitStrategy;

/// The writing end of a ring. Exactly one exists per ring.
pub struct Producer<T> {
    writer: Writer<T>,
    owner: Owner<T>,
}

// SAFETY: a `Producer` is the only writer of its ring; moving it to another thread
// moves `T`s with it, which `T: Send` allows. Its raw pointers target memory kept
// alive by `owner`.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// # Safety
    /// `writer` is the only writer of memory that `owner` keeps alive.
    pub(crate) unsafe fn from_parts(writer: Writer<T>, owner: Owner<T>) -> Self {
        Self { writer, owner }
    }

    /// Pushes one item, or hands it back if the ring is full. Never blocks.
    ///
    /// # Errors
    /// [`PushError::Full`] with the value when every slot is taken.
    ///
    /// # Examples
    /// ```
    /// let (mut tx, mut rx) = rings::spsc::channel::<u64>(2).unwrap();
    /// tx.try_push(1).unwrap();
    /// tx.try_push(2).unwrap();
    /// assert_eq!(tx.try_push(3), Err(rings::PushError::Full(3)));
    /// assert_eq!(rx.try_pop(), Ok(1));
    /// ```
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), PushError<T>> {
        if self.writer.free(1) == 0 {
            return Err(PushError::Full(value));
        }
        // SAFETY: `free` reported at least one free slot at offset 0.
        unsafe { self.writer.write(0, value) };
        self.writer.publish(1);
        Ok(())
    }

    /// Copies as many items of `src` as fit, publishing them once. Returns how many.
    ///
    /// # Examples
    /// ```
    /// let (mut tx, mut rx) = rings::spsc::channel::<u32>(4).unwrap();
    /// assert_eq!(tx.push_slice(&[1, 2, 3, 4, 5, 6]), 4);
    /// let mut out = [0; 8];
    /// assert_eq!(rx.pop_slice(&mut out), 4);
    /// assert_eq!(out[..4], [1, 2, 3, 4]);
    /// ```
    #[inline]
    pub fn push_slice(&mut self, src: &[T]) -> usize
    where
        T: Copy,
    {
        let n = self.writer.free(src.len()).min(src.len());
        if let Some(src) = src.get(..n) {
            // SAFETY: `n` slots are free.
            unsafe { self.writer.write_slice(src) };
            self.writer.publish(n);
        }
        n
    }

    /// Claims up to `max` free slots to fill one by one and publish once.
    ///
    /// The chunk may be shorter than `max` (even empty) when the ring is nearly full.
    /// Items written into it are published when it is committed or dropped.
    ///
    /// # Examples
    /// ```
    /// let (mut tx, mut rx) = rings::spsc::channel::<String>(8).unwrap();
    /// let mut chunk = tx.write_chunk(3);
    /// assert_eq!(chunk.len(), 3);
    /// chunk.push("a".to_string()).unwrap();
    /// chunk.push("b".to_string()).unwrap();
    /// assert_eq!(chunk.commit(), 2);
    /// assert_eq!(rx.try_pop().as_deref(), Ok("a"));
    /// ```
    #[inline]
    pub fn write_chunk(&mut self, max: usize) -> WriteChunk<'_, T> {
        let len = self.writer.free(max).min(max);
        WriteChunk { writer: &mut self.writer, len, written: 0 }
    }

    /// Free slots now (reads the consumers' indices).
    pub fn slots(&mut self) -> usize {
        self.writer.free(usize::MAX)
    }

    /// Items in the ring as of the consumers' latest releases.
    pub fn len(&self) -> usize {
        self.writer.len()
    }

    /// Whether no item is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every slot is taken.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Items in the ring by this side's cached view: free to read, may overstate.
    pub fn cached_len(&self) -> usize {
        self.writer.cached_len()
    }

    /// How many items the ring holds at most (a power of two).
    pub fn capacity(&self) -> usize {
        self.writer.raw().capacity()
    }

    /// The address range of the ring's slots, to look up where the kernel placed
    /// them (NUMA node, huge pages) in `/proc/self/numa_maps` and `smaps`.
    pub fn slot_memory(&self) -> core::ops::Range<usize> {
        self.writer.raw().slot_memory()
    }

    /// Whether the consumers are still there. Cold: for shared memory it reads `/proc`.
    pub fn peer_status(&self) -> PeerStatus {
        self.owner.peer_status()
    }

    /// Whether no consumer will ever read again: every one detached or died (with
    /// several subscribers, [`Producer::peer_status`] reports the first to leave).
    pub fn is_abandoned(&self) -> bool {
        self.owner.is_abandoned()
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("cached_len", &self.cached_len())
            .finish_non_exhaustive()
    }
}

/// Slots claimed by [`Producer::write_chunk`], filled in order and published once.
pub struct WriteChunk<'a, T> {
    writer: &'a mut Writer<T>,
    len: usize,
    written: usize,
}

impl<T> WriteChunk<'_, T> {
    /// Slots claimed (the most this chunk can take).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk claimed no slot at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots still free in this chunk.
    pub fn remaining(&self) -> usize {
        self.len - self.written
    }

    /// Writes the next slot.
    ///
    /// # Errors
    /// Gives `value` back when the chunk is already full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.written == self.len {
            return Err(value);
        }
        // SAFETY: `written < len <= free`, so the slot is free and not yet written.
        unsafe { self.writer.write(self.written, value) };
        self.written += 1;
        Ok(())
    }

    /// Publishes what was written and returns how many items that was.
    pub fn commit(self) -> usize {
        self.written
        // Drop publishes.
    }
}

impl<T> Drop for WriteChunk<'_, T> {
    fn drop(&mut self) {
        if self.written > 0 {
            self.writer.publish(self.written);
        }
    }
}

impl<T> fmt::Debug for WriteChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunk").field("len", &self.len).field("written", &self.written).finish()
    }
}

/// The reading end of a ring. Exactly one exists per reader slot.
pub struct Consumer<T> {
    reader: Reader<T>,
    owner: Owner<T>,
    /// Broadcast subscribers detach on drop so the producer stops waiting for them;
    /// an spsc consumer does not (its producer must see the ring fill up instead).
    detach_on_drop: bool,
}

// SAFETY: a `Consumer` is the only reader of its head; moving it moves the right to
// take `T`s, which `T: Send` allows. Its raw pointers target memory kept alive by
// `owner`.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// # Safety
    /// `reader` is the only reader of its head in memory that `owner` keeps alive; if
    /// other readers share the ring, `T: Copy` (no reader may drop an item).
    pub(crate) unsafe fn from_parts(reader: Reader<T>, owner: Owner<T>, detach_on_drop: bool) -> Self {
        Self { reader, owner, detach_on_drop }
    }

    /// Takes the oldest item, or reports the ring empty. Never blocks.
    ///
    /// # Errors
    /// [`PopError::Empty`] when nothing is waiting.
    #[inline]
    pub fn try_pop(&mut self) -> Result<T, PopError> {
        if self.reader.available(1) == 0 {
            return Err(PopError::Empty);
        }
        // SAFETY: one item is available at offset 0, and its slot stays ours until
        // our published head passes it: `advance_one` counts it consumed only after
        // this read, publishes no further than that, and drops nothing.
        let value = unsafe { self.reader.read(0) };
        self.reader.advance_one();
        Ok(value)
    }

    /// Waits with `wait` until an item arrives or the producer is gone.
    ///
    /// # Errors
    /// [`PopError::Empty`] once the producer has detached or died and the ring is drained.
    ///
    /// # Examples
    /// ```
    /// use rings::wait::BusySpin;
    /// let (mut tx, mut rx) = rings::spsc::channel::<u8>(4).unwrap();
    /// tx.try_push(7).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.pop_wait(&mut BusySpin), Ok(7));
    /// assert!(rx.pop_wait(&mut BusySpin).is_err());
    /// ```
    pub fn pop_wait<W: WaitStrategy>(&mut self, wait: &mut W) -> Result<T, PopError> {
        wait.reset();
        let mut idle: u32 = 0;
        loop {
            if let Ok(value) = self.try_pop() {
                return Ok(value);
            }
            idle = idle.wrapping_add(1);
            // NB: the liveness check is cold (it may read /proc); do it rarely.
            if idle.is_multiple_of(4096) && self.is_abandoned() {
                return self.try_pop();
            }
            wait.wait();
        }
    }

    /// Copies up to `dst.len()` items out, releasing them once. Returns how many.
    #[inline]
    pub fn pop_slice(&mut self, dst: &mut [T]) -> usize
    where
        T: Copy,
    {
        let n = self.reader.available(dst.len()).min(dst.len());
        // SAFETY: `n` items are available; the slices end before `release`.
        let (first, second) = unsafe { self.reader.slices(n) };
        if let Some(out) = dst.get_mut(..first.len()) {
            out.copy_from_slice(first);
        }
        if let Some(out) = dst.get_mut(first.len()..n) {
            out.copy_from_slice(second);
        }
        // SAFETY: the `n` items were copied (`T: Copy`, nothing to drop).
        unsafe { self.reader.release(n, false) };
        n
    }

    /// Borrows up to `max` waiting items as two slices, to release in one step.
    ///
    /// Nothing is released unless the chunk is committed; dropping it is a peek.
    ///
    /// # Examples
    /// ```
    /// let (mut tx, mut rx) = rings::spsc::channel::<u8>(4).unwrap();
    /// tx.push_slice(&[1, 2, 3]);
    /// let chunk = rx.read_chunk(8);
    /// let (a, b) = chunk.as_slices();
    /// assert_eq!(a.len() + b.len(), 3);
    /// chunk.commit_all();
    /// assert!(rx.is_empty());
    /// ```
    #[inline]
    pub fn read_chunk(&mut self, max: usize) -> ReadChunk<'_, T> {
        let len = self.reader.available(max).min(max);
        ReadChunk { reader: &mut self.reader, len }
    }

    /// Items waiting now (reads the producer's index).
    pub fn len(&self) -> usize {
        self.reader.len()
    }

    /// Whether nothing is waiting now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many items the ring holds at most (a power of two).
    pub fn capacity(&self) -> usize {
        self.reader.raw().capacity()
    }

    /// The address range of the ring's slots, to look up where the kernel placed
    /// them (NUMA node, huge pages) in `/proc/self/numa_maps` and `smaps`.
    pub fn slot_memory(&self) -> core::ops::Range<usize> {
        self.reader.raw().slot_memory()
    }

    /// Whether the producer is still there. Cold: for shared memory it reads `/proc`.
    pub fn peer_status(&self) -> PeerStatus {
        self.owner.peer_status()
    }

    /// Whether the producer will never write again (detached or died).
    pub fn is_abandoned(&self) -> bool {
        self.owner.is_abandoned()
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        if self.detach_on_drop {
            self.reader.detach();
        } else {
            self.reader.flush();
        }
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").field("capacity", &self.capacity()).finish_non_exhaustive()
    }
}

/// Items borrowed by [`Consumer::read_chunk`]; released only by a commit.
pub struct ReadChunk<'a, T> {
    reader: &'a mut Reader<T>,
    len: usize,
}

impl<T> ReadChunk<'_, T> {
    /// Items in this chunk.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk holds no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items in order: the second slice is non-empty only at the wrap point.
    pub fn as_slices(&self) -> (&[T], &[T]) {
        // SAFETY: `len` items were available when the chunk was made, and the
        // borrow of `self` ends before any release.
        unsafe { self.reader.slices(self.len) }
    }

    /// Releases the first `n` items (dropping them) and keeps the rest waiting.
    ///
    /// # Panics
    /// If `n` exceeds the chunk's length: a caller bug, never input-driven.
    pub fn commit(self, n: usize) {
        assert!(n <= self.len, "commit({n}) of a {}-item chunk", self.len);
        // SAFETY: `n <= len` items are available and were not moved out.
        unsafe { self.reader.release(n, true) };
    }

    /// Releases every item in the chunk.
    pub fn commit_all(self) {
        let n = self.len;
        self.commit(n);
    }
}

impl<T> fmt::Debug for ReadChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk").field("len", &self.len).finish()
    }
}
