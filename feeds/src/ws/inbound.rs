//! The receive half of the WebSocket client, apart from the socket: one fixed buffer
//! that reads from any [`Read`] and hands out each complete message as a slice of
//! itself. Kept apart so that the frame parser and its buffer handling can be driven
//! by arbitrary bytes in arbitrary read sizes (the `ws_frames` fuzz target) exactly as
//! the socket drives them.

use std::io::Read;

use super::WsError;

/// A control frame the caller must answer (the client answers on its socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control<'a> {
    /// A ping: answer with a pong carrying this payload (at most 125 bytes).
    Ping(&'a [u8]),
    /// A close frame with its code, if any: echo the close; the connection is over.
    Close(Option<u16>),
}

/// The receive buffer: the bytes read so far, where the next frame starts, and the
/// message last handed out.
#[derive(Debug)]
pub struct Inbound {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes of the message last handed out, dropped at the next advance.
    consumed: usize,
    /// Where the message last handed out lies in `buf`.
    message: (usize, usize),
}

enum Frame {
    Complete { header: usize, len: usize, opcode: u8, fin: bool },
    Incomplete { total: Option<u64> },
}

fn parse_frame(b: &[u8]) -> Result<Frame, WsError> {
    let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else { return Ok(Frame::Incomplete { total: None }) };
    if b0 & 0x70 != 0 {
        return Err(WsError::Protocol("reserved bits set (no extension was negotiated)"));
    }
    if b1 & 0x80 != 0 {
        return Err(WsError::Protocol("masked frame from the server"));
    }
    let (header, len) = match b1 & 0x7f {
        126 => match b.get(2..4) {
            Some(l) => {
                let mut a = [0u8; 2];
                a.copy_from_slice(l);
                (4, u64::from(u16::from_be_bytes(a)))
            }
            None => return Ok(Frame::Incomplete { total: None }),
        },
        127 => match b.get(2..10) {
            Some(l) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(l);
                (10, u64::from_be_bytes(a))
            }
            None => return Ok(Frame::Incomplete { total: None }),
        },
        n => (2, u64::from(n)),
    };
    // A hostile 64-bit length must not wrap the sum (it is then simply too large).
    let total = (header as u64).saturating_add(len);
    if (b.len() as u64) < total {
        return Ok(Frame::Incomplete { total: Some(total) });
    }
    Ok(Frame::Complete { header, len: len as usize, opcode: b0 & 0x0f, fin: b0 & 0x80 != 0 })
}

impl Inbound {
    /// A buffer of `capacity` bytes (at least 1 KiB): the largest message it takes.
    pub fn new(capacity: usize) -> Self {
        Self { buf: vec![0; capacity.max(1024)], start: 0, end: 0, consumed: 0, message: (0, 0) }
    }

    /// Empties the buffer for a new connection, keeping its memory.
    pub fn clear(&mut self) {
        (self.start, self.end, self.consumed, self.message) = (0, 0, 0, (0, 0));
    }

    /// The buffer's size: the largest message (with its frame header) it takes.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The message the last successful [`Inbound::advance`] found.
    pub fn message(&self) -> &[u8] {
        self.buf.get(self.message.0..self.message.1).unwrap_or_default()
    }

    /// Moves to the next complete text or binary message (read it with
    /// [`Inbound::message`]), reading from `src` as needed; `false` if `src` has no
    /// more for now (`WouldBlock`). Pings and pongs between messages are consumed;
    /// `control` is called for each ping and for a close, and its error ends the call.
    ///
    /// # Errors
    /// A close frame, the end of `src` (a dropped connection), a read error, or a
    /// frame this client refuses (reserved bits, masking, fragments, unknown opcodes,
    /// a message larger than the buffer). The connection is then unusable.
    pub fn advance<R: Read>(
        &mut self,
        src: &mut R,
        mut control: impl FnMut(&mut R, Control<'_>) -> Result<(), WsError>,
    ) -> Result<bool, WsError> {
        self.start += std::mem::take(&mut self.consumed);
        loop {
            match parse_frame(self.buf.get(self.start..self.end).unwrap_or_default())? {
                Frame::Complete { header, len, opcode, fin } => {
                    let (body, next) = (self.start + header, self.start + header + len);
                    match opcode {
                        0x1 | 0x2 if fin => {
                            self.consumed = header + len;
                            self.message = (body, next);
                            return Ok(true);
                        }
                        0x0..=0x2 => return Err(WsError::Protocol("fragmented messages are not supported")),
                        0x8 => {
                            let code = self
                                .buf
                                .get(body..next)
                                .and_then(|c| c.get(..2))
                                .and_then(|c| <[u8; 2]>::try_from(c).ok())
                                .map(u16::from_be_bytes);
                            // The close is being reported anyway; a failed echo adds nothing.
                            let _ = control(src, Control::Close(code));
                            return Err(WsError::Closed { code });
                        }
                        0x9 => {
                            self.start = next;
                            let payload = self.buf.get(body..next).unwrap_or_default();
                            control(src, Control::Ping(payload.get(..125).unwrap_or(payload)))?;
                        }
                        0xA => self.start = next,
                        _ => return Err(WsError::Protocol("unknown opcode")),
                    }
                }
                Frame::Incomplete { total } => {
                    if let Some(total) = total
                        && total > self.buf.len() as u64
                    {
                        return Err(WsError::TooLarge { len: total, capacity: self.buf.len() });
                    }
                    if self.start == self.end {
                        (self.start, self.end) = (0, 0);
                    } else if self.end == self.buf.len()
                        || total.is_some_and(|t| self.start as u64 + t > self.buf.len() as u64)
                    {
                        self.buf.copy_within(self.start..self.end, 0);
                        self.end -= self.start;
                        self.start = 0;
                    }
                    let Some(room) = self.buf.get_mut(self.end..) else { return Ok(false) };
                    match src.read(room) {
                        Ok(0) => return Err(WsError::Disconnected),
                        Ok(n) => self.end += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(WsError::Io(e)),
                    }
                }
            }
        }
    }
}
