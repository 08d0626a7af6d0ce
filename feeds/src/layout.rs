//! Exact-layout reading: a frame written in the venue's documented key order, with
//! no white space, is read by comparing the literal text between its values. Any
//! difference makes a read return `None`, and the caller decodes the frame by the
//! general path instead. The general path gives the same events and is the one that
//! reports errors, so this path only ever accepts what the general path accepts.

use crate::decimal::parse_fixed_prefix;

/// A position in a frame expected to follow one layout.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Layout<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Consumes `text` if it is next.
    pub(crate) fn literal(&mut self, text: &[u8]) -> Option<()> {
        let rest = self.buf.get(self.pos..)?;
        rest.starts_with(text).then(|| self.pos += text.len())
    }

    /// Unsigned decimal digits (1 to 19, no overflow).
    pub(crate) fn digits(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        let start = self.pos;
        while let Some(&b) = self.buf.get(self.pos).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    /// A string's body, up to and past its closing quote (none with an escape).
    pub(crate) fn string_body(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        loop {
            match self.buf.get(self.pos)? {
                b'"' => break,
                b'\\' => return None,
                _ => self.pos += 1,
            }
        }
        let body = self.buf.get(start..self.pos)?;
        self.pos += 1;
        Some(body)
    }

    /// A decimal at `scale`, ending where a string's closing quote must follow.
    pub(crate) fn decimal(&mut self, scale: u8) -> Option<i64> {
        let (value, used) = parse_fixed_prefix(self.buf.get(self.pos..)?, scale);
        self.pos += used;
        value.ok()
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self) -> Option<bool> {
        if self.literal(b"true").is_some() {
            Some(true)
        } else {
            self.literal(b"false").map(|()| false)
        }
    }

    /// Whether the whole frame was read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
}
