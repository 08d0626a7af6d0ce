//! Bounded single-producer single-consumer ring on the heap.
//!
//! `T` may be any `Send` type (items that were pushed and never popped are dropped
//! with the ring), though the engine only sends fixed-size `Copy` records.
//!
//! # Examples
//! ```
//! let (mut tx, mut rx) = rings::spsc::channel::<u64>(1000).unwrap();
//! assert_eq!(tx.capacity(), 1024); // rounded up to a power of two
//! let consumer = std::thread::spawn(move || {
//!     let mut sum = 0;
//!     for _ in 0..10_000 {
//!         sum += rx.pop_wait(&mut rings::wait::SpinYield::default()).unwrap();
//!     }
//!     sum
//! });
//! for i in 0..10_000u64 {
//!     let mut item = i;
//!     while let Err(rings::PushError::Full(back)) = tx.try_push(item) {
//!         item = back;
//!         std::hint::spin_loop();
//!     }
//! }
//! assert_eq!(consumer.join().unwrap(), (0..10_000).sum());
//! ```
//!
//! A zero-sized `T` is rejected at compile time:
//! ```compile_fail
//! let _ = rings::spsc::channel::<()>(8);
//! ```

use crate::error::CapacityError;
pub use crate::heap::Memory;
use crate::heap::{HeapRing, checked_capacity};
use crate::owner::{Owner, Role};
use crate::ring::{Reader, Writer};
pub use crate::side::{Consumer, Producer, ReadChunk, WriteChunk};

/// Creates a ring holding at least `capacity` items (rounded up to a power of two).
///
/// # Errors
/// [`CapacityError::Zero`] for a zero capacity, [`CapacityError::TooLarge`] when the
/// rounded-up size does not fit in memory.
pub fn channel<T: Send>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    channel_with(capacity, Memory::Heap)
}

/// [`channel`] with its slots in the given [`Memory`] (e.g. huge pages).
///
/// # Errors
/// As [`channel`], and [`CapacityError::MapFailed`] when the kernel refuses the
/// huge-page mapping.
///
/// # Examples
/// ```
/// use rings::spsc::{Memory, channel_with};
/// let (mut tx, mut rx) = channel_with::<u64>(1 << 16, Memory::HugePages).unwrap();
/// assert_eq!(tx.slot_memory().len(), (1 << 16) * 8);
/// tx.try_push(7).unwrap();
/// assert_eq!(rx.try_pop(), Ok(7));
/// ```
pub fn channel_with<T: Send>(capacity: usize, memory: Memory) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    let capacity = checked_capacity::<T>(capacity)?;
    let ring = HeapRing::<T>::allocate(capacity, 1, memory)?;
    let raw = ring.raw();
    // SAFETY: the ring was just made: this is its only writer.
    let writer = unsafe { Writer::new(raw) };
    // SAFETY: ... and this its only reader, of head 0.
    let reader = unsafe { Reader::new(raw, 0) };
    // SAFETY: each side stores an `Owner` holding the `Arc` that keeps the memory alive.
    let producer = unsafe { Producer::from_parts(writer, Owner::heap(ring.clone(), Role::Writer)) };
    // SAFETY: as above; a single reader may drop the items it releases.
    let consumer = unsafe { Consumer::from_parts(reader, Owner::heap(ring, Role::Reader(0)), false) };
    Ok((producer, consumer))
}
