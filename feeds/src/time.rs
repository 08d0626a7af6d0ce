//! RFC 3339 times (as Kraken and Coinbase send them) to Unix nanoseconds, exactly.

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` to nanoseconds since the epoch (UTC only).
/// Every field is at a fixed offset, so the first sixteen bytes are checked and read
/// as two words: a Coinbase frame has one or two of these, and reading them byte by
/// byte was a tenth of its decoding.
pub fn rfc3339_ns(text: &[u8]) -> Option<u64> {
    const NANOS_PER: [u64; 10] =
        [1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    let ([head, tail], rest) = text.split_first_chunk::<16>().map(|(a, b)| (split_words(a), b))?;
    // `YYYY-MM-` and `DDTHH:MM`: 0xFF marks a digit's byte (first byte lowest).
    let head = fixed_digits(head, 0x00FF_FF00_FFFF_FFFF, u64::from_le_bytes(*b"\0\0\0\0-\0\0-"))?;
    let tail = fixed_digits(tail, 0xFFFF_00FF_FF00_FFFF, u64::from_le_bytes(*b"\0\0T\0\0:\0\0"))?;
    // Each byte becomes ten times itself plus the next: the two-digit numbers.
    let pairs = |x: u64| x * 10 + (x >> 8);
    let byte = |x: u64, at: u32| ((x >> (8 * at)) & 0xFF) as i64;
    let (head, tail) = (pairs(head), pairs(tail));
    let (y, m, d) = (byte(head, 0) * 100 + byte(head, 2), byte(head, 5), byte(tail, 0));
    let (hh, mm) = (byte(tail, 3), byte(tail, 6));
    let (&[colon, s0, s1], rest) = rest.split_first_chunk::<3>()?;
    if colon != b':' || !s0.is_ascii_digit() || !s1.is_ascii_digit() {
        return None;
    }
    let ss = i64::from(s0 - b'0') * 10 + i64::from(s1 - b'0');
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let nanos = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            let (value, digits) = crate::decimal::digit_run(fraction, 0);
            if digits != fraction.len() {
                return None;
            }
            value * NANOS_PER.get(digits)?
        }
        _ => return None,
    };
    let secs = days_from_civil(y, m, d) * 86_400 + hh * 3_600 + mm * 60 + ss;
    u64::try_from(secs).ok()?.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Sixteen bytes as two little-endian words.
fn split_words(bytes: &[u8; 16]) -> [u64; 2] {
    let (first, second) = bytes.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    [word(first), word(second)]
}

/// A word whose bytes under `digits` (0xFF each) are ASCII digits and whose other
/// bytes equal `separators`'s: the digits' values, with zero bytes between them.
fn fixed_digits(word: u64, digits: u64, separators: u64) -> Option<u64> {
    // None of the separators carries into its neighbour, so every flag is exact.
    let non_digit = crate::decimal::non_digit_bytes(word);
    (word & !digits == separators && non_digit & digits == 0).then_some((word ^ 0x3030_3030_3030_3030) & digits)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian): Howard Hinnant's
/// algorithm, the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day; proleptic Gregorian) of `days` since
/// 1970-01-01: Howard Hinnant's algorithm, the inverse of the one `rfc3339_ns` uses.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes `ns` since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, as
/// Coinbase writes its times; the nanoseconds below are cut off).
pub fn write_rfc3339_micros(out: &mut Vec<u8>, ns: u64) {
    use std::io::Write as _;
    let (secs, micros) = (ns / 1_000_000_000, ns % 1_000_000_000 / 1_000);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rest = secs % 86_400;
    let (hh, mm, ss) = (rest / 3_600, rest / 60 % 60, rest % 60);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{micros:06}Z");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward reading of the text this file had before `rfc3339_ns` read
    /// by position: the reference the fast one must agree with on every input.
    fn reference_rfc3339_ns(text: &[u8]) -> Option<u64> {
        let digits = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if !separators.iter().all(|(i, c)| text.get(*i) == Some(c)) || text.last() != Some(&b'Z') {
            return None;
        }
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (hh, mm, ss) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        let mut nanos = 0i64;
        let body = text.get(19..text.len() - 1)?;
        if let Some(fraction) = body.strip_prefix(b".") {
            if fraction.is_empty() || fraction.len() > 9 || !fraction.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let value = fraction.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            nanos = value * 10i64.pow(9 - fraction.len() as u32);
        } else if !body.is_empty() {
            return None;
        }
        let secs = days_from_civil(y, m, d) * 86_400 + hh * 3_600 + mm * 60 + ss;
        u64::try_from(secs).ok()?.checked_mul(1_000_000_000)?.checked_add(nanos as u64)
    }

    #[test]
    fn reading_by_position_agrees_with_the_reference_on_mutated_times() {
        let seeds: [&[u8]; 5] = [
            b"2023-10-06T17:35:55.440295Z",
            b"1970-01-01T00:00:00Z",
            b"2000-02-29T23:59:60.123456789Z",
            b"2024-12-31T12:00:00.5Z",
            b"1969-12-31T23:59:59.999Z",
        ];
        let bytes = b"0123456789-T:.Z+ \x00\xff";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let mut text = seeds[(next() % 5) as usize].to_vec();
            for _ in 0..(next() % 3) {
                let at = (next() % (text.len() as u64 + 1)) as usize;
                let byte = bytes[(next() % bytes.len() as u64) as usize];
                match next() % 3 {
                    0 if at < text.len() => text[at] = byte,
                    1 => text.insert(at, byte),
                    _ => drop(text.get(at).is_some().then(|| text.remove(at))),
                }
            }
            assert_eq!(rfc3339_ns(&text), reference_rfc3339_ns(&text), "{}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn written_times_read_back_to_the_microsecond() {
        let written = |ns| {
            let mut out = Vec::new();
            write_rfc3339_micros(&mut out, ns);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(written(1_696_613_755_440_295_123), "2023-10-06T17:35:55.440295Z");
        assert_eq!(written(951_782_400_500_000_000), "2000-02-29T00:00:00.500000Z");
        assert_eq!(written(0), "1970-01-01T00:00:00.000000Z");
        // Every day of four centuries (leap days, century years), at odd times.
        for day in 0..146_097u64 {
            let ns = day * 86_400_000_000_000 + day % 86_400 * 1_000_000_017 % 86_400_000_000_000;
            let back = rfc3339_ns(written(ns).as_bytes()).unwrap();
            assert_eq!(back, ns / 1_000 * 1_000, "day {day}: {}", written(ns));
        }
    }

    #[test]
    fn rfc3339_times_convert_exactly() {
        assert_eq!(rfc3339_ns(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ns(b"2023-10-06T17:35:55.440295Z"), Some(1_696_613_755_440_295_000));
        assert_eq!(rfc3339_ns(b"2000-02-29T00:00:00.5Z"), Some(951_782_400_500_000_000));
        for bad in
            [&b"2023-10-06 17:35:55Z"[..], b"2023-13-06T17:35:55Z", b"2023-10-06T17:35:55", b"2023-10-06T17:35:55.Z"]
        {
            assert_eq!(rfc3339_ns(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
