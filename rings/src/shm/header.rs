//! The versioned header at the start of every shared-memory ring file.
//!
//! ```text
//! offset 0       Header (repr C), zero-padded to HEADER_BYTES
//! HEADER_BYTES   tail index             CachePadded<AtomicU64>  (writer's line)
//! + stride * i   head index of reader i CachePadded<AtomicU64>  (reader i's line)
//! slots_offset   capacity slots of T, aligned to 128 bytes
//! ```
//!
//! The creator fills the header in a zeroed file and stores `magic` last (Release);
//! an attacher loads `magic` first (Acquire), so every field it reads after that is
//! the creator's. Nothing rewrites the static fields after publication.

use core::mem::{offset_of, size_of};

use crossbeam_utils::CachePadded;

use super::peer::PeerSlot;
use crate::error::ShmError;
use crate::sync::AtomicU64;

/// "RINGSHM" plus a byte that changes if the magic ever has to.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"RINGSHM\x01");
/// Bumped on any change to this file's layout.
pub(crate) const LAYOUT_VERSION: u32 = 1;
/// The most subscribers a shared-memory broadcast ring can have.
pub const MAX_SUBSCRIBERS: usize = 32;
pub(crate) const HEADER_BYTES: usize = 1024;
const SLOT_ALIGN: usize = 128;
const PAGE: usize = 4096;
const TYPE_NAME_BYTES: usize = 128;

/// Which protocol a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum RingKind {
    /// One producer, one consumer.
    Spsc = 1,
    /// One producer, several subscribers that each see every item.
    Broadcast = 2,
}

impl core::fmt::Display for RingKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Spsc => "spsc",
            Self::Broadcast => "broadcast",
        })
    }
}

#[repr(C)]
pub(crate) struct Header {
    pub(crate) magic: AtomicU64,
    layout_version: u32,
    kind: u32,
    capacity: u64,
    elem_size: u64,
    elem_align: u64,
    type_fingerprint: u64,
    readers: u64,
    index_stride: u64,
    slots_offset: u64,
    file_len: u64,
    type_name_len: u64,
    type_name: [u8; TYPE_NAME_BYTES],
    pub(crate) writer: PeerSlot,
    pub(crate) reader_peers: [PeerSlot; MAX_SUBSCRIBERS],
}

const _: () = assert!(size_of::<Header>() <= HEADER_BYTES);
const _: () = assert!(HEADER_BYTES.is_multiple_of(SLOT_ALIGN));
const _: () = assert!(offset_of!(Header, magic) == 0);

/// The shape of `T` as recorded in a header: what both processes must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeShape {
    /// `std::any::type_name` of the item type (truncated to 128 bytes).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Alignment in bytes.
    pub align: u64,
    /// FNV-1a of name, size and alignment.
    pub fingerprint: u64,
}

impl core::fmt::Display for TypeShape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} (size {}, align {}, fingerprint {:#018x})", self.name, self.size, self.align, self.fingerprint)
    }
}

impl TypeShape {
    pub(crate) fn of<T>() -> Self {
        let name = core::any::type_name::<T>();
        let name = truncate(name, TYPE_NAME_BYTES);
        let (size, align) = (size_of::<T>() as u64, align_of::<T>() as u64);
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for byte in name.bytes().chain(size.to_le_bytes()).chain(align.to_le_bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self { name: name.to_owned(), size, align, fingerprint: hash }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Where things are in one ring file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) capacity: usize,
    pub(crate) readers: usize,
    pub(crate) index_stride: usize,
    pub(crate) slots_offset: usize,
    pub(crate) file_len: usize,
}

impl Layout {
    pub(crate) fn compute<T>(capacity: usize, readers: usize) -> Option<Self> {
        const { assert!(align_of::<T>() <= SLOT_ALIGN, "ring items may be aligned to at most 128 bytes") };
        let index_stride = size_of::<CachePadded<AtomicU64>>();
        let indices_end = HEADER_BYTES.checked_add(index_stride.checked_mul(readers.checked_add(1)?)?)?;
        let slots_offset = indices_end.checked_next_multiple_of(SLOT_ALIGN)?;
        let file_len =
            slots_offset.checked_add(capacity.checked_mul(size_of::<T>())?)?.checked_next_multiple_of(PAGE)?;
        Some(Self { capacity, readers, index_stride, slots_offset, file_len })
    }
}

impl Header {
    pub(crate) fn new<T>(kind: RingKind, layout: &Layout) -> Self {
        let shape = TypeShape::of::<T>();
        let mut type_name = [0u8; TYPE_NAME_BYTES];
        for (dst, src) in type_name.iter_mut().zip(shape.name.bytes()) {
            *dst = src;
        }
        Self {
            magic: AtomicU64::new(0),
            layout_version: LAYOUT_VERSION,
            kind: kind as u32,
            capacity: layout.capacity as u64,
            elem_size: shape.size,
            elem_align: shape.align,
            type_fingerprint: shape.fingerprint,
            readers: layout.readers as u64,
            index_stride: layout.index_stride as u64,
            slots_offset: layout.slots_offset as u64,
            file_len: layout.file_len as u64,
            type_name_len: shape.name.len() as u64,
            type_name,
            writer: PeerSlot::new(),
            reader_peers: core::array::from_fn(|_| PeerSlot::new()),
        }
    }

    fn shape(&self) -> TypeShape {
        let len = (self.type_name_len as usize).min(TYPE_NAME_BYTES);
        let name = self.type_name.get(..len).unwrap_or_default();
        TypeShape {
            name: String::from_utf8_lossy(name).into_owned(),
            size: self.elem_size,
            align: self.elem_align,
            fingerprint: self.type_fingerprint,
        }
    }

    /// Checks a published header against what this process expects: the version
    /// first (a new version may move every other field), then the kind (`None`
    /// accepts either), the item type and the layout.
    pub(crate) fn validate<T>(
        &self,
        kind: Option<RingKind>,
        actual_file_len: u64,
    ) -> Result<(Layout, RingKind), ShmError> {
        if self.layout_version != LAYOUT_VERSION {
            return Err(ShmError::VersionMismatch { expected: LAYOUT_VERSION, found: self.layout_version });
        }
        let file_kind = [RingKind::Spsc, RingKind::Broadcast].into_iter().find(|k| *k as u32 == self.kind);
        let kind = match (kind, file_kind) {
            (_, None) => return Err(ShmError::UnknownKind { found: self.kind }),
            (Some(want), Some(found)) if want != found => {
                return Err(ShmError::KindMismatch { expected: want, found: self.kind });
            }
            (_, Some(found)) => found,
        };
        let expected = TypeShape::of::<T>();
        let found = self.shape();
        if found != expected {
            return Err(ShmError::TypeMismatch { expected: Box::new(expected), found: Box::new(found) });
        }
        let corrupt = |field: &'static str, value: u64| ShmError::CorruptHeader { field, value };
        let capacity = usize::try_from(self.capacity)
            .ok()
            .filter(|c| c.is_power_of_two())
            .ok_or(corrupt("capacity", self.capacity))?;
        let readers = usize::try_from(self.readers)
            .ok()
            .filter(|r| (1..=MAX_SUBSCRIBERS).contains(r))
            .ok_or(corrupt("readers", self.readers))?;
        let layout = Layout::compute::<T>(capacity, readers).ok_or(corrupt("capacity", self.capacity))?;
        if self.index_stride != layout.index_stride as u64 {
            return Err(corrupt("index_stride", self.index_stride));
        }
        if self.slots_offset != layout.slots_offset as u64 {
            return Err(corrupt("slots_offset", self.slots_offset));
        }
        if self.file_len != layout.file_len as u64 {
            return Err(corrupt("file_len", self.file_len));
        }
        if actual_file_len < self.file_len {
            return Err(ShmError::LengthMismatch { header: self.file_len, file: actual_file_len });
        }
        Ok((layout, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_distinguishes_types_of_equal_size() {
        assert_ne!(TypeShape::of::<u64>().fingerprint, TypeShape::of::<i64>().fingerprint);
        assert_eq!(TypeShape::of::<u64>(), TypeShape::of::<u64>());
    }

    #[test]
    fn layout_puts_slots_after_indices_on_aligned_boundaries() {
        let l = Layout::compute::<u64>(1024, 3).unwrap();
        assert_eq!(l.slots_offset % SLOT_ALIGN, 0);
        assert!(l.slots_offset >= HEADER_BYTES + 4 * l.index_stride);
        assert_eq!(l.file_len % PAGE, 0);
        assert!(l.file_len >= l.slots_offset + 1024 * 8);
        assert_eq!(Layout::compute::<u64>(usize::MAX / 2, 1), None);
    }

    #[test]
    fn type_shape_display() {
        let s = TypeShape { name: "u64".into(), size: 8, align: 8, fingerprint: 0xab };
        assert_eq!(s.to_string(), "u64 (size 8, align 8, fingerprint 0x00000000000000ab)");
    }
}
