//! The link to the venues: circuit breakers, reconnecting order entry, feed silence,
//! acknowledgement timeouts, and settling with the venue at start and after a trip.

use super::*;
use crate::gateway::VenueOrder;

/// An order waiting on a venue when the venue was asked which orders it holds.
/// Its answer settles the order only if no request for it went out after the
/// question (its stamp count unchanged): the answer cannot know of one, whose own
/// answer settles it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    venue: usize,
    id: crate::order::ClientId,
    stamps: u64,
}

impl Pipeline {
    /// The circuit breaker of the venue trading `instrument`.
    pub(super) fn breaker_of(&self, instrument: InstrumentId) -> Option<&CircuitBreaker> {
        self.breakers.get(self.layout.venue_of(instrument)).map(|b| &**b)
    }

    /// Whether a cancel of `id` may go now (its venue's and its instrument's rates).
    /// An order already being cancelled, or an armed stop (it lives only here), sends
    /// nothing to a venue: it spends no token.
    pub(super) fn allow_cancel(&mut self, id: crate::order::ClientId, now: u64) -> bool {
        let Some(order) = self.oms.get(id) else {
            return self.risk.allow_cancel(0, InstrumentId(u32::MAX), now);
        };
        if order.state == OrderState::PendingCancel || order.is_armed() {
            return true;
        }
        let instrument = order.new.instrument;
        self.risk.allow_cancel(self.layout.venue_of(instrument), instrument, now)
    }

    /// The circuit breaker of the venue an order went to (with one venue, its one
    /// breaker, whether or not the OMS still holds the order).
    pub(super) fn breaker_of_order(&self, id: crate::order::ClientId) -> Option<&CircuitBreaker> {
        if self.layout.venues == 1 {
            return self.breakers.first().map(|b| &**b);
        }
        self.oms.get(id).and_then(|o| self.breaker_of(o.new.instrument))
    }

    /// Reliability tests: the simulated venue rejects every order after `orders`
    /// (no effect on a real venue's gateway).
    pub fn inject_venue_rejects(&mut self, orders: u64) {
        self.venue.inject_rejects_after(orders);
    }

    /// A request that could not be sent: counted, and its cause kept for the report;
    /// its order's outcome stays unknown (pending) until a venue query settles it,
    /// never invented.
    pub(super) fn gateway_failed(&mut self, error: &crate::gateway::GatewayError) {
        self.counters.gateway_errors += 1;
        let kind = std::mem::discriminant(error);
        if self.last_gateway_error.as_ref().is_none_or(|(last, _)| *last != kind) {
            self.last_gateway_error = Some((kind, error.to_string()));
        }
    }

    /// A lost venue connection is retried once a second (the connection is made off
    /// the hot core, looked in on every step until it is). Meanwhile risk refuses
    /// new orders for it; on reconnecting the venue replays every answer missed and
    /// the orders still waiting are settled by asking it, so no outcome is guessed.
    /// Until that settle succeeds (asked again once a second), new orders there stay
    /// refused. Each venue is followed on its own: one that comes back is settled
    /// while another is still down.
    pub(super) fn keep_venue_connected(&mut self, now: u64) {
        let all = venue_bits(self.layout.venues);
        if self.entry_up != all || !self.venue.is_connected() {
            self.reconnect_venues(now);
        }
        let up = self.venues_up();
        let back = up & !self.entry_up;
        self.entry_up = up;
        if back != 0 {
            self.counters.venue_reconnects += u64::from(back.count_ones());
            self.unsettled |= back;
            // A question lost with the old connection is given up first, so a
            // venue just back is asked at once.
            if self.asking & back != 0 {
                self.take_venue_answers(now);
            }
        }
        // A venue just back is asked at once; one whose answer failed is asked
        // again once a second (an ack timeout's question: at its next check).
        let retry = now.saturating_sub(self.last_settle) >= 1_000_000_000;
        let due = self.unsettled & up & !self.asking & if retry { u64::MAX } else { back };
        if due != 0 {
            if retry {
                self.last_settle = now;
            }
            self.ask_venues(now, due);
        }
    }

    /// Moves the reconnect of every venue that is down on, once a second (and on
    /// every step while one is being made off the hot core).
    fn reconnect_venues(&mut self, now: u64) {
        if !self.venue.is_reconnecting() {
            if now.saturating_sub(self.last_reconnect) < 1_000_000_000 {
                return;
            }
            self.last_reconnect = now;
        }
        match self.venue.reconnect() {
            Ok(()) | Err(crate::gateway::GatewayError::Connecting) => {}
            Err(e) => self.gateway_failed(&e),
        }
    }

    /// The venues (bit `v`) whose order entry is up now.
    fn venues_up(&self) -> u64 {
        (0..self.layout.venues.min(64)).filter(|&v| self.venue.venue_connected(v)).fold(0, |m, v| m | 1u64 << v)
    }

    /// Whether venue `v` takes orders: connected, and settled since it came back.
    pub(super) fn entry_open(&self, v: usize) -> bool {
        self.unsettled & (1u64 << (v & 63)) == 0 && self.venue.venue_connected(v)
    }

    /// A live feed that sends nothing for `--feed-stale-after` is stale: reported
    /// once (until a frame comes), and its books are invalidated, so risk refuses
    /// orders on them and, if it lasts, the stale-book kill switch trips.
    pub(super) fn check_feed_silence(&mut self, now: u64) {
        let limit = self.feed_stale_ns;
        if self.first_tick == 0 {
            self.first_tick = now;
        }
        if limit == 0 {
            return;
        }
        let single = self.layout.venues == 1;
        for v in 0..self.layout.venues.min(64) {
            let last = if single { self.last_event } else { self.venue_last.get(v).copied().unwrap_or(0) };
            let since = last.max(self.first_tick);
            if self.feed_stale & (1u64 << v) != 0 || now.saturating_sub(since) <= limit {
                continue;
            }
            self.feed_stale |= 1u64 << v;
            let silent_ms = now.saturating_sub(since) / 1_000_000;
            // One venue among several names its first instrument and, as the
            // sequence, the venue; the detail is how long it has been silent.
            let which = if single { FeedStatus::ALL } else { InstrumentId(self.layout.ids(v).start as u32) };
            self.feed_status(StatusKind::Stale, which, (v as u64, silent_ms), now);
            self.invalidate_venue(v);
        }
    }

    /// A frame from `venue`'s feed, whatever it held: that venue is not silent.
    pub(super) fn heard(&mut self, venue: usize, ts_recv: u64) {
        if self.layout.venues == 1 {
            self.feed_stale = 0;
        } else if let Some(last) = self.venue_last.get_mut(venue) {
            *last = (*last).max(ts_recv);
            self.feed_stale &= !(1u64 << (venue & 63));
        }
    }

    /// Whether order entry to the venue trading `instrument` is up.
    fn entry_up_for(&self, instrument: InstrumentId) -> bool {
        self.venue.venue_connected(self.layout.venue_of(instrument))
    }

    /// A request unanswered for `--ack-timeout` is not given up on: the venues are
    /// asked what they hold and every waiting order is settled from their answers
    /// (at most once per half timeout). Orders at a venue whose order entry is down
    /// wait for its reconnect, which settles them, and a venue already asked waits
    /// for that answer.
    pub(super) fn check_ack_timeouts(&mut self, now: u64) {
        let timeout = self.ack_timeout_ns;
        if timeout == 0 || now.saturating_sub(self.last_ack_check) < timeout / 2 {
            return;
        }
        // Answers already made and on their way: they settle it; asking now would
        // race them.
        if self.venue.answers_in_flight() {
            return;
        }
        self.last_ack_check = now;
        // Only the venues holding overdue orders are asked.
        let (mut overdue, mut venues) = (0u64, 0u64);
        for o in self.oms.working() {
            let waiting = !o.is_armed() && (o.state == OrderState::Submitted || o.state.is_pending());
            let venue = 1u64 << (self.layout.venue_of(o.new.instrument) & 63);
            if waiting
                && now.saturating_sub(o.sent_at) > timeout
                && self.asking & venue == 0
                && self.entry_up_for(o.new.instrument)
            {
                overdue += 1;
                venues |= venue;
            }
        }
        if overdue > 0 {
            self.counters.ack_timeouts += overdue;
            self.ask_venues(now, venues);
        }
    }

    /// Asks the venues in `venues` (bit `v`) which orders they hold, noting the
    /// orders waiting on each. A venue that answers at once (in process) is settled
    /// now; the others' answers are taken as they come ([`Pipeline::handle_reports`]),
    /// never waited for: a venue slow to answer holds up nothing on this core.
    pub(super) fn ask_venues(&mut self, now: u64, venues: u64) {
        for v in (0..self.layout.venues.min(64)).filter(|v| venues & (1u64 << v) != 0) {
            let bit = 1u64 << v;
            if !self.venue.venue_connected(v) || self.asking & bit != 0 {
                continue;
            }
            let layout = self.layout;
            let waiting = self.oms.working().filter(|o| !o.is_armed() && layout.venue_of(o.new.instrument) == v);
            let asked = waiting.map(|o| Asked { venue: v, id: o.id, stamps: o.stamps });
            self.questions.extend(asked);
            match self.venue.ask_open_orders(v) {
                Ok(Some(open)) => {
                    // Answered at once: the reports it sent before the answer first.
                    self.handle_reports(now);
                    self.settle_from_answer(now, v, &open);
                }
                Ok(None) => self.asking |= bit,
                Err(e) => self.question_failed(v, &e),
            }
        }
    }

    /// Takes the answers that have come to the venues in `asking`, settling from
    /// each. One that failed (no answer in time, the connection lost) leaves the
    /// venue's orders waiting; a venue back from a reconnect is asked again.
    pub(super) fn take_venue_answers(&mut self, now: u64) {
        let asking = self.asking;
        for v in (0..self.layout.venues.min(64)).filter(|v| asking & (1u64 << v) != 0) {
            let Some(answer) = self.venue.open_orders_answer(v) else { continue };
            self.asking &= !(1u64 << v);
            match answer {
                Ok(open) => self.settle_from_answer(now, v, &open),
                Err(e) => self.question_failed(v, &e),
            }
        }
    }

    /// Venue `v`'s question failed (not sent, no answer in time, the connection
    /// lost): its orders noted for it wait for the next one.
    fn question_failed(&mut self, v: usize, error: &crate::gateway::GatewayError) {
        self.questions.retain(|a| a.venue != v);
        self.gateway_failed(error);
    }

    /// The venues (bit `v`) whose answer to a settle question is still awaited.
    pub fn venues_asked(&self) -> u64 {
        self.asking
    }

    /// After a reconnect, every order still waiting on the venue is settled by
    /// asking it. The venue sends every answer it made before the question's
    /// (after a reconnect, every one missed), and those are applied first, so an
    /// order still waiting has nothing more coming:
    /// - sent but unknown to the venue: it never arrived (rejected here);
    /// - a cancel pending on an order the venue still holds: the cancel never
    ///   arrived (sent again); on one it does not hold: it ended with no fill beyond
    ///   those reported (cancelled);
    /// - a replace pending: settled by the terms the venue holds.
    ///
    /// Only the orders noted when venue `v` was asked are settled, and of them only
    /// those with no request sent since ([`Asked`]). The venue is settled: new
    /// orders there are taken again.
    fn settle_from_answer(&mut self, now: u64, v: usize, open: &[VenueOrder]) {
        self.unsettled &= !(1u64 << v);
        let (asked, others): (Vec<Asked>, Vec<Asked>) =
            std::mem::take(&mut self.questions).into_iter().partition(|a| a.venue == v);
        self.questions = others;
        for a in asked {
            // Gone: it finished meanwhile.
            let Some(order) = self.oms.get(a.id).copied() else { continue };
            if order.is_armed() || order.stamps != a.stamps {
                continue;
            }
            let at_venue = open.iter().find(|o| o.id == order.id);
            let answer = match (order.state, at_venue) {
                (OrderState::Submitted, None) => Some(ExecKind::Rejected),
                // Working there, its ack lost: what the venue says is what it is.
                (OrderState::Submitted, Some(_)) => Some(ExecKind::Accepted),
                (OrderState::PendingCancel, Some(_)) => {
                    if let Err(e) = self.venue.cancel(order.id, order.new.instrument, now) {
                        self.gateway_failed(&e);
                    }
                    self.oms.stamp(order.id, now);
                    None
                }
                (OrderState::PendingCancel | OrderState::Accepted | OrderState::PartiallyFilled, None) => {
                    Some(ExecKind::Canceled)
                }
                (OrderState::PendingUpdate, Some(v)) if (v.price, v.qty) == order.replace => {
                    Some(ExecKind::Replaced { price: v.price, qty: v.qty })
                }
                (OrderState::PendingUpdate, Some(_)) => Some(ExecKind::ReplaceRejected),
                (OrderState::PendingUpdate, None) => Some(ExecKind::Canceled),
                _ => None,
            };
            match answer {
                Some(kind) => {
                    self.counters.settled += 1;
                    if !self.reports.push(ExecReport { client_id: order.id, kind, ts: now }) {
                        self.counters.oms_errors += 1;
                    }
                }
                // Still waiting, and rightly: a new timeout starts now, so the same
                // order does not count as overdue again at the next check.
                None => self.oms.stamp(order.id, now),
            }
        }
        self.apply_reports(now);
    }

    /// Start-up reconciliation's outcome: the venue's positions become the OMS's.
    /// A mismatch is audited as trip 109 and, by `policy`, halts the engine (as any
    /// trip) or starts it reduce-only, in the state a standard re-arm leaves (every
    /// other check and trip still live); `engine rearm` lifts either.
    pub fn start_reconciled(&mut self, venue: &[crate::gateway::VenuePosition], mismatch: Option<MismatchPolicy>) {
        self.forget_hold_state();
        for p in venue {
            self.oms.seed_position(p.instrument, p.net, p.avg_price);
        }
        self.exposure_stale = true;
        let trip = Trip { reason: TripReason::ReconcileMismatch, limit: 0, observed: 0 };
        match mismatch {
            None | Some(MismatchPolicy::TrustVenue) => {}
            Some(MismatchPolicy::Halt) => self.trip(Halt::KillSwitch(trip)),
            Some(MismatchPolicy::ReduceOnly) => {
                self.audit(trip.reason as u16, (0, 0), self.last_event, 0);
                self.risk.set_state(TradingState::ReduceOnly);
                self.reconcile_hold = true;
            }
        }
    }

    /// Why the engine started reduce-only, if reconciliation put it there.
    pub fn reconcile_hold(&self) -> bool {
        self.reconcile_hold
    }

    /// Moves the venue's answers that have arrived into the report buffer.
    pub(super) fn poll_venue(&mut self, now: u64) {
        if let Err(e) = self.venue.poll(now, &mut self.reports) {
            self.gateway_failed(&e);
        }
    }

    /// Whether a request of ours still waits on a connected venue's answer (a new
    /// order not yet acked, a cancel or replace not yet answered). With several
    /// venues, one down does not stop the wait for the others' answers.
    pub fn awaiting_venue(&self) -> bool {
        self.oms.working().any(|o| {
            !o.is_armed()
                && (o.state == OrderState::Submitted || o.state.is_pending())
                && self.entry_up_for(o.new.instrument)
        })
    }

    /// Applies the venue's answers that have arrived (shutdown: the last cancels',
    /// and a settle question's).
    pub fn take_answers(&mut self, now: u64) {
        self.handle_reports(now);
    }
}
