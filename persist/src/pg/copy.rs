//! PostgreSQL's binary COPY format, written straight into one reused buffer: no
//! per-field `ToSql` dispatch, no per-row allocation. Each record kind maps to one
//! table; [`encode`] appends a record as one row of its table.

use crate::record::{Record, RecordKind};

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Microseconds from the Unix epoch to PostgreSQL's epoch (2000-01-01 UTC).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// One table's COPY stream, built in a reused buffer and sent in chunks so the server
/// works on the first rows while later ones are still being encoded.
#[derive(Debug, Clone, Default)]
pub struct CopyBuf {
    buf: Vec<u8>,
    rows: usize,
    /// The row being built, reused: zeroing a fresh one for every row was a
    /// `memset` per row.
    row: Row,
}

impl CopyBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self { buf: Vec::with_capacity(CHUNK + 4096), rows: 0, row: Row::default() }
    }

    /// Starts a stream: the header.
    pub fn begin(&mut self) {
        self.buf.clear();
        self.buf.extend_from_slice(HEADER);
        self.rows = 0;
    }

    /// Rows encoded since [`CopyBuf::begin`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether enough is buffered to be worth sending.
    pub fn is_chunk_full(&self) -> bool {
        self.buf.len() >= CHUNK
    }

    /// The bytes buffered so far (send them, then [`CopyBuf::sent`]).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets what was sent, keeping the capacity.
    pub fn sent(&mut self) {
        self.buf.clear();
    }

    /// Ends the stream: the trailer.
    pub fn end(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    /// Appends the row built in `self.row`.
    fn push_row(&mut self) {
        self.buf.extend_from_slice(self.row.bytes());
        self.rows += 1;
    }
}

/// Room for a row of 13 columns each at most eight bytes (with its 4-byte length)
/// after the 2-byte column count. The widest row written is 130 bytes (orders,
/// fills and risk events: 13 columns, four of them two-byte).
const ROW_MAX: usize = 2 + 13 * 12;

/// One row built on the stack and appended to the stream with one copy: appending
/// field by field cost a `memcpy` call per field, a third of the encoder's time.
#[derive(Debug, Clone)]
struct Row {
    bytes: [u8; ROW_MAX],
    len: usize,
}

impl Default for Row {
    fn default() -> Self {
        Self { bytes: [0; ROW_MAX], len: 0 }
    }
}

impl Row {
    /// Starts a row of `columns` (the bytes past the new length are stale, never read).
    fn begin(&mut self, columns: i16) {
        self.len = 0;
        self.put(&columns.to_be_bytes());
    }

    fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    fn put(&mut self, b: &[u8]) {
        // A row that outgrew ROW_MAX would desync the COPY stream: caught in tests.
        debug_assert!(self.len + b.len() <= ROW_MAX, "a COPY row outgrew ROW_MAX");
        if let Some(dst) = self.bytes.get_mut(self.len..self.len + b.len()) {
            dst.copy_from_slice(b);
            self.len += b.len();
        }
    }

    fn i64(&mut self, v: i64) {
        self.put(&8i32.to_be_bytes());
        self.put(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.put(&4i32.to_be_bytes());
        self.put(&v.to_be_bytes());
    }

    fn i16(&mut self, v: i16) {
        self.put(&2i32.to_be_bytes());
        self.put(&v.to_be_bytes());
    }

    /// A `timestamptz` from Unix nanoseconds (PostgreSQL keeps microseconds).
    fn timestamp(&mut self, unix_ns: u64) {
        self.i64((unix_ns / 1_000) as i64 - PG_EPOCH_US);
    }
}

/// Bytes buffered before a chunk is sent.
const CHUNK: usize = 256 * 1024;

/// A record kind's table and its columns, in COPY order.
pub fn table(kind: RecordKind) -> (&'static str, &'static str) {
    match kind {
        RecordKind::Trade => ("market_trades", "ts_exchange_ns, trade_id, price, qty, aggressor"),
        RecordKind::BookTop => ("book_tops", "update_id, bid, bid_qty, ask, ask_qty"),
        RecordKind::Order => ("order_events", "client_id, state, side, price, qty, filled, order_type"),
        RecordKind::Fill => ("fills", "client_id, venue_trade_id, side, price, qty, fee, liquidity"),
        RecordKind::Position => ("position_snapshots", "net_qty, avg_price, realised, unrealised, fees, mark"),
        RecordKind::Risk => ("risk_events", "client_id, reason, side, price, qty, limit_value, observed"),
    }
}

/// The columns every event table starts with, in COPY order.
pub const COMMON_COLUMNS: &str = "ts, ts_ns, stream, seq, venue, instrument";

/// The `COPY ... FROM STDIN (FORMAT binary)` statement of a kind's rows into `into`:
/// its table, or one of that table's partitions.
pub fn copy_statement(kind: RecordKind, into: &str) -> String {
    let (_, columns) = table(kind);
    format!("COPY \"{into}\" ({COMMON_COLUMNS}, {columns}) FROM STDIN (FORMAT binary)")
}

/// A small-integer column: an out-of-range value becomes `i16::MAX`, which every
/// CHECK on such a column refuses, so it fails its batch instead of wrapping.
pub(super) fn small(v: i64) -> i16 {
    i16::try_from(v).unwrap_or(i16::MAX)
}

/// One column's value, typed as its table stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// `smallint`.
    I16(i16),
    /// `integer`.
    I32(i32),
    /// `bigint`.
    I64(i64),
    /// `timestamptz`, given as Unix nanoseconds (stored to the microsecond).
    Time(u64),
}

/// Passes `put` each column of `r` as a row of its kind's table, in the order of
/// [`COMMON_COLUMNS`] and then [`table`]'s columns. The one place that says which
/// field goes in which column: the binary COPY writer and `engine journal export`
/// both read rows through it.
///
/// # Examples
/// ```
/// use persist::{Fields, Origin, RecordKind, pg::copy::{Value, columns}, record::TradeFields};
/// let origin = Origin { stream: 2, seq: 7, ts: 1_795_000_000_123_456_789, venue: 1, instrument: 3 };
/// let trade = TradeFields { aggressor: 1, ts_exchange: 5, trade_id: 9, price: 6_000_000, qty: 4 };
/// let mut row = Vec::new();
/// columns(&trade.into_record(origin), RecordKind::Trade, |v| row.push(v));
/// assert_eq!(row.len(), 11); // market_trades' columns
/// assert_eq!(row[0], Value::Time(1_795_000_000_123_456_789));
/// assert_eq!(row[3], Value::I64(7)); // seq
/// assert_eq!(row[8..], [Value::I64(6_000_000), Value::I64(4), Value::I16(1)]);
/// ```
#[inline(always)] // reason: `put` is a match on the variant, folded per call site
pub fn columns(r: &Record, kind: RecordKind, mut put: impl FnMut(Value)) {
    use Value::{I16, I32, I64, Time};
    let f = r.fields;
    put(Time(r.ts));
    put(I64(r.ts as i64));
    put(I16(r.stream as i16));
    put(I64(r.seq as i64));
    put(I16(r.venue as i16));
    put(I32(r.instrument as i32));
    match kind {
        RecordKind::Trade => {
            for v in &f[..4] {
                put(I64(*v));
            }
            put(I16(r.code as i16));
        }
        RecordKind::BookTop => {
            for v in &f[1..6] {
                put(I64(*v));
            }
        }
        RecordKind::Order => {
            put(I64(f[0]));
            put(I16(r.code as i16));
            put(I16(small(f[1])));
            put(I64(f[2]));
            put(I64(f[3]));
            put(I64(f[4]));
            put(I16(small(f[5])));
        }
        RecordKind::Fill => {
            put(I64(f[0]));
            put(I64(f[1]));
            put(I16(small(f[2])));
            put(I64(f[3]));
            put(I64(f[4]));
            put(I64(f[5]));
            put(I16(r.code as i16));
        }
        RecordKind::Position => {
            for v in f {
                put(I64(v));
            }
        }
        RecordKind::Risk => {
            put(I64(f[0]));
            put(I16(r.code as i16));
            put(I16(small(f[1])));
            for v in &f[2..6] {
                put(I64(*v));
            }
        }
    }
}

/// Appends `r` as one row of its kind's table.
pub fn encode(r: &Record, kind: RecordKind, stream: &mut CopyBuf) {
    let columns_in_row = match kind {
        RecordKind::Trade | RecordKind::BookTop => 11,
        RecordKind::Position => 12,
        RecordKind::Order | RecordKind::Fill | RecordKind::Risk => 13,
    };
    let out = &mut stream.row;
    out.begin(columns_in_row);
    columns(r, kind, |v| match v {
        Value::I16(v) => out.i16(v),
        Value::I32(v) => out.i32(v),
        Value::I64(v) => out.i64(v),
        Value::Time(unix_ns) => out.timestamp(unix_ns),
    });
    stream.push_row();
}
