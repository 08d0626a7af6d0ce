//! Durable appends through the kernel's io_uring rings: each append is a write entry
//! linked to an `fdatasync` entry, submitted and waited for with one
//! `io_uring_enter`. `benches`' journal comparison uses it as the raw io-uring peer
//! of the journal's `writev` + `fdatasync` (the journal itself does not: it ties
//! with `write`, see the README).
//!
//! It lives here because `rings` is the one crate allowed `unsafe`: the io-uring
//! crate's `push` is `unsafe` because the kernel reads the buffer after the call
//! returns. The API below is safe: a buffer is handed over by value and only given
//! back once both entries have completed. Miri cannot run it (it is system calls);
//! `benches`' tests read back every byte it wrote. Opt-in (feature `uring`), so the
//! engine does not build it.

use std::{fs::File, io, os::fd::AsRawFd, path::Path};

use io_uring::{IoUring, opcode, squeue, types};

const WRITE: u64 = 1;
const SYNC: u64 = 2;

/// A file written by appending through io_uring, each append durable before the
/// next.
pub struct SyncedAppender {
    ring: IoUring,
    /// `None` once a failure left an entry possibly in flight: the file was leaked,
    /// not closed, and every later append fails.
    file: Option<File>,
    offset: u64,
}

impl std::fmt::Debug for SyncedAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncedAppender").field("file", &self.file).field("offset", &self.offset).finish_non_exhaustive()
    }
}

impl SyncedAppender {
    /// Creates (or truncates) `path` and an io_uring for it.
    ///
    /// # Errors
    /// The file cannot be created, or the host refuses io_uring (a container's
    /// seccomp filter, or `kernel.io_uring_disabled`).
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        let ring = IoUring::new(8)?;
        Ok(Self { ring, file: Some(file), offset: 0 })
    }

    /// Whether this host lets a process set up an io_uring.
    ///
    /// # Errors
    /// The reason it does not.
    pub fn probe() -> io::Result<()> {
        IoUring::new(8).map(drop)
    }

    /// Writes `bytes` at the end of the file and `fdatasync`s it, and gives the
    /// buffer back for reuse.
    ///
    /// # Errors
    /// A failed or short write, or a failed sync. If an entry may still be in the
    /// kernel then, the buffer and the file are leaked rather than freed or closed,
    /// and every later append fails.
    pub fn append(&mut self, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let Some(file) = &self.file else {
            return Err(io::Error::other("an earlier append failed; the appender is unusable"));
        };
        let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("an append over 4 GiB"))?;
        let fd = types::Fd(file.as_raw_fd());
        let write = opcode::Write::new(fd, bytes.as_ptr(), len)
            .offset(self.offset)
            .build()
            .flags(squeue::Flags::IO_LINK)
            .user_data(WRITE);
        let sync = opcode::Fsync::new(fd).flags(types::FsyncFlags::DATASYNC).build().user_data(SYNC);
        // SAFETY: the write entry points into `bytes`, owned here and neither moved
        // nor freed while an entry may be in flight: `reap` returns Ok only once
        // both completions are in, and on its failure `bytes` and the file are
        // leaked below (a linked entry resolves its descriptor only when issued).
        unsafe { self.ring.submission().push_multiple(&[write, sync]) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        if let Err(e) = reap(&mut self.ring, len) {
            std::mem::forget(bytes);
            std::mem::forget(self.file.take());
            return Err(e);
        }
        self.offset += u64::from(len);
        Ok(bytes)
    }
}

/// Submits the queued pair and waits until both have completed: the write in full,
/// and the sync.
fn reap(ring: &mut IoUring, len: u32) -> io::Result<()> {
    let mut done = 0;
    while done < 2 {
        match ring.submit_and_wait(2 - done) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for cqe in ring.completion() {
            done += 1;
            let result = cqe.result();
            if result < 0 {
                return Err(io::Error::from_raw_os_error(-result));
            }
            if cqe.user_data() == WRITE && u32::try_from(result) != Ok(len) {
                // A short write cancels the linked sync: a failure, not a case to resume.
                return Err(io::Error::other(format!("short write: {result} of {len} B")));
            }
        }
    }
    Ok(())
}
