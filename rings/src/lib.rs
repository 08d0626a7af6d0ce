//! `rings` owns the bounded lock-free queues that link the engine's pinned cores:
//! [`spsc`] (one producer, one consumer), [`broadcast`] (one producer, every
//! subscriber sees every item) and their shared-memory forms in [`shm`], plus the
//! consumer-side [`wait`] strategies. Any thread may own a side, but each side is
//! owned by exactly one thread at a time; hot cores call `try_push`/`try_pop` in their
//! poll loops. This crate never allocates after a ring is built, never blocks (only a
//! `Park` wait sleeps, at the caller's explicit choice), never takes a lock and never
//! sees a trading type. It is the only crate of the workspace allowed `unsafe`; every
//! atomic comes from [`sync`] so the loom models in `tests/loom.rs` check the real code.
//!
//! The index protocol is described in `ring.rs`: free-running `u64` indices, one
//! writer per index, cache-padded sides, and cached copies of the other side's index
//! so the shared cache lines move once per lap rather than once per item.
#![deny(missing_docs, missing_debug_implementations)]
#![allow(
    clippy::disallowed_types,
    reason = "rings is where atomics live; its modules take them from `sync`, which the ban points everyone else to"
)]

pub mod broadcast;
mod error;
mod heap;
mod owner;
mod ring;
mod side;
pub mod spsc;
pub mod sync;
pub mod wait;

#[cfg(not(feature = "loom"))]
pub mod shm;
#[cfg(all(feature = "uring", not(feature = "loom")))]
pub mod uring;

pub use bytemuck::{Pod, Zeroable};
pub use error::{CapacityError, PopError, PushError};
pub use owner::PeerStatus;
pub use side::{Consumer, Producer, ReadChunk, WriteChunk};
