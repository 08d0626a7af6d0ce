//! The fixed-size events every feed produces. All are `#[repr(C)]` and
//! [`bytemuck::Pod`], so they cross heap and shared-memory rings unchanged and the
//! persist core can write them without re-encoding. Prices and sizes are fixed point
//! in the instrument's scales (see [`crate::symbols::Instrument`]); no float anywhere.

use bytemuck::{Pod, Zeroable};

/// A price in units of `10^-price_scale` of the quote currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
#[repr(transparent)]
pub struct Price(pub i64);

/// A size in units of `10^-qty_scale` of the base asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
#[repr(transparent)]
pub struct Qty(pub i64);

/// The engine's dense index of an instrument, interned at start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
#[repr(transparent)]
pub struct InstrumentId(pub u32);

/// Nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
#[repr(transparent)]
pub struct UnixNanos(pub u64);

/// Which side took liquidity in a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The buyer was the taker.
    Buy,
    /// The seller was the taker.
    Sell,
}

impl Side {
    const fn code(side: Option<Self>) -> u8 {
        match side {
            None => 0,
            Some(Self::Buy) => 1,
            Some(Self::Sell) => 2,
        }
    }

    const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Buy),
            2 => Some(Self::Sell),
            _ => None,
        }
    }
}

/// Which side of the book a level is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookSide {
    /// Buy orders.
    Bid,
    /// Sell orders.
    Ask,
}

/// Venues, as small integer ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Venue {
    /// Binance spot.
    Binance = 1,
    /// Coinbase Exchange.
    Coinbase = 2,
    /// Kraken (WebSocket v2).
    Kraken = 3,
    /// Bybit v5.
    Bybit = 4,
    /// OKX v5.
    Okx = 5,
}

/// One trade print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Trade {
    /// Venue time of the trade.
    pub ts_exchange: UnixNanos,
    /// When the frame carrying it was received.
    pub ts_recv: UnixNanos,
    /// The venue's trade (or aggregate trade) id: +1 per trade where the venue says so.
    pub trade_id: u64,
    /// Price; always > 0.
    pub price: Price,
    /// Size; always > 0.
    pub qty: Qty,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The venue (`Venue as u16`).
    pub venue: u16,
    aggressor: u8,
    _pad: u8,
}

impl Trade {
    /// A trade; `aggressor` is the taker's side where the venue reports it.
    #[allow(clippy::too_many_arguments, reason = "one argument per field of a plain record")]
    pub fn new(
        venue: Venue,
        instrument: InstrumentId,
        trade_id: u64,
        price: Price,
        qty: Qty,
        aggressor: Option<Side>,
        ts_exchange: UnixNanos,
        ts_recv: UnixNanos,
    ) -> Self {
        Self {
            ts_exchange,
            ts_recv,
            trade_id,
            price,
            qty,
            instrument,
            venue: venue as u16,
            aggressor: Side::code(aggressor),
            _pad: 0,
        }
    }

    /// The taker's side, if the venue reports it.
    pub fn aggressor(&self) -> Option<Side> {
        Side::from_code(self.aggressor)
    }
}

/// Best bid and offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Bbo {
    /// Venue time, or 0 where the venue sends none (Binance spot bookTicker).
    pub ts_exchange: UnixNanos,
    /// When the frame was received.
    pub ts_recv: UnixNanos,
    /// The venue's book update id.
    pub update_id: u64,
    /// Best bid price.
    pub bid: Price,
    /// Size at the best bid.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask: Price,
    /// Size at the best ask.
    pub ask_qty: Qty,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The venue (`Venue as u16`).
    pub venue: u16,
    _pad: [u8; 2],
}

impl Bbo {
    /// A best bid/offer.
    #[allow(clippy::too_many_arguments, reason = "one argument per field of a plain record")]
    pub fn new(
        venue: Venue,
        instrument: InstrumentId,
        update_id: u64,
        (bid, bid_qty): (Price, Qty),
        (ask, ask_qty): (Price, Qty),
        ts_exchange: UnixNanos,
        ts_recv: UnixNanos,
    ) -> Self {
        Self {
            ts_exchange,
            ts_recv,
            update_id,
            bid,
            bid_qty,
            ask,
            ask_qty,
            instrument,
            venue: venue as u16,
            _pad: [0; 2],
        }
    }
}

/// One price level of a book update: size 0 deletes the level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Level {
    /// Price; always > 0.
    pub price: Price,
    /// New absolute size at that price; 0 removes the level.
    pub qty: Qty,
}

/// Levels per [`BookDelta`]; a longer update is split over several events.
pub const LEVELS_PER_DELTA: usize = 8;

/// Part of an L2 book update (or snapshot): up to [`LEVELS_PER_DELTA`] levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BookDelta {
    /// Venue time of the update.
    pub ts_exchange: UnixNanos,
    /// When the frame was received.
    pub ts_recv: UnixNanos,
    /// First venue sequence number the update covers.
    pub first_seq: u64,
    /// Last venue sequence number the update covers.
    pub last_seq: u64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The venue (`Venue as u16`).
    pub venue: u16,
    count: u8,
    flags: u8,
    /// Bit `i` set: level `i` is an ask.
    ask_mask: u8,
    _pad: [u8; 3],
    /// The venue's checksum of its book after this update (Kraken, OKX), on the last
    /// delta of an update; valid when `FLAG_CHECKSUM` is set.
    checksum: u32,
    levels: [Level; LEVELS_PER_DELTA],
}

const FLAG_LAST: u8 = 1;
const FLAG_SNAPSHOT: u8 = 2;
const FLAG_CHECKSUM: u8 = 4;

impl BookDelta {
    /// An empty delta for one update.
    pub fn new(
        venue: Venue,
        instrument: InstrumentId,
        (first_seq, last_seq): (u64, u64),
        ts_exchange: UnixNanos,
        ts_recv: UnixNanos,
    ) -> Self {
        Self {
            ts_exchange,
            ts_recv,
            first_seq,
            last_seq,
            instrument,
            venue: venue as u16,
            count: 0,
            flags: 0,
            ask_mask: 0,
            _pad: [0; 3],
            checksum: 0,
            levels: [Level::default(); LEVELS_PER_DELTA],
        }
    }

    /// Adds a level; `false` if the delta is full.
    pub fn push(&mut self, side: BookSide, level: Level) -> bool {
        let i = usize::from(self.count);
        let Some(slot) = self.levels.get_mut(i) else { return false };
        *slot = level;
        if side == BookSide::Ask {
            self.ask_mask |= 1 << i;
        }
        self.count += 1;
        true
    }

    /// The levels, each with its side.
    pub fn levels(&self) -> impl Iterator<Item = (BookSide, Level)> + '_ {
        self.levels
            .iter()
            .take(usize::from(self.count))
            .enumerate()
            .map(|(i, l)| (if self.ask_mask & (1 << i) != 0 { BookSide::Ask } else { BookSide::Bid }, *l))
    }

    /// How many levels it holds.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether it holds no level.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether this is the last event of its update.
    pub fn is_last(&self) -> bool {
        self.flags & FLAG_LAST != 0
    }

    /// Marks the last event of an update.
    pub fn set_last(&mut self) {
        self.flags |= FLAG_LAST;
    }

    /// Whether the update is a full snapshot (replace the book) rather than a diff.
    pub fn is_snapshot(&self) -> bool {
        self.flags & FLAG_SNAPSHOT != 0
    }

    /// Marks a snapshot.
    pub fn set_snapshot(&mut self) {
        self.flags |= FLAG_SNAPSHOT;
    }

    /// The venue's checksum of the whole book after this update, if it sent one
    /// (carried on the update's last delta; OKX's signed value as its bits).
    pub fn checksum(&self) -> Option<u32> {
        (self.flags & FLAG_CHECKSUM != 0).then_some(self.checksum)
    }

    /// Records the venue's checksum for the book after this update.
    pub fn set_checksum(&mut self, checksum: u32) {
        self.checksum = checksum;
        self.flags |= FLAG_CHECKSUM;
    }
}

/// What happened to a feed: its connection, or one book's integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum StatusKind {
    /// The connection is up (and subscribed).
    Connected = 1,
    /// The connection dropped: every book of it is invalid until resynced.
    Disconnected = 2,
    /// A book missed updates (`seq`: the last applied, `detail`: the one that came).
    GapDetected = 3,
    /// A book is whole again from a snapshot (`seq`: the snapshot's).
    Resynced = 4,
    /// Nothing arrived for longer than allowed (`detail`: the silence, in ms).
    Stale = 5,
}

impl StatusKind {
    /// The kind stored under `code`.
    pub fn from_code(code: u16) -> Option<Self> {
        [Self::Connected, Self::Disconnected, Self::GapDetected, Self::Resynced, Self::Stale]
            .into_iter()
            .find(|k| *k as u16 == code)
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::GapDetected => "gap_detected",
            Self::Resynced => "resynced",
            Self::Stale => "stale",
        }
    }
}

/// A feed-status event, beside the market data: fixed-size, `Pod`, so it crosses
/// rings like the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct FeedStatus {
    /// Venue time it refers to, or 0.
    pub ts_exchange: UnixNanos,
    /// When it was seen.
    pub ts_recv: UnixNanos,
    /// The venue sequence it is about (see [`StatusKind`]), or 0.
    pub seq: u64,
    /// A kind-specific value (see [`StatusKind`]).
    pub detail: u64,
    /// The instrument, or [`FeedStatus::ALL`] for the whole connection.
    pub instrument: InstrumentId,
    /// The venue (`Venue as u16`).
    pub venue: u16,
    kind: u16,
}

impl FeedStatus {
    /// The instrument id of a status about the whole connection.
    pub const ALL: InstrumentId = InstrumentId(u32::MAX);

    /// A status event.
    pub fn new(
        venue: Venue,
        instrument: InstrumentId,
        kind: StatusKind,
        (seq, detail): (u64, u64),
        ts: UnixNanos,
    ) -> Self {
        Self { ts_exchange: UnixNanos(0), ts_recv: ts, seq, detail, instrument, venue: venue as u16, kind: kind as u16 }
    }

    /// What happened (`None` only for a corrupt value from elsewhere).
    pub fn kind(&self) -> Option<StatusKind> {
        StatusKind::from_code(self.kind)
    }
}

/// Anything a decoder emits, and the feed's status beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A trade print.
    Trade(Trade),
    /// A best bid/offer.
    Bbo(Bbo),
    /// Part of a book update.
    BookDelta(BookDelta),
    /// The feed's connection or a book's integrity changed.
    Status(FeedStatus),
}

const _: () = assert!(size_of::<Trade>() == 48);
const _: () = assert!(size_of::<Bbo>() == 64);
const _: () = assert!(size_of::<FeedStatus>() == 40);
const _: () = assert!(size_of::<BookDelta>() == 48 + 16 * LEVELS_PER_DELTA);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_holds_at_most_its_levels_and_remembers_sides() {
        let mut d = BookDelta::new(Venue::Binance, InstrumentId(1), (5, 7), UnixNanos(1), UnixNanos(2));
        for i in 0..LEVELS_PER_DELTA {
            let side = if i % 2 == 0 { BookSide::Bid } else { BookSide::Ask };
            assert!(d.push(side, Level { price: Price(100 + i as i64), qty: Qty(1) }));
        }
        assert!(!d.push(BookSide::Bid, Level::default()));
        assert_eq!(d.len(), LEVELS_PER_DELTA);
        let sides: Vec<BookSide> = d.levels().map(|(s, _)| s).collect();
        assert_eq!(sides[..3], [BookSide::Bid, BookSide::Ask, BookSide::Bid]);
        assert!(!d.is_last() && !d.is_snapshot());
        d.set_last();
        d.set_snapshot();
        assert!(d.is_last() && d.is_snapshot());
    }

    #[test]
    fn trade_side_codes_round_trip() {
        for side in [None, Some(Side::Buy), Some(Side::Sell)] {
            let t = Trade::new(Venue::Okx, InstrumentId(0), 1, Price(1), Qty(1), side, UnixNanos(0), UnixNanos(0));
            assert_eq!(t.aggressor(), side);
        }
    }
}
