//! Errors of the ring operations. Hot-path errors are `Copy`-cheap and never allocate.

/// `try_push` found the ring full; the value comes back to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError<T> {
    /// Every slot holds an item some reader has not released yet.
    #[error("ring is full")]
    Full(T),
}

impl<T> PushError<T> {
    /// Takes back the value that could not be pushed.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(value) => value,
        }
    }
}

/// `try_pop` found nothing to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PopError {
    /// The writer has published nothing this reader has not already taken.
    #[error("ring is empty")]
    Empty,
}

/// A ring could not be built with the requested capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// A ring must hold at least one item.
    #[error("ring capacity must be at least 1")]
    Zero,
    /// The capacity, rounded up to a power of two, does not fit in memory.
    #[error("ring capacity {requested} is too large: rounded up to a power of two it overflows the address space")]
    TooLarge {
        /// The capacity that was asked for.
        requested: usize,
    },
    /// A broadcast ring needs at least one subscriber.
    #[error("a broadcast ring needs at least 1 subscriber, got 0")]
    NoSubscribers,
    /// More subscribers than a shared-memory header has room for.
    #[error("a broadcast ring supports at most {max} subscribers, got {requested}")]
    TooManySubscribers {
        /// The number that was asked for.
        requested: usize,
        /// The largest number supported.
        max: usize,
    },
    /// The anonymous mapping for a huge-page ring was refused by the kernel.
    #[error("could not map {bytes} bytes for a huge-page ring: {}", std::io::Error::from_raw_os_error(*.errno))]
    MapFailed {
        /// The mapping's size.
        bytes: usize,
        /// The OS error number.
        errno: i32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_messages() {
        assert_eq!(PushError::Full(3u8).to_string(), "ring is full");
        assert_eq!(PushError::Full(3u8).into_inner(), 3);
        assert_eq!(PopError::Empty.to_string(), "ring is empty");
        assert_eq!(CapacityError::Zero.to_string(), "ring capacity must be at least 1");
        assert_eq!(
            CapacityError::TooLarge { requested: 9 }.to_string(),
            "ring capacity 9 is too large: rounded up to a power of two it overflows the address space"
        );
        assert_eq!(CapacityError::NoSubscribers.to_string(), "a broadcast ring needs at least 1 subscriber, got 0");
        assert_eq!(
            CapacityError::TooManySubscribers { requested: 70, max: 64 }.to_string(),
            "a broadcast ring supports at most 64 subscribers, got 70"
        );
    }
}

/// A shared-memory ring could not be created or attached. Cold path only.
#[cfg(not(feature = "loom"))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// The ring's size is invalid.
    #[error(transparent)]
    Capacity(#[from] CapacityError),
    /// A file system call failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What we were doing ("create", "open", "map", ...).
        op: &'static str,
        /// The ring file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `create` found a file already there.
    #[error("{path} already exists: another ring may be using it; remove it or set replace_existing(true)")]
    AlreadyExists {
        /// The ring file.
        path: std::path::PathBuf,
    },
    /// The file is shorter than a header, so it is not a ring (or is being created).
    #[error("{path} is {len} bytes, shorter than a ring header ({needed} bytes)")]
    TooSmall {
        /// The ring file.
        path: std::path::PathBuf,
        /// Its length.
        len: u64,
        /// The header size.
        needed: u64,
    },
    /// The creator has not finished writing the header (or the file is not a ring).
    #[error("{path} has no ring header yet (magic is 0): the creator has not finished, or it is not a ring file")]
    NotInitialized {
        /// The ring file.
        path: std::path::PathBuf,
    },
    /// The file starts with something that is not a ring header.
    #[error("not a ring file: magic {found:#018x}, expected {expected:#018x}")]
    BadMagic {
        /// The magic we expect.
        expected: u64,
        /// The magic we found.
        found: u64,
    },
    /// The file was made by a build with a different header layout.
    #[error("ring layout version mismatch: expected {expected}, found {found}")]
    VersionMismatch {
        /// Our version.
        expected: u32,
        /// The file's version.
        found: u32,
    },
    /// A cleanly detached broadcast subscriber tried to rejoin while a producer runs.
    #[error(
        "subscriber {index} detached earlier and cannot rejoin while the producer runs: the producer may already reuse its slots"
    )]
    RejoinWhileProducing {
        /// The subscriber index.
        index: usize,
    },
    /// The file's kind id is neither spsc nor broadcast.
    #[error("not a known ring kind: kind id {found}")]
    UnknownKind {
        /// The kind id in the file.
        found: u32,
    },
    /// The file holds the other kind of ring.
    #[error("ring kind mismatch: expected {expected}, found kind id {found}")]
    KindMismatch {
        /// The kind we attach as.
        expected: crate::shm::RingKind,
        /// The kind id in the file.
        found: u32,
    },
    /// The two processes disagree about the item type.
    #[error("ring item type mismatch: this process sends {expected}, the file holds {found}")]
    TypeMismatch {
        /// Our item type.
        expected: Box<crate::shm::TypeShape>,
        /// The file's item type.
        found: Box<crate::shm::TypeShape>,
    },
    /// A header field holds a value no creator writes.
    #[error("corrupt ring header: field {field} = {value}")]
    CorruptHeader {
        /// The field name.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// The file length disagrees with the header.
    #[error("ring file length mismatch: header says {header} bytes, file has {file}")]
    LengthMismatch {
        /// Length recorded in the header.
        header: u64,
        /// Length of the file.
        file: u64,
    },
    /// Another live process holds the side we want.
    #[error("the {role} side of this ring is held by live process {pid}")]
    RoleTaken {
        /// Which side ("producer", "consumer", "subscriber 2").
        role: String,
        /// The holder.
        pid: u32,
    },
    /// A subscriber index beyond the ring's subscriber count.
    #[error("subscriber {index} does not exist: the ring has {subscribers}")]
    NoSuchSubscriber {
        /// The index asked for.
        index: usize,
        /// How many the ring has.
        subscribers: usize,
    },
    /// `mlock` of the ring memory was refused (see RLIMIT_MEMLOCK / CAP_IPC_LOCK).
    #[error("cannot lock ring memory: {0}")]
    Lock(std::io::Error),
    /// Huge-page advice for the ring memory was refused.
    #[error("cannot back ring memory with huge pages: {0}")]
    HugePages(std::io::Error),
}
