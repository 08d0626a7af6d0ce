//! Order management: a pre-allocated slab of orders owned by one core, the state
//! machine applied to every venue answer, and the positions fills build. Client ids
//! encode their slab slot and a generation, so lookup is an index, not a search.

mod position;
mod state;

pub use position::Position;
pub use state::{OrderEvent, OrderState, TransitionError, next_state};

use feeds::event::{InstrumentId, Side};

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
    /// The state before a pending cancel (restored on a cancel reject).
    pub before_cancel: OrderState,
    /// Executed size so far.
    pub filled: i64,
    /// The last few venue trade ids applied (a duplicate fill repeats one).
    pub recent_trade_ids: [u64; 4],
}

impl Order {
    /// Size still open while working (0 otherwise).
    fn open_qty(&self) -> i64 {
        if self.state.is_working() { self.new.qty.0 - self.filled } else { 0 }
    }

    fn open_notional(&self) -> i128 {
        if self.state.is_working() {
            i128::from(self.new.price.0) * i128::from(self.new.qty.0 - self.filled)
        } else {
            0
        }
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    open_notional: i128,
    /// Per instrument, the open size of working buys and of working sells: what the
    /// position could become if they all filled.
    working_qty: Vec<(i64, i64)>,
    counters: OmsCounters,
}

impl Oms {
    /// Room for `capacity` live orders over `instruments` instruments, allocated now.
    pub fn new(capacity: usize, instruments: usize) -> Self {
        let capacity = capacity.clamp(1, 1 << SLOT_BITS);
        Self {
            slots: vec![Slot { generation: 0, order: None }; capacity],
            free: (0..capacity as u32).rev().collect(),
            working_ids: Vec::with_capacity(capacity),
            positions: vec![Position::default(); instruments],
            open_notional: 0,
            working_qty: vec![(0, 0); instruments],
            counters: OmsCounters::default(),
        }
    }

    /// Creates an order in `Initialized`, returning its id.
    ///
    /// # Errors
    /// [`OmsError::SlabFull`].
    pub fn create(&mut self, new: NewOrder) -> Result<ClientId, OmsError> {
        let index = self.free.pop().ok_or(OmsError::SlabFull(self.slots.len()))?;
        let slot = self.slots.get_mut(index as usize).ok_or(OmsError::SlabFull(0))?;
        slot.generation += 1;
        let id = ClientId(slot.generation << SLOT_BITS | u64::from(index));
        let order = Order {
            id,
            new,
            state: OrderState::Initialized,
            before_cancel: OrderState::Initialized,
            filled: 0,
            recent_trade_ids: [0; 4],
        };
        self.open_notional += order.open_notional();
        slot.order = Some(order);
        self.counters.created += 1;
        Ok(id)
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
        let result = self.transition(id, event, |_| {});
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
        let Some(total) = order.filled.checked_add(qty).filter(|t| qty > 0 && *t <= order.new.qty.0) else {
            return Err(OmsError::OverFill { id, filled: order.filled, qty, ordered: order.new.qty.0 });
        };
        let event = if total == order.new.qty.0 { OrderEvent::FullFill } else { OrderEvent::PartialFill };
        let result = self.transition(id, event, |o| {
            o.filled = total;
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
        let next = next_state(order.state, event, order.before_cancel)?;
        let before = order.open_notional();
        let before_qty = order.open_qty();
        let was_working = order.state.is_working();
        if next == OrderState::PendingCancel {
            order.before_cancel = order.state;
        }
        order.state = next;
        change(order);
        let after = *order;
        self.open_notional += after.open_notional() - before;
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

    /// The position in an instrument.
    pub fn position(&self, instrument: InstrumentId) -> Position {
        self.positions.get(instrument.0 as usize).copied().unwrap_or_default()
    }

    /// Open size of working (buys, sells) in `instrument`.
    pub fn working_qty(&self, instrument: InstrumentId) -> (i64, i64) {
        self.working_qty.get(instrument.0 as usize).copied().unwrap_or_default()
    }

    /// Notional of every working order's open size (price × lots).
    pub fn open_notional(&self) -> i128 {
        self.open_notional
    }

    /// Live orders.
    pub fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The highest price we bid and the lowest we offer in `instrument` among working
    /// orders: an order crossing either would trade with ourselves.
    pub fn own_top(&self, instrument: InstrumentId) -> OwnTop {
        let mut top = OwnTop::default();
        for order in self.working_ids.iter().filter_map(|id| self.get(*id)) {
            if order.new.instrument != instrument {
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

    /// Working orders in `instrument` (a short scan of the working index).
    pub fn working_in(&self, instrument: InstrumentId) -> impl Iterator<Item = &Order> {
        self.working_ids.iter().filter_map(|id| self.get(*id)).filter(move |o| o.new.instrument == instrument)
    }

    /// Ids of working orders (for cancel-all at shutdown).
    pub fn working(&self) -> impl Iterator<Item = &Order> {
        self.slots.iter().filter_map(|s| s.order.as_ref()).filter(|o| o.state.is_working())
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
}
