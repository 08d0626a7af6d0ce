//! Decimal text to fixed-point integers, exactly: no float ever touches a price.
//!
//! `"0.01914100"` at scale 8 is `1_914_100`; at scale 6 it is `19_141` (the trailing
//! zeros beyond the scale are dropped because they are zeros); `"0.0191411"` at scale 6
//! is an error, because dropping the `1` would change the value.

/// Why a decimal could not be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// No digits at all.
    #[error("empty number")]
    Empty,
    /// A character that is not a digit, sign or single decimal point.
    #[error("invalid character {found:?} in number")]
    InvalidChar {
        /// The byte found, as a char.
        found: char,
    },
    /// `NaN` or an infinity.
    #[error("not a finite number")]
    NotFinite,
    /// More significant decimals than the instrument's scale.
    #[error("more than {scale} decimal places")]
    TooManyDecimals {
        /// The scale in force.
        scale: u8,
    },
    /// The scaled value does not fit in an `i64`.
    #[error("number out of range for a 64-bit fixed-point value")]
    Overflow,
}

/// Parses `text` (ASCII decimal, optional leading `-`) as an integer count of
/// `10^-scale` units.
///
/// # Errors
/// [`DecimalError`] for anything but an exactly representable decimal.
///
/// # Examples
/// ```
/// use feeds::decimal::parse_fixed;
/// assert_eq!(parse_fixed(b"0.01914100", 8), Ok(1_914_100));
/// assert_eq!(parse_fixed(b"27450.00", 2), Ok(2_745_000));
/// assert_eq!(parse_fixed(b"-1.5", 1), Ok(-15));
/// assert!(parse_fixed(b"1.25", 1).is_err());
/// ```
pub fn parse_fixed(text: &[u8], scale: u8) -> Result<i64, DecimalError> {
    let (value, used) = parse_fixed_prefix(text, scale);
    match (value, text.get(used)) {
        (Ok(_) | Err(DecimalError::Empty), Some(&byte)) => Err(DecimalError::InvalidChar { found: char::from(byte) }),
        (value, _) => value,
    }
}

/// Parses the longest decimal at the start of `text`; returns it and how many bytes
/// it used, so a scanner can convert a number in the same pass that finds its end.
/// On an error, the position says how far it got (callers report the number's start).
pub(crate) fn parse_fixed_prefix(text: &[u8], scale: u8) -> (Result<i64, DecimalError>, usize) {
    fast_prefix(text, scale).unwrap_or_else(|| general_prefix(text, scale))
}

/// The common shape, `-?d{0,15}(.d{0,15})?` with at least one digit and any places
/// beyond the scale zeros, read a word at a time: no overflow is possible in the
/// digit runs (16 digits < 2^63) and one checked scaling at the end. `None` sends
/// anything else (NaN, long numbers, a non-zero digit beyond the scale, no digits)
/// to the general path, which decides the exact result and error.
#[inline]
fn fast_prefix(text: &[u8], scale: u8) -> Option<(Result<i64, DecimalError>, usize)> {
    let negative = text.first() == Some(&b'-');
    let start = usize::from(negative);
    let (int, int_digits) = digit_run(text, start);
    if int_digits == MAX_RUN {
        return None;
    }
    let mut i = start + int_digits;
    let (mut frac, mut places) = (0, 0);
    if text.get(i) == Some(&b'.') {
        // Exactly eight places (Binance's, and most venues' sizes) in one word; any
        // other count in up to two.
        (frac, places) = match eight_digits(text.get(i + 1..i + 9)) {
            Some(eight) if scale >= 8 && !text.get(i + 9).is_some_and(u8::is_ascii_digit) => (eight, 8),
            _ => digit_run(text, i + 1),
        };
        if places == MAX_RUN {
            return None;
        }
        i += 1 + places;
        if text.get(i) == Some(&b'.') {
            return None;
        }
    }
    if int_digits == 0 && places == 0 {
        return None;
    }
    let scale_places = usize::from(scale);
    if places > scale_places {
        // Places beyond the scale change nothing if they are zeros (Binance writes
        // eight whatever the tick); any other digit is the general path's error.
        let beyond = *POW10.get(places - scale_places)?;
        if frac % beyond != 0 {
            return None;
        }
        frac /= beyond;
        places = scale_places;
    }
    let unit = *POW10.get(scale_places)?;
    // No overflow: frac < 10^places, so the product is < 10^scale <= 10^19.
    let frac = frac * POW10.get(scale_places - places)?;
    let limit = if negative { i64::MIN.unsigned_abs() } else { i64::MAX as u64 };
    let value = int.checked_mul(unit).and_then(|v| v.checked_add(frac)).filter(|v| *v <= limit);
    let value = value.and_then(|v| if negative { 0i64.checked_sub_unsigned(v) } else { i64::try_from(v).ok() });
    // On overflow let the general path report where it happened.
    value.map(|v| (Ok(v), i))
}

/// The common short shape, `d{1,7}` or `d{1,7}.d{0,8}` not followed by a digit, at
/// a scale of at most 11, any places beyond the scale being zeros (Binance writes
/// eight places whatever the tick: `"58800.01000000"` at scale 2): its value and
/// length, or `None` for any other text (which [`parse_fixed_prefix`] then reads).
/// Every venue's prices and sizes but the largest take this shape. Two word loads
/// and a byte, and no overflow check: below 10^7 with 11 places is below 10^18.
#[inline(always)] // reason: on every decimal of a documented layout, ahead of the general reading
pub(crate) fn short_decimal(text: &[u8], scale: u8) -> Option<(i64, usize)> {
    const MAX_SCALE: u8 = 11;
    let int_word = word_at(text, 0);
    let n = leading_digits(int_word);
    if n == 0 || n > 7 || scale > MAX_SCALE {
        return None;
    }
    let int = value_of_leading(int_word, n);
    // The byte after the digits lies in the same word while there are at most seven.
    if (int_word >> (8 * n)) & 0xFF != u64::from(b'.') {
        return Some(((int * *POW10.get(usize::from(scale))?) as i64, n));
    }
    let frac_word = word_at(text, n + 1);
    let ends_number = |end: usize| !text.get(end).is_some_and(u8::is_ascii_digit);
    if scale == 8 && non_digit_bytes(frac_word) == 0 {
        // Binance's every price and size at scale 8: eight places, with constants.
        let value = int * 100_000_000 + value_of_leading(frac_word, 8);
        return ends_number(n + 9).then_some((value as i64, n + 9));
    }
    let m = leading_digits(frac_word);
    if !ends_number(n + 1 + m) {
        return None;
    }
    let mut kept = m;
    if m > usize::from(scale) {
        // Places beyond the scale change nothing if they are zeros; any other digit
        // there is the general path's error to report.
        kept = usize::from(scale);
        if (frac_word ^ 0x3030_3030_3030_3030) & bytes_from_to(kept, m) != 0 {
            return None;
        }
    }
    let frac = if kept == 0 { 0 } else { value_of_leading(frac_word, kept) * *POW10.get(usize::from(scale) - kept)? };
    Some(((int * *POW10.get(usize::from(scale))? + frac) as i64, n + 1 + m))
}

/// A mask of a word's bytes `from..to` in text order (`from <= to <= 8`).
#[inline(always)] // reason: two shifts on the short decimal path
fn bytes_from_to(from: usize, to: usize) -> u64 {
    let below = |n: usize| if n == 0 { 0 } else { u64::MAX >> (64 - 8 * n) };
    below(to) & !below(from)
}

/// `10^n` for every `n` whose power fits a `u64`.
const POW10: [u64; 20] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
    10_000_000_000_000_000_000,
];

/// The longest digit run [`digit_run`] reads; a run this long may go on.
pub(crate) const MAX_RUN: usize = 16;

/// The eight bytes from `at` as a little-endian word (text order: first byte lowest).
/// Bytes past the end read as 0, which is not a digit, so a digit run stops there.
#[inline(always)] // reason: one load on every number
fn word_at(text: &[u8], at: usize) -> u64 {
    if let Some(Ok(bytes)) = text.get(at..at.saturating_add(8)).map(<[u8; 8]>::try_from) {
        return u64::from_le_bytes(bytes);
    }
    let mut bytes = [0u8; 8];
    for (byte, text) in bytes.iter_mut().zip(text.get(at..).unwrap_or_default()) {
        *byte = *text;
    }
    u64::from_le_bytes(bytes)
}

/// How many of a word's bytes, from its first in text order, are ASCII digits (0-8).
#[inline(always)] // reason: a handful of ALU operations on every number
fn leading_digits(word: u64) -> usize {
    (non_digit_bytes(word).trailing_zeros() / 8) as usize
}

/// The top bit of each byte of `word` that is not an ASCII digit, exact up to the
/// first such byte in text order; a later byte may be flagged wrongly only after a
/// flagged one.
#[inline(always)] // reason: as `leading_digits`
pub(crate) fn non_digit_bytes(word: u64) -> u64 {
    // Digits become 0..=9; adding 0x76 sets the top bit of any byte above 9, and the
    // `| t` of any byte that already had it. A carry out of a flagged byte can only
    // flag bytes after it, so the first flagged byte is exact.
    let t = word ^ 0x3030_3030_3030_3030;
    (t.wrapping_add(0x7676_7676_7676_7676) | t) & 0x8080_8080_8080_8080
}

/// How many of the (up to) eight bytes at `at` are ASCII digits, from the first.
#[inline(always)] // reason: as `leading_digits`
pub(crate) fn leading_digit_count(text: &[u8], at: usize) -> usize {
    leading_digits(word_at(text, at))
}

/// The value of the first `n` (1 to 8) bytes of a word, each a digit.
#[inline(always)] // reason: three multiplications on every number
fn value_of_leading(word: u64, n: usize) -> u64 {
    // Moved to the top, the digits are preceded by zero bytes: leading zeros.
    let x = (word ^ 0x3030_3030_3030_3030) << (64 - 8 * n);
    let x = x.wrapping_mul(10).wrapping_add(x >> 8); // pairs
    let lo = (x & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let hi = ((x >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    lo.wrapping_add(hi) >> 32
}

/// The run of ASCII digits at `at`, at most [`MAX_RUN`] of them: its value and length.
/// Two words and no branch per digit: prices, sizes, ids and times have runs of 1 to
/// 13 digits of no fixed length, which a digit-by-digit loop mispredicts at its end.
#[inline(always)] // reason: every number goes through it
pub(crate) fn digit_run(text: &[u8], at: usize) -> (u64, usize) {
    let first = word_at(text, at);
    let n = leading_digits(first);
    if n < 8 {
        return if n == 0 { (0, 0) } else { (value_of_leading(first, n), n) };
    }
    let high = value_of_leading(first, 8);
    let second = word_at(text, at + 8);
    let m = leading_digits(second);
    match POW10.get(m) {
        Some(unit) if m > 0 => (high * unit + value_of_leading(second, m), 8 + m),
        _ => (high, 8),
    }
}

fn general_prefix(text: &[u8], scale: u8) -> (Result<i64, DecimalError>, usize) {
    let (negative, start) = if text.first() == Some(&b'-') { (true, 1) } else { (false, 0) };
    if matches!(text.get(start), Some(b'N' | b'n' | b'I' | b'i')) {
        return (Err(DecimalError::NotFinite), start);
    }
    // Accumulated as a magnitude so that i64::MIN, one beyond i64::MAX, still fits.
    let limit = if negative { i64::MIN.unsigned_abs() } else { i64::MAX as u64 };
    let mut value: u64 = 0;
    let mut seen_point = false;
    let mut seen_digit = false;
    let mut decimals: u8 = 0;
    let mut i = start;
    while let Some(&byte) = text.get(i) {
        // Eight digits at a time while they fit the scale: Binance sends 8 places.
        let room = if seen_point { scale - decimals } else { u8::MAX };
        // No overflow: value < limit / 10^8, so value * 10^8 + 99_999_999 < limit.
        if room >= 8
            && value < limit / 100_000_000
            && let Some(eight) = eight_digits(text.get(i..i + 8))
        {
            value = value * 100_000_000 + eight;
            seen_digit = true;
            decimals += if seen_point { 8 } else { 0 };
            i += 8;
            continue;
        }
        match byte {
            b'0'..=b'9' => {
                seen_digit = true;
                let digit = u64::from(byte - b'0');
                if seen_point && decimals == scale {
                    if digit != 0 {
                        return (Err(DecimalError::TooManyDecimals { scale }), i);
                    }
                    // A trailing zero beyond the scale changes nothing.
                } else {
                    decimals += u8::from(seen_point);
                    match value.checked_mul(10).and_then(|v| v.checked_add(digit)).filter(|v| *v <= limit) {
                        Some(v) => value = v,
                        None => return (Err(DecimalError::Overflow), i),
                    }
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if !seen_digit {
        return (Err(DecimalError::Empty), i);
    }
    for _ in decimals..scale {
        match value.checked_mul(10).filter(|v| *v <= limit) {
            Some(v) => value = v,
            None => return (Err(DecimalError::Overflow), i),
        }
    }
    let value = if negative { 0i64.checked_sub_unsigned(value) } else { i64::try_from(value).ok() };
    (value.ok_or(DecimalError::Overflow), i)
}

/// The value of exactly eight ASCII digits, or `None` if any byte is not a digit.
/// SWAR: all eight are checked and combined with three multiplications.
#[inline]
pub(crate) fn eight_digits(bytes: Option<&[u8]>) -> Option<u64> {
    let chunk: [u8; 8] = bytes?.try_into().ok()?;
    let word = u64::from_le_bytes(chunk);
    (leading_digits(word) == 8).then(|| value_of_leading(word, 8))
}

/// Appends a fixed-point value as decimal text with exactly `scale` places, without
/// allocating beyond `out`'s capacity (the hot path's formatter).
///
/// # Examples
/// ```
/// let mut out = Vec::with_capacity(32);
/// feeds::decimal::write_fixed(&mut out, -1_914_100, 8);
/// assert_eq!(out, b"-0.01914100");
/// ```
pub fn write_fixed(out: &mut Vec<u8>, value: i64, scale: u8) {
    let mut digits = [0u8; 40];
    let mut n = 0;
    let mut v = value.unsigned_abs();
    // At least scale + 1 digits, so "0.0001" gets its leading zeros.
    while v > 0 || n <= usize::from(scale) {
        if let Some(d) = digits.get_mut(n) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        n += 1;
    }
    if value < 0 {
        out.push(b'-');
    }
    for k in (0..n).rev() {
        out.push(digits.get(k).copied().unwrap_or(b'0'));
        if k == usize::from(scale) && scale > 0 {
            out.push(b'.');
        }
    }
}

/// Formats a fixed-point value back into decimal text with exactly `scale` places.
///
/// # Examples
/// ```
/// assert_eq!(feeds::decimal::format_fixed(1_914_100, 8), "0.01914100");
/// assert_eq!(feeds::decimal::format_fixed(-15, 1), "-1.5");
/// ```
pub fn format_fixed(value: i64, scale: u8) -> String {
    let digits = value.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let padded =
        if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if value < 0 { "-" } else { "" };
    if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn write_fixed_matches_format_fixed_and_parses_back(value in any::<i64>(), scale in 0u8..=18) {
            let mut out = Vec::with_capacity(48);
            write_fixed(&mut out, value, scale);
            prop_assert_eq!(std::str::from_utf8(&out).unwrap(), format_fixed(value, scale));
        }
    }

    /// What [`short_decimal`] promises to take, written out plainly.
    fn has_short_shape(bytes: &[u8], scale: u8) -> bool {
        let int = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let rest = bytes.get(int..).unwrap_or_default().strip_prefix(b".");
        let places = rest.map(|r| r.iter().take_while(|b| b.is_ascii_digit()).count());
        let after = rest.and_then(|r| r.get(places.unwrap_or(0)));
        (1..=7).contains(&int)
            && scale <= 11
            && places.is_none_or(|p| {
                let beyond = rest.unwrap_or_default().get(usize::from(scale).min(p)..p).unwrap_or_default();
                p <= 8 && beyond.iter().all(|b| *b == b'0')
            })
            && after.is_none_or(|b| !b.is_ascii_digit())
    }

    #[test]
    fn venue_examples_convert_exactly() {
        assert_eq!(parse_fixed(b"0.00000000", 8), Ok(0));
        assert_eq!(parse_fixed(b"4095.00000000", 2), Ok(409_500));
        assert_eq!(parse_fixed(b"58800.01", 8), Ok(5_880_001_000_000));
        assert_eq!(parse_fixed(b"105944.20", 1), Ok(1_059_442));
        assert_eq!(parse_fixed(b"7", 3), Ok(7000));
        assert_eq!(parse_fixed(b".5", 1), Ok(5));
        assert_eq!(parse_fixed(b"5.", 1), Ok(50));
    }

    #[test]
    fn eight_digit_blocks_match_the_slow_path() {
        for text in ["12345678", "00000000", "99999999", "01914100"] {
            assert_eq!(eight_digits(Some(text.as_bytes())), text.parse().ok());
        }
        for text in ["1234567a", "1234/678", "12345:78", " 2345678"] {
            assert_eq!(eight_digits(Some(text.as_bytes())), None, "{text}");
        }
        assert_eq!(parse_fixed(b"12345678901.12345678", 8), Ok(1_234_567_890_112_345_678));
        assert_eq!(parse_fixed(b"92233720368.54775807", 8), Ok(i64::MAX));
        assert_eq!(parse_fixed(b"92233720368.54775808", 8), Err(DecimalError::Overflow));
    }

    /// Every integer length, a range of place counts (zeros beyond the scale among
    /// them), each kind of ending byte and scales around each limit: the short
    /// reading takes exactly its shape and agrees with the general path.
    #[test]
    fn the_short_shape_is_taken_exactly() {
        let fracs = [
            None,
            Some(""),
            Some("1"),
            Some("10"),
            Some("1234567"),
            Some("12345678"),
            Some("10000000"),
            Some("123456789"),
            Some("100000000"),
        ];
        for n in 1..=8 {
            for frac in fracs {
                for end in ["", "\"", ",", ".", "5"] {
                    let int = "98765432".get(..n).unwrap();
                    let text = match frac {
                        Some(frac) => format!("{int}.{frac}{end}"),
                        None => format!("{int}{end}"),
                    };
                    for scale in [0, 1, 2, 7, 8, 9, 11, 12] {
                        let short = short_decimal(text.as_bytes(), scale);
                        if let Some((value, used)) = short {
                            assert_eq!((Ok(value), used), general_prefix(text.as_bytes(), scale), "{text} at {scale}");
                        }
                        assert_eq!(short.is_some(), has_short_shape(text.as_bytes(), scale), "{text} at {scale}");
                    }
                }
            }
        }
        // Binance's eight places at the engine's scales.
        assert_eq!(short_decimal(b"58800.01000000\"", 2), Some((5_880_001, 14)));
        assert_eq!(short_decimal(b"0.03972000\"", 5), Some((3_972, 10)));
        assert_eq!(short_decimal(b"58800.01000001\"", 2), None, "a digit beyond the scale is an error to report");
        // The general path's fast reading pads and truncates the same way, signs and
        // long integers included.
        for (text, scale, value) in [
            (&b"58800.01000000"[..], 2, Some(5_880_001)),
            (b"-58800.01000000", 2, Some(-5_880_001)),
            (b"123456789012.50000000", 1, Some(1_234_567_890_125)),
            (b".000", 0, Some(0)),
            (b"1.000000000000000", 2, Some(100)),
            (b"1.51", 1, None),
        ] {
            let fast = fast_prefix(text, scale);
            assert_eq!(fast.map(|(v, _)| v.ok()), value.map(Some), "{:?}", std::str::from_utf8(text));
            if let Some(fast) = fast {
                assert_eq!(fast, general_prefix(text, scale));
            }
        }
    }

    #[test]
    fn bad_numbers_say_why() {
        assert_eq!(parse_fixed(b"", 2), Err(DecimalError::Empty));
        assert_eq!(parse_fixed(b"-", 2), Err(DecimalError::Empty));
        assert_eq!(parse_fixed(b".", 2), Err(DecimalError::Empty));
        assert_eq!(parse_fixed(b"NaN", 2), Err(DecimalError::NotFinite));
        assert_eq!(parse_fixed(b"-inf", 2), Err(DecimalError::NotFinite));
        assert_eq!(parse_fixed(b"+5", 0), Err(DecimalError::InvalidChar { found: '+' }));
        assert_eq!(parse_fixed(b"-9223372036854775808", 0), Ok(i64::MIN));
        assert_eq!(parse_fixed(b"9223372036854775808", 0), Err(DecimalError::Overflow));
        assert_eq!(parse_fixed(b"-92233720368.54775808", 8), Ok(i64::MIN));
        assert_eq!(parse_fixed(b"1.2.3", 2), Err(DecimalError::InvalidChar { found: '.' }));
        assert_eq!(parse_fixed(b"1e5", 2), Err(DecimalError::InvalidChar { found: 'e' }));
        assert_eq!(parse_fixed(b"0.001", 2), Err(DecimalError::TooManyDecimals { scale: 2 }));
        assert_eq!(parse_fixed(b"99999999999999999999", 0), Err(DecimalError::Overflow));
        assert_eq!(parse_fixed(b"92233720368.54775808", 8), Err(DecimalError::Overflow));
        assert_eq!(DecimalError::TooManyDecimals { scale: 2 }.to_string(), "more than 2 decimal places");
        assert_eq!(DecimalError::InvalidChar { found: 'e' }.to_string(), "invalid character 'e' in number");
        assert_eq!(DecimalError::Overflow.to_string(), "number out of range for a 64-bit fixed-point value");
        assert_eq!(DecimalError::NotFinite.to_string(), "not a finite number");
        assert_eq!(DecimalError::Empty.to_string(), "empty number");
    }

    proptest! {
        /// The fast path agrees with the general one on every decimal-looking text.
        #[test]
        fn fast_and_general_paths_agree(text in "-?[0-9]{0,21}(\\.[0-9]{0,18})?[.\",x0-9]?", scale in 0u8..=20) {
            if let Some(fast) = fast_prefix(text.as_bytes(), scale) {
                prop_assert_eq!(fast, general_prefix(text.as_bytes(), scale), "{}", text);
            }
        }

        /// The short shape reads what the general path reads, and takes every number
        /// of that shape (so Binance's prices never fall through to it).
        #[test]
        fn the_short_shape_agrees_with_the_general_path(
            text in "-?[0-9]{0,9}(\\.[0-9]{0,10})?[.\",x0-9]?",
            scale in 0u8..=20,
        ) {
            let bytes = text.as_bytes();
            let short = short_decimal(bytes, scale);
            if let Some((value, used)) = short {
                prop_assert_eq!((Ok(value), used), general_prefix(bytes, scale), "{}", text);
            }
            prop_assert_eq!(short.is_some(), has_short_shape(bytes, scale), "{} at scale {}", text, scale);
        }

        /// A digit run read a word at a time is the run read one byte at a time, at
        /// any offset, next to any byte, and at the very end of the text.
        #[test]
        fn digit_runs_match_a_byte_by_byte_reading(
            bytes in prop::collection::vec(prop_oneof![4 => b'0'..=b'9', 1 => any::<u8>()], 0..40),
            at in 0usize..42,
        ) {
            let run = bytes.get(at..).unwrap_or_default().iter().take_while(|b| b.is_ascii_digit()).count();
            let len = run.min(MAX_RUN);
            let value = bytes.get(at..at + len).unwrap_or_default().iter().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
            prop_assert_eq!(digit_run(&bytes, at), (value, len));
        }

        #[test]
        fn format_then_parse_round_trips(value in any::<i64>(), scale in 0u8..=12) {
            prop_assert_eq!(parse_fixed(format_fixed(value, scale).as_bytes(), scale), Ok(value));
        }

        #[test]
        fn never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..24), scale in 0u8..=18) {
            let _ = parse_fixed(&bytes, scale);
        }
    }
}
