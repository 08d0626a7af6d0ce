//! Arbitrary bytes from a WebSocket server, in arbitrary read sizes: the client's
//! receive buffer (`feeds::ws::Inbound`, exactly what reads the socket) returns
//! messages or a clear error and never panics, loops or reads out of bounds. The
//! first four bytes choose the read sizes (1 to 256 bytes, cycling), with a
//! `WouldBlock` between reads so the "nothing yet" path runs too. Every message it
//! hands out must be exactly the payload of the next data frame of the input (as a
//! reference reading of the frame headers finds it), within the buffer's size;
//! every pong payload is at most 125 bytes.
#![no_main]

use std::io::{ErrorKind, Read};

use feeds::ws::{Control, Inbound};
use libfuzzer_sys::fuzz_target;

/// The buffer's size: the smallest `Inbound` takes, so "too large" is reachable.
const CAPACITY: usize = 1024;

/// A reference reading of the frame at `at`: (header length, payload length, opcode),
/// or `None` if the bytes end inside its header.
fn frame_at(data: &[u8], at: usize) -> Option<(usize, usize, u8)> {
    let (b0, b1) = (*data.get(at)?, *data.get(at + 1)?);
    let (header, len) = match b1 & 0x7f {
        126 => (4, u64::from(u16::from_be_bytes(data.get(at + 2..at + 4)?.try_into().ok()?))),
        127 => (10, u64::from_be_bytes(data.get(at + 2..at + 10)?.try_into().ok()?)),
        n => (2, u64::from(n)),
    };
    Some((header, usize::try_from(len).ok()?, b0 & 0x0f))
}

struct Chunks<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    reads: usize,
    blocked: bool,
}

impl Read for Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.blocked = !self.blocked;
        if self.blocked && !self.data.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        let size = self.sizes.get(self.reads % self.sizes.len().max(1)).map_or(256, |s| usize::from(*s) + 1);
        self.reads += 1;
        let n = size.min(out.len()).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        out[..n].copy_from_slice(now);
        self.data = rest;
        Ok(n) // 0 at the end: the peer hung up
    }
}

fuzz_target!(|input: &[u8]| {
    let (sizes, data) = input.split_at(input.len().min(4));
    let mut src = Chunks { data, sizes, reads: 0, blocked: false };
    let mut inbound = Inbound::new(CAPACITY);
    let mut after = 0usize; // where the frames not yet handed out start in `data`
    loop {
        let result = inbound.advance(&mut src, |_, control| {
            if let Control::Ping(payload) = control {
                assert!(payload.len() <= 125, "a pong of {} bytes", payload.len());
            }
            Ok(())
        });
        match result {
            Ok(true) => {
                let message = inbound.message();
                assert!(message.len() + 2 <= CAPACITY, "a {}-byte message from a {CAPACITY}-byte buffer", message.len());
                // Exactly the payload of the next data frame: pings and pongs before
                // it are skipped, nothing else.
                loop {
                    let (header, len, opcode) = frame_at(data, after).expect("a message where no frame is");
                    let body = data.get(after + header..after + header + len).expect("a message past the input");
                    after += header + len;
                    if opcode == 0x9 || opcode == 0xA {
                        continue;
                    }
                    assert_eq!(message, body, "not the next data frame's payload");
                    break;
                }
            }
            Ok(false) => {}
            Err(_) => break,
        }
    }
});
