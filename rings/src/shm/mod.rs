//! The same rings in a shared-memory file, created by one process and attached by another.
//!
//! A ring file (by default under `/dev/shm`, see [`path_for`]) starts with a versioned
//! header (magic, layout version, ring kind, capacity, item size, alignment and a type
//! fingerprint) that every attacher validates before touching the ring: a mismatch is
//! a [`ShmError`], never undefined behaviour. Files are created `0600`, filled in a
//! zeroed file and published by storing the magic last. The memory is prefaulted
//! (`MAP_POPULATE`) and can be `mlock`ed or advised onto huge pages.
//!
//! # What may cross
//! Only `T: Pod + Send` ([`bytemuck::Pod`]; consumers also need `Sync`, as several
//! subscribers may read one slot at once): `#[repr(C)]` or `#[repr(transparent)]`,
//! no padding, no pointers or references, every bit pattern valid. The type system
//! enforces it (derive `Pod` and `Zeroable`; the derive rejects anything else), so a
//! peer can at worst send wrong numbers, never an invalid value. Zero-sized types are
//! rejected at compile time.
//!
//! # Peers
//! Each side registers its pid and process start time in the header. `peer_status`
//! on a [`Producer`] or [`Consumer`] reports whether the other side is attached,
//! detached cleanly, or died without detaching (pid gone or recycled); a side whose
//! holder died can be attached again by a new process and resumes at the dead one's
//! index. Claiming a side is one compare-and-swap on its (state, pid) word, so two
//! processes racing for a side never both get it. A broadcast subscriber that detached
//! cleanly gave its place up and may rejoin only while no producer is attached.
//!
//! # Trust
//! Indices read from the peer are range-checked so a corrupt or hostile peer cannot
//! make us read or write outside the file. What the mapping cannot defend against is
//! another process of the same user truncating the file (the kernel then raises
//! `SIGBUS`); the `0600` mode keeps other users out.
//!
//! # Examples
//! ```
//! let path = std::env::temp_dir().join(format!("doc-ring-{}", std::process::id()));
//! let mut tx = rings::shm::ShmOptions::spsc(&path, 64).create_producer::<u64>().unwrap();
//! let mut rx = rings::shm::attach_consumer::<u64>(&path).unwrap(); // usually another process
//! tx.try_push(42).unwrap();
//! assert_eq!(rx.try_pop(), Ok(42));
//! let err = rings::shm::attach_consumer::<u32>(&path).unwrap_err();
//! assert!(err.to_string().contains("type mismatch"));
//! ```

mod header;
mod mapping;
mod peer;

use std::path::{Path, PathBuf};

use bytemuck::Pod;

pub use self::header::{MAX_SUBSCRIBERS, RingKind, TypeShape};
use self::mapping::Mapping;
pub use crate::error::ShmError;
use crate::owner::{Owner, PeerStatus, Role};
use crate::ring::{DETACHED, Reader, Writer};
pub use crate::side::{Consumer, Producer};
use crate::sync::{Ordering, fence};

/// `/dev/shm/<name>`: where ring files live unless a full path is given.
pub fn path_for(name: &str) -> PathBuf {
    Path::new("/dev/shm").join(name)
}

/// How to create a shared-memory ring file.
#[derive(Debug, Clone)]
pub struct ShmOptions {
    path: PathBuf,
    kind: RingKind,
    capacity: usize,
    subscribers: usize,
    mlock: bool,
    huge_pages: bool,
    replace_existing: bool,
    remove_on_drop: bool,
}

impl ShmOptions {
    /// A single-producer single-consumer ring of at least `capacity` items at `path`.
    pub fn spsc(path: impl Into<PathBuf>, capacity: usize) -> Self {
        Self::new(path.into(), RingKind::Spsc, capacity, 1)
    }

    /// A broadcast ring of at least `capacity` items for `subscribers` readers.
    pub fn broadcast(path: impl Into<PathBuf>, capacity: usize, subscribers: usize) -> Self {
        Self::new(path.into(), RingKind::Broadcast, capacity, subscribers)
    }

    fn new(path: PathBuf, kind: RingKind, capacity: usize, subscribers: usize) -> Self {
        Self {
            path,
            kind,
            capacity,
            subscribers,
            mlock: false,
            huge_pages: false,
            replace_existing: false,
            remove_on_drop: true,
        }
    }

    /// Lock the ring in RAM (`mlock`); creation fails if the host refuses.
    #[must_use]
    pub fn mlock(mut self, yes: bool) -> Self {
        self.mlock = yes;
        self
    }

    /// Advise the kernel to back the ring with transparent huge pages; creation fails
    /// if the host refuses (tmpfs needs `shmem_enabled` = `advise` or `always`).
    #[must_use]
    pub fn huge_pages(mut self, yes: bool) -> Self {
        self.huge_pages = yes;
        self
    }

    /// Remove a file already at the path instead of failing. Only for a path that no
    /// live process uses: attached peers keep the old ring and never see the new one.
    #[must_use]
    pub fn replace_existing(mut self, yes: bool) -> Self {
        self.replace_existing = yes;
        self
    }

    /// Remove the file when the creating side is dropped (default: yes). Peers that
    /// already attached keep working; new ones can no longer attach.
    #[must_use]
    pub fn remove_on_drop(mut self, yes: bool) -> Self {
        self.remove_on_drop = yes;
        self
    }

    /// Creates the file and returns its producer.
    ///
    /// # Errors
    /// [`ShmError`] for an invalid size, an existing file, an I/O failure, or a
    /// refused `mlock`/huge-page request.
    pub fn create_producer<T: Pod + Send>(&self) -> Result<Producer<T>, ShmError> {
        let mapping = self.create::<T>()?;
        producer_on(mapping)
    }

    /// Creates the file and returns its consumer (subscriber 0 for a broadcast ring).
    ///
    /// # Errors
    /// As [`ShmOptions::create_producer`].
    pub fn create_consumer<T: Pod + Send + Sync>(&self) -> Result<Consumer<T>, ShmError> {
        let mapping = self.create::<T>()?;
        consumer_on(mapping, 0)
    }

    fn create<T: Pod>(&self) -> Result<Mapping, ShmError> {
        let capacity = crate::heap::checked_capacity::<T>(self.capacity)?;
        let subscribers = match self.kind {
            RingKind::Spsc => 1,
            RingKind::Broadcast => self.subscribers,
        };
        if subscribers == 0 {
            return Err(crate::CapacityError::NoSubscribers.into());
        }
        if subscribers > MAX_SUBSCRIBERS {
            return Err(
                crate::CapacityError::TooManySubscribers { requested: subscribers, max: MAX_SUBSCRIBERS }.into()
            );
        }
        Mapping::create::<T>(self, capacity, subscribers)
    }
}

/// Attaches to an existing ring file (spsc or broadcast) as its producer.
///
/// # Errors
/// [`ShmError`] if the file is missing, not a ring, made for another item type, or
/// its producer is held by a live process.
pub fn attach_producer<T: Pod + Send>(path: impl AsRef<Path>) -> Result<Producer<T>, ShmError> {
    producer_on(Mapping::attach::<T>(path.as_ref(), None)?)
}

/// Attaches to an existing spsc ring file as its consumer.
///
/// # Errors
/// As [`attach_producer`], and [`ShmError::KindMismatch`] for a broadcast file.
pub fn attach_consumer<T: Pod + Send + Sync>(path: impl AsRef<Path>) -> Result<Consumer<T>, ShmError> {
    consumer_on(Mapping::attach::<T>(path.as_ref(), Some(RingKind::Spsc))?, 0)
}

/// Attaches to an existing broadcast ring file as subscriber `index`.
///
/// A subscriber that attaches for the first time reads from the first item; one that
/// replaces a dead holder resumes at the holder's position (the producer kept waiting
/// for it, so nothing is lost). One that detached cleanly gave its place up: it may
/// rejoin, at the tail, only while no producer is attached.
///
/// # Errors
/// As [`attach_producer`], [`ShmError::KindMismatch`] for an spsc file,
/// [`ShmError::NoSuchSubscriber`] for an index past the subscriber count and
/// [`ShmError::RejoinWhileProducing`] for a cleanly detached subscriber while a
/// producer runs.
pub fn attach_subscriber<T: Pod + Send + Sync>(path: impl AsRef<Path>, index: usize) -> Result<Consumer<T>, ShmError> {
    consumer_on(Mapping::attach::<T>(path.as_ref(), Some(RingKind::Broadcast))?, index)
}

fn producer_on<T: Pod + Send>(mapping: Mapping) -> Result<Producer<T>, ShmError> {
    let raw = mapping.raw::<T>();
    let attachment = Attachment::claim(mapping, Role::Writer)?;
    // SAFETY: the writer peer slot is claimed by us, so no other process writes the tail.
    let writer = unsafe { Writer::new(raw) };
    // SAFETY: `attachment` keeps the mapping alive for the producer's lifetime.
    Ok(unsafe { Producer::from_parts(writer, Owner::Shm(attachment)) })
}

fn consumer_on<T: Pod + Send + Sync>(mapping: Mapping, index: usize) -> Result<Consumer<T>, ShmError> {
    let layout = mapping.layout();
    if index >= layout.readers {
        return Err(ShmError::NoSuchSubscriber { index, subscribers: layout.readers });
    }
    let raw = mapping.raw::<T>();
    let broadcast = mapping.kind() == RingKind::Broadcast;
    let attachment = Attachment::claim(mapping, Role::Reader(index))?;
    attachment.mapping.rejoin_if_detached(index)?;
    // SAFETY: reader slot `index` is claimed by us, so no other process writes its head.
    let reader = unsafe { Reader::new(raw, index) };
    // SAFETY: `T: Pod` makes several readers of one item harmless (nothing is
    // dropped); the attachment keeps the mapping alive for the consumer's lifetime.
    Ok(unsafe { Consumer::from_parts(reader, Owner::Shm(attachment), broadcast) })
}

/// One side's claim on a mapped ring file; released (detached) on drop.
pub(crate) struct Attachment {
    mapping: Mapping,
    role: Role,
}

impl Attachment {
    fn claim(mapping: Mapping, role: Role) -> Result<Self, ShmError> {
        let slot = mapping.peer(role);
        slot.claim().map_err(|pid| ShmError::RoleTaken {
            role: match (role, mapping.kind()) {
                (Role::Writer, _) => "producer".to_owned(),
                (Role::Reader(_), RingKind::Spsc) => "consumer".to_owned(),
                (Role::Reader(i), RingKind::Broadcast) => format!("subscriber {i}"),
            },
            pid,
        })?;
        Ok(Self { mapping, role })
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        match self.role {
            Role::Reader(_) => crate::owner::gone(self.mapping.peer(Role::Writer).status()),
            Role::Writer => (0..self.mapping.layout().readers)
                .all(|i| crate::owner::gone(self.mapping.peer(Role::Reader(i)).status())),
        }
    }

    pub(crate) fn peer_status(&self) -> PeerStatus {
        match self.role {
            Role::Reader(_) => self.mapping.peer(Role::Writer).status(),
            Role::Writer => (0..self.mapping.layout().readers)
                .map(|i| self.mapping.peer(Role::Reader(i)).status())
                .fold(PeerStatus::Alive, PeerStatus::worst),
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.mapping.peer(self.role).release();
    }
}

impl Mapping {
    /// A subscriber returning after a clean detach joins at the tail, but only while
    /// no producer runs: a running producer may already have reused the slots from any
    /// position we could pick, since it stopped counting us when we detached.
    fn rejoin_if_detached(&self, index: usize) -> Result<(), ShmError> {
        let head = self.head(index);
        if head.load(Ordering::Acquire) != DETACHED {
            return Ok(());
        }
        head.store(self.tail().load(Ordering::Acquire), Ordering::SeqCst);
        // SYNC: pairs with the SeqCst fence in `Writer::new` (and the SeqCst claim of
        // the producer's slot): either we see a producer attached here, or it sees
        // our head when it starts.
        fence(Ordering::SeqCst);
        if self.peer(Role::Writer).status() == PeerStatus::Alive {
            head.store(DETACHED, Ordering::Release);
            return Err(ShmError::RejoinWhileProducing { index });
        }
        Ok(())
    }
}
