//! The kill switch, its re-arm plans, and the checks each tick runs that can trip
//! it: P&L and position limits, stale books, a persist core falling behind, a venue
//! whose order entry is down.

use super::*;

impl Pipeline {
    pub(super) fn trip(&mut self, halt: Halt) {
        self.risk.set_state(TradingState::Halted);
        self.forget_hold_state();
        if self.halt.is_some() {
            return;
        }
        self.halt = Some(halt);
        self.cancel_pending = true;
        let trip = match halt {
            Halt::KillSwitch(t) => t,
            Halt::OverFill(_) => Trip { reason: TripReason::OverFill, limit: 0, observed: 0 },
            Halt::PersistGone(_) => return, // nothing can be recorded any more
        };
        // The trip itself is a risk event, for the audit trail.
        self.audit(trip.reason as u16, (trip.limit, trip.observed), self.last_event, 0);
    }

    /// Trips the kill switch by hand (SIGUSR1): trading halts, orders are cancelled.
    pub fn kill_switch(&mut self, reason: TripReason, now: u64) {
        self.trip(Halt::KillSwitch(Trip { reason, limit: 0, observed: 0 }));
        self.finish_trip(now);
    }

    /// An operator re-arms a tripped kill switch: trading resumes reduce-only
    /// (`Standard`) or normally (`Aggressive`), audited as a risk event. Conditions
    /// still breached trip it again at once.
    ///
    /// # Errors
    /// Nothing to re-arm, or a halt that re-arming cannot clear.
    pub fn rearm(&mut self, plan: RearmPlan, now: u64) -> Result<TradingState, RearmError> {
        match self.halt {
            // Reduce-only since a start-up mismatch: an operator may lift it.
            None if self.reconcile_hold => {}
            None => return Err(RearmError::NotTripped),
            Some(Halt::PersistGone(_)) => return Err(RearmError::PersistGone),
            Some(Halt::OverFill(_)) => return Err(RearmError::OverFill),
            Some(Halt::KillSwitch(_)) => {}
        }
        self.forget_hold_state();
        self.halt = None;
        self.reconcile_hold = false;
        self.kill.reset_windows();
        let state = match plan {
            RearmPlan::Standard => TradingState::ReduceOnly,
            RearmPlan::Aggressive => TradingState::Active,
        };
        self.risk.set_state(state);
        self.counters.rearms += 1;
        self.audit(plan as u16, (0, 0), now, 0);
        // Re-check at once: a drawdown or a dead feed that is still there trips again.
        self.check_pnl(true);
        self.check_stale(now);
        self.finish_trip(now);
        Ok(state)
    }

    /// [`Pipeline::rearm`] from the control ring: a refusal is counted (the hot core
    /// does no I/O; the report shows it).
    pub fn rearm_or_count(&mut self, plan: RearmPlan, now: u64) {
        if self.rearm(plan, now).is_err() {
            self.counters.rearms_refused += 1;
        }
    }

    pub(super) fn finish_trip(&mut self, now: u64) {
        if std::mem::take(&mut self.cancel_pending) {
            self.cancel_all(now);
            // A stage that failed, or a venue report not applied, leaves positions
            // that cannot be trusted: it only cancels.
            let trusted = !matches!(
                self.halt,
                Some(Halt::KillSwitch(t)) if matches!(t.reason, TripReason::StageFailed | TripReason::UnappliedReport)
            );
            if self.flatten_on_trip && trusted && matches!(self.halt, Some(Halt::KillSwitch(_))) {
                self.flatten(now);
            }
        }
    }

    /// Time-based checks between frames (a live feed that went quiet): a book left
    /// invalid too long trips the kill switch.
    pub fn on_tick(&mut self, now: u64) {
        // Venue answers arrive whether or not the market moves.
        self.handle_reports(now);
        self.keep_venue_connected(now);
        self.check_ack_timeouts(now);
        self.check_feed_silence(now);
        self.retry_deferred_cancels(now);
        self.check_stale(now);
        self.check_venue_down(now);
        self.check_persist_backlog(now);
        self.check_unapplied_reports(now);
        self.finish_trip(now);
    }

    /// A venue report that took its place without being applied may have moved a
    /// position the OMS does not know: by `--on-mismatch`, as for a start-up
    /// mismatch, trading goes reduce-only or halts until `engine rearm` (or, with
    /// `trust-venue`, goes on). Audited as trip 113 each time the count rises.
    pub(super) fn check_unapplied_reports(&mut self, now: u64) {
        let unapplied = self.venue.unapplied_reports();
        if unapplied <= self.unapplied_seen {
            return;
        }
        self.unapplied_seen = unapplied;
        let trip = Trip { reason: TripReason::UnappliedReport, limit: 0, observed: unapplied as i64 };
        match self.on_mismatch {
            // Already halted: the trip audits nothing more, so audit it here.
            MismatchPolicy::Halt if self.halt.is_some() => self.audit(trip.reason as u16, (0, trip.observed), now, 0),
            MismatchPolicy::Halt => self.trip(Halt::KillSwitch(trip)),
            MismatchPolicy::ReduceOnly => {
                self.audit(trip.reason as u16, (0, trip.observed), now, 0);
                if self.halt.is_none() {
                    // Sticky: a persistence hold lifting later must not undo it.
                    self.forget_hold_state();
                    self.risk.set_state(TradingState::ReduceOnly);
                    self.reconcile_hold = true;
                }
            }
            MismatchPolicy::TrustVenue => self.audit(trip.reason as u16, (0, trip.observed), now, 0),
        }
    }

    /// A trip, a re-arm or a reconciliation sets the trading state: a persistence
    /// hold lifting later must not undo it.
    pub(super) fn forget_hold_state(&mut self) {
        if let Some(lowered) = self.persist_hold.as_mut() {
            *lowered = false;
        }
    }

    /// Moves the records held for a cold core that fell behind into the ring as it
    /// makes room: `true` while some are still held. A cold core that is gone halts
    /// the stage (and `false`: nothing more can be handed over).
    pub fn flush_records(&mut self) -> bool {
        if let Err(gone) = self.sink.flush() {
            self.trip(Halt::PersistGone(gone));
            return false;
        }
        self.sink.is_behind()
    }

    /// Moves held records into the ring; while the cold core is behind, applies the
    /// backlog policy, and lifts a reduce-only hold once it has caught up.
    pub(super) fn check_persist_backlog(&mut self, now: u64) {
        if let Err(gone) = self.sink.flush() {
            self.trip(Halt::PersistGone(gone));
            return;
        }
        let behind = self.sink.is_behind();
        if behind && self.persist_hold.is_none() {
            self.audit(PERSIST_BEHIND, (0, self.sink.backlog() as i64), now, 0);
            let lowered = self.on_persist_backlog == BacklogPolicy::ReduceOnly
                && self.risk.state() == TradingState::Active
                && self.halt.is_none();
            if lowered {
                self.risk.set_state(TradingState::ReduceOnly);
            }
            self.persist_hold = Some(lowered);
        }
        // Halt: tripped while behind, and again if re-armed while still behind.
        if behind && self.on_persist_backlog == BacklogPolicy::Halt && self.halt.is_none() {
            let observed = self.sink.backlog() as i64;
            self.trip(Halt::KillSwitch(Trip { reason: TripReason::PersistBacklog, limit: 0, observed }));
        }
        if !behind && let Some(lowered) = self.persist_hold.take() {
            self.audit(PERSIST_CAUGHT_UP, (0, self.sink.held_peak as i64), now, 0);
            // Only what the hold itself changed is undone.
            if lowered && self.risk.state() == TradingState::ReduceOnly && self.halt.is_none() {
                self.risk.set_state(TradingState::Active);
            }
        }
    }

    /// Every venue unusable (circuit open, or disconnected) too long trips the kill
    /// switch: nothing can be traded or cancelled there.
    pub(super) fn check_venue_down(&mut self, now: u64) {
        let down = self.breakers.iter().enumerate().all(|(v, b)| b.refusing(now) || !self.entry_open(v));
        if !down {
            self.venue_down_since = 0;
            return;
        }
        if self.venue_down_since == 0 {
            self.venue_down_since = now;
        }
        if self.halt.is_none()
            && let Some(t) = self.kill.on_venue_down(now, self.venue_down_since)
        {
            self.trip(Halt::KillSwitch(t));
        }
    }

    pub(super) fn check_stale(&mut self, now: u64) {
        if self.needs_snapshot == 0 || self.halt.is_some() {
            return;
        }
        let mut oldest = u64::MAX;
        for (i, since) in self.invalid_since.iter_mut().enumerate() {
            if self.needs_snapshot & (1u64 << i) != 0 {
                if *since == 0 {
                    *since = now;
                }
                oldest = oldest.min(*since);
            }
        }
        if self.layout.venues > 1 {
            // Several venues: one venue's dead feed does not stop the others (its
            // books refuse orders meanwhile); every venue with a book invalid too
            // long does. Each venue counts from its oldest invalid book.
            oldest = 0;
            for v in 0..self.layout.venues {
                let venue_oldest = self
                    .layout
                    .ids(v)
                    .filter(|i| self.needs_snapshot & (1u64 << (i & 63)) != 0)
                    .filter_map(|i| self.invalid_since.get(i).copied())
                    .min();
                let Some(venue_oldest) = venue_oldest else { return };
                oldest = oldest.max(venue_oldest);
            }
        }
        if let Some(t) = self.kill.on_invalid_book(now, oldest) {
            self.trip(Halt::KillSwitch(t));
        }
    }

    /// Marks every position to its mid: the exposure and equity the next orders are
    /// checked against. Returns total P&L (realised + unrealised, net of fees).
    pub(super) fn mark_to_market(&mut self) -> i128 {
        let (mut pnl, mut gross, mut net) = (0i128, 0i128, 0i128);
        for (i, (book, money)) in self.books.iter().zip(&self.money).enumerate() {
            let p = self.oms.position(InstrumentId(i as u32));
            pnl += (p.realised - p.fees) * money;
            let mark = match (book.best_bid(), book.best_ask()) {
                (Some(b), Some(a)) => (b.price.0 + a.price.0) / 2,
                _ => 0,
            };
            if let Some(m) = self.marks.get_mut(i) {
                *m = mark;
            }
            if p.net != 0 && mark > 0 {
                pnl += p.unrealised(mark) * money;
                gross += i128::from(p.net).abs() * i128::from(mark) * money;
                net += i128::from(p.net) * i128::from(mark) * money;
            }
        }
        self.exposure = Exposure { gross, net, equity: self.kill.equity(pnl), mark: 0, correlated: 0 };
        self.exposure_stale = false;
        pnl
    }

    /// Marks to market, then the P&L trips and, after fills, the exposure trip.
    pub(super) fn check_pnl(&mut self, fills_moved: bool) {
        let pnl = self.mark_to_market();
        if self.halt.is_some() {
            return;
        }
        if let Some(t) = self.kill.on_pnl(pnl) {
            self.trip(Halt::KillSwitch(t));
            return;
        }
        // Reduce-only after a re-arm can only shrink positions: tripping again on an
        // exposure still over its limit would stop the very orders that lower it.
        if !fills_moved || self.risk.limits().state != TradingState::Active {
            return;
        }
        if let Some(t) = self.kill.on_exposure(self.exposure.gross, self.risk.limits().max_gross_notional) {
            self.trip(Halt::KillSwitch(t));
            return;
        }
        // A position past its limit after fills (the pre-trade check counts every
        // working order, so only a moving mark gets here).
        // Each venue's position against its instrument's limit, and the symbol over
        // every venue against the largest of them (an order at that venue was
        // checked against it).
        for (i, mark) in self.marks.iter().enumerate().take(self.layout.per_venue) {
            let (mut total, mut widest) = (0i128, 0i128);
            for v in 0..self.layout.venues {
                let at = self.layout.at_venue(InstrumentId(i as u32), v);
                let mark = self.marks.get(at.0 as usize).copied().unwrap_or(*mark);
                let limits = self.risk.instrument(at);
                let value = i128::from(self.oms.position(at).net) * i128::from(mark) * limits.money;
                total += value;
                widest = widest.max(limits.max_position_notional);
                if value.abs() > limits.max_position_notional {
                    self.trip_position(limits.max_position_notional, value.abs());
                    return;
                }
            }
            if total.abs() > widest {
                self.trip_position(widest, total.abs());
                return;
            }
        }
    }

    pub(super) fn trip_position(&mut self, limit: i128, value: i128) {
        let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
        let t = Trip { reason: TripReason::PositionBreach, limit: clamp(limit), observed: clamp(value) };
        self.trip(Halt::KillSwitch(t));
    }

    pub(super) fn count_reject(&mut self, now: u64) {
        if let Some(t) = self.kill.on_reject(now) {
            self.trip(Halt::KillSwitch(t));
        }
    }
}
