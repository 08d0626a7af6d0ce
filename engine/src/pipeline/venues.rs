//! Several venues in one run: each venue's instruments get their own ids (venue `v`'s
//! `k`-th symbol is instrument `v × per_venue + k`), so books, sequencing, positions
//! and risk, all kept per instrument id, are per (instrument, venue) without knowing
//! about venues at all. Only what reads a venue's bytes or speaks to it needs the
//! venue: its decoder, its feed, its order entry.

use feeds::{
    DecodeError, Events,
    binance::BinanceDecoder,
    bybit::BybitDecoder,
    event::{InstrumentId, UnixNanos, Venue},
    okx::OkxDecoder,
    symbols::SymbolTable,
};

use super::PipelineConfig;

/// Which venue an instrument id belongs to, and where each venue's ids start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueLayout {
    /// Venues in the run (at least 1).
    pub venues: usize,
    /// Instruments per venue (the same symbols at each).
    pub per_venue: usize,
}

impl VenueLayout {
    /// The layout of `config`'s instruments.
    pub fn of(config: &PipelineConfig) -> Self {
        let venues = config.venues.max(1);
        Self { venues, per_venue: (config.instruments.len() / venues).max(1) }
    }

    /// The venue trading `instrument`.
    pub fn venue_of(self, instrument: InstrumentId) -> usize {
        instrument.0 as usize / self.per_venue
    }

    /// The same symbol's instrument at `venue`.
    pub fn at_venue(self, instrument: InstrumentId, venue: usize) -> InstrumentId {
        let k = instrument.0 as usize % self.per_venue;
        InstrumentId((venue * self.per_venue + k) as u32)
    }

    /// The instrument ids of `venue`.
    pub fn ids(self, venue: usize) -> std::ops::Range<usize> {
        venue * self.per_venue..(venue + 1) * self.per_venue
    }
}

/// How reports name each instrument: its symbol, and with several venues the venue
/// it trades at (`BTCUSDT@1`).
pub fn instrument_labels(config: &PipelineConfig) -> Vec<String> {
    let layout = VenueLayout::of(config);
    config
        .instruments
        .iter()
        .enumerate()
        .map(|(i, (name, ..))| {
            if layout.venues == 1 {
                name.clone()
            } else {
                format!("{name}@{}", layout.venue_of(InstrumentId(i as u32)))
            }
        })
        .collect()
}

/// Quote currencies, longest first where one ends another (`FDUSD`, `USDT`, `USD`).
const QUOTES: [&str; 7] = ["FDUSD", "USDT", "USDC", "USD", "EUR", "BTC", "ETH"];

/// How `venue` writes the engine's symbol `name` (the engine names instruments as
/// Binance does: `BTCUSDT`). OKX writes base and quote apart, `BTC-USDT`; a name that
/// already has a `-`, or whose quote is not one of [`QUOTES`], is kept as given.
pub fn venue_symbol(venue: Venue, name: &str) -> String {
    if venue != Venue::Okx || name.contains('-') {
        return name.to_owned();
    }
    QUOTES
        .iter()
        .find_map(|quote| {
            name.strip_suffix(quote).filter(|base| !base.is_empty()).map(|base| format!("{base}-{quote}"))
        })
        .unwrap_or_else(|| name.to_owned())
}

/// One venue's feed decoder, in the run's dialect (`--dialect`).
#[derive(Debug)]
enum FeedDecoder {
    Binance(BinanceDecoder),
    Bybit(BybitDecoder),
    Okx(OkxDecoder),
}

impl FeedDecoder {
    fn decode(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<usize, DecodeError> {
        match self {
            Self::Binance(d) => d.decode(frame, ts_recv, out),
            Self::Bybit(d) => d.decode(frame, ts_recv, out),
            Self::Okx(d) => d.decode(frame, ts_recv, out),
        }
    }
}

/// One decoder per venue, each numbering its symbols from where its venue's ids start.
#[derive(Debug)]
pub struct Decoders {
    venues: Vec<FeedDecoder>,
}

impl Decoders {
    /// Decoders for `config`'s venues.
    pub fn new(config: &PipelineConfig) -> Self {
        let layout = VenueLayout::of(config);
        let venues = (0..layout.venues)
            .map(|v| {
                let ids = layout.ids(v);
                let mut symbols = SymbolTable::starting_at(InstrumentId(ids.start as u32));
                for (name, price_scale, qty_scale) in config.instruments.get(ids).unwrap_or_default() {
                    symbols.intern(&venue_symbol(config.dialect, name), *price_scale, *qty_scale);
                }
                // `--dialect` offers Binance, Bybit and OKX.
                match config.dialect {
                    Venue::Bybit => FeedDecoder::Bybit(BybitDecoder::new(symbols)),
                    Venue::Okx => FeedDecoder::Okx(OkxDecoder::new(symbols)),
                    _ => FeedDecoder::Binance(BinanceDecoder::new(symbols)),
                }
            })
            .collect();
        Self { venues }
    }

    /// Decodes a frame from `venue`'s feed into `out`.
    ///
    /// # Errors
    /// The frame is malformed, or names a symbol that venue does not carry; a frame
    /// from a venue the run does not have is refused as an unknown symbol.
    pub fn decode(
        &self,
        venue: usize,
        frame: &[u8],
        ts_recv: UnixNanos,
        out: &mut Events,
    ) -> Result<usize, DecodeError> {
        match self.venues.get(venue) {
            Some(decoder) => decoder.decode(frame, ts_recv, out),
            None => Err(DecodeError { offset: 0, kind: feeds::DecodeErrorKind::UnknownSymbol }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okx_writes_base_and_quote_apart() {
        let okx = |name| venue_symbol(Venue::Okx, name);
        assert_eq!(okx("BTCUSDT"), "BTC-USDT");
        assert_eq!(okx("ETHBTC"), "ETH-BTC");
        assert_eq!(okx("SOLUSD"), "SOL-USD");
        assert_eq!(okx("BTCFDUSD"), "BTC-FDUSD", "FDUSD before USD");
        assert_eq!(okx("BTC-USDT-SWAP"), "BTC-USDT-SWAP", "already OKX's");
        assert_eq!(okx("USDT"), "USDT", "a quote alone has no base");
        assert_eq!(okx("XYZ"), "XYZ");
        assert_eq!(venue_symbol(Venue::Bybit, "BTCUSDT"), "BTCUSDT");
        assert_eq!(venue_symbol(Venue::Binance, "BTCUSDT"), "BTCUSDT");
    }
}
