//! The raw io-uring peer: each batch is a write entry linked to an `fdatasync` entry,
//! submitted and waited for with one `io_uring_enter`.
//!
//! This is the only `unsafe` outside `rings` and the tests' counting allocators, and
//! it is a benchmark peer, not shipped in the engine: the io-uring crate's `push` is
//! `unsafe` because the kernel reads the buffer after the call returns. Miri cannot
//! run it (it is a system call); the test in `super` reads back every byte it wrote.
#![allow(unsafe_code, reason = "the io-uring submission API is unsafe by design; see the SAFETY comment")]

use std::{
    fs::File,
    os::fd::AsRawFd,
    path::Path,
    time::{Duration, Instant},
};

use io_uring::{IoUring, opcode, squeue, types};

/// Writes `batches` copies of `bytes` to a new file at `path`, each followed by a
/// linked `fdatasync`, and returns the time the writes took.
pub(super) fn write_and_sync(path: &Path, bytes: Vec<u8>, batches: usize) -> Result<Duration, String> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = u32::try_from(bytes.len()).map_err(|_| format!("a {} B batch is over 4 GiB", bytes.len()))?;
    let mut ring = IoUring::new(8).map_err(|e| format!("io_uring_setup: {e}"))?;
    let fd = types::Fd(file.as_raw_fd());
    let t = Instant::now();
    let mut offset = 0u64;
    for _ in 0..batches {
        let write = opcode::Write::new(fd, bytes.as_ptr(), len)
            .offset(offset)
            .build()
            .flags(squeue::Flags::IO_LINK)
            .user_data(WRITE);
        let sync = opcode::Fsync::new(fd).flags(types::FsyncFlags::DATASYNC).build().user_data(SYNC);
        // SAFETY: the write entry points into `bytes`, which this function owns and
        // neither moves nor frees while an entry may be in flight: below, every
        // submitted pair is waited for until both completions are reaped. On a
        // failure with an entry possibly still in the kernel, `bytes` and `file` are
        // leaked rather than freed or closed (a linked entry resolves its file
        // descriptor only when it is issued).
        unsafe { ring.submission().push_multiple(&[write, sync]) }.map_err(|_| "io_uring queue full".to_owned())?;
        if let Err(e) = reap(&mut ring, len) {
            std::mem::forget(bytes);
            std::mem::forget(file);
            return Err(e);
        }
        offset += u64::from(len);
    }
    Ok(t.elapsed())
}

const WRITE: u64 = 1;
const SYNC: u64 = 2;

/// Submits the queued pair and waits until both have completed: the write in full,
/// and the sync.
fn reap(ring: &mut IoUring, len: u32) -> Result<(), String> {
    let mut done = 0;
    while done < 2 {
        match ring.submit_and_wait(2 - done) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("io_uring_enter: {e}")),
        }
        for cqe in ring.completion() {
            done += 1;
            let result = cqe.result();
            if result < 0 {
                return Err(format!("io_uring: {}", std::io::Error::from_raw_os_error(-result)));
            }
            if cqe.user_data() == WRITE && u32::try_from(result) != Ok(len) {
                // A short write cancels the linked sync; the file is a regular one on
                // a local disk, so this is a failure, not a case to resume.
                return Err(format!("io_uring short write: {result} of {len} B"));
            }
        }
    }
    Ok(())
}
