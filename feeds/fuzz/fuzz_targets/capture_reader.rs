//! The capture reader on arbitrary bytes: never panics, always moves forward and
//! ends, never reads past the bytes; every snapshot item's deltas load into events
//! and are applied to a book (or refused) without a panic, as a replay does.
#![no_main]

use feeds::{
    Events,
    book::Book,
    capture::{CaptureReader, Item, snapshot_events},
    event::Event,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(bytes) else { return };
    let mut out = Events::with_capacity(256);
    let mut book = Book::with_depth(64);
    loop {
        let before = reader.position();
        let Some(item) = reader.next_item() else { break };
        match item {
            Ok(Item::Frame { bytes: frame, .. }) => assert!(frame.len() <= bytes.len()),
            Ok(Item::Snapshot { raw, .. }) => {
                out.clear();
                let _ = snapshot_events(raw, &mut out);
                for event in out.as_slice() {
                    if let Event::BookDelta(delta) = event {
                        let _ = book.apply(delta);
                    }
                }
            }
            // Any id: a replay compares it with its dialect, never trusts it.
            Ok(Item::Venue { .. }) => {}
            Err(_) => break,
        }
        assert!(reader.position() > before, "an item that does not move the reader on");
        assert!(reader.position() <= bytes.len(), "read past the end");
    }
});
