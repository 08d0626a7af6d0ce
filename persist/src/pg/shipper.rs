//! The cold core's database follower: it ships what the journal holds and the
//! database does not, and rides out outages. The journal is always written first, so
//! a database outage costs nothing but delay: while it lasts the shipper retries with
//! exponential backoff (capped) and reports the outage, and when the database returns
//! it backfills from the journal after each stream's watermark.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use super::{PgError, PgSink, load_journal_from, open_sink};
use crate::journal::{JournalReader, Position};

/// What one [`Shipper::poll`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipStatus {
    /// Shipped this many rows (possibly 0: nothing new).
    Shipped(u64),
    /// The database is unavailable; the next attempt is later.
    Down {
        /// Since when.
        since: Instant,
        /// The last error (never contains the password).
        error: String,
    },
    /// Backing off: no attempt this time.
    Waiting,
    /// A failure retrying cannot fix (bad data, schema, an unreadable journal):
    /// shipping stopped; the journal still has everything.
    Failed {
        /// What failed.
        error: String,
    },
}

/// Follows one journal directory into one database.
#[derive(Debug)]
pub struct Shipper {
    url: Option<String>,
    /// Connections a large batch (a backfill) is split among.
    writers: usize,
    journal: PathBuf,
    sink: Option<PgSink>,
    /// Where the next ship starts on the current connection.
    from: Option<Position>,
    /// The end of the last ship the database acknowledged: everything before it is
    /// known to be there.
    acknowledged: Option<Position>,
    backoff: Duration,
    next_attempt: Option<Instant>,
    down_since: Option<Instant>,
    last_error: String,
    failed: bool,
    /// Outages seen (a transition from up to down).
    pub outages: u64,
    /// Rows shipped in total: those its own commits wrote, and, after a reconnect,
    /// rows found in the database past its last acknowledged batch (a commit whose
    /// acknowledgement was lost; rows another loader, such as a concurrent `engine
    /// journal load`, wrote there meanwhile are counted too).
    pub shipped: u64,
}

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Records per batch the shipper and `engine journal load` write unless told
/// otherwise: at two connections, parts of 50,000.
pub const BATCH: usize = 100_000;

/// Connections a bulk load (`engine journal load`) splits a batch among unless told
/// otherwise: two server backends loaded 1.22-1.51x as many rows a second as one on
/// this 2-vCPU host. A shipper beside a running engine writes through one unless
/// told otherwise ([`Shipper::with_writers`]): more backends would compete with the
/// hot core when the database shares its host.
pub const DEFAULT_WRITERS: usize = 2;

impl Shipper {
    /// A shipper for `journal` into the database at `url` (or the PG* variables).
    /// Nothing connects until the first [`Shipper::poll`].
    pub fn new(url: Option<String>, journal: PathBuf) -> Self {
        Self {
            url,
            writers: 1,
            journal,
            sink: None,
            from: None,
            acknowledged: None,
            backoff: MIN_BACKOFF,
            next_attempt: None,
            down_since: None,
            last_error: String::new(),
            failed: false,
            outages: 0,
            shipped: 0,
        }
    }

    /// Writes through `writers` connections (at least one) from the next connect on.
    #[must_use]
    pub fn with_writers(mut self, writers: usize) -> Self {
        self.writers = writers.max(1);
        self
    }

    fn connect(&self) -> Result<PgSink, PgError> {
        open_sink(self.url.as_deref(), self.writers).map(|(sink, ..)| sink)
    }

    /// Ships what is new up to `until` (the journal's durable position; `None`: all
    /// of it), unless backing off after a failure.
    pub fn poll(&mut self, now: Instant, until: Option<Position>) -> ShipStatus {
        if self.failed {
            return ShipStatus::Failed { error: self.last_error.clone() };
        }
        if self.next_attempt.is_some_and(|at| now < at) {
            return ShipStatus::Waiting;
        }
        match self.try_ship(until) {
            Ok(rows) => {
                self.shipped += rows;
                self.down_since = None;
                self.backoff = MIN_BACKOFF;
                self.next_attempt = None;
                ShipStatus::Shipped(rows)
            }
            Err(e) if e.is_permanent() => {
                self.failed = true;
                self.sink = None;
                self.last_error = e.to_string();
                ShipStatus::Failed { error: self.last_error.clone() }
            }
            Err(e) => {
                // A broken connection is dropped; the next attempt reconnects and
                // resumes from the database's own watermarks.
                self.sink = None;
                self.from = None;
                if self.down_since.is_none() {
                    self.outages += 1;
                }
                let since = *self.down_since.get_or_insert(now);
                self.last_error = e.to_string();
                self.next_attempt = Some(now + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                ShipStatus::Down { since, error: self.last_error.clone() }
            }
        }
    }

    fn try_ship(&mut self, until: Option<Position>) -> Result<u64, PgError> {
        let reader = JournalReader::open(&self.journal)?;
        if self.sink.is_none() {
            self.sink = Some(self.connect()?);
        }
        let Some(sink) = self.sink.as_mut() else { return Ok(0) };
        let mut rows = 0;
        let reconnected = self.from.is_none() && self.acknowledged.is_some();
        let from = match (self.from, self.acknowledged) {
            (Some(from), _) => from,
            // Reconnected: anything before the last acknowledged ship should be there
            // already; whatever a restored database lacks is shipped again.
            (None, Some(acknowledged)) => {
                rows += load_journal_from(sink, &reader, (reader.start(), Some(acknowledged)), BATCH)?.0.written;
                acknowledged
            }
            (None, None) => reader.start(),
        };
        let (report, end) = load_journal_from(sink, &reader, (from, until), BATCH)?;
        rows += report.written;
        if reconnected {
            // Past the last acknowledged ship, a row already there is ours: its
            // commit went through but the acknowledgement was lost with the
            // connection (the database killed between the two). Before the first
            // acknowledged ship of a run this cannot be told from a row an earlier
            // run shipped, so that one window stays uncounted.
            rows += report.already_there;
        }
        self.from = Some(end);
        self.acknowledged = Some(end);
        Ok(rows)
    }

    /// Whether the database is currently unreachable, or shipping has failed.
    pub fn is_down(&self) -> bool {
        self.down_since.is_some() || self.failed
    }

    /// The last error seen.
    pub fn last_error(&self) -> &str {
        &self.last_error
    }
}
