//! A journal segment of arbitrary bytes: the reader never panics, and opening the
//! journal for writing recovers (truncating a torn tail) or refuses, never panics;
//! a second open finds nothing more to repair. The first byte chooses the layout:
//! odd, the bytes are the only segment; even, they follow a good segment (from a
//! short engine run), so a damaged later segment and a mismatched segment index
//! get exercised.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use persist::journal::{Journal, JournalOptions, JournalReader};

static RUN: AtomicU64 = AtomicU64::new(0);
static GOOD: &[u8] = include_bytes!("../fixtures/sim.seg");

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("journal-fuzz-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let segment = |index: u64| dir.join(format!("{index:016}.seg"));
    if mode % 2 == 1 {
        std::fs::write(segment(0), bytes).unwrap();
    } else {
        std::fs::write(segment(0), GOOD).unwrap();
        std::fs::write(segment(1), bytes).unwrap();
    }
    if let Ok(reader) = JournalReader::open(&dir) {
        let _ = reader.read_all();
    }
    if let Ok((journal, _)) = Journal::open(&dir, JournalOptions::default()) {
        drop(journal);
        let (_, again) = Journal::open(&dir, JournalOptions::default()).expect("a recovered journal opens again");
        assert_eq!(again.truncated, None, "recovery left something to repair: {again:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
});
