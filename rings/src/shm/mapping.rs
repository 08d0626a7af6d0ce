//! The mapped ring file: creation, validation on attach, and typed views into it.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use crossbeam_utils::CachePadded;
use memmap2::{MmapMut, MmapOptions};

use super::ShmOptions;
use super::header::{HEADER_BYTES, Header, Layout, MAGIC, RingKind};
use super::peer::PeerSlot;
use crate::error::ShmError;
use crate::owner::Role;
use crate::ring::RawRing;
use crate::sync::{AtomicU64, Ordering};

/// A path plus the identity of the file we created there, so dropping our side never
/// removes a newer ring that someone created at the same path with `replace_existing`.
struct OwnedPath {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl OwnedPath {
    fn of(file: &File, path: &Path) -> Option<Self> {
        let meta = file.metadata().ok()?;
        Some(Self { path: path.to_owned(), dev: meta.dev(), ino: meta.ino() })
    }

    fn remove_if_still_ours(&self) {
        let still_ours = std::fs::metadata(&self.path).is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino);
        if still_ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A ring file mapped into this process.
pub(crate) struct Mapping {
    map: MmapMut,
    layout: Layout,
    kind: RingKind,
    /// Set for the creator when `remove_on_drop` was asked for.
    remove_on_drop: Option<OwnedPath>,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ShmError {
    let path = path.to_owned();
    move |source| ShmError::Io { op, path, source }
}

/// Maps the whole file shared and prefaulted.
fn map(file: &File, len: usize, path: &Path) -> Result<MmapMut, ShmError> {
    // SAFETY: the mapping is MAP_SHARED over a 0600 ring file. Its contents are only
    // accessed through atomics (indices, peer slots), header fields written once
    // before `magic` is published, and `Pod` slots guarded by the index protocol, so
    // concurrent writers in other processes cannot create invalid values. The one
    // hazard left is truncation by another process of the same user, documented on
    // the `shm` module.
    unsafe { MmapOptions::new().len(len).populate().map_mut(file) }.map_err(io("map", path))
}

impl Mapping {
    pub(crate) fn create<T>(options: &ShmOptions, capacity: usize, readers: usize) -> Result<Self, ShmError> {
        let path = options.path.as_path();
        let layout = Layout::compute::<T>(capacity, readers)
            .ok_or(crate::CapacityError::TooLarge { requested: options.capacity })?;
        let open = || OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(path);
        let file = match open() {
            Err(e) if e.kind() == ErrorKind::AlreadyExists && options.replace_existing => {
                std::fs::remove_file(path).map_err(io("remove", path))?;
                open().map_err(io("create", path))?
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(ShmError::AlreadyExists { path: path.to_owned() });
            }
            other => other.map_err(io("create", path))?,
        };
        // From here on a failure must not leave a half-made file behind.
        let made = Self::initialise::<T>(&file, path, layout, options);
        if made.is_err() {
            let _ = std::fs::remove_file(path);
        }
        made
    }

    fn initialise<T>(file: &File, path: &Path, layout: Layout, options: &ShmOptions) -> Result<Self, ShmError> {
        file.set_len(layout.file_len as u64).map_err(io("size", path))?;
        let mut map = map(file, layout.file_len, path)?;
        if options.huge_pages {
            map.advise(memmap2::Advice::HugePage).map_err(ShmError::HugePages)?;
        }
        if options.mlock {
            map.lock().map_err(ShmError::Lock)?;
        }
        let header = map.as_mut_ptr().cast::<Header>();
        // SAFETY: the map is at least HEADER_BYTES long and page-aligned, so it holds
        // an aligned `Header`; the file is new (we created it with O_EXCL) and no
        // attacher reads the header before `magic` is published below.
        unsafe { header.write(Header::new::<T>(options.kind, &layout)) };
        let mapping = Self {
            map,
            layout,
            kind: options.kind,
            remove_on_drop: if options.remove_on_drop { OwnedPath::of(file, path) } else { None },
        };
        // SYNC: pairs with the Acquire load of `magic` in `Mapping::attach`; every
        // header field written above is visible to an attacher that sees the magic.
        mapping.header().magic.store(MAGIC, Ordering::Release);
        Ok(mapping)
    }

    pub(crate) fn attach<T>(path: &Path, kind: Option<RingKind>) -> Result<Self, ShmError> {
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(io("open", path))?;
        let len = file.metadata().map_err(io("stat", path))?.len();
        if len < HEADER_BYTES as u64 {
            return Err(ShmError::TooSmall { path: path.to_owned(), len, needed: HEADER_BYTES as u64 });
        }
        let header_map = map(&file, HEADER_BYTES, path)?;
        // SAFETY: as in `Mapping::header`: page-aligned and HEADER_BYTES long.
        let header = unsafe { &*header_map.as_ptr().cast::<Header>() };
        // SYNC: pairs with the Release store in `Mapping::initialise`.
        match header.magic.load(Ordering::Acquire) {
            0 => return Err(ShmError::NotInitialized { path: path.to_owned() }),
            MAGIC => {}
            found => return Err(ShmError::BadMagic { expected: MAGIC, found }),
        }
        let (layout, kind) = header.validate::<T>(kind, len)?;
        drop(header_map);
        Ok(Self { map: map(&file, layout.file_len, path)?, layout, kind, remove_on_drop: None })
    }

    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    pub(crate) fn kind(&self) -> RingKind {
        self.kind
    }

    fn header(&self) -> &Header {
        // SAFETY: the map is page-aligned and at least HEADER_BYTES long (checked at
        // create/attach), so it holds an aligned `Header`; all fields that change
        // after publication are atomics.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    pub(crate) fn peer(&self, role: Role) -> &PeerSlot {
        let header = self.header();
        match role {
            Role::Writer => &header.writer,
            Role::Reader(i) => {
                header.reader_peers.get(i).unwrap_or_else(|| unreachable!("reader {i} beyond the validated count"))
            }
        }
    }

    fn index_ptr(&self, n: usize) -> NonNull<CachePadded<AtomicU64>> {
        let offset = HEADER_BYTES + n * self.layout.index_stride;
        debug_assert!(offset + self.layout.index_stride <= self.layout.slots_offset);
        // SAFETY: `offset` is inside the index area of the validated layout.
        let ptr = unsafe { self.map.as_ptr().add(offset) };
        // SAFETY: an offset into a live mapping is never null; it is aligned to the
        // 128-byte stride of `CachePadded`.
        unsafe { NonNull::new_unchecked(ptr.cast_mut().cast()) }
    }

    pub(crate) fn tail(&self) -> &AtomicU64 {
        // SAFETY: `index_ptr(0)` points into the live mapping we borrow.
        unsafe { self.index_ptr(0).as_ref() }
    }

    pub(crate) fn head(&self, reader: usize) -> &AtomicU64 {
        // SAFETY: callers pass `reader < layout.readers`; the pointer is into the
        // live mapping we borrow.
        unsafe { self.index_ptr(1 + reader).as_ref() }
    }

    /// A view of the ring for building one side. The caller stores `self` beside it.
    pub(crate) fn raw<T>(&self) -> RawRing<T> {
        // SAFETY: the slot offset is within the validated file.
        let ptr = unsafe { self.map.as_ptr().add(self.layout.slots_offset) };
        // SAFETY: never null (inside a live mapping); 128-aligned, which covers `T`'s
        // alignment (the header's recorded alignment matched `T`'s).
        let slots = unsafe { NonNull::new_unchecked(ptr.cast_mut().cast()) };
        // SAFETY: the pointers come from the validated layout of a mapping that the
        // side stores beside its `RawRing`; capacity is a validated power of two.
        unsafe { RawRing::new(self.index_ptr(0), self.index_ptr(1), self.layout.readers, slots, self.layout.capacity) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(owned) = &self.remove_on_drop {
            owned.remove_if_still_ours();
        }
    }
}
