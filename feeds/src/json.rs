//! A minimal JSON scanner for venue frames: borrows from the frame, never allocates,
//! never recurses without bound, never panics. It returns raw spans; the decoders
//! convert the few fields they need (decimals straight from their text).

use crate::error::{DecodeError, DecodeErrorKind};

/// Deepest nesting [`Scanner::skip`] accepts inside the message's own object (venues
/// use 4 at most).
pub const MAX_DEPTH: u8 = 16;

/// The high bit of each byte of `word` that equals `byte` is set, exact up to the
/// lowest such byte (a borrow may mark bytes above it): callers use only the lowest.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Where the first `"` or `\\` in `text` is, eight bytes a step: the end of a string
/// body with no escape in it, or the escape that makes a fast path give up.
pub(crate) fn quote_or_backslash(text: &[u8]) -> Option<usize> {
    let mut chunks = text.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let found = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&b| b == b'"' || b == b'\\').map(|i| at + i)
}

/// A position in one frame.
#[derive(Debug)]
pub struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// An error of `kind` at the current offset.
    pub fn err(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset: u32::try_from(self.pos).unwrap_or(u32::MAX), kind }
    }

    fn err_at(&self, pos: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset: u32::try_from(pos).unwrap_or(u32::MAX), kind }
    }

    fn unexpected(&self, expected: &'static str) -> DecodeError {
        match self.buf.get(self.pos) {
            None => self.err(DecodeErrorKind::UnexpectedEnd),
            Some(&b) => self.err(DecodeErrorKind::Unexpected { expected, found: char::from(b) }),
        }
    }

    /// Skips white space.
    pub fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after white space, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.buf.get(self.pos).copied()
    }

    /// Consumes `byte` (after white space), or fails naming `what` was expected.
    ///
    /// # Errors
    /// Anything else there.
    pub fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), DecodeError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Succeeds only if nothing but white space is left.
    pub fn end(&mut self) -> Result<(), DecodeError> {
        if self.peek().is_some() { Err(self.err(DecodeErrorKind::TrailingData)) } else { Ok(()) }
    }

    /// A string's raw contents (escapes left as they are: no field we decode has any).
    pub fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        self.expect(b'"', "'\"'")?;
        let start = self.pos;
        // Eight bytes per step: venue strings are short, where memchr's setup costs
        // more than it saves.
        while let Some(at) = self.buf.get(self.pos..).and_then(quote_or_backslash) {
            self.pos += at;
            if self.buf.get(self.pos) == Some(&b'"') {
                let text = self.buf.get(start..self.pos).unwrap_or_default();
                self.pos += 1;
                return Ok(text);
            }
            self.pos += 2; // a backslash: skip the escaped byte
        }
        self.pos = self.buf.len();
        Err(self.err(DecodeErrorKind::UnexpectedEnd))
    }

    /// A number's raw text.
    pub fn number(&mut self) -> Result<&'a [u8], DecodeError> {
        self.ws();
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.buf.get(self.pos) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected("a number"));
        }
        self.buf.get(start..self.pos).ok_or_else(|| self.err(DecodeErrorKind::UnexpectedEnd))
    }

    /// A decimal written as a string or a number, converted at `scale` in the same pass
    /// that finds its end. The outer error is bad JSON; the inner one a bad decimal.
    pub fn fixed(&mut self, scale: u8) -> Result<Result<i64, crate::decimal::DecimalError>, DecodeError> {
        self.ws();
        let start = self.pos;
        let quoted = self.buf.get(start) == Some(&b'"');
        let body = start + usize::from(quoted);
        let rest = self.buf.get(body..).unwrap_or_default();
        let (value, used) = crate::decimal::parse_fixed_prefix(rest, scale);
        let end = rest.get(used);
        let clean_end = if quoted {
            end == Some(&b'"')
        } else {
            !matches!(end, Some(b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E'))
        };
        if value.is_ok() && clean_end {
            self.pos = body + used + usize::from(quoted);
            return Ok(value);
        }
        // Anything unusual (escapes, exponents, bad digits): take the slow, exact path
        // so the error names the right byte.
        self.pos = start;
        let text = self.scalar()?;
        Ok(crate::decimal::parse_fixed(text, scale))
    }

    /// A string or a number, as raw text (venues send decimals as either).
    pub fn scalar(&mut self) -> Result<&'a [u8], DecodeError> {
        if self.peek() == Some(b'"') { self.string() } else { self.number() }
    }

    /// An unsigned integer, written as a number or a string of digits.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.ws();
        // Bare digits (how venues send ids and times) in one pass; anything else via
        // the general path below.
        let start = self.pos;
        let mut value: u64 = 0;
        let mut end = start;
        while let Some(&b) = self.buf.get(end).filter(|b| b.is_ascii_digit()) {
            match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                Some(v) => value = v,
                None => break,
            }
            end += 1;
        }
        let clean = end > start && !matches!(self.buf.get(end), Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'-' | b'+'));
        if clean {
            self.pos = end;
            return Ok(value);
        }
        let text = self.scalar()?;
        parse_u64(text)
            .ok_or_else(|| self.err_at(start, DecodeErrorKind::BadField { field, expected: "unsigned integer" }))
    }

    /// `true` or `false`.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        self.ws();
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.starts_with(b"true") {
            self.pos += 4;
            Ok(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(self.err(DecodeErrorKind::BadField { field, expected: "boolean" }))
        }
    }

    /// Skips any value, nested or not, iteratively (no recursion on hostile input).
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        // Bit `d` set: the container at depth `d` (0-based) is an object.
        let mut objects: u32 = 0;
        let mut depth: u8 = 0;
        loop {
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if depth == MAX_DEPTH {
                        return Err(self.err(DecodeErrorKind::TooDeep { max: MAX_DEPTH }));
                    }
                    self.pos += 1;
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1; // empty container: a complete value
                    } else {
                        if open == b'{' {
                            objects |= 1 << depth;
                            self.string()?;
                            self.expect(b':', "':'")?;
                        } else {
                            objects &= !(1 << depth);
                        }
                        depth += 1;
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't' | b'n') => self.literal(4)?,
                Some(b'f') => self.literal(5)?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return Err(self.unexpected("a value")),
            }
            // A value is complete: close containers until one continues with ','.
            loop {
                let Some(level) = depth.checked_sub(1) else { return Ok(()) };
                let in_object = objects & (1 << level) != 0;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.string()?;
                            self.expect(b':', "':'")?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {
                        self.pos += 1;
                        depth = level;
                    }
                    Some(b']') if !in_object => {
                        self.pos += 1;
                        depth = level;
                    }
                    _ => return Err(self.unexpected(if in_object { "',' or '}'" } else { "',' or ']'" })),
                }
            }
        }
    }

    fn literal(&mut self, len: usize) -> Result<(), DecodeError> {
        let word = self.buf.get(self.pos..self.pos + len);
        if matches!(word, Some(b"true" | b"null" | b"false")) {
            self.pos += len;
            Ok(())
        } else {
            Err(self.unexpected("true, false or null"))
        }
    }

    /// Walks an object, calling `field(self, key)` for each key; `field` must consume
    /// the value (or call [`Scanner::skip`]).
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.expect(b'{', "'{'")?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':', "':'")?;
            field(self, key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
    }

    /// Walks an array, calling `item(self)` for each element, which it must consume.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), DecodeError>) -> Result<(), DecodeError> {
        self.expect(b'[', "'['")?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    /// Jumps to `pos` (a span start recorded earlier in the same frame).
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &b| match b {
        b'0'..=b'9' => acc.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The string's end the slow way: the first quote not escaped by a backslash.
    fn reference_end(body: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < body.len() {
            match body[i] {
                b'"' => return Some(i),
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        None
    }

    #[test]
    fn strings_end_at_their_first_unescaped_quote_at_every_length_and_alignment() {
        let pieces: [&[u8]; 5] = [b"a", b"\\\"", b"\\\\", b"\"", b"\xc3\xa9"];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut frame = b"\"".to_vec();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for k in 0..(seed % 24) {
                frame.extend_from_slice(pieces[((seed >> (k * 2 + 5)) % 5) as usize]);
            }
            let expected = reference_end(&frame[1..]);
            let mut s = Scanner::new(&frame);
            match (s.string(), expected) {
                (Ok(text), Some(end)) => {
                    assert_eq!(text, &frame[1..1 + end], "{frame:?}");
                    assert_eq!(s.pos(), end + 2, "{frame:?}");
                }
                (Err(e), None) => assert_eq!(e.kind, DecodeErrorKind::UnexpectedEnd, "{frame:?}"),
                (got, want) => panic!("{frame:?}: got {got:?}, want end {want:?}"),
            }
        }
    }

    #[test]
    fn the_first_quote_or_backslash_is_found_at_every_length_and_alignment() {
        // Bytes next to the targets' values (0x21, 0x23, 0x5b, 0x5d), 0x00, 0x80 and
        // 0xff are the ones a word-at-a-time compare can get wrong.
        let alphabet = [b'a', b'"', b'\\', 0x21, 0x23, 0x5b, 0x5d, 0x00, 0x80, 0xff, 0x01];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..50_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|k| {
                    let pick = (seed.rotate_left(k as u32 * 7) % 64) as usize;
                    // Mostly plain bytes, so the first hit lands anywhere, or nowhere.
                    if pick < alphabet.len() { alphabet[pick] } else { b'a' }
                })
                .collect();
            let expected = text.iter().position(|&b| b == b'"' || b == b'\\');
            assert_eq!(quote_or_backslash(&text), expected, "{text:?}");
        }
    }

    #[test]
    fn skips_every_kind_of_value() {
        let frame = br#"{"a":[1,-2.5e3,"x\"y",true,false,null,{"k":[{}]},[]],"b":{"c":{"d":"e"}},"z":0}"#;
        let mut s = Scanner::new(frame);
        let mut keys = Vec::new();
        s.object(|s, key| {
            keys.push(key.to_vec());
            s.skip()
        })
        .unwrap();
        s.end().unwrap();
        assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"z".to_vec()]);
    }

    #[test]
    fn malformed_input_is_an_error_with_an_offset_never_a_panic() {
        for (frame, offset) in
            [(&br#"{"a":}"#[..], 5), (br#"{"a" 1}"#, 5), (br#"{"a":[1,2"#, 9), (br#"{"a":tru}"#, 5), (b"", 0)]
        {
            let mut s = Scanner::new(frame);
            let err = s.object(|s, _| s.skip()).unwrap_err();
            assert_eq!(err.offset, offset, "{:?} -> {err}", std::str::from_utf8(frame));
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        let err = Scanner::new(deep.as_bytes()).object(|s, _| s.skip()).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TooDeep { max: MAX_DEPTH });
    }

    #[test]
    fn integers_from_numbers_or_strings() {
        let mut s = Scanner::new(br#"[12345, "678", "-1", 1.5, 99999999999999999999]"#);
        let mut got = Vec::new();
        s.array(|s| {
            got.push(s.u64("n").ok());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, [Some(12345), Some(678), None, None, None]);
    }
}
