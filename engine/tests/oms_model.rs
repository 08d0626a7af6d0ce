//! The OMS against random event sequences: whatever the venue says, in any order,
//! no order is over-filled, a finished order never changes again, the position is
//! exactly the sum of accepted fills, the working notional and the open size per side
//! are exactly what is still open, and nothing panics.

use engine::{
    oms::{Oms, OmsError, OrderEvent},
    order::{ClientId, NewOrder, OrderType},
};
use feeds::event::{InstrumentId, Price, Qty, Side};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create { buy: bool, price: i64, qty: i64 },
    Event { order: usize, event: OrderEvent },
    Fill { order: usize, qty: i64, trade_id: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let event = prop_oneof![
        Just(OrderEvent::Send),
        Just(OrderEvent::Deny),
        Just(OrderEvent::Accept),
        Just(OrderEvent::Reject),
        Just(OrderEvent::RequestCancel),
        Just(OrderEvent::Cancel),
        Just(OrderEvent::CancelReject),
    ];
    prop_oneof![
        (any::<bool>(), 1i64..1_000, 1i64..50).prop_map(|(buy, price, qty)| Op::Create { buy, price, qty }),
        (0usize..16, event).prop_map(|(order, event)| Op::Event { order, event }),
        (0usize..16, -5i64..60, 0u64..40).prop_map(|(order, qty, trade_id)| Op::Fill { order, qty, trade_id }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_sequences_keep_every_invariant(ops in prop::collection::vec(op(), 1..120)) {
        let mut oms = Oms::new(8, 1);
        let mut ids: Vec<(ClientId, NewOrder)> = Vec::new();
        let mut position = 0i64;
        let mut fills = 0i64;
        let mut finished: Vec<ClientId> = Vec::new();
        for op in ops {
            match op {
                Op::Create { buy, price, qty } => {
                    let order = NewOrder {
                        instrument: InstrumentId(0),
                        side: if buy { Side::Buy } else { Side::Sell },
                        price: Price(price),
                        qty: Qty(qty),
                        order_type: OrderType::Limit,
                        stop: Price(0),
                    };
                    match oms.create(order) {
                        Ok(id) => ids.push((id, order)),
                        Err(OmsError::SlabFull(_)) => prop_assert_eq!(oms.live(), 8),
                        Err(e) => prop_assert!(false, "create failed: {e}"),
                    }
                }
                Op::Event { order, event } => {
                    let Some((id, _)) = ids.get(order % ids.len().max(1)).copied() else { continue };
                    let before = oms.get(id).copied();
                    match oms.apply(id, event) {
                        Ok(after) => {
                            prop_assert!(before.is_some(), "a finished or unknown order changed");
                            if after.state.is_terminal() {
                                finished.push(id);
                            }
                        }
                        Err(_) => prop_assert_eq!(oms.get(id).copied(), before, "a refused event changed the order"),
                    }
                }
                Op::Fill { order, qty, trade_id } => {
                    let Some((id, new)) = ids.get(order % ids.len().max(1)).copied() else { continue };
                    let before = oms.get(id).copied();
                    match oms.fill(id, new.price.0, qty, trade_id, 1) {
                        Ok(after) => {
                            let b = before.expect("a fill applied to a live order");
                            prop_assert_eq!(after.filled, b.filled + qty);
                            position += if new.side == Side::Buy { qty } else { -qty };
                            fills += 1;
                            if after.state.is_terminal() {
                                finished.push(id);
                            }
                        }
                        Err(OmsError::OverFill { .. } | OmsError::DuplicateFill { .. } | OmsError::Transition(_)) => {
                            prop_assert_eq!(oms.get(id).copied(), before, "a refused fill changed the order");
                        }
                        Err(OmsError::UnknownOrder(_)) => prop_assert!(before.is_none()),
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    }
                }
            }
            // Invariants after every step.
            let (mut open, mut working) = (0i128, (0i64, 0i64));
            for (id, new) in &ids {
                if let Some(o) = oms.get(*id) {
                    prop_assert!(o.filled >= 0 && o.filled <= new.qty.0, "over-filled: {o:?}");
                    prop_assert!(!o.state.is_terminal(), "a finished order stayed in the slab");
                    if o.state.is_working() {
                        open += i128::from(new.price.0) * i128::from(new.qty.0 - o.filled);
                        match new.side {
                            Side::Buy => working.0 += new.qty.0 - o.filled,
                            Side::Sell => working.1 += new.qty.0 - o.filled,
                        }
                    }
                }
            }
            prop_assert_eq!(oms.open_notional(), open);
            prop_assert_eq!(oms.working_qty(InstrumentId(0)), working, "open size per side");
            prop_assert_eq!(oms.position(InstrumentId(0)).net, position);
            prop_assert_eq!(oms.position(InstrumentId(0)).fees, i128::from(fills), "a fee per accepted fill");
            for id in &finished {
                prop_assert!(oms.get(*id).is_none(), "finished orders leave the slab");
            }
        }
    }
}
