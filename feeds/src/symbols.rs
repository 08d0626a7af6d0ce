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
        Self { entries: Vec::new(), first: first.0 }
    }

    /// Adds a venue symbol with its scales, returning its new id (or the id it
    /// already had). Start-up only: it may allocate.
    pub fn intern(&mut self, venue_symbol: &str, price_scale: u8, qty_scale: u8) -> InstrumentId {
        if let Some(found) = self.lookup(venue_symbol.as_bytes()) {
            return found.id;
        }
        let id = InstrumentId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX).saturating_add(self.first));
        self.entries.push((venue_symbol.as_bytes().into(), Instrument { id, price_scale, qty_scale }));
        id
    }

    /// The instrument for a venue symbol, without allocating.
    pub fn lookup(&self, venue_symbol: &[u8]) -> Option<Instrument> {
        // NB: a linear scan beats hashing for the tens of symbols a feed carries.
        self.entries.iter().find(|(s, _)| **s == *venue_symbol).map(|(_, i)| *i)
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
