//! The index protocol shared by every ring: one writer, one or more readers.
//!
//! Memory is a power-of-two array of slots plus one `tail` index (written only by the
//! writer) and one `head` index per reader (each written only by its reader). Indices
//! are free-running `u64` sequence numbers (they never wrap in practice: 2^64 items at
//! 10^9/s is 584 years), so `tail - head` is the fill level and `seq & mask` the slot.
//!
//! Each side keeps a local copy of its own index (it is the only writer, so the copy is
//! exact) and a `cached_` copy of the other side's, which may be stale but is always
//! conservative: the writer's `cached_min_head` is <= every real head, the reader's
//! `cached_tail` is <= the real tail. The shared atomics are read only when the cached
//! copy says the ring is full (writer) or empty (reader), so in steady state each side
//! touches the other's cache line once per lap, not once per item.
//!
//! `RawRing` does not own memory: the heap rings (`spsc`, `broadcast`) and the
//! shared-memory rings (`shm`) each own theirs and build a `RawRing` over it.

use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crossbeam_utils::CachePadded;

#[cfg(feature = "loom")]
use crate::sync::SlotTracker;
use crate::sync::{AtomicU64, Ordering, fence};

/// A reader's head set to this value has detached; the writer ignores it.
pub(crate) const DETACHED: u64 = u64::MAX;

/// Where one ring's indices and slots live. Copyable view; the owner keeps it alive.
pub(crate) struct RawRing<T> {
    tail: NonNull<CachePadded<AtomicU64>>,
    heads: NonNull<CachePadded<AtomicU64>>,
    readers: usize,
    slots: NonNull<MaybeUninit<T>>,
    /// Always `capacity - 1`, capacity a power of two.
    mask: u64,
    #[cfg(feature = "loom")]
    tracker: NonNull<SlotTracker>,
}

impl<T> Clone for RawRing<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RawRing<T> {}

impl<T> RawRing<T> {
    /// Builds a view over memory owned by someone else.
    ///
    /// # Safety
    /// - `tail` and `heads[..readers]` point to live atomics and `slots[..capacity]` to
    ///   live, suitably aligned slot memory, for as long as any `Writer` or `Reader`
    ///   built from this view exists (the owner is stored beside them);
    /// - `capacity` is a power of two and the indices start consistent
    ///   (`head <= tail <= head + capacity` for every attached reader);
    /// - at most one `Writer`, and at most one `Reader` per head, exist at a time.
    pub(crate) unsafe fn new(
        tail: NonNull<CachePadded<AtomicU64>>,
        heads: NonNull<CachePadded<AtomicU64>>,
        readers: usize,
        slots: NonNull<MaybeUninit<T>>,
        capacity: usize,
        #[cfg(feature = "loom")] tracker: NonNull<SlotTracker>,
    ) -> Self {
        debug_assert!(capacity.is_power_of_two() && readers > 0);
        Self {
            tail,
            heads,
            readers,
            slots,
            mask: capacity as u64 - 1,
            #[cfg(feature = "loom")]
            tracker,
        }
    }

    /// The addresses of the slot array (for placement reports, never dereferenced).
    pub(crate) fn slot_memory(&self) -> core::ops::Range<usize> {
        let start = self.slots.as_ptr() as usize;
        start..start + self.capacity() * size_of::<T>()
    }

    #[inline(always)] // reason: a field read on every push/pop
    pub(crate) fn capacity(&self) -> usize {
        (self.mask + 1) as usize
    }

    #[inline(always)] // reason: pointer arithmetic on every push/pop
    fn tail(&self) -> &AtomicU64 {
        // SAFETY: `new`'s contract keeps the tail atomic alive while we exist.
        unsafe { self.tail.as_ref() }
    }

    #[inline(always)] // reason: pointer arithmetic on every push/pop
    fn head(&self, reader: usize) -> &AtomicU64 {
        debug_assert!(reader < self.readers);
        // SAFETY: `reader < readers` (all callers index from 0..readers), so the
        // offset stays inside the `heads` array.
        let head = unsafe { self.heads.add(reader) };
        // SAFETY: `new`'s contract keeps `heads[..readers]` alive while we exist.
        unsafe { head.as_ref() }
    }

    #[inline(always)] // reason: pointer arithmetic on every push/pop
    fn slot(&self, seq: u64) -> *mut MaybeUninit<T> {
        let index = (seq & self.mask) as usize;
        #[cfg(feature = "loom")]
        let _ = index; // the tracker is consulted by the callers
        // SAFETY: `index <= mask < capacity`, inside the slot array per `new`.
        unsafe { self.slots.as_ptr().add(index) }
    }

    #[inline(always)] // reason: a no-op outside loom
    fn track_write(&self, _seq: u64) {
        #[cfg(feature = "loom")]
        // SAFETY: the tracker lives as long as the slots (`new`'s contract).
        unsafe { self.tracker.as_ref() }.write((_seq & self.mask) as usize);
    }

    #[inline(always)] // reason: a no-op outside loom
    fn track_read(&self, _seq: u64) {
        #[cfg(feature = "loom")]
        // SAFETY: the tracker lives as long as the slots (`new`'s contract).
        unsafe { self.tracker.as_ref() }.read((_seq & self.mask) as usize);
    }

    /// The oldest head of any attached reader, or `tail` when all have detached.
    fn min_head(&self, tail: u64) -> u64 {
        let mut min = tail;
        for reader in 0..self.readers {
            // SYNC: pairs with the Release store in `Reader::publish_head` (reached
            // from `release`, `advance_one` and `flush`); once we see a head, the
            // reader has finished reading every slot before it.
            let head = self.head(reader).load(Ordering::Acquire);
            if head != DETACHED && head < min {
                min = head;
            }
        }
        min
    }

    /// Returns the `(first, second)` slices covering `len` slots from `seq`.
    fn runs(&self, seq: u64, len: usize) -> (*mut MaybeUninit<T>, usize, usize) {
        let start = (seq & self.mask) as usize;
        let first = len.min(self.capacity() - start);
        (self.slot(seq), first, len - first)
    }
}

/// The writing side: owns `tail`.
pub(crate) struct Writer<T> {
    /// Exact: only this writer stores to the shared tail.
    tail: u64,
    /// A stale-but-safe copy of the slowest reader's head: always <= the real one.
    cached_min_head: u64,
    raw: RawRing<T>,
}

impl<T> Writer<T> {
    /// # Safety
    /// This is the only `Writer` of `raw`, and `raw` satisfies `RawRing::new`'s contract.
    pub(crate) unsafe fn new(raw: RawRing<T>) -> Self {
        let tail = raw.tail().load(Ordering::Relaxed);
        // SYNC: pairs with the SeqCst fence in `shm::Mapping::rejoin_if_detached`: a
        // subscriber rejoining while we attach either sees us attached and backs off,
        // or its new head is visible to the `min_head` below. Cold: once per writer.
        fence(Ordering::SeqCst);
        // Start from the conservative "ring full" view; the first push reloads.
        let mut writer = Self { tail, cached_min_head: tail.wrapping_sub(raw.mask + 1), raw };
        writer.free_slow();
        writer
    }

    pub(crate) fn raw(&self) -> &RawRing<T> {
        &self.raw
    }

    /// Free slots, reloading the readers' heads only if the cached view has fewer
    /// than `want`.
    #[inline(always)] // reason: the fast path is one subtraction; keep it in the caller
    pub(crate) fn free(&mut self, want: usize) -> usize {
        let cached = self.raw.capacity() - self.tail.wrapping_sub(self.cached_min_head) as usize;
        if cached >= want {
            return cached;
        }
        self.free_slow()
    }

    #[cold]
    #[inline(never)]
    fn free_slow(&mut self) -> usize {
        let min_head = self.raw.min_head(self.tail);
        let used = self.tail.wrapping_sub(min_head);
        // A head beyond our tail or a lap behind can only come from a corrupt or
        // hostile peer in shared memory: ignore it (the ring looks full) so slot
        // indices stay in bounds whatever the peer writes.
        if used <= self.raw.mask + 1 {
            self.cached_min_head = min_head;
        }
        self.raw.capacity() - self.tail.wrapping_sub(self.cached_min_head) as usize
    }

    /// Slots in use as of the last reload (cheap, may overstate).
    pub(crate) fn cached_len(&self) -> usize {
        self.tail.wrapping_sub(self.cached_min_head) as usize
    }

    /// Slots in use now (reads every head).
    pub(crate) fn len(&self) -> usize {
        let used = self.tail.wrapping_sub(self.raw.min_head(self.tail));
        used.min(self.raw.mask + 1) as usize
    }

    /// Writes `value` into the slot at `tail + offset`.
    ///
    /// # Safety
    /// `offset < self.free(..)` as last returned, so the slot is not readable by anyone.
    #[inline(always)] // reason: a single store on the push path
    pub(crate) unsafe fn write(&mut self, offset: usize, value: T) {
        let seq = self.tail.wrapping_add(offset as u64);
        self.raw.track_write(seq);
        // SAFETY: per the caller, the slot is free: every reader's head has passed it,
        // so nobody reads it until we publish.
        unsafe { (*self.raw.slot(seq)).write(value) };
    }

    /// Copies `src` into the next `src.len()` slots (two runs at the wrap point).
    ///
    /// # Safety
    /// `src.len() <= self.free(..)` as last returned.
    pub(crate) unsafe fn write_slice(&mut self, src: &[T])
    where
        T: Copy,
    {
        let (first_ptr, first, second) = self.raw.runs(self.tail, src.len());
        for i in 0..src.len() {
            self.raw.track_write(self.tail.wrapping_add(i as u64));
        }
        let (head, rest) = src.split_at(first);
        // SAFETY: `first` slots from `first_ptr` and `second` from the array start are
        // free (caller's contract) and do not overlap `src`, which the caller borrows.
        unsafe {
            core::ptr::copy_nonoverlapping(head.as_ptr(), first_ptr.cast::<T>(), first);
        }
        // SAFETY: as above, for the wrapped run that starts at slot 0.
        unsafe {
            core::ptr::copy_nonoverlapping(rest.as_ptr(), self.raw.slot(0).cast::<T>(), second);
        }
    }

    /// Makes `n` written slots visible to readers.
    #[inline(always)] // reason: one store on the push path
    pub(crate) fn publish(&mut self, n: usize) {
        self.tail = self.tail.wrapping_add(n as u64);
        // SYNC: pairs with the Acquire load in `Reader::available`; the slot writes
        // above happen-before any read of them.
        self.raw.tail().store(self.tail, Ordering::Release);
    }
}

/// One reading side: owns `heads[reader]`.
pub(crate) struct Reader<T> {
    /// Exact: only this reader stores to its shared head.
    head: u64,
    /// A stale-but-safe copy of the writer's tail: always <= the real one.
    cached_tail: u64,
    /// The head as last stored for the writer to see: `published <= head`.
    published: u64,
    /// Single pops store the head once this many are unstored (1: every pop).
    release_every: u64,
    reader: usize,
    raw: RawRing<T>,
}

impl<T> Reader<T> {
    /// # Safety
    /// This is the only `Reader` of `heads[reader]`, `reader < readers`, and `raw`
    /// satisfies `RawRing::new`'s contract.
    pub(crate) unsafe fn new(raw: RawRing<T>, reader: usize) -> Self {
        let head = raw.head(reader).load(Ordering::Relaxed);
        // Start from the conservative "ring empty" view; the first pop reloads.
        Self { head, cached_tail: head, published: head, release_every: 1, reader, raw }
    }

    /// Lets single pops hand slots back `n` at a time (see [`Reader::advance_one`]).
    pub(crate) fn release_in_groups_of(&mut self, n: u64) {
        self.release_every = n.max(1);
    }

    pub(crate) fn raw(&self) -> &RawRing<T> {
        &self.raw
    }

    /// Readable items, reloading the tail only if the cached view has fewer than `want`.
    #[inline(always)] // reason: the fast path is one subtraction; keep it in the caller
    pub(crate) fn available(&mut self, want: usize) -> usize {
        let cached = self.cached_tail.wrapping_sub(self.head) as usize;
        if cached >= want {
            return cached;
        }
        // Caught up with what we knew: hand back what single pops held, so a reader
        // that finds nothing new never keeps a slot from the writer.
        self.flush();
        // SYNC: pairs with the Release store in `Writer::publish`.
        let tail = self.raw.tail().load(Ordering::Acquire);
        // More than a full ring ahead (or behind us) can only come from a corrupt or
        // hostile peer in shared memory: ignore it so reads stay in bounds.
        if tail.wrapping_sub(self.head) <= self.raw.mask + 1 {
            self.cached_tail = tail;
        }
        self.cached_tail.wrapping_sub(self.head) as usize
    }

    /// Reads the item at `head + offset` without consuming it.
    ///
    /// # Safety
    /// `offset < self.available(..)` as last returned, so the slot is initialised
    /// and the writer will not touch it until we release it.
    #[inline(always)] // reason: a single load on the pop path
    pub(crate) unsafe fn read(&self, offset: usize) -> T {
        let seq = self.head.wrapping_add(offset as u64);
        self.raw.track_read(seq);
        // SAFETY: per the caller the slot holds an initialised value that the writer
        // will not overwrite before our next release.
        unsafe { self.raw.slot(seq).cast::<T>().read() }
    }

    /// The `len` readable items from `head` as at most two slices.
    ///
    /// # Safety
    /// `len <= self.available(..)` as last returned; the slices must not outlive the
    /// next `release`.
    pub(crate) unsafe fn slices(&self, len: usize) -> (&[T], &[T]) {
        for i in 0..len {
            self.raw.track_read(self.head.wrapping_add(i as u64));
        }
        let (first_ptr, first, second) = self.raw.runs(self.head, len);
        // SAFETY: both runs are initialised (caller's contract) and stay untouched by
        // the writer until `release`, which needs `&mut self` and so ends the borrow.
        let head = unsafe { core::slice::from_raw_parts(first_ptr.cast::<T>(), first) };
        // SAFETY: as above, for the wrapped run that starts at slot 0.
        let wrapped = unsafe { core::slice::from_raw_parts(self.raw.slot(0).cast::<T>(), second) };
        (head, wrapped)
    }

    /// Hands `n` slots back to the writer.
    ///
    /// # Safety
    /// `n <= self.available(..)` as last returned; if `drop_items`, the items have not
    /// been moved out and are dropped here.
    #[inline(always)] // reason: one store on the pop path
    pub(crate) unsafe fn release(&mut self, n: usize, drop_items: bool) {
        if drop_items && core::mem::needs_drop::<T>() {
            // Publishes however far we got, even if an item's `Drop` panics, so no
            // item is ever dropped twice (here and again with the ring).
            struct PublishOnExit<'a, T>(&'a mut Reader<T>);
            impl<T> Drop for PublishOnExit<'_, T> {
                fn drop(&mut self) {
                    self.0.publish_head();
                }
            }
            let guard = PublishOnExit(self);
            for _ in 0..n {
                let slot = guard.0.raw.slot(guard.0.head);
                // Count the item consumed before dropping it: a panicking drop has
                // still dropped it.
                guard.0.head = guard.0.head.wrapping_add(1);
                // SAFETY: the slot is initialised and owned by us until released.
                unsafe { slot.cast::<T>().drop_in_place() };
            }
            return;
        }
        self.head = self.head.wrapping_add(n as u64);
        self.publish_head();
    }

    /// Consumes the item at `head`, already moved out, and hands its slot back to
    /// the writer with the next `release_every - 1` (or at the next reload of the
    /// tail, or [`Reader::flush`]). A reader storing its head on every pop keeps
    /// taking that line back from a writer that polls it, which with two fused
    /// subscribers halved their throughput and more.
    #[inline(always)] // reason: one add and compare on the pop path
    pub(crate) fn advance_one(&mut self) {
        self.head = self.head.wrapping_add(1);
        if self.head.wrapping_sub(self.published) >= self.release_every {
            self.publish_head();
        }
    }

    /// Hands back every slot that single pops still hold.
    pub(crate) fn flush(&mut self) {
        if self.published != self.head {
            self.publish_head();
        }
    }

    #[inline(always)] // reason: one store on the pop path
    fn publish_head(&mut self) {
        self.published = self.head;
        // SYNC: pairs with the Acquire load in `RawRing::min_head`; our reads of the
        // released slots happen-before the writer reuses them.
        self.raw.head(self.reader).store(self.head, Ordering::Release);
    }

    /// Marks this reader as gone so the writer stops waiting for it.
    pub(crate) fn detach(&mut self) {
        // SYNC: pairs with the Acquire load in `RawRing::min_head`.
        self.raw.head(self.reader).store(DETACHED, Ordering::Release);
    }

    /// Items readable now (reads the shared tail).
    pub(crate) fn len(&self) -> usize {
        let len = self.raw.tail().load(Ordering::Acquire).wrapping_sub(self.head);
        len.min(self.raw.mask + 1) as usize
    }
}
