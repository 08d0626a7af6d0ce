//! The capture reader on arbitrary bytes: never panics, always ends, never reads
//! past the bytes; every snapshot item's deltas load or are refused cleanly.
#![no_main]

use feeds::{
    Events,
    capture::{CaptureReader, Item, snapshot_events},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(bytes) else { return };
    let mut out = Events::with_capacity(256);
    while let Some(item) = reader.next_item() {
        let before = reader.position();
        match item {
            Ok(Item::Frame { bytes: frame, .. }) => assert!(frame.len() <= bytes.len()),
            Ok(Item::Snapshot { raw, .. }) => {
                out.clear();
                let _ = snapshot_events(raw, &mut out);
            }
            Err(_) => break,
        }
        assert!(reader.position() <= bytes.len(), "read past the end");
        assert!(reader.position() >= before);
    }
});
