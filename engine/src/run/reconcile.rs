//! Start-up reconciliation with a real venue (a WebSocket gateway): the venue is the
//! source of truth. Its positions become the engine's; orders it still holds from an
//! earlier run (none of ours now) are cancelled before trading starts, each answer
//! awaited; and its positions are compared with the last ones the journal recorded.
//! A difference is reported and, by `--on-mismatch`, starts the engine reduce-only
//! (the default), halted, or trading on the venue's positions.

use std::{path::Path, time::Duration};

use feeds::event::InstrumentId;
use persist::{Fields, RecordKind, journal::JournalReader, record::PositionFields};
use serde::Serialize;

use crate::{
    cli::MismatchPolicy,
    clock::{Clock, LiveClock},
    fixed::Bounded,
    gateway::{GatewayError, VenueGateway, VenuePosition},
    order::ExecKind,
};

/// How long the orphans' cancel answers may take.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// What start-up reconciliation found.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    /// The venue's positions (symbol, signed size, average price), now the engine's.
    pub venue_positions: Vec<(String, i64, i64)>,
    /// The journal's last recorded positions (symbol, signed size).
    pub journal_positions: Vec<(String, i64)>,
    /// Orders the venue held that were cancelled before trading.
    pub orphans_cancelled: usize,
    /// Each instrument whose venue and journal positions differ.
    pub mismatches: Vec<String>,
    /// What the mismatches made the engine do.
    pub policy: MismatchPolicy,
    /// Positions to seed the OMS with (instrument, net, average price).
    #[serde(skip)]
    pub seed: Vec<VenuePosition>,
}

impl Reconciliation {
    /// Whether the venue and the journal disagree.
    pub fn mismatched(&self) -> bool {
        !self.mismatches.is_empty()
    }
}

/// The journal's last recorded net position per instrument id (none: no journal).
///
/// # Errors
/// The journal exists but cannot be read.
pub fn journal_positions(dir: &Path) -> Result<Vec<(u32, i64)>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let reader = JournalReader::open(dir).map_err(|e| format!("reading journal {}: {e}", dir.display()))?;
    let (records, _) = reader.read_all().map_err(|e| format!("reading journal {}: {e}", dir.display()))?;
    let mut last: Vec<(u32, i64)> = Vec::new();
    for r in records.iter().filter(|r| r.kind() == Some(RecordKind::Position)) {
        let Some(p) = PositionFields::from_record(r) else { continue };
        match last.iter_mut().find(|(i, _)| *i == r.instrument) {
            Some(slot) => slot.1 = p.net_qty,
            None => last.push((r.instrument, p.net_qty)),
        }
    }
    Ok(last)
}

/// Reconciles with the venue (or every venue of a set) before trading starts.
/// `names[i]` names instrument `i` in the report (`BTCUSDT@1` with several venues).
///
/// # Errors
/// The venue did not answer a query, or an orphan's cancel went unanswered.
pub fn startup(
    gateway: &mut dyn VenueGateway,
    journal: &[(u32, i64)],
    names: &[String],
    policy: MismatchPolicy,
) -> Result<Reconciliation, GatewayError> {
    let name = |i: u32| names.get(i as usize).map_or_else(|| format!("#{i}"), Clone::clone);
    let venue = gateway.positions()?;
    let orphans = gateway.open_orders()?;
    let clock = LiveClock::new();
    for o in &orphans {
        gateway.cancel(o.id, o.instrument, clock.now_ns())?;
    }
    // Every orphan's cancel answered (cancelled, or already done) before trading.
    let mut answered = 0;
    let mut out = Bounded::with_capacity(256);
    let deadline = clock.now_ns() + CANCEL_TIMEOUT.as_nanos() as u64;
    while answered < orphans.len() {
        if clock.now_ns() > deadline {
            return Err(GatewayError::Timeout(CANCEL_TIMEOUT));
        }
        gateway.poll(clock.now_ns(), &mut out)?;
        answered += out
            .drain()
            .filter(|r| orphans.iter().any(|o| o.id == r.client_id))
            .filter(|r| matches!(r.kind, ExecKind::Canceled | ExecKind::CancelRejected))
            .count();
        std::thread::sleep(Duration::from_millis(1));
    }
    let net_of = |i: u32| venue.iter().find(|p| p.instrument == InstrumentId(i)).map_or(0, |p| p.net);
    let journal_of = |i: u32| journal.iter().find(|(j, _)| *j == i).map_or(0, |(_, n)| *n);
    let mismatches = (0..names.len() as u32)
        .filter(|i| net_of(*i) != journal_of(*i))
        .map(|i| format!("{}: venue {} vs journal {}", name(i), net_of(i), journal_of(i)))
        .collect();
    Ok(Reconciliation {
        venue_positions: venue.iter().map(|p| (name(p.instrument.0), p.net, p.avg_price)).collect(),
        journal_positions: journal.iter().map(|(i, n)| (name(*i), *n)).collect(),
        orphans_cancelled: orphans.len(),
        mismatches,
        policy,
        seed: venue,
    })
}
