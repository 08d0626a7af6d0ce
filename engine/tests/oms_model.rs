//! The OMS against random event sequences: whatever the venue says, in any order,
//! no order is over-filled, a finished order never changes again, the position is
//! exactly the sum of accepted fills, the working notional and the open size per side
//! are exactly what is still open, and nothing panics.

use engine::{
    oms::{Oms, OmsError, OrderEvent, OrderState},
    order::{ClientId, NewOrder, OrderType},
};
use feeds::event::{InstrumentId, Price, Qty, Side};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create { buy: bool, price: i64, qty: i64, stop: bool },
    Replace { order: usize, price: i64, qty: i64 },
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
        Just(OrderEvent::Arm),
        Just(OrderEvent::Trigger),
        Just(OrderEvent::ReplaceAck),
        Just(OrderEvent::ReplaceReject),
        Just(OrderEvent::Expire),
    ];
    prop_oneof![
        (any::<bool>(), 1i64..1_000, 1i64..50, any::<bool>()).prop_map(|(buy, price, qty, stop)| Op::Create {
            buy,
            price,
            qty,
            stop
        }),
        (0usize..16, 1i64..1_000, -2i64..60).prop_map(|(order, price, qty)| Op::Replace { order, price, qty }),
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
        let mut triggered: Vec<ClientId> = Vec::new();
        for op in ops {
            match op {
                Op::Create { buy, price, qty, stop } => {
                    let order = NewOrder {
                        instrument: InstrumentId(0),
                        side: if buy { Side::Buy } else { Side::Sell },
                        price: Price(price),
                        qty: Qty(qty),
                        order_type: if stop { OrderType::Stop { trigger: Price(price) } } else { OrderType::Limit },
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
                            if event == OrderEvent::Trigger {
                                triggered.push(id);
                            }
                            if after.state.is_terminal() {
                                finished.push(id);
                            }
                        }
                        Err(_) => prop_assert_eq!(oms.get(id).copied(), before, "a refused event changed the order"),
                    }
                }
                Op::Replace { order, price, qty } => {
                    let Some((id, _)) = ids.get(order % ids.len().max(1)).copied() else { continue };
                    let before = oms.get(id).copied();
                    match oms.request_replace(id, Price(price), Qty(qty)) {
                        Ok(after) => {
                            let b = before.expect("a replace applied to a live order");
                            prop_assert!(qty > b.filled, "a replace below the filled size was taken");
                            prop_assert_eq!(after.replace, (Price(price), Qty(qty)));
                        }
                        Err(_) => prop_assert_eq!(oms.get(id).copied(), before, "a refused replace changed the order"),
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
            for (id, _) in &ids {
                if let Some(o) = oms.get(*id) {
                    let new = o.new;
                    prop_assert!(o.filled >= 0 && o.filled <= new.qty.0.max(o.replace.1.0), "over-filled: {o:?}");
                    prop_assert!(!o.state.is_terminal(), "a finished order stayed in the slab");
                    prop_assert!(o.replace.1.0 == 0 || o.state.is_pending(), "replace terms outside a pending state: {o:?}");
                    if o.state.is_working() {
                        // While a replace is pending, the larger of the two terms.
                        let (price, qty) = (new.price.0, new.qty.0);
                        let (rp, rq) = (o.replace.0.0, o.replace.1.0);
                        let open_of = |p: i64, q: i64| i128::from(p) * i128::from((q - o.filled).max(0));
                        open += open_of(price, qty).max(open_of(rp, rq));
                        let size = qty.max(rq) - o.filled;
                        match new.side {
                            Side::Buy => working.0 += size,
                            Side::Sell => working.1 += size,
                        }
                    }
                    if o.new.order_type.trigger().is_some() && o.state == OrderState::Submitted {
                        prop_assert!(triggered.contains(id), "a stop went to the venue untriggered: {o:?}");
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
