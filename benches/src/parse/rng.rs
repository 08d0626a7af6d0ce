//! Deterministic synthetic numbers and texts, so every run parses the same bytes.

/// A tiny deterministic generator (xorshift64*).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator; each set seeds its own so sets do not depend on each other.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n
    }

    /// `true` with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// `units` written with `places` fractional digits, always all of them (`"1.50"` for
/// 150 at 2 places), as Binance, Coinbase, Bybit and Kraken's sizes are written.
pub fn fixed(units: u64, places: u32) -> String {
    let one = 10u64.pow(places);
    if places == 0 {
        return units.to_string();
    }
    format!("{}.{:0width$}", units / one, units % one, width = places as usize)
}

/// `units` at `places` with trailing zeros trimmed (`"1.5"`, `"2"`), as OKX writes.
pub fn trimmed(units: u64, places: u32) -> String {
    let text = fixed(units, places);
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// An RFC 3339 UTC time with microseconds, `micros` after 2023-10-06T00:00:00Z, as
/// Coinbase and Kraken write times.
pub fn rfc3339(micros: u64) -> String {
    let (secs, us) = (micros / 1_000_000, micros % 1_000_000);
    let (h, m, s) = ((secs / 3_600) % 24, (secs / 60) % 60, secs % 60);
    format!("2023-10-06T{h:02}:{m:02}:{s:02}.{us:06}Z")
}
