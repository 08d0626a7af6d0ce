//! Pre-trade risk against random order and fill sequences: whatever orders a strategy
//! sends and however the venue fills or cancels them, no position ever exceeds its
//! limit. The position check counts every working order on the order's side as if it
//! had filled, so orders that each fit cannot add up past the limit.

use engine::{
    oms::{Oms, OrderEvent},
    order::{ClientId, NewOrder, OrderType},
    risk::{Exposure, OwnTop, QuoteLimits, Risk, RiskInputs, RiskLimits},
};
use feeds::{
    book::Book,
    event::{BookDelta, BookSide, InstrumentId, Level, Price, Qty, Side, UnixNanos, Venue},
};
use proptest::prelude::*;

const PRICE: i64 = 1_000;
/// 20 lots at 1,000.
const POSITION_LIMIT: i64 = 20;

#[derive(Debug, Clone)]
enum Op {
    New { buy: bool, qty: i64 },
    Fill { order: usize, qty: i64 },
    Cancel { order: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<bool>(), 1i64..12).prop_map(|(buy, qty)| Op::New { buy, qty }),
        3 => (0usize..12, 1i64..12).prop_map(|(order, qty)| Op::Fill { order, qty }),
        1 => (0usize..12).prop_map(|order| Op::Cancel { order }),
    ]
}

fn book() -> Book {
    let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
    d.push(BookSide::Bid, Level { price: Price(PRICE - 1), qty: Qty(1_000) });
    d.push(BookSide::Ask, Level { price: Price(PRICE + 1), qty: Qty(1_000) });
    d.set_snapshot();
    d.set_last();
    let mut b = Book::with_depth(8);
    b.apply(&d).unwrap();
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn no_sequence_of_orders_and_fills_takes_a_position_past_its_limit(ops in proptest::collection::vec(op(), 1..120)) {
        let quote = QuoteLimits { order: 100_000, position: 20_000, open: 1_000_000, gross: 1_000_000, net: 1_000_000 };
        let mut limits = RiskLimits::with_quote_limits(0, 0, quote);
        (limits.orders_per_sec, limits.order_burst, limits.instrument.orders_per_sec) = (1_000_000, 1_000, 1_000_000);
        limits.instrument.max_stop_distance_bps = 0;
        limits.instrument.position_equity_bps = 0;
        let mut risk = Risk::new(limits, 0);
        let mut oms = Oms::new(256, 1);
        let book = book();
        let mut working: Vec<ClientId> = Vec::new();
        let mut trade_id = 0;
        for (step, op) in ops.into_iter().enumerate() {
            let now = 1_000_000 * (step as u64 + 1); // 1 ms apart: never a duplicate
            match op {
                Op::New { buy, qty } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let order = NewOrder {
                        instrument: InstrumentId(0),
                        side,
                        price: Price(PRICE),
                        qty: Qty(qty),
                        order_type: OrderType::Limit,
                        stop: Price(0),
                    };
                    let inputs = RiskInputs {
                        now,
                        book: &book,
                        book_ts: now,
                        position: oms.position(InstrumentId(0)),
                        open_notional: oms.open_notional(),
                        working: oms.working_qty(InstrumentId(0)),
                        elsewhere: 0,
                        venue: 0,
                        own: OwnTop::default(),
                        exposure: Exposure { equity: 1 << 60, mark: PRICE, ..Exposure::default() },
                        breaker: None,
                    };
                    if risk.check(&order, &inputs).reject.is_none() {
                        let id = oms.create(order).unwrap();
                        oms.apply(id, OrderEvent::Send).unwrap();
                        oms.apply(id, OrderEvent::Accept).unwrap();
                        working.push(id);
                    }
                }
                Op::Fill { order, qty } => {
                    if let Some(id) = working.get(order % working.len().max(1)).copied() {
                        let o = *oms.get(id).unwrap();
                        let qty = qty.min(o.new.qty.0 - o.filled);
                        trade_id += 1;
                        let filled = oms.fill(id, PRICE, qty, trade_id, 0).unwrap();
                        if filled.state.is_terminal() {
                            working.retain(|w| *w != id);
                        }
                    }
                }
                Op::Cancel { order } => {
                    if let Some(id) = working.get(order % working.len().max(1)).copied() {
                        oms.apply(id, OrderEvent::RequestCancel).unwrap();
                        oms.apply(id, OrderEvent::Cancel).unwrap();
                        working.retain(|w| *w != id);
                    }
                }
            }
            let net = oms.position(InstrumentId(0)).net;
            prop_assert!(net.abs() <= POSITION_LIMIT, "position {net} lots past {POSITION_LIMIT}");
            let (buys, sells) = oms.working_qty(InstrumentId(0));
            prop_assert!(net + buys <= POSITION_LIMIT && net - sells >= -POSITION_LIMIT,
                "even if every working order filled: net {net}, working buys {buys}, sells {sells}");
        }
    }
}
