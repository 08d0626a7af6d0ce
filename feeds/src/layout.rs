//! Exact-layout reading: a frame written in the venue's documented key order, with
//! no white space, is read by comparing the literal text between its values. Any
//! difference makes a read return `None`, and the caller decodes the frame by the
//! general path instead. The general path gives the same events and is the one that
//! reports errors, so this path only ever accepts what the general path accepts.

use crate::buffer::Events;
use crate::decimal::{parse_fixed_prefix, short_decimal};
use crate::event::{Event, Level, Price, Qty, Side, Trade, UnixNanos, Venue};
use crate::symbols::Instrument;

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
    #[inline(always)] // reason: `N` is known at every call, so the compare is a few loads
    pub(crate) fn literal<const N: usize>(&mut self, text: &[u8; N]) -> Option<()> {
        let next: &[u8; N] = self.buf.get(self.pos..self.pos.checked_add(N)?)?.try_into().ok()?;
        // An array compare of known length; a slice compare of unknown length calls
        // `memcmp` (3.4% of Coinbase's decoding).
        (next == text).then(|| self.pos += N)
    }

    /// [`Layout::literal`] for text whose length is chosen at run time.
    pub(crate) fn literal_slice(&mut self, text: &[u8]) -> Option<()> {
        let rest = self.buf.get(self.pos..)?;
        rest.starts_with(text).then(|| self.pos += text.len())
    }

    /// Unsigned decimal digits: at least one, and no more than fit a `u64`.
    #[inline(always)] // reason: ids and times; a call cost a quarter of a Binance trade
    pub(crate) fn digits(&mut self) -> Option<u64> {
        let start = self.pos;
        let (mut value, n) = crate::decimal::digit_run(self.buf, start);
        self.pos += n;
        if n == crate::decimal::MAX_RUN {
            // Rare: 17 digits or more, one at a time, checked.
            while let Some(&b) = self.buf.get(self.pos).filter(|b| b.is_ascii_digit()) {
                value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                self.pos += 1;
            }
        }
        (self.pos > start).then_some(value)
    }

    /// Unsigned decimal digits whose value the caller does not need, checked as
    /// [`Layout::digits`] checks them: counted, not converted.
    #[inline(always)] // reason: as `digits`
    pub(crate) fn skip_digits(&mut self) -> Option<()> {
        let first = crate::decimal::leading_digit_count(self.buf, self.pos);
        if first < 8 {
            self.pos += first;
            return (first > 0).then_some(());
        }
        let second = crate::decimal::leading_digit_count(self.buf, self.pos + 8);
        if second == 8 {
            // Sixteen or more: `digits` reads them, checking that they fit a `u64`.
            return self.digits().map(drop);
        }
        self.pos += 8 + second;
        Some(())
    }

    /// A string's body, up to and past its closing quote (none with an escape).
    pub(crate) fn string_body(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let end = crate::json::quote_or_backslash(rest)?;
        if rest.get(end) != Some(&b'"') {
            return None;
        }
        self.pos += end + 1;
        rest.get(..end)
    }

    /// The rest of the frame as a string's body followed by `"}`, the frame's end.
    /// The body is not searched for a quote or an escape: only for text that the
    /// caller then refuses if it holds one (a time, a number).
    pub(crate) fn last_string(&mut self) -> Option<&'a [u8]> {
        let body = self.buf.get(self.pos..)?.strip_suffix(b"\"}")?;
        self.pos = self.buf.len();
        Some(body)
    }

    /// A decimal at `scale`, ending where a string's closing quote must follow.
    #[inline(always)] // reason: the short shape is a handful of instructions
    pub(crate) fn decimal(&mut self, scale: u8) -> Option<i64> {
        let text = self.buf.get(self.pos..)?;
        if let Some((value, used)) = short_decimal(text, scale) {
            self.pos += used;
            return Some(value);
        }
        let (value, used) = parse_fixed_prefix(text, scale);
        self.pos += used;
        value.ok()
    }

    /// `true` or `false`.
    #[inline(always)] // reason: as `digits`
    pub(crate) fn bool(&mut self) -> Option<bool> {
        // One step of 4 or 5 bytes, computed from the value, not branched on: a
        // trade's maker flag is a coin toss. (The check that the text is `false`
        // when not `true` only fails on a frame the general path then reads.)
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let is_true = rest.get(..4) == Some(b"true");
        if !is_true && rest.get(..5) != Some(b"false") {
            return None;
        }
        self.pos += 5 - usize::from(is_true);
        Some(is_true)
    }

    /// Whether the whole frame was read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// How one level of a book list is written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LevelShape {
    /// `["price","size"]` followed by `extra` more strings (OKX's deprecated field
    /// and order count).
    Strings { extra: usize },
    /// `{"price":number,"qty":number}` (Kraken v2).
    Numbers,
}

impl Layout<'_> {
    /// An integer with an optional minus sign and at most 18 digits.
    pub(crate) fn signed(&mut self) -> Option<i64> {
        let negative = self.literal(b"-").is_some();
        let start = self.pos;
        let value = self.digits()?;
        if self.pos - start > 18 {
            return None;
        }
        let value = i64::try_from(value).ok()?;
        Some(if negative { -value } else { value })
    }

    /// A book list (`[]` or `[level,...]`) of levels shaped `shape`, each passed to
    /// `each`; every price must be > 0 and every size >= 0, as every venue requires.
    pub(crate) fn levels(
        &mut self,
        inst: Instrument,
        shape: LevelShape,
        mut each: impl FnMut(Level) -> Option<()>,
    ) -> Option<()> {
        self.literal(b"[")?;
        if self.literal(b"]").is_some() {
            return Some(());
        }
        loop {
            // Each literal a constant array (a compare of known length, no `memcmp`
            // call); the branch on the shape goes the same way for every level.
            let strings = matches!(shape, LevelShape::Strings { .. });
            if strings {
                self.literal(b"[\"")?
            } else {
                self.literal(br#"{"price":"#)?
            }
            let price = self.decimal(inst.price_scale).filter(|p| *p > 0)?;
            if strings {
                self.literal(b"\",\"")?
            } else {
                self.literal(br#","qty":"#)?
            }
            let qty = self.decimal(inst.qty_scale).filter(|q| *q >= 0)?;
            if strings {
                self.literal(b"\"")?;
            }
            match shape {
                LevelShape::Strings { extra } => {
                    for _ in 0..extra {
                        self.literal(b",\"")?;
                        self.string_body()?;
                    }
                    self.literal(b"]")?;
                }
                LevelShape::Numbers => self.literal(b"}")?,
            }
            each(Level { price: Price(price), qty: Qty(qty) })?;
            if self.literal(b",").is_none() {
                return self.literal(b"]");
            }
        }
    }
}

impl<'a> Layout<'a> {
    /// A string, opening quote included.
    pub(crate) fn quoted(&mut self) -> Option<&'a [u8]> {
        self.literal(b"\"")?;
        self.string_body()
    }

    /// Skips a plain value: a string without escapes, `true`, `false`, or a number
    /// without an exponent.
    fn value(&mut self) -> Option<()> {
        if self.literal(b"\"").is_some() {
            return self.string_body().map(drop);
        }
        if self.bool().is_some() {
            return Some(());
        }
        self.literal(b"-");
        self.digits()?;
        if self.literal(b".").is_some() {
            self.digits()?;
        }
        Some(())
    }

    /// The rest of an object whose `{` was just read, to its `}`: for each key,
    /// `field(key, self)` reads the value and says `true`, or says `false` to have a
    /// plain value skipped. Nested values are not expected: they return `None`.
    pub(crate) fn fields(&mut self, mut field: impl FnMut(&'a [u8], &mut Self) -> Option<bool>) -> Option<()> {
        if self.literal(b"}").is_some() {
            return Some(());
        }
        loop {
            let key = self.quoted()?;
            self.literal(b":")?;
            if !field(key, self)? {
                self.value()?;
            }
            if self.literal(b",").is_none() {
                return self.literal(b"}");
            }
        }
    }
}

/// Sets `slot` unless a value is already there (a repeated key): `None` then, so the
/// general path decides what a repeated key means.
pub(crate) fn first<T>(slot: &mut Option<T>, value: T) -> Option<bool> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(true)
}

/// A decimal in a string, quotes included.
pub(crate) fn quoted_decimal(l: &mut Layout<'_>, scale: u8) -> Option<i64> {
    l.literal(b"\"")?;
    let value = l.decimal(scale)?;
    l.literal(b"\"")?;
    Some(value)
}

/// What a fast path reads from one trade object, by key.
#[derive(Debug, Default)]
pub(crate) struct TradeFields {
    pub(crate) inst: Option<Instrument>,
    pub(crate) id: Option<u64>,
    pub(crate) price: Option<i64>,
    pub(crate) qty: Option<i64>,
    pub(crate) taker: Option<Side>,
    pub(crate) time_ns: Option<u64>,
}

impl<'a> Layout<'a> {
    /// `buy` or `sell`, in the venue's spelling, quoted. Inlined so the spellings
    /// are constants and the comparisons need no `memcmp` call.
    #[inline(always)]
    pub(crate) fn side(&mut self, buy: &[u8], sell: &[u8]) -> Option<Side> {
        match self.quoted()? {
            text if text == buy => Some(Side::Buy),
            text if text == sell => Some(Side::Sell),
            _ => None,
        }
    }

    /// A list of trade objects, its `[` already read, through its `]`: each object's
    /// keys are read by `field` (as in [`Layout::fields`]) into a [`TradeFields`], and
    /// each trade, complete and with price and size > 0, is appended to `out`.
    pub(crate) fn trades(
        &mut self,
        venue: Venue,
        ts_recv: UnixNanos,
        out: &mut Events,
        mut field: impl FnMut(&'a [u8], &mut Self, &mut TradeFields) -> Option<bool>,
    ) -> Option<()> {
        loop {
            self.literal(b"{")?;
            let mut t = TradeFields::default();
            self.fields(|key, l| field(key, l, &mut t))?;
            let (price, qty) = (t.price.filter(|p| *p > 0)?, t.qty.filter(|q| *q > 0)?);
            let (ts, aggressor) = (UnixNanos(t.time_ns?), Some(t.taker?));
            let trade = Trade::new(venue, t.inst?.id, t.id?, Price(price), Qty(qty), aggressor, ts, ts_recv);
            out.push(Event::Trade(trade)).then_some(())?;
            if self.literal(b",").is_none() {
                return self.literal(b"]");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_reads_exactly_true_or_false() {
        for (text, value, pos) in [
            (&b"true,"[..], Some(true), 4),
            (b"false}", Some(false), 5),
            (b"true", Some(true), 4),
            (b"false", Some(false), 5),
            (b"falsey", Some(false), 5),
        ] {
            let mut l = Layout::new(text);
            assert_eq!(l.bool(), value, "{:?}", std::str::from_utf8(text));
            assert_eq!(l.pos, pos, "{:?}", std::str::from_utf8(text));
        }
        for text in [&b"tru"[..], b"fals", b"True", b"FALSE", b"1", b"", b"null"] {
            let mut l = Layout::new(text);
            assert_eq!(l.bool(), None, "{:?}", std::str::from_utf8(text));
            assert_eq!(l.pos, 0, "nothing consumed from {:?}", std::str::from_utf8(text));
        }
    }

    #[test]
    fn digits_read_every_length_exactly_and_refuse_overflow() {
        for len in 1..=24 {
            for fill in [b'9', b'1', b'0'] {
                let mut text = vec![fill; len];
                text[0] = b'1';
                text.extend_from_slice(b",\"x\"");
                let mut l = Layout::new(&text);
                let expected = std::str::from_utf8(&text[..len]).unwrap().parse::<u64>().ok();
                assert_eq!(l.digits(), expected, "{len} digits of {}", fill as char);
                if expected.is_some() {
                    assert_eq!(l.literal(b",\"x\""), Some(()), "stopped at the first non-digit");
                }
            }
        }
        assert_eq!(Layout::new(b"18446744073709551615").digits(), Some(u64::MAX));
        for len in 0..=24 {
            for fill in [b'9', b'0'] {
                let text = [vec![fill; len], b",x".to_vec()].concat();
                let (mut read, mut skipped) = (Layout::new(&text), Layout::new(&text));
                assert_eq!(
                    skipped.skip_digits().is_some(),
                    read.digits().is_some(),
                    "{len} digits of {}",
                    fill as char
                );
                assert_eq!(skipped.pos, read.pos, "{len} digits of {}", fill as char);
            }
        }
        assert_eq!(Layout::new(b"18446744073709551616").digits(), None);
        assert_eq!(Layout::new(b"x1").digits(), None);
    }
}
