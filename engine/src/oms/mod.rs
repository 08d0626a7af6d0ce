//! Order management: a pre-allocated slab of orders owned by one core, the state
//! machine applied to every venue answer, and the positions fills build. Client ids
//! encode their slab slot and a generation, so lookup is an index, not a search.

mod position;
mod state;

pub use position::Position;
pub use state::{ALL_EVENTS, ALL_STATES, OrderEvent, OrderState, TransitionError, next_state};

use feeds::event::{InstrumentId, Price, Qty, Side};

use crate::order::{ClientId, NewOrder};

/// One order as the OMS sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// Its id.
    pub id: ClientId,
    /// What was asked for.
    pub new: NewOrder,
    /// Where it is.
    pub state: OrderState,
    /// The state before a pending cancel or replace (restored when it is refused).
    pub before_pending: OrderState,
    /// The price and total size a pending replace asks for (size 0: none pending).
    pub replace: (Price, Qty),
    /// Executed size so far.
    pub filled: i64,
    /// The last few venue trade ids applied (a duplicate fill repeats one).
    pub recent_trade_ids: [u64; 4],
    /// A stop whose trigger fired (what it became is, or was, at the venue).
    pub triggered: bool,
    /// Engine time (ns) our last request for it (new, cancel, replace) was sent.
    pub sent_at: u64,
    /// How many times it was stamped (a request sent, or its wait restarted): a
    /// change tells a settle that a request went out after its question, exactly,
    /// where two requests in one step share a `sent_at`.
    pub stamps: u64,
}

impl Order {
    /// A stop waiting in the engine for its trigger: nothing of it is at a venue.
    pub fn is_armed(&self) -> bool {
        self.new.order_type.trigger().is_some() && !self.triggered && self.state.is_working()
    }

    /// Size still open while working (0 otherwise). While a replace is pending the
    /// venue may apply either size, so the larger counts.
    fn open_qty(&self) -> i64 {
        if !self.state.is_working() {
            return 0;
        }
        self.new.qty.0.max(self.replace.1.0) - self.filled
    }

    /// Notional still open while working; with a replace pending, the larger of the
    /// old and the new order's.
    fn open_notional(&self) -> i128 {
        if !self.state.is_working() {
            return 0;
        }
        let open = |price: Price, qty: Qty| i128::from(price.0) * i128::from((qty.0 - self.filled).max(0));
        let (price, qty) = self.replace;
        open(self.new.price, self.new.qty).max(open(price, qty))
    }
}

/// Why the OMS refused a request or a venue answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OmsError {
    /// Every slot holds a live order.
    #[error("order slab full ({0} live orders)")]
    SlabFull(usize),
    /// No live order has this id.
    #[error("unknown order {0:?}")]
    UnknownOrder(ClientId),
    /// Its terms can no longer change locally: it has left for the venue.
    #[error("order {0:?} has already been sent")]
    AlreadySent(ClientId),
    /// The state machine refused it.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A fill repeated a trade id already applied.
    #[error("duplicate fill {trade_id} on {id:?}")]
    DuplicateFill {
        /// Order.
        id: ClientId,
        /// Repeated venue trade id.
        trade_id: u64,
    },
    /// A replace to a size not above what is already filled, or to a price of zero.
    #[error("replace of {id:?} to {qty} lots at {price} refused: {filled} already filled")]
    BadReplace {
        /// Order.
        id: ClientId,
        /// Asked-for price.
        price: i64,
        /// Asked-for total size.
        qty: i64,
        /// Already filled.
        filled: i64,
    },
    /// A fill larger than what was open: the venue and we disagree about the order.
    #[error("over-fill on {id:?}: {filled} + {qty} > {ordered}")]
    OverFill {
        /// Order.
        id: ClientId,
        /// Already filled.
        filled: i64,
        /// This fill.
        qty: i64,
        /// Ordered size.
        ordered: i64,
    },
}

/// Counters the report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OmsCounters {
    /// Orders created.
    pub created: u64,
    /// Venue answers refused by the state machine.
    pub bad_transitions: u64,
    /// Duplicate fills ignored.
    pub duplicate_fills: u64,
    /// Answers for orders we do not know.
    pub unknown_orders: u64,
    /// Fills applied.
    pub fills: u64,
}

/// Our own best working prices in one instrument.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnTop {
    /// Highest working buy price.
    pub best_bid: Option<i64>,
    /// Lowest working sell price.
    pub best_ask: Option<i64>,
}

const SLOT_BITS: u32 = 24;
const GENERATION_BITS: u32 = 24;

#[derive(Debug, Clone, Copy)]
struct Slot {
    generation: u64,
    order: Option<Order>,
}

/// The order book of our own orders, and the positions they build.
#[derive(Debug)]
pub struct Oms {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Working orders, for self-trade checks (short: a strategy works a few orders).
    working_ids: Vec<ClientId>,
    positions: Vec<Position>,
    /// Working orders' notional in the account's money unit.
    open_notional: i128,
    /// Per instrument: its ticks × lots to money (see `risk::InstrumentLimits::money`).
    money: Vec<i128>,
    /// Per instrument, the open size of working buys and of working sells: what the
    /// position could become if they all filled.
    working_qty: Vec<(i64, i64)>,
    counters: OmsCounters,
    /// The top bits of every client id: distinct per run against a venue that
    /// outlives runs, so an id never names an order of an earlier run.
    epoch: u64,
}

impl Oms {
    /// The first epoch whose ids are all above `max_client_id`, or `None` when the
    /// 15 bits (32768 epochs) are used up: ids would repeat an earlier epoch's.
    pub fn epoch_above(max_client_id: u64) -> Option<u16> {
        let next = (max_client_id >> (SLOT_BITS + GENERATION_BITS)) + 1;
        u16::try_from(next).ok().filter(|e| *e <= 0x7fff)
    }

    /// Sets the run's client-id epoch (15 bits; ids stay positive as `i64`).
    pub fn with_epoch(mut self, epoch: u16) -> Self {
        self.epoch = u64::from(epoch & 0x7fff);
        self
    }

    /// Sets each instrument's factor from its ticks × lots to the account's money
    /// unit (1 where not given).
    pub fn with_money(mut self, factors: &[i128]) -> Self {
        for (slot, f) in self.money.iter_mut().zip(factors) {
            *slot = *f;
        }
        self
    }

    fn money(&self, instrument: InstrumentId) -> i128 {
        self.money.get(instrument.0 as usize).copied().unwrap_or(1)
    }

    /// Room for `capacity` live orders over `instruments` instruments, allocated now.
    pub fn new(capacity: usize, instruments: usize) -> Self {
        let capacity = capacity.clamp(1, 1 << SLOT_BITS);
        Self {
            slots: vec![Slot { generation: 0, order: None }; capacity],
            free: (0..capacity as u32).rev().collect(),
            working_ids: Vec::with_capacity(capacity),
            positions: vec![Position::default(); instruments],
            open_notional: 0,
            money: vec![1; instruments],
            working_qty: vec![(0, 0); instruments],
            counters: OmsCounters::default(),
            epoch: 0,
        }
    }

    /// Creates an order in `Initialized`, returning its id.
    ///
    /// # Errors
    /// [`OmsError::SlabFull`].
    pub fn create(&mut self, new: NewOrder) -> Result<ClientId, OmsError> {
        let money = self.money(new.instrument);
        let index = self.free.pop().ok_or(OmsError::SlabFull(self.slots.len()))?;
        let slot = self.slots.get_mut(index as usize).ok_or(OmsError::SlabFull(0))?;
        // 24 bits of generation: an id comes back only after 16M reuses of its slot.
        slot.generation = (slot.generation + 1) & ((1 << GENERATION_BITS) - 1);
        let id =
            ClientId(self.epoch << (SLOT_BITS + GENERATION_BITS) | slot.generation << SLOT_BITS | u64::from(index));
        let order = Order {
            id,
            new,
            state: OrderState::Initialized,
            before_pending: OrderState::Initialized,
            replace: (Price(0), Qty(0)),
            filled: 0,
            recent_trade_ids: [0; 4],
            triggered: false,
            sent_at: 0,
            stamps: 0,
        };
        self.open_notional += order.open_notional() * money;
        slot.order = Some(order);
        self.counters.created += 1;
        Ok(id)
    }

    /// Gives an order that has not left yet new terms: the venue's instrument and the
    /// size the router chose for it.
    ///
    /// # Errors
    /// [`OmsError::UnknownOrder`]; [`OmsError::AlreadySent`] past `Initialized`.
    pub fn reroute(&mut self, id: ClientId, new: NewOrder) -> Result<(), OmsError> {
        let order = self.get_mut(id).ok_or(OmsError::UnknownOrder(id))?;
        if order.state != OrderState::Initialized {
            return Err(OmsError::AlreadySent(id));
        }
        let (was, before) = (order.new.instrument, order.open_notional());
        order.new = new;
        let after = order.open_notional();
        self.open_notional += after * self.money(new.instrument) - before * self.money(was);
        Ok(())
    }

    /// The live order with this id.
    pub fn get(&self, id: ClientId) -> Option<&Order> {
        let slot = self.slots.get((id.0 & ((1 << SLOT_BITS) - 1)) as usize)?;
        slot.order.as_ref().filter(|o| o.id == id)
    }

    fn get_mut(&mut self, id: ClientId) -> Option<&mut Order> {
        let slot = self.slots.get_mut((id.0 & ((1 << SLOT_BITS) - 1)) as usize)?;
        slot.order.as_mut().filter(|o| o.id == id)
    }

    /// Applies an event (other than a fill), returning the order as it now is. A
    /// terminal order leaves the slab (the returned copy is its last word).
    ///
    /// # Errors
    /// Unknown order or a refused transition (counted; the order is unchanged).
    pub fn apply(&mut self, id: ClientId, event: OrderEvent) -> Result<Order, OmsError> {
        let mut event = event;
        // The answer to a replace settles the order's terms: the new ones if applied,
        // the old ones if refused. Fills while it was in flight may already cover
        // that size: then the answer completes the order.
        let mut terms = None;
        if let Some(order) = self.get(id)
            && matches!(event, OrderEvent::ReplaceAck | OrderEvent::ReplaceReject)
            && order.replace.1.0 > 0
        {
            let (price, qty) =
                if event == OrderEvent::ReplaceAck { order.replace } else { (order.new.price, order.new.qty) };
            terms = Some((price, Qty(qty.0.max(order.filled))));
            if order.filled >= qty.0 {
                event = OrderEvent::FullFill;
            }
        }
        let result = self.transition(id, event, |o| {
            if let Some((price, qty)) = terms {
                (o.new.price, o.new.qty) = (price, qty);
                o.replace = (Price(0), Qty(0));
            }
        });
        self.count_error(result)
    }

    /// Asks to change a working order's price and total size (the total includes what
    /// is filled). The order waits in `PendingUpdate` for the venue's answer.
    ///
    /// # Errors
    /// [`OmsError::BadReplace`] for a size not above what is filled or a price of
    /// zero; else as [`Oms::apply`].
    pub fn request_replace(&mut self, id: ClientId, price: Price, qty: Qty) -> Result<Order, OmsError> {
        if let Some(order) = self.get(id)
            && (qty.0 <= order.filled || price.0 <= 0)
        {
            return Err(OmsError::BadReplace { id, price: price.0, qty: qty.0, filled: order.filled });
        }
        let result = self.transition(id, OrderEvent::RequestReplace, |o| o.replace = (price, qty));
        self.count_error(result)
    }

    /// Applies a fill: checks duplicates and over-fills, moves the order and the
    /// position, and returns the order as it now is.
    ///
    /// # Errors
    /// Unknown order, duplicate fill (ignored), over-fill (nothing applied: the
    /// caller must trip the kill switch) or a refused transition.
    pub fn fill(&mut self, id: ClientId, price: i64, qty: i64, trade_id: u64, fee: i64) -> Result<Order, OmsError> {
        let Some(order) = self.get(id).copied() else {
            self.counters.unknown_orders += 1;
            return Err(OmsError::UnknownOrder(id));
        };
        if trade_id != 0 && order.recent_trade_ids.contains(&trade_id) {
            self.counters.duplicate_fills += 1;
            return Err(OmsError::DuplicateFill { id, trade_id });
        }
        // With a replace in flight the venue may be working either size: the larger
        // bounds a fill, and only reaching it completes the order (the replace's
        // answer settles the rest).
        let ordered = order.new.qty.0.max(order.replace.1.0);
        let Some(total) = order.filled.checked_add(qty).filter(|t| qty > 0 && *t <= ordered) else {
            return Err(OmsError::OverFill { id, filled: order.filled, qty, ordered });
        };
        let event = if total == ordered { OrderEvent::FullFill } else { OrderEvent::PartialFill };
        let result = self.transition(id, event, |o| {
            o.filled = total;
            if event == OrderEvent::FullFill && o.replace.1.0 > 0 {
                o.new.qty = Qty(total);
                o.replace = (Price(0), Qty(0));
            }
            o.recent_trade_ids.rotate_right(1);
            o.recent_trade_ids[0] = trade_id;
        });
        let order = self.count_error(result)?;
        if let Some(p) = self.positions.get_mut(order.new.instrument.0 as usize) {
            p.apply_fill(order.new.side, price, qty);
            p.add_fee(fee);
        }
        self.counters.fills += 1;
        Ok(order)
    }

    fn transition(
        &mut self,
        id: ClientId,
        event: OrderEvent,
        change: impl FnOnce(&mut Order),
    ) -> Result<Order, OmsError> {
        let Some(order) = self.get_mut(id) else { return Err(OmsError::UnknownOrder(id)) };
        // Only a stop is armed and triggered, once; and a stop leaves only triggered.
        let is_stop = order.new.order_type.trigger().is_some();
        let stop_only = matches!(event, OrderEvent::Arm | OrderEvent::Trigger);
        let refused = if stop_only {
            !is_stop || (event == OrderEvent::Trigger && order.triggered)
        } else {
            is_stop && event == OrderEvent::Send && order.state == OrderState::Initialized
        };
        if refused {
            return Err(TransitionError { from: order.state, event }.into());
        }
        // A refused cancel that overtook a replace: the replace is still in flight.
        let replace_pending = order.replace.1.0 > 0;
        let before = if replace_pending && order.state == OrderState::PendingCancel && event == OrderEvent::CancelReject
        {
            OrderState::PendingUpdate
        } else {
            order.before_pending
        };
        let next = next_state(order.state, event, before)?;
        let before = order.open_notional();
        let before_qty = order.open_qty();
        let was_working = order.state.is_working();
        if next.is_pending() && !order.state.is_pending() {
            order.before_pending = order.state;
        } else if next.is_pending() && event == OrderEvent::PartialFill {
            // Refusing the request now restores a partly filled order.
            order.before_pending = OrderState::PartiallyFilled;
        } else if next.is_pending() && event == OrderEvent::Accept && order.before_pending == OrderState::Submitted {
            // Acked while our cancel was in flight: a refused cancel leaves it working.
            order.before_pending = OrderState::Accepted;
        }
        order.state = next;
        order.triggered |= event == OrderEvent::Trigger;
        change(order);
        if !next.is_pending() {
            // Whatever answered the request (or overtook it) settled the terms.
            order.replace = (Price(0), Qty(0));
        }
        let after = *order;
        self.open_notional += (after.open_notional() - before) * self.money(after.new.instrument);
        if let Some((buys, sells)) = self.working_qty.get_mut(after.new.instrument.0 as usize) {
            let side = match after.new.side {
                Side::Buy => buys,
                Side::Sell => sells,
            };
            *side += after.open_qty() - before_qty;
        }
        match (was_working, after.state.is_working()) {
            // Never over capacity: at most one entry per live order.
            (false, true) => self.working_ids.push(id),
            (true, false) => self.working_ids.retain(|w| *w != id),
            _ => {}
        }
        if next.is_terminal() {
            let index = (id.0 & ((1 << SLOT_BITS) - 1)) as u32;
            if let Some(slot) = self.slots.get_mut(index as usize) {
                slot.order = None;
                self.free.push(index);
            }
        }
        Ok(after)
    }

    fn count_error(&mut self, result: Result<Order, OmsError>) -> Result<Order, OmsError> {
        match result {
            Err(OmsError::UnknownOrder(_)) => self.counters.unknown_orders += 1,
            Err(OmsError::Transition(_)) => self.counters.bad_transitions += 1,
            _ => {}
        }
        result
    }

    /// Takes over a position held elsewhere (the venue's, at start-up reconciliation),
    /// replacing what the OMS had.
    pub fn seed_position(&mut self, instrument: InstrumentId, net: i64, avg_price: i64) {
        if let Some(p) = self.positions.get_mut(instrument.0 as usize) {
            *p = Position::opened(net, avg_price);
        }
    }

    /// The position in an instrument.
    pub fn position(&self, instrument: InstrumentId) -> Position {
        self.positions.get(instrument.0 as usize).copied().unwrap_or_default()
    }

    /// Open size of working (buys, sells) in `instrument`.
    pub fn working_qty(&self, instrument: InstrumentId) -> (i64, i64) {
        self.working_qty.get(instrument.0 as usize).copied().unwrap_or_default()
    }

    /// Notional of every working order's open size: price × lots × its instrument's
    /// money factor (the account's money unit).
    pub fn open_notional(&self) -> i128 {
        self.open_notional
    }

    /// Live orders.
    pub fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The highest price we bid and the lowest we offer in `instrument` among working
    /// orders: an order crossing either would trade with ourselves.
    /// Armed stops are not at a venue and do not count; with `skip_cancelling`,
    /// neither do orders whose cancel is already on its way (sent before anything
    /// sent now, so the venue takes them out first).
    pub fn own_top(&self, instrument: InstrumentId, skip_cancelling: bool) -> OwnTop {
        let mut top = OwnTop::default();
        for order in self.working_ids.iter().filter_map(|id| self.get(*id)) {
            let cancelling = skip_cancelling && order.state == OrderState::PendingCancel;
            if order.new.instrument != instrument || order.is_armed() || cancelling {
                continue;
            }
            let price = order.new.price.0;
            match order.new.side {
                Side::Buy => top.best_bid = Some(top.best_bid.map_or(price, |b: i64| b.max(price))),
                Side::Sell => top.best_ask = Some(top.best_ask.map_or(price, |a: i64| a.min(price))),
            }
        }
        top
    }

    /// Our best prices in `order`'s instrument leaving out the orders on the other
    /// side that it would cross (self-trade prevention cancels those first) and
    /// orders already being cancelled.
    pub fn own_top_beyond(&self, order: &NewOrder) -> OwnTop {
        let mut top = OwnTop::default();
        let crossed = |o: &Order| {
            o.new.side != order.side
                && match order.side {
                    Side::Buy => o.new.price <= order.price,
                    Side::Sell => o.new.price >= order.price,
                }
        };
        for o in self.working_in(order.instrument) {
            if o.is_armed() || o.state == OrderState::PendingCancel || crossed(o) {
                continue;
            }
            let price = o.new.price.0;
            match o.new.side {
                Side::Buy => top.best_bid = Some(top.best_bid.map_or(price, |b: i64| b.max(price))),
                Side::Sell => top.best_ask = Some(top.best_ask.map_or(price, |a: i64| a.min(price))),
            }
        }
        top
    }

    /// Working orders in `instrument` (a short scan of the working index).
    pub fn working_in(&self, instrument: InstrumentId) -> impl Iterator<Item = &Order> {
        self.working_ids.iter().filter_map(|id| self.get(*id)).filter(move |o| o.new.instrument == instrument)
    }

    /// Notes when a request for the order was sent (the ack timeout counts from it).
    pub fn stamp(&mut self, id: ClientId, now: u64) {
        if let Some(order) = self.get_mut(id) {
            order.sent_at = now;
            order.stamps += 1;
        }
    }

    /// What a working order itself adds to its side's open size and to the working
    /// notional (`None` if it is not working): risk leaves it out when it checks the
    /// same order again (a fired stop, a replace), so it is not counted twice.
    pub fn contribution(&self, id: ClientId) -> Option<(Side, i64, i128)> {
        let order = self.get(id)?;
        let money = self.money(order.new.instrument);
        order.state.is_working().then(|| (order.new.side, order.open_qty(), order.open_notional() * money))
    }

    /// Writes into `out` the ids of armed stops in `instrument` that a reference at
    /// `price` fires, and returns how many (at most `out.len()`; the rest fire on the
    /// next call). The caller applies [`OrderEvent::Trigger`] to each.
    pub fn stops_fired_by(&self, instrument: InstrumentId, price: Price, out: &mut [ClientId]) -> usize {
        let fired = self
            .working_in(instrument)
            .filter(|o| o.is_armed() && o.state == OrderState::Accepted && o.new.fires_at(price))
            .map(|o| o.id);
        let mut n = 0;
        for (slot, id) in out.iter_mut().zip(fired) {
            *slot = id;
            n += 1;
        }
        n
    }

    /// Working orders, oldest first (cancel-all on a trip, at shutdown). From the
    /// working index, not a scan of the slab: a trip must not read every slot (4,096
    /// of them took about 2 µs a pass here, twice per cancel-all).
    pub fn working(&self) -> impl Iterator<Item = &Order> {
        self.working_ids.iter().filter_map(|id| self.get(*id))
    }

    /// Counters.
    pub fn counters(&self) -> OmsCounters {
        self.counters
    }
}

/// The signed size of a side.
pub fn signed(side: Side, qty: i64) -> i64 {
    match side {
        Side::Buy => qty,
        Side::Sell => -qty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderType;
    use feeds::event::{Price, Qty};

    fn buy(qty: i64) -> NewOrder {
        NewOrder {
            instrument: InstrumentId(0),
            side: Side::Buy,
            price: Price(100),
            qty: Qty(qty),
            order_type: OrderType::Limit,
            stop: Price(0),
        }
    }

    /// A run numbering its orders in `epoch_above(the journal's highest id)` makes
    /// ids above every earlier one, until the 15 epoch bits run out.
    #[test]
    fn an_epoch_above_a_journals_ids_makes_only_higher_ids() {
        let mut earlier = Oms::new(4, 1).with_epoch(6);
        let mut highest = 0;
        for _ in 0..20 {
            let id = earlier.create(buy(1)).unwrap();
            earlier.apply(id, OrderEvent::Send).unwrap();
            earlier.apply(id, OrderEvent::Reject).unwrap(); // frees the slot: the next id is a new generation
            highest = highest.max(id.0);
        }
        let epoch = Oms::epoch_above(highest).unwrap();
        assert_eq!(epoch, 7);
        let next = Oms::new(4, 1).with_epoch(epoch).create(buy(1)).unwrap();
        assert!(next.0 > highest, "{next:?} is not above {highest}");
        assert_eq!(Oms::epoch_above(0), Some(1));
        let last_epoch = Oms::new(4, 1).with_epoch(0x7fff).create(buy(1)).unwrap();
        assert_eq!(Oms::epoch_above(last_epoch.0), None, "no epoch is left above 0x7fff");
        assert!(i64::try_from(last_epoch.0).is_ok(), "ids stay positive as i64");
    }

    #[test]
    fn working_notional_is_in_the_money_unit_of_each_instruments_scale() {
        // Instrument 1's lots are ten of instrument 0's: its notional counts ten times.
        let mut oms = Oms::new(4, 2).with_money(&[1, 10]);
        let a = oms.create(buy(3)).unwrap();
        let b = oms.create(NewOrder { instrument: InstrumentId(1), ..buy(2) }).unwrap();
        oms.apply(a, OrderEvent::Send).unwrap();
        oms.apply(b, OrderEvent::Send).unwrap();
        assert_eq!(oms.open_notional(), 300 + 2_000);
        assert_eq!(oms.contribution(b).map(|c| c.2), Some(2_000));
        oms.apply(b, OrderEvent::Accept).unwrap();
        oms.fill(b, 100, 1, 1, 0).unwrap();
        assert_eq!(oms.open_notional(), 300 + 1_000);
        let c = oms.create(buy(1)).unwrap();
        oms.reroute(c, NewOrder { instrument: InstrumentId(1), ..buy(1) }).unwrap();
        oms.apply(c, OrderEvent::Send).unwrap();
        assert_eq!(oms.open_notional(), 300 + 1_000 + 1_000, "rerouted to instrument 1, counted at its factor");
        oms.apply(b, OrderEvent::RequestCancel).unwrap();
        oms.apply(b, OrderEvent::Cancel).unwrap();
        assert_eq!(oms.open_notional(), 300 + 1_000);
    }

    #[test]
    fn fills_move_the_order_and_the_position_and_free_the_slot() {
        let mut oms = Oms::new(4, 1);
        let id = oms.create(buy(3)).unwrap();
        assert_eq!(oms.open_notional(), 0, "not working until sent");
        oms.apply(id, OrderEvent::Send).unwrap();
        assert_eq!(oms.open_notional(), 300);
        oms.apply(id, OrderEvent::Accept).unwrap();
        assert_eq!(oms.fill(id, 99, 1, 7, 0).unwrap().state, OrderState::PartiallyFilled);
        assert_eq!(oms.open_notional(), 200);
        assert!(matches!(oms.fill(id, 99, 1, 7, 0), Err(OmsError::DuplicateFill { .. })));
        assert!(matches!(oms.fill(id, 99, 3, 8, 0), Err(OmsError::OverFill { .. })));
        assert!(matches!(oms.fill(id, 99, i64::MAX, 8, 0), Err(OmsError::OverFill { .. })));
        assert_eq!(oms.fill(id, 101, 1, 9, 0).unwrap().state, OrderState::PartiallyFilled);
        assert!(matches!(oms.fill(id, 99, 1, 7, 0), Err(OmsError::DuplicateFill { .. })), "7, 9, 7");
        assert_eq!(oms.fill(id, 101, 1, 10, 0).unwrap().state, OrderState::Filled);
        let p = oms.position(InstrumentId(0));
        assert_eq!((p.net, p.avg_price, p.realised), (3, 100, 0));
        assert_eq!(oms.open_notional(), 0);
        assert_eq!(oms.live(), 0);
        assert!(oms.get(id).is_none(), "a finished order leaves the slab");
        assert!(matches!(oms.apply(id, OrderEvent::Cancel), Err(OmsError::UnknownOrder(_))));
        let c = oms.counters();
        assert_eq!((c.fills, c.duplicate_fills, c.unknown_orders), (3, 2, 1));
    }

    #[test]
    fn a_reused_slot_gets_a_new_id_and_the_old_id_is_dead() {
        let mut oms = Oms::new(1, 1);
        let a = oms.create(buy(1)).unwrap();
        assert!(matches!(oms.create(buy(1)), Err(OmsError::SlabFull(1))));
        oms.apply(a, OrderEvent::Deny).unwrap();
        let b = oms.create(buy(1)).unwrap();
        assert_ne!(a, b);
        assert!(oms.get(a).is_none() && oms.get(b).is_some());
    }

    #[test]
    fn a_refused_transition_is_counted_and_changes_nothing() {
        let mut oms = Oms::new(2, 1);
        let id = oms.create(buy(1)).unwrap();
        assert!(matches!(oms.apply(id, OrderEvent::Accept), Err(OmsError::Transition(_))));
        assert_eq!(oms.get(id).unwrap().state, OrderState::Initialized);
        assert_eq!(oms.counters().bad_transitions, 1);
    }

    fn working(oms: &mut Oms, new: NewOrder) -> ClientId {
        let id = oms.create(new).unwrap();
        oms.apply(id, OrderEvent::Send).unwrap();
        oms.apply(id, OrderEvent::Accept).unwrap();
        id
    }

    #[test]
    fn a_replace_counts_the_larger_terms_until_answered_and_a_reject_restores() {
        let mut oms = Oms::new(4, 1);
        let id = working(&mut oms, buy(4));
        assert!(matches!(oms.request_replace(id, Price(90), Qty(0)), Err(OmsError::BadReplace { .. })));
        let o = oms.request_replace(id, Price(110), Qty(2)).unwrap();
        assert_eq!(o.state, OrderState::PendingUpdate);
        assert_eq!(oms.open_notional(), 400, "old terms (400) exceed the new (220)");
        assert_eq!(oms.fill(id, 100, 1, 1, 0).unwrap().state, OrderState::PendingUpdate, "a fill in flight applies");
        let o = oms.apply(id, OrderEvent::ReplaceReject).unwrap();
        assert_eq!(
            (o.state, o.new.price, o.new.qty, o.replace.1),
            (OrderState::PartiallyFilled, Price(100), Qty(4), Qty(0))
        );
        assert_eq!(oms.open_notional(), 300);
        oms.request_replace(id, Price(110), Qty(6)).unwrap();
        assert_eq!(oms.working_qty(InstrumentId(0)), (5, 0), "the new size, larger, counts");
        let o = oms.apply(id, OrderEvent::ReplaceAck).unwrap();
        assert_eq!((o.state, o.new.price, o.new.qty), (OrderState::PartiallyFilled, Price(110), Qty(6)));
        assert_eq!(oms.open_notional(), 550);
    }

    #[test]
    fn fills_in_flight_that_cover_the_replaced_size_complete_the_order() {
        let mut oms = Oms::new(4, 1);
        let id = working(&mut oms, buy(4));
        oms.request_replace(id, Price(100), Qty(2)).unwrap();
        oms.fill(id, 100, 3, 1, 0).unwrap();
        let o = oms.apply(id, OrderEvent::ReplaceAck).unwrap();
        assert_eq!((o.state, o.filled, o.new.qty), (OrderState::Filled, 3, Qty(3)), "never filled above size");
        assert_eq!(oms.live(), 0);
        let id = working(&mut oms, buy(2));
        oms.request_replace(id, Price(100), Qty(5)).unwrap();
        assert_eq!(oms.fill(id, 100, 2, 1, 0).unwrap().state, OrderState::PendingUpdate, "5 may be working");
        let o = oms.apply(id, OrderEvent::ReplaceReject).unwrap();
        assert_eq!((o.state, o.filled, o.new.qty), (OrderState::Filled, 2, Qty(2)));
    }

    #[test]
    fn stops_arm_fire_once_and_only_leave_triggered() {
        let mut oms = Oms::new(4, 1);
        let stop = NewOrder { order_type: OrderType::Stop { trigger: Price(105) }, ..buy(1) };
        let id = oms.create(stop).unwrap();
        assert!(matches!(oms.apply(id, OrderEvent::Send), Err(OmsError::Transition(_))), "not before its trigger");
        oms.apply(id, OrderEvent::Arm).unwrap();
        let mut out = [ClientId(0); 4];
        assert_eq!(oms.stops_fired_by(InstrumentId(0), Price(104), &mut out), 0);
        assert_eq!(oms.stops_fired_by(InstrumentId(1), Price(200), &mut out), 0, "another instrument");
        assert_eq!(oms.stops_fired_by(InstrumentId(0), Price(105), &mut out), 1);
        oms.apply(id, OrderEvent::Trigger).unwrap();
        assert!(!oms.get(id).unwrap().is_armed());
        oms.apply(id, OrderEvent::Send).unwrap();
        oms.apply(id, OrderEvent::Accept).unwrap();
        assert_eq!(oms.stops_fired_by(InstrumentId(0), Price(200), &mut out), 0, "fires once");
        assert!(matches!(oms.apply(id, OrderEvent::Trigger), Err(OmsError::Transition(_))));
        let limit = oms.create(buy(1)).unwrap();
        assert!(matches!(oms.apply(limit, OrderEvent::Arm), Err(OmsError::Transition(_))), "only stops arm");
        assert_eq!(NewOrder::triggered(&stop).order_type, OrderType::Market);
    }
}
