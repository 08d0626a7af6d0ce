//! Execution reports: applying fills and order answers, journaling them, and what
//! they trigger (cancel-all, flattening, and the stop-outs of positions whose stop
//! the touch crossed).

use super::*;

impl Pipeline {
    /// Applies the venue's answers that have arrived, and then a settle question's
    /// answer if one came after them.
    pub(super) fn handle_reports(&mut self, now: u64) {
        self.poll_venue(now);
        self.apply_reports(now);
        if self.asking != 0 {
            self.take_venue_answers(now);
        }
    }

    /// Applies the reports in the report buffer.
    pub(super) fn apply_reports(&mut self, now: u64) {
        if self.reports.is_empty() {
            return;
        }
        let mut reports = std::mem::replace(&mut self.reports, Bounded::with_capacity(0));
        for report in reports.drain() {
            let id = report.client_id;
            if self.oms.get(id).is_none() {
                // Not an order this engine holds (a stray, or one finished long ago):
                // counted as unknown, it moves no venue breaker, no reject-storm count
                // and no fill count. A cancel or replace refused for an order whose
                // fill finished it is expected with any real venue. A probe's id is
                // still let go: kept, it would fill the probe list for good.
                let _ = self.oms.apply(id, OrderEvent::Reject);
                self.probe_ids.remove(&id);
                if matches!(report.kind, ExecKind::CancelRejected | ExecKind::ReplaceRejected) {
                    self.counters.late_answers += 1;
                } else {
                    self.counters.oms_errors += 1;
                }
                continue;
            }
            // Only a post-only order can be refused for crossing: said of any other,
            // it is a reject like any other.
            let kind = match report.kind {
                ExecKind::WouldCross
                    if self.oms.get(id).is_none_or(|o| o.new.order_type != crate::order::OrderType::PostOnly) =>
                {
                    ExecKind::Rejected
                }
                kind => kind,
            };
            let result = match kind {
                ExecKind::Accepted => {
                    if self.layout.venues > 1
                        && let Some(order) = self.oms.get(id)
                    {
                        let venue = self.layout.venue_of(order.new.instrument);
                        if let Some(ewma) = self.ack_latency.get_mut(venue) {
                            ewma.record(now.saturating_sub(order.sent_at));
                        }
                    }
                    let probe = self.probe_ids.remove(&id);
                    if let Some(b) = self.breaker_of_order(id) {
                        b.record_success(probe);
                    }
                    self.oms.apply(id, OrderEvent::Accept)
                }
                ExecKind::Rejected => {
                    let probe = self.probe_ids.remove(&id);
                    if let Some(b) = self.breaker_of_order(id) {
                        b.record_failure(probe, now);
                    }
                    self.counters.venue_rejects += 1;
                    self.count_reject(now);
                    self.oms.apply(id, OrderEvent::Reject)
                }
                ExecKind::WouldCross => {
                    // The venue answered, and rightly: a working call for its
                    // breaker (a probe's success closes it), no reject storm.
                    let probe = self.probe_ids.remove(&id);
                    if let Some(b) = self.breaker_of_order(id) {
                        b.record_success(probe);
                    }
                    self.counters.would_cross += 1;
                    self.oms.apply(id, OrderEvent::Reject)
                }
                ExecKind::Canceled => self.oms.apply(id, OrderEvent::Cancel),
                ExecKind::CancelRejected => self.oms.apply(id, OrderEvent::CancelReject),
                ExecKind::Expired => self.oms.apply(id, OrderEvent::Expire),
                ExecKind::Replaced { .. } => self.oms.apply(id, OrderEvent::ReplaceAck),
                ExecKind::ReplaceRejected => self.oms.apply(id, OrderEvent::ReplaceReject),
                ExecKind::Fill { price, qty, liquidity, trade_id, fee } => {
                    self.risk.on_fill(now);
                    self.exposure_stale = true;
                    self.oms.fill(id, price.0, qty.0, trade_id, fee).inspect(|order| {
                        self.track_stop(order, qty.0);
                        self.counters.fills += 1;
                        self.persist_fill(order, (price, qty.0, fee), liquidity, trade_id, now);
                    })
                }
            };
            match result {
                Ok(order) => {
                    self.persist_order(&order, now);
                    let mut ctx = Ctx::new(now, &mut self.oms, &mut self.intents);
                    self.strategy.on_exec(&order, &report, &mut ctx);
                }
                Err(e @ OmsError::OverFill { .. }) => self.trip(Halt::OverFill(e)),
                // A cancel or replace that crossed the fill that finished the order:
                // its refusal finds the order gone. Expected with any real venue.
                Err(OmsError::UnknownOrder(_))
                    if matches!(report.kind, ExecKind::CancelRejected | ExecKind::ReplaceRejected) =>
                {
                    self.counters.late_answers += 1;
                }
                Err(_) => self.counters.oms_errors += 1,
            }
        }
        self.reports = reports;
    }

    pub(super) fn persist_fill(
        &mut self,
        order: &Order,
        (price, qty, fee): (Price, i64, i64),
        liquidity: Liquidity,
        trade_id: u64,
        now: u64,
    ) {
        let instrument = order.new.instrument;
        let fill = FillFields {
            liquidity: if liquidity == Liquidity::Maker { 1 } else { 2 },
            client_id: order.id.0 as i64,
            venue_trade_id: trade_id as i64,
            side: side_code(order.new.side),
            price: price.0,
            qty,
            fee,
        };
        self.must_record(fill, now, instrument.0);
        let p = self.oms.position(instrument);
        let mark = self
            .books
            .get(instrument.0 as usize)
            .and_then(|b| Some((b.best_bid()?.price.0 + b.best_ask()?.price.0) / 2));
        let mark = mark.unwrap_or(price.0);
        let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
        let snapshot = PositionFields {
            flags: 0,
            net_qty: p.net,
            avg_price: p.avg_price,
            realised: clamp(p.realised),
            unrealised: clamp(p.unrealised(mark)),
            fees: clamp(p.fees),
            mark,
        };
        self.must_record(snapshot, now, instrument.0);
    }

    /// Cancels every working order (shutdown with cancel-on-exit), in as many
    /// rounds as the intent buffer needs.
    pub fn cancel_all(&mut self, now: u64) {
        self.cancel_all_but(now, 0);
    }

    /// Cancels every working order except those at the venues in `spared` (bit
    /// `v`): shutdown, which cancels those next. Every deferred cancel is dropped,
    /// the spared venues' too, as [`Pipeline::cancel_all`] drops them.
    pub fn cancel_all_but(&mut self, now: u64, spared: u64) {
        let clock = crate::clock::ReplayClock::starting_at(now);
        // Everything working goes now, deferred cancels included, past the throttle.
        self.deferred_cancels.clear();
        self.emergency = true;
        // In batches from a fixed array: a trip happens on the hot path, which must
        // not allocate. Bounded, in case cancels are refused and orders stay working.
        for _ in 0..=self.oms.live() / 32 + 1 {
            let mut batch = [crate::order::ClientId(0); 32];
            let mut n = 0;
            let layout = self.layout;
            let spared = |o: &Order| spared & (1u64 << (layout.venue_of(o.new.instrument) & 63)) != 0;
            for order in self.oms.working().filter(|o| o.state != crate::oms::OrderState::PendingCancel && !spared(o)) {
                let Some(slot) = batch.get_mut(n) else { break };
                *slot = order.id;
                n += 1;
            }
            if n == 0 {
                break;
            }
            for id in batch.iter().take(n) {
                let _ = self.intents.push(Intent::Cancel(*id));
            }
            self.send_intents(now, now, &clock);
        }
        self.emergency = false;
    }

    /// Closes every position with an IOC at the touch, checked as reduce-only.
    pub(super) fn flatten(&mut self, now: u64) {
        for i in 0..self.books.len() {
            if self.queue_close(i, now) {
                self.counters.flatten_orders += 1;
            }
        }
        self.send_closes(now);
    }

    /// Queues an IOC at the touch closing instrument `i`'s position; `false` if flat or
    /// there is no touch to close against.
    pub(super) fn queue_close(&mut self, i: usize, now: u64) -> bool {
        let instrument = InstrumentId(i as u32);
        let net = self.oms.position(instrument).net;
        let Some(book) = self.books.get(i) else { return false };
        let (side, touch) = match net.signum() {
            1 => (feeds::event::Side::Sell, book.best_bid()),
            -1 => (feeds::event::Side::Buy, book.best_ask()),
            _ => return false,
        };
        let Some(touch) = touch else { return false };
        let order = crate::order::NewOrder {
            instrument,
            side,
            price: touch.price,
            qty: feeds::event::Qty(net.abs()),
            order_type: crate::order::OrderType::Ioc,
            stop: Price(0), // it closes a position: no stop needed
        };
        match Ctx::new(now, &mut self.oms, &mut self.intents).submit(order) {
            // At most one close per instrument at a time: room is certain.
            Some(id) => self.flatten_ids.push(id),
            None => false,
        }
    }

    /// Sends the queued closes, checked as closes (reduce-only, no pacing).
    pub(super) fn send_closes(&mut self, now: u64) {
        let clock = crate::clock::ReplayClock::starting_at(now);
        self.emergency = true;
        self.send_intents(now, now, &clock);
        self.emergency = false;
        self.flatten_ids.clear();
    }

    /// The protective stop of instrument `i`'s position after a fill of `order`:
    /// the opening order's stop, tightened by every order that grows the position,
    /// gone when the position is flat.
    pub(super) fn track_stop(&mut self, order: &Order, qty: i64) {
        let i = order.new.instrument.0 as usize;
        let after = self.oms.position(order.new.instrument).net;
        let before = after - crate::oms::signed(order.new.side, qty);
        let Some(stop) = self.stops.get_mut(i) else { return };
        let new = order.new.stop.0;
        if after == 0 {
            *stop = 0;
        } else if before == 0 || before.signum() != after.signum() {
            *stop = new;
        } else if after.abs() > before.abs() && new > 0 {
            // Growing: keep the tighter of the two (higher under a long, lower above a short).
            *stop = if *stop == 0 {
                new
            } else if after > 0 {
                (*stop).max(new)
            } else {
                (*stop).min(new)
            };
        }
    }

    /// Closes instrument `i`'s position if the touch has crossed its stop.
    pub(super) fn enforce_stop(&mut self, i: usize, now: u64) {
        let stop = self.stops.get(i).copied().unwrap_or(0);
        let net = self.oms.position(InstrumentId(i as u32)).net;
        let Some(book) = self.books.get(i) else { return };
        if stop == 0 || net == 0 || !book.is_valid() {
            return;
        }
        let touch = if net > 0 { book.best_bid() } else { book.best_ask() };
        let Some(touch) = touch else { return };
        let crossed = if net > 0 { touch.price.0 <= stop } else { touch.price.0 >= stop };
        if !crossed {
            return;
        }
        // The stop-out is audited like a trip (code 160: the closing side and size, limit
        // = the stop, observed = the touch that crossed it).
        let close = if net > 0 { feeds::event::Side::Sell } else { feeds::event::Side::Buy };
        let record = RiskFields {
            reason: STOP_OUT,
            client_id: 0,
            side: side_code(close),
            price: touch.price.0,
            qty: net.abs(),
            limit: stop,
            observed: touch.price.0,
        };
        self.must_record(record, now, i as u32);
        // First the instrument's working orders, so the close cannot trade with one of
        // ours (self-trade prevention would refuse it while they stand); the next book
        // update tries again if a cancel is still pending.
        let instrument = InstrumentId(i as u32);
        let mut cancels = [crate::order::ClientId(0); 32];
        let mut n = 0;
        for order in self.oms.working_in(instrument).filter(|o| o.state != OrderState::PendingCancel) {
            let Some(slot) = cancels.get_mut(n) else { break };
            *slot = order.id;
            n += 1;
        }
        for id in cancels.iter().take(n) {
            let _ = self.intents.push(Intent::Cancel(*id));
        }
        self.send_closes(now);
        if self.queue_close(i, now) {
            self.counters.stop_outs += 1;
            self.send_closes(now);
        }
    }
}
