//! One producer, several consumers, each seeing every item (LMAX Disruptor style).
//!
//! Every subscriber has its own head index; the producer may reuse a slot only when
//! all attached subscribers have released it, so a slow subscriber back-pressures the
//! producer instead of losing data. A subscriber that is dropped detaches and stops
//! holding the producer back. Items are `Copy` and `Sync`: subscribers on several
//! threads read the same slots in place, so one market-data stream feeds the strategy
//! core and the persist core with a single write.
//!
//! With two or more subscribers, one popping one item at a time hands the slots back
//! in groups of a 64th of the ring (1 to 32 slots), or as soon as it finds nothing
//! new to read, or when it is dropped; `pop_slice` and `read_chunk` commits hand
//! theirs back at once. So the producer may count up to one group less one slot as
//! taken after it was read (it waits only for the slowest subscriber), never one as
//! free before. Storing every head on every pop kept taking those lines back from a
//! producer polling them: two subscribers on one core moved 8-byte items one at a
//! time at 0.34-0.42x rtrb's rate, and at 1.09-1.51x in groups (`ring-bench`,
//! 2026-11-29). A single subscriber measured no better in groups, so it hands back
//! every slot at once, as an spsc consumer does.
//!
//! # Examples
//! ```
//! let (mut tx, mut subs) = rings::broadcast::channel::<u32>(8, 2).unwrap();
//! tx.push_slice(&[1, 2, 3]);
//! for rx in &mut subs {
//!     let mut got = [0; 3];
//!     assert_eq!(rx.pop_slice(&mut got), 3);
//!     assert_eq!(got, [1, 2, 3]);
//! }
//! ```

use crate::error::CapacityError;
use crate::heap::{HeapRing, Memory, checked_capacity};
use crate::owner::{Owner, Role};
use crate::ring::{Reader, Writer};
pub use crate::side::{Consumer, Producer};

/// How many single pops a subscriber of a `capacity`-slot ring hands back at once:
/// a 64th of the ring, from 1 to 32.
pub(crate) fn release_group(capacity: usize) -> u64 {
    (capacity as u64 / 64).clamp(1, 32)
}

/// Creates a broadcast ring of at least `capacity` items for `subscribers` readers.
///
/// # Errors
/// [`CapacityError`] for a zero or oversized capacity, or zero subscribers.
pub fn channel<T: Copy + Send + Sync>(
    capacity: usize,
    subscribers: usize,
) -> Result<(Producer<T>, Vec<Consumer<T>>), CapacityError> {
    channel_in_groups(capacity, subscribers, None)
}

/// [`channel`] whose subscribers hand slots back `group` at a time whatever the
/// capacity: for the loom model, whose rings are too small to group anything.
#[cfg(feature = "loom")]
#[doc(hidden)]
pub fn channel_grouped<T: Copy + Send + Sync>(
    capacity: usize,
    subscribers: usize,
    group: u64,
) -> Result<(Producer<T>, Vec<Consumer<T>>), CapacityError> {
    channel_in_groups(capacity, subscribers, Some(group))
}

fn channel_in_groups<T: Copy + Send + Sync>(
    capacity: usize,
    subscribers: usize,
    group: Option<u64>,
) -> Result<(Producer<T>, Vec<Consumer<T>>), CapacityError> {
    if subscribers == 0 {
        return Err(CapacityError::NoSubscribers);
    }
    let capacity = checked_capacity::<T>(capacity)?;
    let ring = HeapRing::<T>::allocate(capacity, subscribers, Memory::Heap)?;
    let raw = ring.raw();
    // SAFETY: the ring was just made and this is its only writer.
    let writer = unsafe { Writer::new(raw) };
    // SAFETY: the writer is stored with an `Owner` holding the `Arc` to its memory.
    let producer = unsafe { Producer::from_parts(writer, Owner::heap(ring.clone(), Role::Writer)) };
    let consumers = (0..subscribers)
        .map(|i| {
            // SAFETY: head `i < subscribers` gets exactly one reader.
            let mut reader = unsafe { Reader::new(raw, i) };
            if subscribers > 1 {
                reader.release_in_groups_of(group.unwrap_or_else(|| release_group(capacity)));
            }
            // SAFETY: `T: Copy`, so no reader drops an item another may still read;
            // the `Owner` keeps the memory alive.
            unsafe { Consumer::from_parts(reader, Owner::heap(ring.clone(), Role::Reader(i)), true) }
        })
        .collect();
    Ok((producer, consumers))
}
