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
    fixed::Bounded,
    order::{ClientId, ExecReport, NewOrder},
    pipeline::VenueLayout,
};

/// Venues, one gateway each, with which venue each live order went to.
#[derive(Debug)]
pub struct VenueSet {
    venues: Vec<Box<dyn VenueGateway>>,
    layout: VenueLayout,
    /// Per OMS slot (a client id's low bits): the id last sent from it and its venue.
    /// A slot holds one live order at a time, so this is exact for every live order.
    sent_to: Vec<(ClientId, u8)>,
}

impl VenueSet {
    /// `venues[v]` trades the instruments `layout` gives venue `v`; `order_capacity`
    /// is the OMS's (one entry per slot).
    pub fn new(venues: Vec<Box<dyn VenueGateway>>, layout: VenueLayout, order_capacity: usize) -> Self {
        Self { venues, layout, sent_to: vec![(ClientId(0), 0); order_capacity.max(1)] }
    }

    fn slot(&self, id: ClientId) -> usize {
        (id.0 & crate::oms::SLOT_MASK) as usize % self.sent_to.len()
    }

    fn venue_for(&mut self, instrument: InstrumentId) -> Result<&mut Box<dyn VenueGateway>, GatewayError> {
        let v = self.layout.venue_of(instrument);
        self.venues.get_mut(v).ok_or(GatewayError::UnknownInstrument(instrument))
    }

    /// The venue an order was sent to.
    fn venue_of_order(&mut self, id: ClientId) -> Result<&mut Box<dyn VenueGateway>, GatewayError> {
        let slot = self.slot(id);
        match self.sent_to.get(slot) {
            Some(&(sent, v)) if sent == id => self
                .venues
                .get_mut(usize::from(v))
                // `_else`: the message must not be built (allocating) on every cancel.
                .ok_or_else(|| GatewayError::Protocol(format!("order {} has no venue", id.0))),
            _ => Err(GatewayError::Protocol(format!("order {} was never sent to a venue", id.0))),
        }
    }
}

impl VenueGateway for VenueSet {
    fn submit(&mut self, id: ClientId, order: &NewOrder, book: &Book, now: u64) -> Result<(), GatewayError> {
        let v = self.layout.venue_of(order.instrument);
        let slot = self.slot(id);
        self.venue_for(order.instrument)?.submit(id, order, book, now)?;
        if let Some(entry) = self.sent_to.get_mut(slot) {
            *entry = (id, v as u8);
        }
        Ok(())
    }

    fn cancel(&mut self, id: ClientId, now: u64) -> Result<(), GatewayError> {
        self.venue_of_order(id)?.cancel(id, now)
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

    fn reconnect(&mut self) -> Result<(), GatewayError> {
        for venue in &mut self.venues {
            if !venue.is_connected() {
                venue.reconnect()?;
            }
        }
        Ok(())
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
            lost_answers: a.lost_answers + b.lost_answers,
        })
    }
}
