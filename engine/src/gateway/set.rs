//! Several venues behind one [`VenueGateway`]: each request goes to the venue that
//! trades the order's instrument, and every venue's answers come back through one
//! `poll`. The trading core keeps talking to one gateway; books, positions and
//! risk already tell venues apart by instrument id (see `VenueLayout`).

use feeds::{
    book::Book,
    event::{InstrumentId, Price, Qty, Trade},
};

use super::{GatewayCounters, GatewayError, VenueGateway, VenueOrder, VenuePosition};
use crate::{
    clock::{Clock, LiveClock},
    fixed::Bounded,
    order::{ClientId, ExecReport, NewOrder},
    pipeline::VenueLayout,
};

/// How soon a venue whose reconnect failed is tried again.
const RECONNECT_EVERY_NS: u64 = 1_000_000_000;

/// Venues, one gateway each.
#[derive(Debug)]
pub struct VenueSet {
    venues: Vec<Box<dyn VenueGateway>>,
    layout: VenueLayout,
    /// When each venue's last reconnect was started (ns, `clock`).
    started: Vec<Option<u64>>,
    clock: LiveClock,
}

impl VenueSet {
    /// `venues[v]` trades the instruments `layout` gives venue `v`.
    pub fn new(venues: Vec<Box<dyn VenueGateway>>, layout: VenueLayout) -> Self {
        let started = vec![None; venues.len()];
        Self { venues, layout, started, clock: LiveClock::new() }
    }

    fn venue_for(&mut self, instrument: InstrumentId) -> Result<&mut Box<dyn VenueGateway>, GatewayError> {
        let v = self.layout.venue_of(instrument);
        self.venues.get_mut(v).ok_or(GatewayError::UnknownInstrument(instrument))
    }
}

impl VenueGateway for VenueSet {
    fn submit(&mut self, id: ClientId, order: &NewOrder, book: &Book, now: u64) -> Result<(), GatewayError> {
        self.venue_for(order.instrument)?.submit(id, order, book, now)
    }

    fn cancel(&mut self, id: ClientId, instrument: InstrumentId, now: u64) -> Result<(), GatewayError> {
        self.venue_for(instrument)?.cancel(id, instrument, now)
    }

    fn replace(
        &mut self,
        id: ClientId,
        instrument: InstrumentId,
        terms: (Price, Qty),
        book: &Book,
        now: u64,
    ) -> Result<(), GatewayError> {
        self.venue_for(instrument)?.replace(id, instrument, terms, book, now)
    }

    fn on_trade(&mut self, trade: &Trade, now: u64) {
        if let Ok(venue) = self.venue_for(trade.instrument) {
            venue.on_trade(trade, now);
        }
    }

    fn poll(&mut self, now: u64, out: &mut Bounded<ExecReport>) -> Result<(), GatewayError> {
        let mut first_error = Ok(());
        for venue in &mut self.venues {
            // One venue down does not keep the others' answers back.
            if let Err(e) = venue.poll(now, out)
                && first_error.is_ok()
            {
                first_error = Err(e);
            }
        }
        first_error
    }

    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, GatewayError> {
        let mut all = Vec::new();
        for venue in &mut self.venues {
            all.extend(venue.open_orders()?);
        }
        Ok(all)
    }

    fn open_orders_at(&mut self, venue: usize) -> Result<Vec<VenueOrder>, GatewayError> {
        self.venues.get_mut(venue).ok_or_else(|| GatewayError::Protocol(format!("no venue {venue}")))?.open_orders()
    }

    fn ask_open_orders(&mut self, venue: usize) -> Result<Option<Vec<VenueOrder>>, GatewayError> {
        self.venues
            .get_mut(venue)
            .ok_or_else(|| GatewayError::Protocol(format!("no venue {venue}")))?
            .ask_open_orders(0)
    }

    fn open_orders_answer(&mut self, venue: usize) -> Option<Result<Vec<VenueOrder>, GatewayError>> {
        self.venues.get_mut(venue)?.open_orders_answer(0)
    }

    fn positions(&mut self) -> Result<Vec<VenuePosition>, GatewayError> {
        let mut all = Vec::new();
        for venue in &mut self.venues {
            all.extend(venue.positions()?);
        }
        Ok(all)
    }

    fn is_connected(&self) -> bool {
        self.venues.iter().all(|v| v.is_connected())
    }

    fn venue_connected(&self, venue: usize) -> bool {
        self.venues.get(venue).is_some_and(|v| v.is_connected())
    }

    fn answers_in_flight(&self) -> bool {
        self.venues.iter().any(|v| v.answers_in_flight())
    }

    /// Moves on every venue that is down: one whose connect is in flight is
    /// looked in on, and a new attempt starts at most once a second per venue (the
    /// caller comes back on every step while any connect is in flight). The first
    /// error is returned; a venue that came back meanwhile is connected whatever
    /// the others' outcome (the pipeline follows each venue's connection and
    /// settles each one that returns on its own).
    fn reconnect(&mut self) -> Result<(), GatewayError> {
        let now = self.clock.now_ns();
        let mut outcome = Ok(());
        for (venue, started) in self.venues.iter_mut().zip(&mut self.started) {
            if venue.is_connected() {
                *started = None;
                continue;
            }
            if !venue.is_reconnecting() {
                if started.is_some_and(|at| now.saturating_sub(at) < RECONNECT_EVERY_NS) {
                    continue;
                }
                *started = Some(now);
            }
            if let Err(e) = venue.reconnect()
                && outcome.is_ok()
            {
                outcome = Err(e);
            }
        }
        // A venue waiting for its next attempt is still on its way back.
        if outcome.is_ok() && !self.is_connected() {
            outcome = Err(GatewayError::Connecting);
        }
        outcome
    }

    fn is_reconnecting(&self) -> bool {
        self.venues.iter().any(|v| v.is_reconnecting())
    }

    fn inject_rejects_after(&mut self, orders: u64) -> bool {
        // Every venue is told, even after one that cannot be.
        let mut all = true;
        for venue in &mut self.venues {
            all &= venue.inject_rejects_after(orders);
        }
        all
    }

    fn counters(&self) -> GatewayCounters {
        self.venues.iter().map(|v| v.counters()).fold(GatewayCounters::default(), |a, b| GatewayCounters {
            rate_limited: a.rate_limited + b.rate_limited,
            bad_messages: a.bad_messages + b.bad_messages,
            reconnects: a.reconnects + b.reconnects,
            duplicates_dropped: a.duplicates_dropped + b.duplicates_dropped,
            sequence_gaps: a.sequence_gaps + b.sequence_gaps,
            lost_answers: a.lost_answers + b.lost_answers,
            unanswered_questions: a.unanswered_questions + b.unanswered_questions,
            unapplied_reports: a.unapplied_reports + b.unapplied_reports,
        })
    }

    fn unapplied_reports(&self) -> u64 {
        self.venues.iter().map(|v| v.unapplied_reports()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A venue that is down and refuses every connect at once; counts the attempts
    /// started (as `reconnects`).
    #[derive(Debug, Default)]
    struct Refusing {
        started: u64,
    }

    impl VenueGateway for Refusing {
        fn submit(&mut self, _: ClientId, _: &NewOrder, _: &Book, _: u64) -> Result<(), GatewayError> {
            Ok(())
        }
        fn cancel(&mut self, _: ClientId, _: InstrumentId, _: u64) -> Result<(), GatewayError> {
            Ok(())
        }
        fn replace(
            &mut self,
            _: ClientId,
            _: InstrumentId,
            _: (Price, Qty),
            _: &Book,
            _: u64,
        ) -> Result<(), GatewayError> {
            Ok(())
        }
        fn poll(&mut self, _: u64, _: &mut Bounded<ExecReport>) -> Result<(), GatewayError> {
            Ok(())
        }
        fn open_orders(&mut self) -> Result<Vec<VenueOrder>, GatewayError> {
            Ok(Vec::new())
        }
        fn positions(&mut self) -> Result<Vec<VenuePosition>, GatewayError> {
            Ok(Vec::new())
        }
        fn is_connected(&self) -> bool {
            false
        }
        fn reconnect(&mut self) -> Result<(), GatewayError> {
            self.started += 1;
            Err(GatewayError::Unreachable("connection refused".into()))
        }
        fn counters(&self) -> GatewayCounters {
            GatewayCounters { reconnects: self.started, ..GatewayCounters::default() }
        }
    }

    #[test]
    fn a_venue_that_refuses_at_once_is_tried_once_a_second_however_often_asked() {
        let venues: Vec<Box<dyn VenueGateway>> = vec![Box::new(Refusing::default()), Box::new(Refusing::default())];
        let mut set = VenueSet::new(venues, VenueLayout { venues: 2, per_venue: 1 });
        assert!(matches!(set.reconnect(), Err(GatewayError::Unreachable(_))), "both refused");
        // The pipeline asks on every step while any connect is in flight.
        for _ in 0..1_000 {
            assert!(matches!(set.reconnect(), Err(GatewayError::Connecting)), "waiting for the next attempt");
        }
        assert_eq!(set.counters().reconnects, 2, "one attempt per venue within the second");
    }
}
