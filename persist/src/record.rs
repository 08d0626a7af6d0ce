//! The one fixed-size record every hot core hands to the cold core. A record is a
//! small header (stream, sequence, kind, time, instrument) and six kind-specific
//! integer fields; the typed views below give those fields names. Being `Pod`, a
//! record crosses a ring and lands in the journal byte for byte, never re-encoded.

use bytemuck::{Pod, Zeroable};

/// What a record holds. The discriminants are stored on disk: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum RecordKind {
    /// A market trade print ([`TradeFields`]).
    Trade = 1,
    /// A best bid/offer sample ([`BookTopFields`]).
    BookTop = 2,
    /// A change in an order's life ([`OrderFields`]).
    Order = 3,
    /// An execution ([`FillFields`]).
    Fill = 4,
    /// A position snapshot ([`PositionFields`]).
    Position = 5,
    /// A pre-trade risk decision ([`RiskFields`]).
    Risk = 6,
}

impl RecordKind {
    /// Every kind, in code order.
    pub const ALL: [Self; 6] = [Self::Trade, Self::BookTop, Self::Order, Self::Fill, Self::Position, Self::Risk];

    /// The kind stored under `code`, if any.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u16 == code)
    }

    /// A short lower-case name for reports and table names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trade => "trade",
            Self::BookTop => "book_top",
            Self::Order => "order",
            Self::Fill => "fill",
            Self::Position => "position",
            Self::Risk => "risk",
        }
    }
}

/// One persisted record: 80 bytes, `#[repr(C)]`, no pointers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Record {
    /// Position in its stream, from 1 and +1 per record: the exactly-once watermark.
    pub seq: u64,
    /// Engine time the record was made (ns since the Unix epoch).
    pub ts: u64,
    /// The producing ring stream (one per hot core).
    pub stream: u16,
    kind: u16,
    /// Venue id.
    pub venue: u16,
    /// Kind-specific small code: a side, an order state, a risk reason.
    pub code: u16,
    /// Instrument id.
    pub instrument: u32,
    _pad: u32,
    /// Kind-specific values; see the typed views.
    pub fields: [i64; 6],
}

/// Size of a [`Record`] on disk.
pub const RECORD_BYTES: usize = size_of::<Record>();
const _: () = assert!(RECORD_BYTES == 80);

/// Who made a record and when: the part every kind shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    /// Producing stream.
    pub stream: u16,
    /// Sequence in that stream.
    pub seq: u64,
    /// Engine time (ns since the Unix epoch).
    pub ts: u64,
    /// Venue id.
    pub venue: u16,
    /// Instrument id.
    pub instrument: u32,
}

impl Record {
    /// A record of `kind` with a code and fields.
    pub fn new(kind: RecordKind, origin: Origin, code: u16, fields: [i64; 6]) -> Self {
        Self {
            seq: origin.seq,
            ts: origin.ts,
            stream: origin.stream,
            kind: kind as u16,
            venue: origin.venue,
            code,
            instrument: origin.instrument,
            _pad: 0,
            fields,
        }
    }

    /// The kind, or `None` for a code this build does not know (a newer writer).
    pub fn kind(&self) -> Option<RecordKind> {
        RecordKind::from_code(self.kind)
    }

    /// The raw kind code.
    pub fn kind_code(&self) -> u16 {
        self.kind
    }

    /// Who made it and when.
    pub fn origin(&self) -> Origin {
        Origin { stream: self.stream, seq: self.seq, ts: self.ts, venue: self.venue, instrument: self.instrument }
    }
}

/// Typed names for the fields of one kind.
pub trait Fields: Sized {
    /// The kind these fields belong to.
    const KIND: RecordKind;
    /// Into a record.
    fn into_record(self, origin: Origin) -> Record;
    /// Out of a record; `None` if it is another kind.
    fn from_record(record: &Record) -> Option<Self>;
}

macro_rules! fields {
    ($(#[$doc:meta])* $name:ident, $kind:ident, code: $code:ident, [$($(#[$fdoc:meta])* $field:ident),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name {
            #[doc = concat!("The record's code field (", stringify!($code), ").")]
            pub $code: u16,
            $($(#[$fdoc])* pub $field: i64,)*
        }

        impl Fields for $name {
            const KIND: RecordKind = RecordKind::$kind;

            fn into_record(self, origin: Origin) -> Record {
                let mut fields = [0i64; 6];
                let values = [$(self.$field),*];
                for (slot, value) in fields.iter_mut().zip(values) {
                    *slot = value;
                }
                Record::new(Self::KIND, origin, self.$code, fields)
            }

            fn from_record(record: &Record) -> Option<Self> {
                if record.kind() != Some(Self::KIND) {
                    return None;
                }
                let mut values = record.fields.into_iter();
                Some(Self { $code: record.code, $($field: values.next().unwrap_or(0),)* })
            }
        }
    };
}

fields!(
    /// A market trade. `code`: aggressor side (0 unknown, 1 buy, 2 sell).
    TradeFields, Trade, code: aggressor,
    [
        /// Venue time (ns).
        ts_exchange,
        /// Venue trade id.
        trade_id,
        /// Price (fixed point).
        price,
        /// Size (fixed point).
        qty,
    ]
);

fields!(
    /// A best bid/offer sample. `code`: unused (0).
    BookTopFields, BookTop, code: flags,
    [
        /// Venue time (ns).
        ts_exchange,
        /// Venue book update id.
        update_id,
        /// Best bid price.
        bid,
        /// Size at the best bid.
        bid_qty,
        /// Best ask price.
        ask,
        /// Size at the best ask.
        ask_qty,
    ]
);

fields!(
    /// An order event. `code`: the order's new state (engine's `OrderState` code).
    OrderFields, Order, code: state,
    [
        /// Client order id.
        client_id,
        /// Side (1 buy, 2 sell).
        side,
        /// Limit price (0 for market orders).
        price,
        /// Order size.
        qty,
        /// Cumulative filled size.
        filled,
        /// Order type code.
        order_type,
    ]
);

fields!(
    /// An execution. `code`: liquidity (1 maker, 2 taker).
    FillFields, Fill, code: liquidity,
    [
        /// Client order id.
        client_id,
        /// Venue trade id (duplicates are detected on it).
        venue_trade_id,
        /// Side (1 buy, 2 sell).
        side,
        /// Fill price.
        price,
        /// Fill size.
        qty,
        /// Fee in quote units at the price scale (negative is a rebate).
        fee,
    ]
);

fields!(
    /// A position snapshot. `code`: unused (0).
    PositionFields, Position, code: flags,
    [
        /// Net position (signed size).
        net_qty,
        /// Average entry price.
        avg_price,
        /// Realised P&L in quote units at the price scale.
        realised,
        /// Unrealised P&L at the reference price.
        unrealised,
        /// Fees paid.
        fees,
        /// Reference price used for unrealised P&L.
        mark,
    ]
);

fields!(
    /// A pre-trade risk decision. `code`: 0 accepted, 1-99 the reject reason, 100+ a
    /// kill-switch trip (the engine's `TripReason`).
    RiskFields, Risk, code: reason,
    [
        /// Client order id.
        client_id,
        /// Side (1 buy, 2 sell).
        side,
        /// Limit price.
        price,
        /// Order size.
        qty,
        /// The limit the check compared with (0 if none).
        limit,
        /// The value it found.
        observed,
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_fields_round_trip_through_a_record() {
        let origin = Origin { stream: 2, seq: 9, ts: 77, venue: 1, instrument: 3 };
        let fill = FillFields { liquidity: 2, client_id: 5, venue_trade_id: 6, side: 1, price: 7, qty: 8, fee: -9 };
        let record = fill.into_record(origin);
        assert_eq!(record.kind(), Some(RecordKind::Fill));
        assert_eq!(record.origin(), origin);
        assert_eq!(FillFields::from_record(&record), Some(fill));
        assert_eq!(TradeFields::from_record(&record), None);
    }

    #[test]
    fn kind_codes_are_stable() {
        let codes: Vec<u16> = RecordKind::ALL.iter().map(|k| *k as u16).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
        assert_eq!(RecordKind::from_code(7), None);
    }
}
