//! Sending orders: from the strategy's intents through pre-trade risk and the
//! router to the venue gateway, stop orders the market triggered, cancels, and the
//! order events each step journals.

use super::*;

impl Pipeline {
    pub(super) fn send_intents(&mut self, now: u64, arrived: u64, clock: &impl Clock) {
        // Strategy reactions to fills may add intents; a few rounds settle it.
        for _ in 0..4 {
            if self.intents.is_empty() {
                return;
            }
            std::mem::swap(&mut self.intents, &mut self.sending);
            let mut k = 0;
            while let Some(intent) = self.sending.as_slice().get(k).copied() {
                k += 1;
                match intent {
                    Intent::New { id, order, route } => {
                        let t0 = clock.now_ns();
                        let order = self.route_new(id, order, route, now);
                        let to_venue = order.order_type.trigger().is_none();
                        let Some(decision) = self.pre_trade(id, &order, now, to_venue) else { continue };
                        if to_venue && decision.reject.is_none() && self.self_trade == SelfTradeMode::CancelResting {
                            // Checked as if the orders of ours it would cross were
                            // gone; now that it passed, they go, ahead of it.
                            self.cancel_crossed(&order, now);
                        }
                        let t1 = clock.now_ns();
                        self.latency.record(Hop::Risk, t1.saturating_sub(t0));
                        if self.halt.is_some_and(|h| h.must_stop()) {
                            // Its records can no longer be kept: it must not leave.
                            if decision.reject.is_none() {
                                // An admitted order that never leaves: the breaker
                                // must not wait for its outcome.
                                if let Some(b) = self.breaker_of(order.instrument) {
                                    b.record_failure(decision.probe, now);
                                }
                            }
                            self.order_event(id, OrderEvent::Deny, now);
                            continue;
                        }
                        if let Some(reject) = decision.reject {
                            self.counters.risk_rejects += 1;
                            // Self-inflicted pacing (throttles, ratios, duplicates, the
                            // halt or reduce-only state, an open breaker) is not a
                            // reject storm; everything else counts.
                            if !matches!(
                                reject,
                                Reject::Throttled
                                    | Reject::InstrumentThrottled
                                    | Reject::OrderToTrade
                                    | Reject::CancelToNew
                                    | Reject::Duplicate
                                    | Reject::Halted
                                    | Reject::ReduceOnly
                                    | Reject::VenueCircuitOpen
                            ) {
                                self.count_reject(now);
                            }
                            // The strategy hears of a risk rejection as a local reject.
                            if let Some(order) = self.order_event(id, OrderEvent::Deny, now) {
                                let report = ExecReport { client_id: id, kind: ExecKind::Rejected, ts: now };
                                let mut ctx = Ctx::new(now, &mut self.oms, &mut self.intents);
                                self.strategy.on_exec(&order, &report, &mut ctx);
                            }
                            continue;
                        }
                        if order.order_type.trigger().is_some() {
                            // A stop waits in the engine; nothing reaches the venue yet.
                            self.order_event(id, OrderEvent::Arm, now);
                            continue;
                        }
                        self.order_event(id, OrderEvent::Send, now);
                        if decision.probe
                            && !self.probe_ids.push(id)
                            && let Some(b) = self.breaker_of(order.instrument)
                        {
                            b.record_failure(true, now); // cannot track it: failed
                        }
                        let Some(book) = self.books.get(order.instrument.0 as usize) else { continue };
                        if let Err(e) = self.venue.submit(id, &order, book, now) {
                            self.not_sent(id, ExecKind::Rejected, &e, now);
                        }
                        let t2 = clock.now_ns();
                        self.latency.record(Hop::Route, t2.saturating_sub(t1));
                        self.latency.record(Hop::TickToOrder, t2.saturating_sub(arrived));
                        self.counters.orders += 1;
                        self.count_message(now);
                    }
                    Intent::Cancel(id) => {
                        if self.emergency {
                            self.risk.on_emergency_cancel(now);
                        } else if !self.allow_cancel(id, now) {
                            // Already cancelling, or already waiting: nothing to add.
                            let cancelling = self.oms.get(id).is_some_and(|o| o.state == OrderState::PendingCancel);
                            if cancelling || self.deferred_cancels.as_slice().contains(&id) {
                                continue;
                            }
                            self.counters.cancels_deferred += 1;
                            if self.deferred_cancels.push(id) {
                                continue;
                            }
                            // No room to wait: send it anyway rather than orphan it.
                            self.risk.on_emergency_cancel(now);
                        }
                        self.send_cancel(id, now);
                    }
                    Intent::Replace { id, price, qty } => self.send_replace(id, price, qty, now),
                }
            }
            self.sending.clear();
            self.handle_reports(now);
        }
    }

    /// With several venues, sends a crossing order that opens or adds to a position
    /// where the router says: the order is re-pointed at the best venue's book, and
    /// SmartRoute's further children become orders of their own, queued behind it.
    /// Each child's choice is journaled (audit code [`ROUTED`]: its venue, and the
    /// average price the router expected there). Returns the order as it now is.
    ///
    /// Orders that rest stay where the strategy put them (it quoted that book), and
    /// an order that reduces a position stays at that position's venue.
    pub(super) fn route_new(
        &mut self,
        id: crate::order::ClientId,
        order: NewOrder,
        route: RouteChoice,
        now: u64,
    ) -> NewOrder {
        let policy = match route {
            RouteChoice::Run => self.route,
            RouteChoice::Stay => None,
            RouteChoice::BestPrice => Some(crate::route::Policy::BestPrice),
            RouteChoice::LowestFee => Some(crate::route::Policy::LowestFee),
            RouteChoice::Smart => Some(crate::route::Policy::SmartRoute(crate::route::SmartWeights::default())),
        };
        let Some(policy) = policy.filter(|_| self.layout.venues > 1) else { return order };
        // Positions are per venue: an order that reduces one stays where it is.
        let net = self.oms.position(order.instrument).net;
        let reduces = net != 0 && (net > 0) == (order.side == feeds::event::Side::Sell);
        let fresh = self.oms.get(id).is_some_and(|o| o.state == OrderState::Initialized);
        // An order over the per-order limits is not split into pieces under them:
        // it stays whole, for risk to refuse.
        let l = self.risk.instrument(order.instrument);
        let notional = (i128::from(order.price.0) * i128::from(order.qty.0)).saturating_mul(l.money);
        let oversized = order.qty.0 > l.max_qty || notional > l.max_order_notional;
        if !order.order_type.is_immediate() || reduces || !fresh || oversized || self.halt.is_some() {
            return order;
        }
        let Some(fallback) = self.books.first() else { return order };
        let layout = self.layout;
        let restricted = self.risk.limits().restricted;
        let entry_open: [bool; crate::route::MAX_VENUES] =
            std::array::from_fn(|v| v < layout.venues && self.entry_open(v));
        let views: [crate::route::VenueView<'_>; crate::route::MAX_VENUES] = std::array::from_fn(|v| {
            let i = layout.at_venue(order.instrument, v).0 as usize;
            let own = self.risk.instrument(InstrumentId(i as u32));
            crate::route::VenueView {
                venue: v as u8,
                book: self.books.get(i).unwrap_or(fallback),
                fees: self.fees.get(v).copied().unwrap_or_default(),
                ack_ns: self.ack_latency.get(v).map_or(0, |a| a.get()),
                breaker: self.breakers.get(v).map_or(crate::risk::BreakerState::Closed, |b| {
                    // As the order's own check would find it: a venue that would
                    // refuse (cooling down, every probe out, or its order entry down
                    // or not yet settled) is open; one past its cool-down admits a
                    // probe, so it is half-open.
                    match b.state() {
                        _ if !b.would_admit(now) || !entry_open[v] => crate::risk::BreakerState::Open,
                        crate::risk::BreakerState::Closed => crate::risk::BreakerState::Closed,
                        _ => crate::risk::BreakerState::HalfOpen,
                    }
                }),
                // Each venue's instrument by its own limits, as risk will check it.
                stale: now.saturating_sub(self.book_ts.get(i).copied().unwrap_or(0)) > own.max_reference_age_ns,
                barred: restricted & (1u64 << (i & 63)) != 0 || order.qty.0 > own.max_qty || order.qty.0 < own.min_qty,
            }
        });
        let venues = views.get(..layout.venues.min(crate::route::MAX_VENUES)).unwrap_or(&[]);
        crate::route::route(&order, venues, policy, &mut self.decision);
        let mut routed = order;
        // Child by child, not a copy of the whole decision (about 2 KB with its scratch).
        for k in 0..crate::route::MAX_VENUES {
            let Some(child) = self.decision.child(k) else { break };
            let instrument = layout.at_venue(order.instrument, usize::from(child.venue));
            let child_order = self.at_venue(&order, &child.order, instrument);
            let child_id = if k == 0 {
                if self.oms.reroute(id, child_order).is_err() {
                    self.counters.oms_errors += 1;
                    return order;
                }
                routed = child_order;
                id
            } else {
                let Ok(child_id) = self.oms.create(child_order) else {
                    self.counters.oms_errors += 1;
                    break; // no room for more children: the rest of the size is not sent
                };
                // Queued behind its parent, placed already: it stays where it goes.
                let child = Intent::New { id: child_id, order: child_order, route: RouteChoice::Stay };
                if !self.sending.push(child) {
                    self.order_event(child_id, OrderEvent::Deny, now);
                    break;
                }
                child_id
            };
            self.counters.routed_children += 1;
            let expected = self.decision.scores().get(child.score).map_or(0, crate::route::VenueScore::avg_price);
            let record = RiskFields {
                reason: ROUTED,
                client_id: child_id.0 as i64,
                side: side_code(child_order.side),
                price: order.price.0,
                qty: child_order.qty.0,
                limit: i64::from(child.venue),
                observed: expected,
            };
            self.must_record(record, now, child_order.instrument.0);
        }
        routed
    }

    /// A router's child as it leaves for its venue's `instrument`. A whole-order
    /// child keeps the parent's limit only as far as that venue's book needs: its
    /// limit is the deepest level it takes there (the parent's limit was set against
    /// another venue's prices, which a collar at this venue would not know). Its stop
    /// keeps its distance from the limit.
    pub(super) fn at_venue(&self, parent: &NewOrder, child: &NewOrder, instrument: InstrumentId) -> NewOrder {
        let mut out = NewOrder { instrument, ..*child };
        if child.price == parent.price
            && let Some(book) = self.books.get(instrument.0 as usize)
        {
            let (side, buy) = match parent.side {
                feeds::event::Side::Buy => (feeds::event::BookSide::Ask, true),
                feeds::event::Side::Sell => (feeds::event::BookSide::Bid, false),
            };
            let mut left = child.qty.0;
            for level in book.levels(side).take(crate::route::ROUTE_DEPTH) {
                let within = if buy { level.price.0 <= parent.price.0 } else { level.price.0 >= parent.price.0 };
                if !within {
                    break;
                }
                left -= level.qty.0.min(left);
                if left == 0 {
                    out.price = level.price;
                    break;
                }
            }
        }
        if parent.stop.0 != 0 {
            out.stop = Price(parent.stop.0 + (out.price.0 - parent.price.0));
        }
        out
    }

    /// The order's symbol at the other venues, for the position limit: the net
    /// position there plus working size on the order's side (0 with one venue).
    pub(super) fn elsewhere(&self, order: &NewOrder) -> i64 {
        let mut sum = 0i64;
        for v in 0..self.layout.venues {
            let other = self.layout.at_venue(order.instrument, v);
            if other == order.instrument {
                continue;
            }
            let (buys, sells) = self.oms.working_qty(other);
            let working = match order.side {
                feeds::event::Side::Buy => buys,
                feeds::event::Side::Sell => -sells,
            };
            sum = sum.saturating_add(self.oms.position(other).net).saturating_add(working);
        }
        sum
    }

    /// Pre-trade risk for an order (new, or a working order's replacement terms),
    /// audited. `None` if the instrument has no book.
    /// `to_venue`: the order goes to the venue now, so the venue's circuit breaker
    /// is asked (an armed stop or a replace does not claim a breaker call).
    pub(super) fn pre_trade(
        &mut self,
        id: crate::order::ClientId,
        order: &NewOrder,
        now: u64,
        to_venue: bool,
    ) -> Option<Decision> {
        let i = order.instrument.0 as usize;
        if self.exposure_stale {
            // Fills since the last mark moved positions: re-mark, so gross and net
            // exposure count them.
            self.mark_to_market();
        }
        // An order already working (a fired stop, a replace) is checked as if it
        // were not there yet, so its own size is not counted twice.
        let (mut open_notional, mut working) = (self.oms.open_notional(), self.oms.working_qty(order.instrument));
        if let Some((side, qty, notional)) = self.oms.contribution(id) {
            open_notional -= notional;
            match side {
                feeds::event::Side::Buy => working.0 -= qty,
                feeds::event::Side::Sell => working.1 -= qty,
            }
        }
        let elsewhere = self.elsewhere(order);
        let book = self.books.get(i)?;
        let inputs = RiskInputs {
            now,
            book,
            book_ts: self.book_ts.get(i).copied().unwrap_or(0),
            position: self.oms.position(order.instrument),
            open_notional,
            working,
            elsewhere,
            venue: self.layout.venue_of(order.instrument),
            own: match self.self_trade {
                SelfTradeMode::Reject => self.oms.own_top(order.instrument, false),
                // The orders it would cross are cancelled before it leaves.
                SelfTradeMode::CancelResting => self.oms.own_top_beyond(order),
            },
            exposure: Exposure {
                mark: self.marks.get(i).copied().unwrap_or(0),
                correlated: correlated_with(
                    i,
                    &self.correlations,
                    &mut self.correlation_row,
                    &self.oms,
                    &self.marks,
                    &self.money,
                    self.risk.limits().correlation_cap,
                ),
                ..self.exposure
            },
            breaker: if to_venue {
                self.breakers.get(self.layout.venue_of(order.instrument)).map(|b| &**b)
            } else {
                None
            },
        };
        // Only the orders `flatten` made are checked as a flatten; a strategy's order
        // is checked as usual, halt included.
        let entry_down = to_venue && !self.entry_open(inputs.venue);
        let decision = if self.emergency && self.flatten_ids.remove(&id) {
            self.risk.check_flatten(order, &inputs)
        } else if entry_down {
            // Order entry is down (or back but not yet settled): the order could
            // not be sent, and the working orders it would be checked against are
            // unsettled. Refused as an open breaker refuses (pacing, not a reject
            // storm), before the checks that would judge it against them.
            self.risk.refuse_entry_down()
        } else {
            self.risk.check(order, &inputs)
        };
        let audit = RiskFields {
            reason: decision.reject.map_or(0, Reject::code),
            client_id: id.0 as i64,
            side: side_code(order.side),
            price: order.price.0,
            qty: order.qty.0,
            limit: decision.limit,
            observed: decision.observed,
        };
        self.must_record(audit, now, order.instrument.0);
        Some(decision)
    }

    /// A strategy's replace: the new terms pass pre-trade risk like a new order (the
    /// old terms stay working meanwhile, and are not counted twice), then go to the
    /// venue. A replace refused here (an order not in a state to replace, risk, the
    /// venue's open circuit) reaches the strategy as a replace reject.
    pub(super) fn send_replace(&mut self, id: crate::order::ClientId, price: Price, qty: feeds::event::Qty, now: u64) {
        let Some(order) = self.oms.get(id).copied() else {
            self.counters.oms_errors += 1;
            return;
        };
        let terms = NewOrder { price, qty, ..order.new };
        let replaceable = matches!(order.state, OrderState::Accepted | OrderState::PartiallyFilled);
        let circuit_open = !order.is_armed() && self.breaker_of(order.new.instrument).is_some_and(|b| b.refusing(now));
        let refused =
            !replaceable || circuit_open || self.pre_trade(id, &terms, now, false).is_none_or(|d| d.reject.is_some());
        if refused {
            self.counters.risk_rejects += u64::from(replaceable);
            return self.refuse_locally(id, ExecKind::ReplaceRejected, now);
        }
        match self.oms.request_replace(id, price, qty) {
            Ok(order) if order.is_armed() => {
                // An armed stop lives only here: its new terms apply at once.
                self.persist_order(&order, now);
                self.order_event(id, OrderEvent::ReplaceAck, now);
            }
            Ok(order) => {
                self.persist_order(&order, now);
                self.oms.stamp(id, now);
                let Some(book) = self.books.get(order.new.instrument.0 as usize) else { return };
                if let Err(e) = self.venue.replace(id, order.new.instrument, (price, qty), book, now) {
                    self.not_sent(id, ExecKind::ReplaceRejected, &e, now);
                }
                self.counters.replaces += 1;
                self.count_message(now);
            }
            Err(_) => {
                self.counters.oms_errors += 1;
                self.refuse_locally(id, ExecKind::ReplaceRejected, now);
            }
        }
    }

    /// Self-trade prevention by cancelling: cancels our working orders on the other
    /// side of `order`'s instrument that it would cross (they go before it, so the
    /// venue takes them out first). Returns how many cancels were sent.
    pub(super) fn cancel_crossed(&mut self, order: &NewOrder, now: u64) -> usize {
        let mut crossed = [crate::order::ClientId(0); 32];
        let mut n = 0;
        let candidates = self.oms.working_in(order.instrument).filter(|o| {
            o.new.side != order.side
                && o.state != OrderState::PendingCancel
                && !o.is_armed()
                && match order.side {
                    feeds::event::Side::Buy => o.new.price <= order.price,
                    feeds::event::Side::Sell => o.new.price >= order.price,
                }
        });
        for (slot, o) in crossed.iter_mut().zip(candidates) {
            *slot = o.id;
            n += 1;
        }
        let mut sent = 0;
        for id in crossed.into_iter().take(n) {
            // Past the cancel throttle: leaving it would let us trade with ourselves.
            self.risk.on_emergency_cancel(now);
            self.send_cancel(id, now);
            if self.oms.get(id).is_none_or(|o| o.state == OrderState::PendingCancel || o.state.is_terminal()) {
                sent += 1;
            }
        }
        self.counters.self_trade_cancels += sent as u64;
        sent
    }

    /// Tells the strategy a request of its was refused before it left the engine
    /// (the order itself is unchanged).
    pub(super) fn refuse_locally(&mut self, id: crate::order::ClientId, kind: ExecKind, now: u64) {
        if let Some(order) = self.oms.get(id).copied() {
            let report = ExecReport { client_id: id, kind, ts: now };
            let mut ctx = Ctx::new(now, &mut self.oms, &mut self.intents);
            self.strategy.on_exec(&order, &report, &mut ctx);
        }
    }

    /// A request the gateway could not send: the venue never saw it, so its answer
    /// is the refusal (`kind`), applied like any venue answer (a rejected new order
    /// also counts as a breaker failure). Counted as a gateway error.
    pub(super) fn not_sent(
        &mut self,
        id: crate::order::ClientId,
        kind: ExecKind,
        error: &crate::gateway::GatewayError,
        now: u64,
    ) {
        self.gateway_failed(error);
        if !self.reports.push(ExecReport { client_id: id, kind, ts: now }) {
            // No room for the answer: the order stays pending, settled with the
            // venue after the reconnect.
            self.counters.oms_errors += 1;
        }
    }

    /// Armed stops in instrument `i` that a trade at `price` fires: each is marked
    /// triggered and queued as the order it becomes, which passes risk again before
    /// it leaves (a halt in between stops it).
    pub(super) fn fire_stops(&mut self, i: usize, price: Price, now: u64) {
        let mut fired = [crate::order::ClientId(0); 16];
        // Only as many as the intent buffer takes now; the rest stay armed and fire
        // on the next trade through them.
        let room = self.intents.room().min(fired.len());
        let n = self.oms.stops_fired_by(InstrumentId(i as u32), price, &mut fired[..room]);
        for id in fired.into_iter().take(n) {
            let Some(order) = self.order_event(id, OrderEvent::Trigger, now) else { continue };
            self.counters.stops_triggered += 1;
            // room checked; a fired stop goes to its own venue
            let _ = self.intents.push(Intent::New { id, order: order.new.triggered(), route: RouteChoice::Stay });
        }
    }

    /// Applies an OMS event and persists the order's new state.
    pub(super) fn send_cancel(&mut self, id: crate::order::ClientId, now: u64) {
        // Already being cancelled (self-trade prevention got there first): done.
        if self.oms.get(id).is_some_and(|o| o.state == OrderState::PendingCancel) {
            return;
        }
        let armed = self.oms.get(id).is_some_and(Order::is_armed);
        if armed {
            // An armed stop lives only here: cancelling it needs no venue.
            if self.order_event(id, OrderEvent::RequestCancel, now).is_some() {
                self.order_event(id, OrderEvent::Cancel, now);
            }
            return;
        }
        if let Some(order) = self.order_event(id, OrderEvent::RequestCancel, now) {
            if let Err(e) = self.venue.cancel(id, order.new.instrument, now) {
                self.not_sent(id, ExecKind::CancelRejected, &e, now);
            }
            self.counters.cancels += 1;
            self.count_message(now);
        }
    }

    /// Sends the cancels the throttle held back, as far as tokens allow, oldest first.
    pub(super) fn retry_deferred_cancels(&mut self, now: u64) {
        if self.deferred_cancels.is_empty() {
            return;
        }
        std::mem::swap(&mut self.deferred_cancels, &mut self.retrying);
        let mut k = 0;
        while let Some(id) = self.retrying.as_slice().get(k).copied() {
            k += 1;
            // Filled or cancelled meanwhile: nothing left to cancel.
            if !self.oms.get(id).is_some_and(|o| o.state.is_working() && o.state != OrderState::PendingCancel) {
                continue;
            }
            if self.allow_cancel(id, now) {
                self.send_cancel(id, now);
            } else {
                let _ = self.deferred_cancels.push(id); // it came from there: room is certain
            }
        }
        self.retrying.clear();
        self.handle_reports(now);
    }

    /// One more message (order or cancel) to the venue: the message-rate trip.
    pub(super) fn count_message(&mut self, now: u64) {
        if let Some(t) = self.kill.on_message(now) {
            self.trip(Halt::KillSwitch(t));
        }
    }

    pub(super) fn order_event(&mut self, id: crate::order::ClientId, event: OrderEvent, now: u64) -> Option<Order> {
        match self.oms.apply(id, event) {
            Ok(order) => {
                if matches!(event, OrderEvent::Send | OrderEvent::RequestCancel) {
                    self.oms.stamp(id, now);
                }
                self.persist_order(&order, now);
                Some(order)
            }
            Err(_) => {
                self.counters.oms_errors += 1;
                None
            }
        }
    }

    pub(super) fn persist_order(&mut self, order: &Order, now: u64) {
        let fields = OrderFields {
            state: order.state as u16,
            client_id: order.id.0 as i64,
            side: side_code(order.new.side),
            price: order.new.price.0,
            qty: order.new.qty.0,
            filled: order.filled,
            order_type: order.new.order_type.code(),
        };
        self.must_record(fields, now, order.new.instrument.0);
    }

    pub(super) fn must_record(&mut self, fields: impl persist::Fields, now: u64, instrument: u32) {
        if let Err(gone) = self.sink.must(fields, now, self.dialect as u16, instrument) {
            self.trip(Halt::PersistGone(gone));
        }
    }
}
