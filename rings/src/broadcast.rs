//! One producer, several consumers, each seeing every item (LMAX Disruptor style).
//!
//! Every subscriber has its own head index; the producer may reuse a slot only when
//! all attached subscribers have released it, so a slow subscriber back-pressures the
//! producer instead of losing data. A subscriber that is dropped detaches and stops
//! holding the producer back. Items are `Copy` and `Sync`: subscribers on several
//! threads read the same slots in place, so one market-data stream feeds the strategy
//! core and the persist core with a single write.
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

/// Creates a broadcast ring of at least `capacity` items for `subscribers` readers.
///
/// # Errors
/// [`CapacityError`] for a zero or oversized capacity, or zero subscribers.
pub fn channel<T: Copy + Send + Sync>(
    capacity: usize,
    subscribers: usize,
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
            let reader = unsafe { Reader::new(raw, i) };
            // SAFETY: `T: Copy`, so no reader drops an item another may still read;
            // the `Owner` keeps the memory alive.
            unsafe { Consumer::from_parts(reader, Owner::heap(ring.clone(), Role::Reader(i)), true) }
        })
        .collect();
    Ok((producer, consumers))
}
