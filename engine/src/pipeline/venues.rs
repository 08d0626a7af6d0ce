//! Several venues in one run: each venue's instruments get their own ids (venue `v`'s
//! `k`-th symbol is instrument `v × per_venue + k`), so books, sequencing, positions
//! and risk, all kept per instrument id, are per (instrument, venue) without knowing
//! about venues at all. Only what reads a venue's bytes or speaks to it needs the
//! venue: its decoder, its feed, its order entry.

use feeds::{
    DecodeError, Events,
    binance::BinanceDecoder,
    bybit::BybitDecoder,
    coinbase::CoinbaseDecoder,
    event::{InstrumentId, UnixNanos, Venue},
    kraken::KrakenDecoder,
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

/// Levels a side each book holds for `venue`'s feed: as deep as the venue's book
/// channel sends (OKX's `books`: 400, and one spare), and 256 for the others (Binance's partial
/// depth sends 20, Bybit's `orderbook.50` 50). A deeper snapshot or stream leaves the
/// book truncated: it keeps its best levels (see `feeds::book`), and a checksum over
/// more levels than it holds (OKX's top 25) would fail. Kraken's book is trimmed
/// to [`KRAKEN_DEPTH`] after each update; until then it has room for an update that
/// inserts that many levels before it deletes any.
pub fn book_depth(venue: Venue) -> usize {
    // OKX: one spare level, as its updates list a new level before the delete of the
    // level it pushes out of the 400.
    match venue {
        Venue::Okx => 401,
        Venue::Kraken => 2 * KRAKEN_DEPTH,
        _ => 256,
    }
}

/// The depth the engine subscribes Kraken's `book` channel at (Kraken offers 10,
/// 25, 100, 500 and 1000; its checksum covers the top 10).
pub const KRAKEN_DEPTH: usize = 25;

/// The depth a venue holds a subscriber's book at, sending no delete for a level an
/// insert pushes out of it, so the client trims its book to it after each update
/// (`None`: the venue deletes every level it stops sending).
pub fn subscribed_depth(venue: Venue) -> Option<usize> {
    (venue == Venue::Kraken).then_some(KRAKEN_DEPTH)
}

/// Quote currencies, longest first where one ends another (`FDUSD`, `USDT`, `USD`).
const QUOTES: [&str; 7] = ["FDUSD", "USDT", "USDC", "USD", "EUR", "BTC", "ETH"];

/// How `venue` writes the engine's symbol `name` (the engine names instruments as
/// Binance does: `BTCUSDT`). OKX and Coinbase write base and quote apart, `BTC-USDT`,
/// and Kraken `BTC/USDT`; a name that already has a separator (`-` or `/`), or
/// whose quote is not one of [`QUOTES`], is kept as given.
pub fn venue_symbol(venue: Venue, name: &str) -> String {
    let separator = match venue {
        Venue::Okx | Venue::Coinbase => '-',
        Venue::Kraken => '/',
        _ => return name.to_owned(),
    };
    if name.contains(['-', '/']) {
        return name.to_owned();
    }
    QUOTES
        .iter()
        .find_map(|quote| {
            name.strip_suffix(quote).filter(|base| !base.is_empty()).map(|base| format!("{base}{separator}{quote}"))
        })
        .unwrap_or_else(|| name.to_owned())
}

/// One venue's feed decoder, in the run's dialect (`--dialect`).
#[derive(Debug)]
enum FeedDecoder {
    Binance(BinanceDecoder),
    Bybit(BybitDecoder),
    Okx(OkxDecoder),
    Coinbase(CoinbaseDecoder),
    Kraken(KrakenDecoder),
}

impl FeedDecoder {
    fn decode(&self, frame: &[u8], ts_recv: UnixNanos, out: &mut Events) -> Result<usize, DecodeError> {
        match self {
            Self::Binance(d) => d.decode(frame, ts_recv, out),
            Self::Bybit(d) => d.decode(frame, ts_recv, out),
            Self::Okx(d) => d.decode(frame, ts_recv, out),
            Self::Coinbase(d) => d.decode(frame, ts_recv, out),
            Self::Kraken(d) => d.decode(frame, ts_recv, out),
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
                // `--dialect` offers all five venues.
                match config.dialect {
                    Venue::Bybit => FeedDecoder::Bybit(BybitDecoder::new(symbols)),
                    Venue::Okx => FeedDecoder::Okx(OkxDecoder::new(symbols)),
                    Venue::Coinbase => FeedDecoder::Coinbase(CoinbaseDecoder::new(symbols)),
                    Venue::Kraken => FeedDecoder::Kraken(KrakenDecoder::new(symbols)),
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
        assert_eq!(venue_symbol(Venue::Coinbase, "BTCUSD"), "BTC-USD");
        assert_eq!(venue_symbol(Venue::Kraken, "BTCUSD"), "BTC/USD");
        assert_eq!(venue_symbol(Venue::Kraken, "ETH/USDT"), "ETH/USDT", "already Kraken's");
        assert_eq!(venue_symbol(Venue::Kraken, "BTC-USD"), "BTC-USD", "a venue's own name is kept");
        assert_eq!(venue_symbol(Venue::Bybit, "BTCUSD"), "BTCUSD");
        assert_eq!(venue_symbol(Venue::Bybit, "BTCUSDT"), "BTCUSDT");
        assert_eq!(venue_symbol(Venue::Binance, "BTCUSDT"), "BTCUSDT");
    }

    /// OKX's `books` channel starts with a 400-level snapshot: the engine's books
    /// for an OKX feed hold it whole (a shallower book would keep only its best levels).
    #[test]
    fn an_okx_book_holds_a_full_books_snapshot() {
        let level = |p: u32| format!(r#"["{p}","1","0","1"]"#);
        let (asks, bids): (Vec<_>, Vec<_>) =
            ((10_001..10_401).map(level).collect(), (9_601..10_001).rev().map(level).collect());
        let frame = format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"snapshot","data":[{{"asks":[{}],"bids":[{}],"ts":"1","checksum":0,"prevSeqId":-1,"seqId":1}}]}}"#,
            asks.join(","),
            bids.join(",")
        );
        let mut symbols = SymbolTable::new();
        symbols.intern("BTC-USDT", 0, 0);
        let mut events = Events::with_capacity(256);
        OkxDecoder::new(symbols).decode(frame.as_bytes(), UnixNanos(0), &mut events).unwrap();
        let apply = |depth: usize| {
            let mut book = feeds::book::Book::with_depth(depth);
            let applied = events.as_slice().iter().all(|e| match e {
                feeds::event::Event::BookDelta(d) => book.apply(d).is_ok(),
                _ => false,
            });
            applied && book.is_valid() && book.depth(feeds::event::BookSide::Bid) == 400
        };
        assert!(apply(book_depth(Venue::Okx)));
        assert!(!apply(256), "the depth the other venues get would hold only part of it");
    }

    /// OKX keeps 400 levels a side: a new best level comes in the same update as the
    /// delete of the level it pushes out of the 400, listed after it (asks rise). A
    /// full side takes the insert first, so it needs one spare level not to evict
    /// (and mark itself truncated) what OKX is about to delete anyway.
    #[test]
    fn a_full_okx_side_stays_whole_when_an_update_inserts_before_it_deletes() {
        let level = |p: u32, size: u32| format!(r#"["{p}","{size}","0","1"]"#);
        let frame = |action: &str, asks: Vec<String>, bids: Vec<String>, seq: u32| {
            format!(
                r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[{}],"bids":[{}],"ts":"1","checksum":0,"prevSeqId":{},"seqId":{seq}}}]}}"#,
                asks.join(","),
                bids.join(","),
                seq - 1
            )
        };
        let snapshot = frame(
            "snapshot",
            (0..400).map(|k| level(10_002 + 2 * k, 1)).collect(),
            (0..400).map(|k| level(9_998 - 2 * k, 1)).collect(),
            1,
        );
        // A new best ask at 10 001; the 400th, at 10 800, leaves the window.
        let update = frame("update", vec![level(10_001, 1), level(10_800, 0)], Vec::new(), 2);
        let mut symbols = SymbolTable::new();
        symbols.intern("BTC-USDT", 0, 0);
        let decoder = OkxDecoder::new(symbols);
        let mut events = Events::with_capacity(256);
        for f in [&snapshot, &update] {
            decoder.decode(f.as_bytes(), UnixNanos(0), &mut events).unwrap();
        }
        let mut book = feeds::book::Book::with_depth(book_depth(Venue::Okx));
        for e in events.as_slice() {
            let feeds::event::Event::BookDelta(d) = e else { panic!("{e:?}") };
            book.apply(d).unwrap();
        }
        let asks = feeds::event::BookSide::Ask;
        assert!(book.is_valid() && !book.is_truncated(asks), "OKX's 400 levels held exactly");
        assert_eq!(book.depth(asks), 400);
        let (best, worst) = (book.levels(asks).next().unwrap(), book.levels(asks).last().unwrap());
        assert_eq!((best.price.0, worst.price.0), (10_001, 10_798));
    }
}
