//! RFC 3339 times (as Kraken and Coinbase send them) to Unix nanoseconds, exactly.

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` to nanoseconds since the epoch (UTC only).
pub fn rfc3339_ns(text: &[u8]) -> Option<u64> {
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
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3_600 + mm * 60 + ss;
    u64::try_from(secs).ok()?.checked_mul(1_000_000_000)?.checked_add(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

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
