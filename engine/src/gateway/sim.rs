//! The in-process simulated venue behind the [`VenueGateway`] trait: the matching
//! of [`SimVenue`], plus what makes a venue feel real: each answer becomes visible
//! only after a configured latency (acks and fills apart), a configured share of new
//! orders is rejected at random (seeded: the same run is the same run), and the venue
//! keeps the positions its fills make, for reconciliation.

use feeds::{
    book::Book,
    event::{InstrumentId, Price, Qty, Trade},
};

use super::{GatewayCounters, GatewayError, VenueGateway, VenueOrder, VenuePosition};
use crate::{
    fixed::Bounded,
    order::{ClientId, ExecKind, ExecReport, NewOrder},
    sim::{FeeSchedule, MAX_SWEEP, SimVenue, SplitMix64},
};

/// How the simulated venue behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimGatewayConfig {
    /// Its fees.
    pub fees: FeeSchedule,
    /// Delay before an ack, reject, cancel or replace answer is seen (ns).
    pub ack_latency_ns: u64,
    /// Delay before a fill is seen (ns).
    pub fill_latency_ns: u64,
    /// New orders rejected at random, per million.
    pub reject_ppm: u32,
    /// Seed of the random rejects.
    pub seed: u64,
    /// Fault injection: every new order after this many is rejected.
    pub reject_after: Option<u64>,
}

impl Default for SimGatewayConfig {
    fn default() -> Self {
        Self {
            fees: FeeSchedule::default(),
            ack_latency_ns: 0,
            fill_latency_ns: 0,
            reject_ppm: 0,
            seed: 1,
            reject_after: None,
        }
    }
}

/// The simulated venue as a gateway.
#[derive(Debug)]
pub struct SimGateway {
    venue: SimVenue,
    config: SimGatewayConfig,
    rng: SplitMix64,
    /// Answers made, each with the time it becomes visible, oldest first.
    in_flight: Bounded<(u64, ExecReport)>,
    /// Answers that did not fit `in_flight`.
    dropped: u64,
    /// Scratch for one call's answers: room for a trade that fills every resting
    /// order, or an order that sweeps the book.
    made: Bounded<ExecReport>,
}

impl SimGateway {
    /// A venue for `instruments` instruments holding at most `capacity` of our
    /// resting orders.
    pub fn new(capacity: usize, instruments: usize, config: SimGatewayConfig) -> Self {
        let mut venue = SimVenue::new(capacity, config.fees).with_instruments(instruments);
        if let Some(n) = config.reject_after {
            venue.reject_after(n);
        }
        // Room for every answer that can be in flight: each live order's fills and
        // its final answer, and one call's sweep besides.
        let room = 4 * capacity.max(16) + 64 * (MAX_SWEEP + 2);
        Self {
            venue,
            config,
            rng: SplitMix64::new(config.seed),
            in_flight: Bounded::with_capacity(room),
            dropped: 0,
            made: Bounded::with_capacity(capacity + MAX_SWEEP + 4),
        }
    }

    /// Moves this call's answers into flight, each due after its latency.
    fn dispatch(&mut self, now: u64) {
        for report in self.made.drain() {
            let delay = if matches!(report.kind, ExecKind::Fill { .. }) {
                self.config.fill_latency_ns
            } else {
                self.config.ack_latency_ns
            };
            // Sized for every answer that can be in flight; a refusal would be a
            // sizing bug, counted like the venue's own.
            if !self.in_flight.push((now.saturating_add(delay), report)) {
                self.dropped += 1;
            }
        }
    }

    /// Answers lost to a full buffer (a sizing bug; the run reports it).
    pub fn dropped(&self) -> u64 {
        self.dropped + self.venue.dropped()
    }
}

impl VenueGateway for SimGateway {
    fn submit(&mut self, id: ClientId, order: &NewOrder, book: &Book, now: u64) -> Result<(), GatewayError> {
        if order.order_type.trigger().is_some() {
            return Err(GatewayError::StopAtVenue);
        }
        let random_reject = self.config.reject_ppm > 0 && self.rng.below(1_000_000) < u64::from(self.config.reject_ppm);
        if random_reject {
            let _ = self.made.push(ExecReport { client_id: id, kind: ExecKind::Rejected, ts: now });
        } else {
            self.venue.submit(id, order, book, now, &mut self.made);
        }
        self.dispatch(now);
        Ok(())
    }

    fn cancel(&mut self, id: ClientId, _instrument: InstrumentId, now: u64) -> Result<(), GatewayError> {
        self.venue.cancel(id, now, &mut self.made);
        self.dispatch(now);
        Ok(())
    }

    fn replace(
        &mut self,
        id: ClientId,
        _instrument: InstrumentId,
        (price, qty): (Price, Qty),
        book: &Book,
        now: u64,
    ) -> Result<(), GatewayError> {
        self.venue.replace(id, price, qty, book, now, &mut self.made);
        self.dispatch(now);
        Ok(())
    }

    fn on_trade(&mut self, trade: &Trade, now: u64) {
        self.venue.on_trade(trade, now, &mut self.made);
        self.dispatch(now);
    }

    fn poll(&mut self, now: u64, out: &mut Bounded<ExecReport>) -> Result<(), GatewayError> {
        // Oldest first: an answer never overtakes an earlier one (latencies are per
        // kind, so a later ack may wait behind an earlier, slower fill).
        let mut k = 0;
        while let Some((due, report)) = self.in_flight.as_slice().get(k).copied() {
            if due > now || !out.push(report) {
                break;
            }
            k += 1;
        }
        self.in_flight.drain_front(k);
        Ok(())
    }

    fn counters(&self) -> GatewayCounters {
        GatewayCounters { lost_answers: self.dropped(), ..GatewayCounters::default() }
    }

    fn answers_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    fn inject_rejects_after(&mut self, orders: u64) -> bool {
        self.venue.reject_after(orders);
        true
    }

    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, GatewayError> {
        Ok(self
            .venue
            .resting_orders()
            .map(|(id, o, remaining)| VenueOrder {
                id,
                instrument: o.instrument,
                side: o.side,
                price: o.price,
                qty: o.qty,
                filled: o.qty.0 - remaining,
            })
            .collect())
    }

    fn positions(&mut self) -> Result<Vec<VenuePosition>, GatewayError> {
        Ok(self
            .venue
            .positions()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.net != 0)
            .map(|(i, p)| VenuePosition { instrument: InstrumentId(i as u32), net: p.net, avg_price: p.avg_price })
            .collect())
    }
}
