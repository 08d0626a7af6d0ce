//! Venue symbols to engine instruments, interned once at start-up.

use crate::event::InstrumentId;

/// What the engine needs to know about an instrument to parse its prices and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    /// The engine's dense id.
    pub id: InstrumentId,
    /// Decimal places of a price (tick = `10^-price_scale`).
    pub price_scale: u8,
    /// Decimal places of a size (lot = `10^-qty_scale`).
    pub qty_scale: u8,
}

/// The venue's own symbol (e.g. `BTCUSDT`) for each instrument of one venue. Exists
/// only inside `feeds`; the rest of the engine sees [`InstrumentId`]s.
#[derive(Debug, Clone, Default)]
pub struct SymbolTable {
    entries: Vec<(Box<[u8]>, Instrument)>,
    /// The entries whose symbol is a [`ShortKey`], by hash, open addressing: a
    /// power-of-two table at most a quarter full, its hash seeded (see
    /// [`Self::rebuild_slots`]) so that every symbol sits in its home slot when a
    /// seed allows (else lookups probe on, still exact).
    slots: Vec<Option<(ShortKey, Instrument)>>,
    /// The seed that placed every symbol at home, or the last one tried.
    seed: u64,
    /// The id of the first entry: one venue's table among several numbers its
    /// instruments after the venues before it.
    first: u32,
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table whose first instrument gets id `first` (the next `first + 1`, ...).
    pub fn starting_at(first: InstrumentId) -> Self {
        Self { entries: Vec::new(), slots: Vec::new(), seed: 0, first: first.0 }
    }

    /// Adds a venue symbol with its scales, returning its new id (or the id it
    /// already had). Start-up only: it may allocate.
    pub fn intern(&mut self, venue_symbol: &str, price_scale: u8, qty_scale: u8) -> InstrumentId {
        if let Some(found) = self.lookup(venue_symbol.as_bytes()) {
            return found.id;
        }
        let id = InstrumentId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX).saturating_add(self.first));
        self.entries.push((venue_symbol.as_bytes().into(), Instrument { id, price_scale, qty_scale }));
        self.rebuild_slots();
        id
    }

    /// Places every short symbol: the smallest table at most a quarter full, and the
    /// first of 64 seeds, that puts each in its home slot, so a lookup decides at its
    /// first slot whichever symbol comes (with a collision, the loop that probes on
    /// would exit at a place that depends on the symbol). Failing that at 16x the
    /// symbols, the last table tried, whose lookups probe on: still exact. Past
    /// [`SEARCHED_UP_TO`] symbols one seed only: a venue's whole list (thousands)
    /// would make the search slow at start-up and rarely succeed.
    fn rebuild_slots(&mut self) {
        let keys: Vec<(ShortKey, Instrument)> =
            self.entries.iter().filter_map(|(symbol, inst)| ShortKey::of(symbol).map(|key| (key, *inst))).collect();
        let smallest = (4 * keys.len()).next_power_of_two().max(8);
        let (sizes, seeds) = if keys.len() <= SEARCHED_UP_TO { (3, 64) } else { (1, 1) };
        for size in [smallest, 2 * smallest, 4 * smallest].into_iter().take(sizes) {
            for seed in (0..seeds).map(|i: u64| i.wrapping_mul(0xD6E8_FEB8_6659_FD93)) {
                let (slots, all_home) = place(&keys, size, seed);
                (self.slots, self.seed) = (slots, seed);
                if all_home {
                    return;
                }
            }
        }
    }

    /// How many slots a lookup of `symbol` reads (tests: 1 is the aim).
    #[cfg(test)]
    fn probes(&self, symbol: &[u8]) -> Option<usize> {
        let key = ShortKey::of(symbol)?;
        let mask = self.slots.len().checked_sub(1)?;
        let home = key.slot(self.slots.len(), self.seed);
        (0..self.slots.len())
            .find(|k| self.slots.get((home + k) & mask).copied().flatten().is_none_or(|(s, _)| s == key))
            .map(|k| k + 1)
    }

    /// The instrument for a venue symbol, without allocating.
    #[inline] // reason: once per message; a call was a tenth of a Binance trade's decoding
    pub fn lookup(&self, venue_symbol: &[u8]) -> Option<Instrument> {
        // NB: comparing keys beats comparing slices (a `memcmp` call each, 4% of
        // Coinbase). A scan over the keys was about 8% of a Binance trade in `perf`;
        // its exit, at whichever symbol came, is a branch that no predictor can learn
        // (reasoning: this VM has no branch counters), and it grows with the symbols.
        let Some(key) = ShortKey::of(venue_symbol) else {
            return self.entries.iter().find(|(s, _)| **s == *venue_symbol).map(|(_, i)| *i);
        };
        let mask = self.slots.len().checked_sub(1)?;
        let mut at = key.slot(self.slots.len(), self.seed);
        loop {
            match self.slots.get(at)? {
                Some((k, inst)) if *k == key => return Some(*inst),
                Some(_) => at = (at + 1) & mask,
                None => return None,
            }
        }
    }

    /// The instrument for a symbol in any letter case (combined-stream names are
    /// lower case), without allocating.
    pub fn lookup_ignore_case(&self, venue_symbol: &[u8]) -> Option<Instrument> {
        self.entries.iter().find(|(s, _)| s.eq_ignore_ascii_case(venue_symbol)).map(|(_, i)| *i)
    }

    /// How many instruments are interned.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The venue symbol of an id (for reports and tools, not the hot path).
    pub fn symbol(&self, id: InstrumentId) -> Option<&str> {
        let (symbol, _) = self.entries.get(usize::try_from(id.0.checked_sub(self.first)?).ok()?)?;
        std::str::from_utf8(symbol).ok()
    }
}

/// The most symbols for which [`SymbolTable::rebuild_slots`] searches for a seed
/// that puts every one at home (at 64 keys in 1,024 slots a seed does so about one
/// time in seven, so one of 64 nearly always does).
const SEARCHED_UP_TO: usize = 64;

/// `keys` in a table of `size` slots hashed with `seed`, by linear probing, and
/// whether every key sits in its home slot.
fn place(keys: &[(ShortKey, Instrument)], size: usize, seed: u64) -> (Vec<Option<(ShortKey, Instrument)>>, bool) {
    let mut slots = vec![None; size];
    let mut all_home = true;
    for &(key, inst) in keys {
        let mut at = key.slot(size, seed);
        while let Some(Some(_)) = slots.get(at) {
            all_home = false;
            at = (at + 1) & (size - 1);
        }
        if let Some(slot) = slots.get_mut(at) {
            *slot = Some((key, inst));
        }
    }
    (slots, all_home)
}

/// A symbol of at most 16 bytes as its length and two words that cover every byte
/// (overlapping when it is shorter): equal keys, equal symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShortKey {
    len: usize,
    words: [u64; 2],
}

impl ShortKey {
    #[inline]
    fn of(symbol: &[u8]) -> Option<Self> {
        let len = symbol.len();
        let four = |at: usize| symbol.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes);
        let eight = |at: usize| symbol.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
        let words = match len {
            0..=3 => [symbol.iter().fold(0, |w, b| w << 8 | u64::from(*b)), 0],
            4..=7 => [u64::from(four(0)), u64::from(four(len - 4))],
            8..=16 => [eight(0), eight(len - 8)],
            _ => return None,
        };
        Some(Self { len, words })
    }

    /// Its home slot in a table of `size` (a power of two) slots hashed with `seed`.
    #[inline]
    fn slot(&self, size: usize, seed: u64) -> usize {
        let bits = self.words[0] ^ self.words[1].rotate_left(29) ^ self.len as u64 ^ seed;
        let mixed = bits.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The top bits of a multiplicative hash are the well-mixed ones.
        (mixed >> (64 - size.trailing_zeros())) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_lookup_exact() {
        let mut t = SymbolTable::new();
        let btc = t.intern("BTCUSDT", 2, 5);
        assert_eq!(t.intern("BTCUSDT", 2, 5), btc);
        let eth = t.intern("ETHUSDT", 2, 4);
        assert_ne!(btc, eth);
        assert_eq!(t.lookup(b"ETHUSDT").unwrap().qty_scale, 4);
        assert_eq!(t.lookup(b"BTCUSD"), None);
        assert_eq!(t.symbol(eth), Some("ETHUSDT"));
    }

    #[test]
    fn symbols_of_every_length_are_told_apart_by_every_byte() {
        let mut t = SymbolTable::new();
        let symbols: Vec<String> =
            (0..=20).flat_map(|len| (0..len.max(1)).map(move |at| symbol(len, at, b'A'))).collect();
        for s in &symbols {
            t.intern(s, 2, 2);
        }
        assert_eq!(t.len(), symbols.len(), "every symbol distinct");
        for (i, s) in symbols.iter().enumerate() {
            assert_eq!(t.lookup(s.as_bytes()).map(|inst| inst.id), Some(InstrumentId(i as u32)), "{s:?}");
            for at in 0..s.len() {
                // One byte changed anywhere is another (unknown) symbol.
                let mut changed = s.clone().into_bytes();
                changed[at] = b'Z';
                assert_eq!(t.lookup(&changed), None, "{s:?} with a Z at {at}");
            }
        }
    }

    #[test]
    fn the_bench_and_simulator_symbol_sets_are_each_found_at_their_first_slot() {
        // parse-bench's five venues, then the simulator's three symbols.
        let sets: [&[&str]; 6] = [
            &["BTCUSDT", "ETHUSDT", "BNBBTC", "SOLUSDT"],
            &["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"],
            &["BTC-USD", "ETH-USD", "SOL-USD", "ETH-BTC"],
            &["BTC/USD", "ETH/USD", "SOL/USD", "MATIC/USD"],
            &["BTC-USDT", "ETH-USDT", "SOL-USDT", "ETH-BTC"],
            &["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        ];
        for set in sets {
            let mut t = SymbolTable::new();
            for s in set {
                t.intern(s, 2, 8);
            }
            for s in set {
                assert_eq!(t.probes(s.as_bytes()), Some(1), "{s} in {set:?}");
            }
        }
        // Forty symbols: still one probe each, and an unknown one is refused.
        let mut t = SymbolTable::new();
        let many: Vec<String> = (0..40).map(|i| format!("SYM{i}USDT")).collect();
        for s in &many {
            t.intern(s, 2, 8);
        }
        for s in &many {
            assert_eq!(t.probes(s.as_bytes()), Some(1), "{s}");
        }
        assert_eq!(t.lookup(b"SYM40USDT"), None);
        // Beyond the searched size: some probe on, every one is still found exactly.
        let mut t = SymbolTable::new();
        let all: Vec<String> = (0..2_000).map(|i| format!("S{i}USDT")).collect();
        for s in &all {
            t.intern(s, 2, 8);
        }
        for (i, s) in all.iter().enumerate() {
            assert_eq!(t.lookup(s.as_bytes()).map(|inst| inst.id), Some(InstrumentId(i as u32)), "{s}");
        }
        assert_eq!(t.lookup(b"S2000USDT"), None);
    }

    /// `len` x's with `mark` at `at` (none if `len` is 0).
    fn symbol(len: usize, at: usize, mark: u8) -> String {
        (0..len).map(|i| if i == at { char::from(mark) } else { 'x' }).collect()
    }

    #[test]
    fn a_later_venue_numbers_its_instruments_after_the_earlier_ones() {
        let mut t = SymbolTable::starting_at(InstrumentId(3));
        let btc = t.intern("BTCUSDT", 2, 5);
        let eth = t.intern("ETHUSDT", 2, 4);
        assert_eq!((btc, eth), (InstrumentId(3), InstrumentId(4)));
        assert_eq!(t.lookup(b"ETHUSDT").map(|i| i.id), Some(InstrumentId(4)));
        assert_eq!(t.symbol(InstrumentId(3)), Some("BTCUSDT"));
        assert_eq!(t.symbol(InstrumentId(2)), None);
        assert_eq!(t.symbol(InstrumentId(5)), None);
    }
}
