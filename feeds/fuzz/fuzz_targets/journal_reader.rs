//! A journal segment of arbitrary bytes (and a good one before it): the reader never
//! panics and never returns a record the CRC does not vouch for; opening the journal
//! for writing recovers (truncating a torn tail) or refuses, never panics, and a
//! second open finds nothing more to repair.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use persist::journal::{Journal, JournalOptions, JournalReader};

static RUN: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|bytes: &[u8]| {
    let dir = std::env::temp_dir().join(format!(
        "journal-fuzz-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{:016}.seg", 0)), bytes).unwrap();
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
