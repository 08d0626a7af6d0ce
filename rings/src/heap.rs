//! Heap-backed ring memory shared by the in-process `spsc` and `broadcast` rings.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::error::CapacityError;
use crate::owner::{PeerStatus, Role};
use crate::ring::RawRing;
use crate::sync::{Arc, AtomicU32, AtomicU64, Ordering, SlotTracker};

/// Slots start on their own cache-line pair, so a 64-byte item fills exactly one line
/// and never shares a line with the indices (adjacent-line prefetch pulls pairs).
pub(crate) const SLOT_ALIGN: usize = 128;

/// Rounds a requested capacity up to a power of two and checks the byte size.
pub(crate) fn checked_capacity<T>(requested: usize) -> Result<usize, CapacityError> {
    if requested == 0 {
        return Err(CapacityError::Zero);
    }
    let capacity = requested.checked_next_power_of_two().ok_or(CapacityError::TooLarge { requested })?;
    match capacity.checked_mul(size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize / 2 => Ok(capacity),
        _ => Err(CapacityError::TooLarge { requested }),
    }
}

/// Where an in-process ring's slots live.
///
/// Either way every page is written once while the ring is built, so the hot core's
/// first lap takes no page faults, and (the kernel placing a page where it is first
/// touched) the memory lands on the NUMA node of the thread that builds the ring:
/// build it on the core that writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Memory {
    /// The global allocator.
    #[default]
    Heap,
    /// An anonymous mapping rounded up to 2 MiB and advised onto transparent huge
    /// pages before it is touched (one TLB entry per 2 MiB instead of 512). The host
    /// decides: with THP `never` the advice is a no-op and the ring gets 4 KiB pages,
    /// so check the placement (e.g. `AnonHugePages` in `/proc/self/smaps`).
    HugePages,
}

/// The huge-page size the mapping is rounded to.
#[cfg(not(feature = "loom"))]
const HUGE_PAGE: usize = 2 << 20;

/// The allocation behind the slots, freed when the ring is dropped.
enum SlotMemory {
    Alloc(Layout),
    #[cfg(not(feature = "loom"))]
    Mapped(#[expect(dead_code, reason = "held only to unmap on drop")] memmap2::MmapMut),
}

/// The memory of one in-process ring; dropped when its last side is dropped.
pub(crate) struct HeapRing<T> {
    tail: CachePadded<AtomicU64>,
    heads: Box<[CachePadded<AtomicU64>]>,
    slots: NonNull<MaybeUninit<T>>,
    memory: SlotMemory,
    capacity: usize,
    tracker: SlotTracker,
    /// 1 while the writer side exists (cold-path bookkeeping, not the protocol).
    writer_attached: AtomicU32,
    /// How many reader sides exist.
    readers_attached: AtomicU32,
}

// SAFETY: the ring hands `T`s from one thread to another, so it is `Send`/`Sync`
// exactly when `T: Send`; the slot memory is only touched through the index protocol,
// which gives each slot a single owner at a time.
unsafe impl<T: Send> Send for HeapRing<T> {}
// SAFETY: as above; shared access goes through atomics and the protocol.
unsafe impl<T: Send> Sync for HeapRing<T> {}

impl<T> HeapRing<T> {
    /// Allocates and prefaults a ring of `capacity` (already checked) slots with
    /// `readers` heads.
    pub(crate) fn allocate(capacity: usize, readers: usize, memory: Memory) -> Result<Arc<Self>, CapacityError> {
        const { assert!(size_of::<T>() > 0, "rings do not carry zero-sized types") };
        let layout = Layout::array::<T>(capacity)
            .and_then(|l| l.align_to(SLOT_ALIGN.max(align_of::<T>())))
            .unwrap_or_else(|_| unreachable!("checked_capacity bounds the size"));
        let (ptr, memory) = match memory {
            #[cfg(not(feature = "loom"))]
            Memory::HugePages => {
                // Whole huge pages, plus one of slack to start the slots on a 2 MiB
                // boundary (an unaligned start would leave its first and last partial
                // huge pages on small ones).
                let bytes = layout.size().div_ceil(HUGE_PAGE) * HUGE_PAGE + HUGE_PAGE;
                let map_failed =
                    |e: std::io::Error| CapacityError::MapFailed { bytes, errno: e.raw_os_error().unwrap_or(0) };
                let mut map = memmap2::MmapMut::map_anon(bytes).map_err(map_failed)?;
                // Advice before the first touch, so the faults below take huge pages.
                map.advise(memmap2::Advice::HugePage).map_err(map_failed)?;
                let base = map.as_mut_ptr();
                let offset = base.align_offset(HUGE_PAGE);
                debug_assert!(offset < HUGE_PAGE && offset + layout.size() <= bytes);
                // SAFETY: `offset < HUGE_PAGE` and the map is `HUGE_PAGE` longer than the
                // rounded slot bytes, so `base + offset` and the `layout.size()` bytes
                // after it stay inside the mapping.
                (unsafe { base.add(offset) }, SlotMemory::Mapped(map))
            }
            _ => {
                // SAFETY: the layout has a non-zero size (capacity > 0, size_of::<T>() > 0).
                (unsafe { std::alloc::alloc(layout) }, SlotMemory::Alloc(layout))
            }
        };
        let Some(slots) = NonNull::new(ptr.cast::<MaybeUninit<T>>()) else { std::alloc::handle_alloc_error(layout) };
        // SAFETY: `ptr` is valid for `layout.size()` bytes (an allocation of `layout`,
        // or a 2 MiB-aligned place in a mapping at least that long, so aligned to
        // `layout.align()` <= 2 MiB too), nothing else refers to it yet, and any bytes
        // are a valid `MaybeUninit<T>`. Writing them faults every page in here rather
        // than on the hot core's first lap.
        unsafe { ptr.write_bytes(0, layout.size()) };
        Ok(Arc::new(Self {
            tail: CachePadded::new(AtomicU64::new(0)),
            heads: (0..readers).map(|_| CachePadded::new(AtomicU64::new(0))).collect(),
            slots,
            memory,
            capacity,
            tracker: SlotTracker::new(capacity),
            writer_attached: AtomicU32::new(0),
            readers_attached: AtomicU32::new(0),
        }))
    }

    /// A view for building a `Writer` and `Reader`s over this memory.
    pub(crate) fn raw(&self) -> RawRing<T> {
        // SAFETY: all pointers come from fields of `self`, which the caller keeps
        // alive through the `Arc` stored beside every side; capacity is a power of two.
        unsafe {
            RawRing::new(
                NonNull::from(&self.tail),
                NonNull::from(&self.heads[..]).cast(), // provenance over every head
                self.heads.len(),
                self.slots,
                self.capacity,
                #[cfg(feature = "loom")]
                NonNull::from(&self.tracker),
            )
        }
    }
}

impl<T> HeapRing<T> {
    pub(crate) fn attach(&self, role: Role) {
        match role {
            Role::Writer => self.writer_attached.store(1, Ordering::Release),
            Role::Reader(_) => {
                self.readers_attached.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    pub(crate) fn detach(&self, role: Role) {
        match role {
            Role::Writer => self.writer_attached.store(0, Ordering::Release),
            Role::Reader(_) => {
                self.readers_attached.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    pub(crate) fn is_abandoned(&self, role: Role) -> bool {
        match role {
            Role::Writer => self.readers_attached.load(Ordering::Acquire) == 0,
            Role::Reader(_) => self.writer_attached.load(Ordering::Acquire) == 0,
        }
    }

    pub(crate) fn peer_status(&self, role: Role) -> PeerStatus {
        let gone = match role {
            Role::Writer => (self.readers_attached.load(Ordering::Acquire) as usize) < self.heads.len(),
            Role::Reader(_) => self.writer_attached.load(Ordering::Acquire) == 0,
        };
        if gone { PeerStatus::Detached } else { PeerStatus::Alive }
    }
}

impl<T> Drop for HeapRing<T> {
    fn drop(&mut self) {
        let _ = &self.tracker;
        if core::mem::needs_drop::<T>() {
            // Only the spsc ring carries non-`Copy` items, and it has a single head.
            let head = self.heads[0].load(Ordering::Relaxed);
            let tail = self.tail.load(Ordering::Relaxed);
            let mask = self.capacity as u64 - 1;
            let mut seq = head;
            while seq != tail {
                // SAFETY: the masked index is below capacity, inside the allocation.
                let slot = unsafe { self.slots.as_ptr().add((seq & mask) as usize) };
                // SAFETY: slots in head..tail hold initialised items nobody consumed;
                // both sides are gone (we are the last owner), so we own them.
                unsafe { slot.cast::<T>().drop_in_place() };
                seq = seq.wrapping_add(1);
            }
        }
        #[cfg_attr(feature = "loom", expect(irrefutable_let_patterns, reason = "loom builds have no mapped memory"))]
        if let SlotMemory::Alloc(layout) = self.memory {
            // SAFETY: `slots` came from `alloc(layout)` and is freed exactly once (a
            // mapping unmaps itself when `memory` drops).
            unsafe { std::alloc::dealloc(self.slots.as_ptr().cast(), layout) };
        }
    }
}
