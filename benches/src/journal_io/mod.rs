//! Four ways to append a batch to a file and make it durable before the next, timed
//! on the same bytes: issue 4 asks the journal to use the fastest one this host has.
//!
//! - `ours`: [`Journal::append`] with an fsync per batch (one `writev` of the batch
//!   header and the records, then `fdatasync`), the production path;
//! - `raw_write_fdatasync`: `write` + `fdatasync` of the records alone, the floor the
//!   issue measures the journal against;
//! - `io_uring`: the same write and `fdatasync` as two linked entries of a raw
//!   io-uring ring, one `io_uring_enter` per batch (`rings::uring`, where the one
//!   `unsafe` call lives behind a safe API);
//! - `glommio_dma`: glommio's `DmaStreamWriter` (`O_DIRECT`, its own io_uring rings)
//!   with `sync()` per batch, which pads the last partial block, writes it and
//!   `fdatasync`s; the next batch rewrites that block.
//!
//! Each writes `batches` copies of one batch into a fresh file, so the tests can read
//! back exactly what a method wrote.

use std::{
    fs::File,
    io::Write,
    path::Path,
    time::{Duration, Instant},
};

use futures_lite::AsyncWriteExt;
use glommio::{
    LocalExecutorBuilder,
    io::{DmaFile, DmaStreamWriterBuilder},
};
use persist::{
    Record,
    journal::{FsyncPolicy, Journal, JournalOptions},
};
use rings::uring::SyncedAppender;

/// A way of making appended batches durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The production journal.
    Ours,
    /// `write` + `fdatasync`.
    RawWrite,
    /// Linked write and `fdatasync` entries on a raw io-uring ring.
    IoUring,
    /// glommio's direct-I/O stream writer, synced per batch.
    GlommioDma,
}

impl Method {
    /// Every method, in the order the table prints them.
    pub const ALL: [Method; 4] = [Method::Ours, Method::RawWrite, Method::IoUring, Method::GlommioDma];

    /// The name in the bench's table and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ours => "ours",
            Method::RawWrite => "raw_write_fdatasync",
            Method::IoUring => "io_uring",
            Method::GlommioDma => "glommio_dma",
        }
    }

    /// Why this method cannot run on this host, if it cannot: the io_uring methods
    /// need `io_uring_setup`, which a container's seccomp filter may forbid, and
    /// glommio also needs locked memory for its rings.
    pub fn unavailable(self) -> Option<String> {
        match self {
            Method::Ours | Method::RawWrite => None,
            Method::IoUring => no_io_uring(),
            // glommio panics, rather than failing, when io_uring is refused: ask first.
            Method::GlommioDma => no_io_uring()
                .or_else(|| LocalExecutorBuilder::default().make().err().map(|e| format!("glommio executor: {e}"))),
        }
    }

    /// Appends `batches` copies of `batch` under `dir` (a journal directory for
    /// `Ours`, a file named after the method otherwise), each durable before the next,
    /// and returns the time the appends took.
    pub fn append(self, dir: &Path, batch: &[Record], batches: usize) -> Result<Duration, String> {
        let bytes: &[u8] = bytemuck::cast_slice(batch);
        let file = dir.join(self.name());
        match self {
            Method::Ours => journal(&file, batch, batches),
            Method::RawWrite => raw_write(&file, bytes, batches),
            Method::IoUring => uring_appends(&file, bytes.to_vec(), batches),
            Method::GlommioDma => glommio_dma(&file, bytes, batches),
        }
    }

    /// Record megabytes per second over `batches` appends of `batch` into a fresh
    /// directory. The journal's 16-byte batch headers are not counted.
    pub fn rate_mb_s(self, batch: &[Record], batches: usize) -> Result<f64, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let took = self.append(dir.path(), batch, batches)?;
        Ok((batches * size_of_val(batch)) as f64 / took.as_secs_f64() / 1e6)
    }
}

/// Why io_uring cannot be used here, if it cannot.
fn no_io_uring() -> Option<String> {
    SyncedAppender::probe().err().map(|e| format!("io_uring_setup: {e}"))
}

fn uring_appends(path: &Path, mut bytes: Vec<u8>, batches: usize) -> Result<Duration, String> {
    let mut file = SyncedAppender::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = Instant::now();
    for _ in 0..batches {
        bytes = file.append(bytes).map_err(|e| format!("io_uring append: {e}"))?;
    }
    Ok(t.elapsed())
}

fn journal(dir: &Path, batch: &[Record], batches: usize) -> Result<Duration, String> {
    let options = JournalOptions { fsync: FsyncPolicy::EveryBatch, segment_bytes: 1 << 30 };
    let (mut journal, _) = Journal::open(dir, options).map_err(|e| e.to_string())?;
    let t = Instant::now();
    for _ in 0..batches {
        journal.append(batch).map_err(|e| e.to_string())?;
    }
    Ok(t.elapsed())
}

fn raw_write(path: &Path, bytes: &[u8], batches: usize) -> Result<Duration, String> {
    let mut file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = Instant::now();
    for _ in 0..batches {
        file.write_all(bytes).map_err(|e| format!("write: {e}"))?;
        file.sync_data().map_err(|e| format!("fdatasync: {e}"))?;
    }
    Ok(t.elapsed())
}

/// glommio's stream writer buffers into aligned blocks and writes them with direct
/// I/O. `sync()` writes the partial buffer whole, so a buffer much larger than the
/// batch costs a large write per small batch: the buffer is four batches, within
/// 16..128 KiB, with 4 in flight. That was the best of the 4 KiB..4 MiB buffers and
/// 1..16 in flight we tried at every batch size (README, "The journal").
fn glommio_dma(path: &Path, bytes: &[u8], batches: usize) -> Result<Duration, String> {
    let buffer = (bytes.len() * 4).next_multiple_of(4096).clamp(16 << 10, 128 << 10);
    let executor = LocalExecutorBuilder::default().make().map_err(|e| format!("glommio executor: {e}"))?;
    executor.run(async move {
        let file = DmaFile::create(path).await.map_err(|e| format!("{}: {e}", path.display()))?;
        let mut writer = DmaStreamWriterBuilder::new(file).with_buffer_size(buffer).with_write_behind(4).build();
        let t = Instant::now();
        for _ in 0..batches {
            writer.write_all(bytes).await.map_err(|e| format!("glommio write: {e}"))?;
            writer.sync().await.map_err(|e| format!("glommio sync: {e}"))?;
        }
        let took = t.elapsed();
        writer.close().await.map_err(|e| format!("glommio close: {e}"))?;
        Ok(took)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use persist::{Fields, Origin, record::TradeFields};

    fn batch(n: u64) -> Vec<Record> {
        (1..=n)
            .map(|seq| {
                let f = TradeFields { aggressor: 1, ts_exchange: seq as i64, trade_id: seq as i64, price: 7, qty: 3 };
                f.into_record(Origin { stream: 1, seq, ts: seq, venue: 1, instrument: 2 })
            })
            .collect()
    }

    /// Every file method leaves exactly the batches on disk, in order, and nothing
    /// else: glommio's padding of a partial block is truncated away on close.
    #[test]
    fn every_file_method_writes_exactly_the_batches() {
        // 51 records: 4080 bytes, not a whole 4 KiB block, so direct I/O pads.
        let records = batch(51);
        let bytes: &[u8] = bytemuck::cast_slice(&records);
        for method in [Method::RawWrite, Method::IoUring, Method::GlommioDma] {
            if let Some(why) = method.unavailable() {
                eprintln!("{} not checked: unavailable on this host ({why})", method.name());
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            method.append(dir.path(), &records, 3).unwrap();
            let written = std::fs::read(dir.path().join(method.name())).unwrap();
            assert_eq!(written.len(), bytes.len() * 3, "{}", method.name());
            assert!(written.chunks(bytes.len()).all(|c| c == bytes), "{} wrote other bytes", method.name());
        }
    }

    #[test]
    fn the_journal_method_appends_every_record() {
        let records = batch(51);
        let dir = tempfile::tempdir().unwrap();
        Method::Ours.append(dir.path(), &records, 3).unwrap();
        let (_, recovery) = Journal::open(&dir.path().join("ours"), JournalOptions::default()).unwrap();
        assert_eq!(recovery.records, 153);
    }

    #[test]
    fn a_write_under_a_file_is_an_error_naming_the_path() {
        let records = batch(2);
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, b"").unwrap();
        for method in Method::ALL.into_iter().filter(|m| m.unavailable().is_none()) {
            let err = method.append(&not_a_dir, &records, 1).unwrap_err();
            assert!(err.contains("file/"), "{}: {err}", method.name());
        }
    }
}
