//! A simulated venue's matching: accepts, rejects, matches, replaces and cancels our
//! orders against a venue's live book. Marketable orders take the book level by
//! level; resting orders fill as maker when a market trade prints through their
//! price, or at it once the size queued ahead of them there (what the book showed
//! at that price when they arrived) has traded.

use feeds::{
    book::Book,
    event::{BookSide, Level, Price, Qty, Side, Trade},
};

use crate::{
    fixed::Bounded,
    oms::Position,
    order::{ClientId, ExecKind, ExecReport, Liquidity, NewOrder, OrderType},
};

/// The most book levels one marketable order takes (what is left past them is
/// treated as unfillable), which bounds the reports one order can make.
pub const MAX_SWEEP: usize = 5;

#[derive(Debug, Clone, Copy)]
struct Resting {
    id: ClientId,
    order: NewOrder,
    remaining: i64,
    /// Size ahead of it in its price level's queue (price-time priority).
    ahead: i64,
}

/// The simulated venue.
#[derive(Debug)]
pub struct SimVenue {
    resting: Vec<Resting>,
    next_trade_id: u64,
    fees: FeeSchedule,
    submitted: u64,
    /// Reliability tests: reject every order after this many.
    reject_after: u64,
    /// Our positions at this venue, per instrument, from its fills.
    positions: Vec<Position>,
    /// Answers that did not fit the caller's buffer (a sizing bug; never silent).
    dropped: u64,
}

/// What the venue charges, in basis points of the notional (negative: a rebate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeeSchedule {
    /// On fills of resting orders.
    pub maker_bps: i64,
    /// On fills that take liquidity.
    pub taker_bps: i64,
}

impl FeeSchedule {
    /// The fee on `qty` at `price`, truncated toward zero, in price ticks × lots.
    pub fn fee(&self, liquidity: Liquidity, price: i64, qty: i64) -> i64 {
        let bps = match liquidity {
            Liquidity::Maker => self.maker_bps,
            Liquidity::Taker => self.taker_bps,
        };
        let fee = i128::from(price) * i128::from(qty) * i128::from(bps) / 10_000;
        i64::try_from(fee).unwrap_or(if fee < 0 { i64::MIN } else { i64::MAX })
    }
}

impl SimVenue {
    /// A venue that holds at most `capacity` resting orders of ours.
    pub fn new(capacity: usize, fees: FeeSchedule) -> Self {
        Self {
            resting: Vec::with_capacity(capacity),
            next_trade_id: 1,
            fees,
            submitted: 0,
            reject_after: u64::MAX,
            positions: Vec::new(),
            dropped: 0,
        }
    }

    /// Room for positions in `instruments` instruments, allocated now (so a first
    /// fill in an instrument allocates nothing).
    pub fn with_instruments(mut self, instruments: usize) -> Self {
        self.positions = vec![Position::default(); instruments];
        self
    }

    /// Our positions here, by instrument id.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// Answers that did not fit the caller's buffer.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Reliability tests: from the `orders`-th order on, reject every new order (a
    /// venue in trouble: a rejects storm).
    pub fn reject_after(&mut self, orders: u64) {
        self.reject_after = orders;
    }

    fn report(&mut self, out: &mut Bounded<ExecReport>, client_id: ClientId, kind: ExecKind, ts: u64) {
        // Callers size the buffer for the worst case of one call (every resting
        // order filled by one trade); a refusal is a sizing bug, counted.
        if !out.push(ExecReport { client_id, kind, ts }) {
            self.dropped += 1;
        }
    }

    fn fill(
        &mut self,
        out: &mut Bounded<ExecReport>,
        (id, order): (ClientId, &NewOrder),
        price: Price,
        qty: i64,
        liquidity: Liquidity,
        ts: u64,
    ) {
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        let fee = self.fees.fee(liquidity, price.0, qty);
        let i = order.instrument.0 as usize;
        if i >= self.positions.len() {
            self.positions.resize(i + 1, Position::default());
        }
        if let Some(p) = self.positions.get_mut(i) {
            p.apply_fill(order.side, price.0, qty);
            p.add_fee(fee);
        }
        self.report(out, id, ExecKind::Fill { price, qty: Qty(qty), liquidity, trade_id, fee }, ts);
    }

    /// A new order arrives (what a real gateway would write to its socket).
    /// Marketable size takes the book level by level (at most [`MAX_SWEEP`] levels)
    /// up to the order's price; a FOK that cannot fill whole expires untouched; what
    /// an IOC or market order leaves is cancelled; a limit order rests the rest.
    pub fn submit(&mut self, id: ClientId, order: &NewOrder, book: &Book, ts: u64, out: &mut Bounded<ExecReport>) {
        self.submitted += 1;
        let rests = !order.order_type.is_immediate();
        // A stop never reaches a venue: the engine holds it and sends what it becomes.
        if self.submitted > self.reject_after
            || order.order_type.trigger().is_some()
            || (rests && self.resting.len() == self.resting.capacity())
        {
            return self.report(out, id, ExecKind::Rejected, ts);
        }
        let available = Self::marketable(order, book).map(|l| l.qty.0).fold(0i64, i64::saturating_add);
        if available > 0 && order.order_type == OrderType::PostOnly {
            return self.report(out, id, ExecKind::WouldCross, ts);
        }
        self.report(out, id, ExecKind::Accepted, ts);
        if order.order_type == OrderType::Fok && available < order.qty.0 {
            return self.report(out, id, ExecKind::Expired, ts);
        }
        let mut remaining = order.qty.0;
        for level in Self::marketable(order, book) {
            let qty = remaining.min(level.qty.0);
            self.fill(out, (id, order), level.price, qty, Liquidity::Taker, ts);
            remaining -= qty;
            if remaining == 0 {
                return;
            }
        }
        if rests {
            let same_side = match order.side {
                Side::Buy => BookSide::Bid,
                Side::Sell => BookSide::Ask,
            };
            let ahead = book.levels(same_side).find(|l| l.price == order.price).map_or(0, |l| l.qty.0);
            self.resting.push(Resting { id, order: *order, remaining, ahead });
        } else {
            self.report(out, id, ExecKind::Canceled, ts);
        }
    }

    /// The opposite levels an order may take: at or better than its price, best first.
    fn marketable<'b>(order: &NewOrder, book: &'b Book) -> impl Iterator<Item = Level> + 'b {
        let (side, price, buy) = match order.side {
            Side::Buy => (BookSide::Ask, order.price, true),
            Side::Sell => (BookSide::Bid, order.price, false),
        };
        book.levels(side).take_while(move |l| if buy { l.price <= price } else { l.price >= price }).take(MAX_SWEEP)
    }

    /// A cancel request.
    pub fn cancel(&mut self, id: ClientId, ts: u64, out: &mut Bounded<ExecReport>) {
        match self.resting.iter().position(|r| r.id == id) {
            Some(i) => {
                self.resting.swap_remove(i);
                self.report(out, id, ExecKind::Canceled, ts);
            }
            None => self.report(out, id, ExecKind::CancelRejected, ts),
        }
    }

    /// A replace request: a resting order takes a new price and total size. Refused
    /// if the order is not resting, the size is not above what is filled, or the new
    /// price would cross the book (this venue does not let a replace take liquidity).
    pub fn replace(
        &mut self,
        id: ClientId,
        price: Price,
        qty: Qty,
        book: &Book,
        ts: u64,
        out: &mut Bounded<ExecReport>,
    ) {
        let Some(r) = self.resting.iter_mut().find(|r| r.id == id) else {
            return self.report(out, id, ExecKind::ReplaceRejected, ts);
        };
        let filled = r.order.qty.0 - r.remaining;
        let moved = NewOrder { price, qty, ..r.order };
        if qty.0 <= filled || Self::marketable(&moved, book).next().is_some() {
            return self.report(out, id, ExecKind::ReplaceRejected, ts);
        }
        // A new price, or more size, goes to the back of the queue.
        if price != r.order.price || qty.0 > r.order.qty.0 {
            let same_side = match r.order.side {
                Side::Buy => BookSide::Bid,
                Side::Sell => BookSide::Ask,
            };
            r.ahead = book.levels(same_side).find(|l| l.price == price).map_or(0, |l| l.qty.0);
        }
        r.order = moved;
        r.remaining = qty.0 - filled;
        self.report(out, id, ExecKind::Replaced { price, qty }, ts);
    }

    /// A market trade: resting orders at or through its price fill, up to its size.
    pub fn on_trade(&mut self, trade: &Trade, ts: u64, out: &mut Bounded<ExecReport>) {
        let mut left = trade.qty.0;
        let mut i = 0;
        while i < self.resting.len() && left > 0 {
            let Some(r) = self.resting.get(i).copied() else { break };
            let through = match r.order.side {
                Side::Buy => trade.price < r.order.price,
                Side::Sell => trade.price > r.order.price,
            };
            let at = trade.price == r.order.price;
            if r.order.instrument != trade.instrument || !(through || at) {
                i += 1;
                continue;
            }
            // At our price, the queue ahead of us trades first.
            let queued = if through { 0 } else { r.ahead.min(left) };
            if queued > 0 {
                left -= queued;
                if let Some(slot) = self.resting.get_mut(i) {
                    slot.ahead -= queued;
                }
                if left == 0 {
                    break;
                }
            }
            let qty = r.remaining.min(left);
            left -= qty;
            self.fill(out, (r.id, &r.order), r.order.price, qty, Liquidity::Maker, ts);
            if qty == r.remaining {
                self.resting.swap_remove(i);
            } else {
                if let Some(slot) = self.resting.get_mut(i) {
                    slot.remaining -= qty;
                }
                i += 1;
            }
        }
    }

    /// Resting orders.
    pub fn resting(&self) -> usize {
        self.resting.len()
    }

    /// Resting orders: id, order (its current terms) and the size still open.
    pub fn resting_orders(&self) -> impl Iterator<Item = (ClientId, NewOrder, i64)> + '_ {
        self.resting.iter().map(|r| (r.id, r.order, r.remaining))
    }
}

#[cfg(test)]
mod tests {
    use feeds::event::{BookDelta, BookSide, InstrumentId, Level, UnixNanos, Venue};

    use super::*;

    fn book() -> Book {
        let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
        d.push(BookSide::Bid, Level { price: Price(99), qty: Qty(5) });
        d.push(BookSide::Ask, Level { price: Price(101), qty: Qty(5) });
        d.set_snapshot();
        d.set_last();
        let mut b = Book::with_depth(4);
        b.apply(&d).unwrap();
        b
    }

    fn order(side: Side, price: i64, qty: i64, order_type: OrderType) -> NewOrder {
        NewOrder { instrument: InstrumentId(0), side, price: Price(price), qty: Qty(qty), order_type, stop: Price(0) }
    }

    fn kinds(out: &mut Bounded<ExecReport>) -> Vec<ExecKind> {
        out.drain().map(|r| r.kind).collect()
    }

    #[test]
    fn post_only_crossing_is_rejected_and_ioc_fills_the_touch_then_cancels() {
        let fees = FeeSchedule { maker_bps: -1, taker_bps: 5 };
        let (mut v, b, mut out) = (SimVenue::new(4, fees), book(), Bounded::with_capacity(8));
        v.submit(ClientId(1), &order(Side::Buy, 101, 1, OrderType::PostOnly), &b, 0, &mut out);
        assert_eq!(kinds(&mut out), [ExecKind::WouldCross]);
        v.submit(ClientId(2), &order(Side::Buy, 102, 7, OrderType::Ioc), &b, 0, &mut out);
        let k = kinds(&mut out);
        assert_eq!(k.len(), 3);
        // 101 x 5 x 5 bps = 0.2525, truncated to 0 ticks x lots; a big fill pays.
        assert!(matches!(
            k[1],
            ExecKind::Fill { price: Price(101), qty: Qty(5), liquidity: Liquidity::Taker, fee: 0, .. }
        ));
        assert_eq!(fees.fee(Liquidity::Taker, 100_000, 300), 15_000);
        assert_eq!(fees.fee(Liquidity::Maker, 100_000, 300), -3_000, "a maker rebate");
        assert_eq!(k[2], ExecKind::Canceled);
        assert_eq!(v.resting(), 0);
    }

    #[test]
    fn resting_orders_fill_as_maker_on_trades_through_them_and_cancel() {
        let (mut v, b, mut out) = (SimVenue::new(4, FeeSchedule::default()), book(), Bounded::with_capacity(8));
        v.submit(ClientId(1), &order(Side::Buy, 98, 3, OrderType::Limit), &b, 0, &mut out);
        v.submit(ClientId(2), &order(Side::Sell, 103, 3, OrderType::Limit), &b, 0, &mut out);
        assert_eq!(kinds(&mut out), [ExecKind::Accepted, ExecKind::Accepted]);
        let t = |price, qty| {
            Trade::new(Venue::Binance, InstrumentId(0), 1, Price(price), Qty(qty), None, UnixNanos(0), UnixNanos(0))
        };
        v.on_trade(&t(99, 10), 0, &mut out);
        assert!(out.is_empty(), "a trade above our bid does not fill it");
        v.on_trade(&t(98, 2), 0, &mut out);
        assert!(matches!(kinds(&mut out)[..], [ExecKind::Fill { qty: Qty(2), liquidity: Liquidity::Maker, .. }]));
        v.cancel(ClientId(1), 0, &mut out);
        v.cancel(ClientId(1), 0, &mut out);
        assert_eq!(kinds(&mut out), [ExecKind::Canceled, ExecKind::CancelRejected]);
        assert_eq!(v.resting(), 1);
    }

    fn deep_book() -> Book {
        let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
        d.push(BookSide::Bid, Level { price: Price(99), qty: Qty(5) });
        for (price, qty) in [(101, 2), (102, 3), (103, 4)] {
            d.push(BookSide::Ask, Level { price: Price(price), qty: Qty(qty) });
        }
        d.set_snapshot();
        d.set_last();
        let mut b = Book::with_depth(4);
        b.apply(&d).unwrap();
        b
    }

    fn fills(kinds: &[ExecKind]) -> Vec<(i64, i64)> {
        kinds
            .iter()
            .filter_map(|k| match k {
                ExecKind::Fill { price, qty, .. } => Some((price.0, qty.0)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn market_orders_sweep_levels_up_to_their_protection_and_cancel_the_rest() {
        let (mut v, b, mut out) = (SimVenue::new(4, FeeSchedule::default()), deep_book(), Bounded::with_capacity(16));
        v.submit(ClientId(1), &order(Side::Buy, 102, 7, OrderType::Market), &b, 0, &mut out);
        let k = kinds(&mut out);
        assert_eq!(fills(&k), [(101, 2), (102, 3)], "103 is past the protection price");
        assert_eq!((k.first(), k.last()), (Some(&ExecKind::Accepted), Some(&ExecKind::Canceled)));
        v.submit(ClientId(2), &order(Side::Buy, 105, 4, OrderType::Limit), &b, 0, &mut out);
        let k = kinds(&mut out);
        assert_eq!(fills(&k), [(101, 2), (102, 2)], "a marketable limit takes levels too");
        assert_eq!(v.resting(), 0);
    }

    #[test]
    fn fok_fills_whole_or_expires_untouched() {
        let (mut v, b, mut out) = (SimVenue::new(4, FeeSchedule::default()), deep_book(), Bounded::with_capacity(16));
        v.submit(ClientId(1), &order(Side::Buy, 102, 6, OrderType::Fok), &b, 0, &mut out);
        assert_eq!(kinds(&mut out), [ExecKind::Accepted, ExecKind::Expired], "only 5 at 102 or better");
        v.submit(ClientId(2), &order(Side::Buy, 102, 5, OrderType::Fok), &b, 0, &mut out);
        assert_eq!(fills(&kinds(&mut out)), [(101, 2), (102, 3)]);
        v.submit(ClientId(3), &order(Side::Buy, 102, 5, OrderType::Stop { trigger: Price(101) }), &b, 0, &mut out);
        assert_eq!(kinds(&mut out), [ExecKind::Rejected], "a stop never reaches a venue");
    }

    #[test]
    fn replace_changes_a_resting_order_unless_it_would_cross_or_undercut_its_fills() {
        let (mut v, b, mut out) = (SimVenue::new(4, FeeSchedule::default()), deep_book(), Bounded::with_capacity(16));
        v.submit(ClientId(1), &order(Side::Buy, 98, 5, OrderType::Limit), &b, 0, &mut out);
        let t = |price, qty| {
            Trade::new(Venue::Binance, InstrumentId(0), 1, Price(price), Qty(qty), None, UnixNanos(0), UnixNanos(0))
        };
        v.on_trade(&t(98, 2), 0, &mut out);
        out.clear();
        v.replace(ClientId(1), Price(97), Qty(2), &b, 0, &mut out);
        v.replace(ClientId(1), Price(101), Qty(6), &b, 0, &mut out);
        v.replace(ClientId(9), Price(97), Qty(6), &b, 0, &mut out);
        assert_eq!(kinds(&mut out), [ExecKind::ReplaceRejected; 3], "size at fills, crossing, unknown");
        v.replace(ClientId(1), Price(97), Qty(6), &b, 0, &mut out);
        assert_eq!(kinds(&mut out), [ExecKind::Replaced { price: Price(97), qty: Qty(6) }]);
        v.on_trade(&t(97, 10), 0, &mut out);
        assert_eq!(fills(&kinds(&mut out)), [(97, 4)], "6 in total, 2 already filled");
        assert_eq!(v.resting(), 0);
    }

    #[test]
    fn a_resting_order_waits_for_the_queue_ahead_of_it_at_its_price() {
        let (mut v, b, mut out) = (SimVenue::new(4, FeeSchedule::default()), book(), Bounded::with_capacity(16));
        // Joins the bid at 99, behind the 5 the book shows there.
        v.submit(ClientId(1), &order(Side::Buy, 99, 3, OrderType::Limit), &b, 0, &mut out);
        out.clear();
        let t = |price, qty| {
            Trade::new(Venue::Binance, InstrumentId(0), 1, Price(price), Qty(qty), None, UnixNanos(0), UnixNanos(0))
        };
        v.on_trade(&t(99, 4), 0, &mut out);
        assert!(out.is_empty(), "4 of the 5 ahead traded");
        v.on_trade(&t(99, 3), 0, &mut out);
        assert_eq!(fills(&kinds(&mut out)), [(99, 2)], "the last 1 ahead, then 2 of ours");
        v.on_trade(&t(98, 1), 0, &mut out);
        assert_eq!(fills(&kinds(&mut out)), [(99, 1)], "a trade through our price fills us at once");
    }
}
