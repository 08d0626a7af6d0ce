use std::{io, path::PathBuf};

/// Why a journal operation failed. Every variant names the file it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The operating system refused a read, write, sync or directory operation.
    #[error("journal I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A segment header is not ours, or is a version this build cannot read.
    #[error("journal segment {path}: {reason}")]
    BadSegment {
        /// The segment.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A damaged batch with valid data after it (or in a segment that is not the last):
    /// records would be lost by skipping it, so the journal refuses to go on.
    #[error(
        "journal segment {path} is corrupt at byte {offset}: {reason}; it is not a torn tail, so nothing was \
         truncated (copy the journal aside before repairing it by hand)"
    )]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Where the damaged batch starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An earlier write or sync failed, so the file may end in a partial frame;
    /// reopening the journal truncates it and goes on.
    #[error("journal {path} refuses writes after an earlier failure ({reason}); reopen it to recover")]
    Poisoned {
        /// The segment.
        path: PathBuf,
        /// The first failure.
        reason: String,
    },
    /// A read position that is not the start of a batch in this journal.
    #[error("no batch starts at segment {segment} byte {offset}")]
    BadPosition {
        /// Segment index.
        segment: u64,
        /// Byte offset.
        offset: u64,
    },
}

pub(crate) fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> JournalError {
    let path = path.into();
    move |source| JournalError::Io { path, source }
}
