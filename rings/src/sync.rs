//! The one door through which `rings` takes atomics, cells and thread hints.
//!
//! Under `--features loom` everything here is loom's model-checked twin, so the loom tests
//! in `tests/loom.rs` explore every interleaving of the real ring code, not a copy.
//! The rest of the workspace is banned (by `clippy.toml`) from using
//! `std::sync::atomic` types directly.

#[cfg(feature = "loom")]
pub use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(feature = "loom"))]
pub use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

#[cfg(feature = "loom")]
pub(crate) use loom::sync::Arc;
#[cfg(not(feature = "loom"))]
pub(crate) use std::sync::Arc;

/// Tells the CPU (or loom's scheduler) that we are spinning.
#[inline(always)] // reason: one instruction; a call would cost more than the pause
pub(crate) fn spin_hint() {
    #[cfg(feature = "loom")]
    loom::thread::yield_now();
    #[cfg(not(feature = "loom"))]
    std::hint::spin_loop();
}

/// Per-slot access tracking, so loom can flag a slot read while it is being written.
///
/// Slots themselves are one contiguous buffer (chunk APIs hand out slices of it), so
/// they cannot be loom cells; instead each slot has a shadow loom cell that is touched
/// on every access. Outside loom this is a zero-sized no-op.
#[derive(Debug)]
pub(crate) struct SlotTracker {
    #[cfg(feature = "loom")]
    cells: Box<[loom::cell::UnsafeCell<()>]>,
}

impl SlotTracker {
    pub(crate) fn new(_capacity: usize) -> Self {
        Self {
            #[cfg(feature = "loom")]
            cells: (0.._capacity).map(|_| loom::cell::UnsafeCell::new(())).collect(),
        }
    }

    /// Records a read of slot `index`.
    #[cfg(feature = "loom")]
    pub(crate) fn read(&self, index: usize) {
        if let Some(cell) = self.cells.get(index) {
            cell.with(|_| ());
        }
    }

    /// Records a write of slot `index`.
    #[cfg(feature = "loom")]
    pub(crate) fn write(&self, index: usize) {
        if let Some(cell) = self.cells.get(index) {
            cell.with_mut(|_| ());
        }
    }
}
