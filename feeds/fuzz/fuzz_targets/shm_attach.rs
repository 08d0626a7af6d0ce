//! A shared-memory ring file with arbitrary bytes: attaching as a consumer or a
//! producer validates the header (magic, version, layout, type, size) and returns an
//! error, or a ring that works; never a panic or an out-of-bounds access. The first
//! byte chooses the file: odd, the bytes alone; even, a real ring's file with the
//! bytes written over it just past its 8-byte magic, so every check after the magic
//! (version, kind, capacity, element size and alignment, type, file size, indices)
//! gets exercised.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use rings::shm::ShmOptions;

static RUN: AtomicU64 = AtomicU64::new(0);
/// The header's magic, which the input leaves alone in a real ring's file.
const MAGIC: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("shm-fuzz-{}-{run}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    if mode % 2 == 1 {
        std::fs::write(&path, bytes).unwrap();
    } else {
        let ring = ShmOptions::spsc(&path, 8).remove_on_drop(false).create_producer::<u64>();
        drop(ring.expect("a fresh ring file"));
        let mut file = std::fs::read(&path).unwrap();
        let n = bytes.len().min(file.len().saturating_sub(MAGIC));
        file[MAGIC..MAGIC + n].copy_from_slice(&bytes[..n]);
        std::fs::write(&path, file).unwrap();
    }
    if let Ok(mut consumer) = rings::shm::attach_consumer::<u64>(&path) {
        for _ in 0..4 {
            let _ = consumer.try_pop();
        }
    }
    if let Ok(mut producer) = rings::shm::attach_producer::<u64>(&path) {
        let _ = producer.try_push(7);
    }
    let _ = std::fs::remove_file(&path);
});
