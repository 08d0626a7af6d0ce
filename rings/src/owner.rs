//! Who keeps a ring's memory alive, and how each side learns that its peers left.

use crate::heap::HeapRing;
use crate::sync::Arc;

/// Whether the ring's other side(s) are still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerStatus {
    /// Every peer is attached and (for shared memory) its process is running.
    Alive,
    /// A shared-memory peer has not attached yet.
    NotAttached,
    /// A peer detached cleanly (dropped its side).
    Detached,
    /// A shared-memory peer's process exited without detaching.
    Died {
        /// The process id the peer registered with.
        pid: u32,
    },
}

impl PeerStatus {
    /// Folds two statuses into the one that needs attention first.
    #[cfg(not(feature = "loom"))]
    pub(crate) fn worst(self, other: Self) -> Self {
        fn rank(s: PeerStatus) -> u8 {
            match s {
                PeerStatus::Alive => 0,
                PeerStatus::NotAttached => 1,
                PeerStatus::Detached => 2,
                PeerStatus::Died { .. } => 3,
            }
        }
        if rank(other) > rank(self) { other } else { self }
    }
}

/// Which end of the ring a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Writer,
    Reader(usize),
}

/// Keeps the memory behind a `RawRing` alive and tracks the sides attached to it.
pub(crate) enum Owner<T> {
    Heap {
        ring: Arc<HeapRing<T>>,
        role: Role,
    },
    #[cfg(not(feature = "loom"))]
    Shm(crate::shm::Attachment),
}

impl<T> Owner<T> {
    pub(crate) fn heap(ring: Arc<HeapRing<T>>, role: Role) -> Self {
        ring.attach(role);
        Self::Heap { ring, role }
    }

    /// The status of the other side(s): the writer for a reader, every reader for
    /// the writer. Cold: shared memory reads `/proc` for each peer.
    pub(crate) fn peer_status(&self) -> PeerStatus {
        match self {
            Self::Heap { ring, role } => ring.peer_status(*role),
            #[cfg(not(feature = "loom"))]
            Self::Shm(attachment) => attachment.peer_status(),
        }
    }
}

impl<T> Owner<T> {
    /// Whether no peer will ever use the ring again: for a reader, the writer left or
    /// died; for the writer, every reader did.
    pub(crate) fn is_abandoned(&self) -> bool {
        match self {
            Self::Heap { ring, role } => ring.is_abandoned(*role),
            #[cfg(not(feature = "loom"))]
            Self::Shm(attachment) => attachment.is_abandoned(),
        }
    }
}

/// Whether a peer with this status will never come back on its own (shared memory
/// only, which loom builds leave out).
#[cfg(not(feature = "loom"))]
pub(crate) fn gone(status: PeerStatus) -> bool {
    matches!(status, PeerStatus::Detached | PeerStatus::Died { .. })
}

impl<T> Drop for Owner<T> {
    #[allow(irrefutable_let_patterns, reason = "under loom there is no shm variant")]
    fn drop(&mut self) {
        if let Self::Heap { ring, role } = self {
            ring.detach(*role);
        }
    }
}
