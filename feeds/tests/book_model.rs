//! The book against a BTreeMap reference under random snapshots and deltas.

use std::collections::BTreeMap;

use feeds::book::{Book, BookError};
use feeds::event::{BookDelta, BookSide, InstrumentId, Level, Price, Qty, UnixNanos, Venue};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Update {
    snapshot: bool,
    levels: Vec<(bool, i64, i64)>,
}

fn update() -> impl Strategy<Value = Update> {
    (prop::bool::weighted(0.1), prop::collection::vec((any::<bool>(), 90i64..110, 0i64..4), 0..12))
        .prop_map(|(snapshot, levels)| Update { snapshot, levels })
}

/// Splits an update into BookDeltas of up to 8 levels, `last` on the final one.
fn deltas(u: &Update) -> Vec<BookDelta> {
    let mut out = Vec::new();
    let chunks: Vec<&[(bool, i64, i64)]> = if u.levels.is_empty() { vec![&[]] } else { u.levels.chunks(8).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
        for &(ask, p, q) in *chunk {
            d.push(if ask { BookSide::Ask } else { BookSide::Bid }, Level { price: Price(p), qty: Qty(q) });
        }
        if u.snapshot {
            d.set_snapshot();
        }
        if i + 1 == chunks.len() {
            d.set_last();
        }
        out.push(d);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_btreemap_and_is_never_valid_while_crossed(updates in prop::collection::vec(update(), 1..40)) {
        let mut book = Book::with_depth(64);
        let (mut bids, mut asks) = (BTreeMap::<i64, i64>::new(), BTreeMap::<i64, i64>::new());
        for u in &updates {
            if u.snapshot {
                bids.clear();
                asks.clear();
            }
            for &(ask, p, q) in &u.levels {
                let side = if ask { &mut asks } else { &mut bids };
                if q == 0 { side.remove(&p); } else { side.insert(p, q); }
            }
            let mut result = Ok(());
            for d in deltas(u) {
                result = result.and(book.apply(&d));
            }
            let model_bids: Vec<(i64, i64)> = bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
            let model_asks: Vec<(i64, i64)> = asks.iter().map(|(p, q)| (*p, *q)).collect();
            let got = |side| book.levels(side).map(|l| (l.price.0, l.qty.0)).collect::<Vec<_>>();
            prop_assert_eq!(got(BookSide::Bid), model_bids);
            prop_assert_eq!(got(BookSide::Ask), model_asks);
            prop_assert!(book.levels(BookSide::Bid).chain(book.levels(BookSide::Ask)).all(|l| l.qty.0 > 0));
            let crossed = matches!((bids.keys().next_back(), asks.keys().next()), (Some(b), Some(a)) if b >= a);
            if crossed {
                prop_assert!(!book.is_valid());
                prop_assert!(matches!(result, Err(BookError::Crossed { .. })), "{:?}", result);
            }
        }
    }
}

fn deep_update() -> impl Strategy<Value = Update> {
    // Bids below 60 and asks above, mostly, so books are rarely crossed.
    let level = (any::<bool>(), 0i64..60, 0i64..3).prop_map(|(ask, p, q)| (ask, if ask { p + 55 } else { p }, q));
    (prop::bool::weighted(0.1), prop::collection::vec(level, 0..30))
        .prop_map(|(snapshot, levels)| Update { snapshot, levels })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// A book shallower than the market: whenever it is valid, each side is exactly the
    /// market's best levels, as many as it holds (and all of them while not truncated),
    /// and a truncated side holds at least the floor.
    #[test]
    fn a_shallow_book_is_the_exact_top_of_a_deep_one(updates in prop::collection::vec(deep_update(), 1..60)) {
        let mut book = Book::with_depth(12);
        let (mut bids, mut asks) = (BTreeMap::<i64, i64>::new(), BTreeMap::<i64, i64>::new());
        for u in &updates {
            if u.snapshot {
                bids.clear();
                asks.clear();
            }
            for &(ask, p, q) in &u.levels {
                let side = if ask { &mut asks } else { &mut bids };
                if q == 0 { side.remove(&p); } else { side.insert(p, q); }
            }
            for d in deltas(u) {
                let _ = book.apply(&d);
            }
            if !book.is_valid() {
                continue;
            }
            let model = [
                (BookSide::Bid, bids.iter().rev().map(|(p, q)| (*p, *q)).collect::<Vec<_>>()),
                (BookSide::Ask, asks.iter().map(|(p, q)| (*p, *q)).collect::<Vec<_>>()),
            ];
            for (side, market) in model {
                let got: Vec<(i64, i64)> = book.levels(side).map(|l| (l.price.0, l.qty.0)).collect();
                prop_assert!(got.len() <= 12);
                prop_assert_eq!(&got[..], &market[..got.len().min(market.len())], "{:?}", side);
                if book.is_truncated(side) {
                    prop_assert!(got.len() >= feeds::book::TRUNCATED_FLOOR, "{:?}", side);
                } else {
                    prop_assert_eq!(got.len(), market.len(), "{:?}: not truncated, so all of it", side);
                }
            }
        }
    }
}
