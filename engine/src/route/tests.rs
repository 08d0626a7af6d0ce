//! Hand-built books on three venues, one test per rule.

use feeds::event::{BookDelta, InstrumentId, Level, Qty, UnixNanos, Venue};

use super::*;

fn book(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> Book {
    let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
    for &(price, qty) in bids {
        d.push(BookSide::Bid, Level { price: Price(price), qty: Qty(qty) });
    }
    for &(price, qty) in asks {
        d.push(BookSide::Ask, Level { price: Price(price), qty: Qty(qty) });
    }
    d.set_snapshot();
    d.set_last();
    let mut b = Book::with_depth(8);
    b.apply(&d).unwrap();
    b
}

/// A: a thin touch then a gap; B: deep at 101; C: deep at 102. Bids mirror them.
fn books() -> [Book; 3] {
    [
        book(&[(99, 5), (94, 10)], &[(100, 5), (105, 10)]),
        book(&[(98, 20)], &[(101, 20)]),
        book(&[(97, 50)], &[(102, 50)]),
    ]
}

fn views(books: &[Book; 3], taker_bps: [i64; 3]) -> [VenueView<'_>; 3] {
    std::array::from_fn(|i| VenueView {
        venue: i as u8,
        book: &books[i],
        fees: FeeSchedule { maker_bps: 0, taker_bps: taker_bps[i] },
        ack_ns: 0,
        breaker: BreakerState::Closed,
        stale: false,
        barred: false,
    })
}

fn order(side: Side, price: i64, qty: i64, order_type: OrderType) -> NewOrder {
    NewOrder { instrument: InstrumentId(0), side, price: Price(price), qty: Qty(qty), order_type, stop: Price(0) }
}

fn decide(o: &NewOrder, v: &[VenueView<'_>], policy: Policy) -> Route {
    let mut r = Route::default();
    route(o, v, policy, &mut r);
    r
}

fn children(r: &Route) -> Vec<(u8, i64, i64)> {
    r.children().map(|c| (c.venue, c.order.qty.0, c.order.price.0)).collect()
}

#[test]
fn best_price_takes_the_best_average_for_the_whole_size() {
    let b = books();
    let r = decide(&order(Side::Buy, 110, 10, OrderType::Ioc), &views(&b, [0; 3]), Policy::BestPrice);
    // A: (5×100 + 5×105)/10 = 102.5; B: 101; C: 102.
    assert_eq!(children(&r), [(1, 10, 110)]);
    let avg: Vec<i64> = r.scores().iter().map(VenueScore::avg_price).collect();
    assert_eq!(avg, [102, 101, 102], "A's 102.5 truncated for display; the key is exact");
    assert_eq!(r.scores()[0].skipped, Some(Skip::Outscored));
    // A small order is cheapest on A's thin touch.
    let r = decide(&order(Side::Buy, 110, 5, OrderType::Ioc), &views(&b, [0; 3]), Policy::BestPrice);
    assert_eq!(children(&r), [(0, 5, 110)]);
    // Selling: the best bid side wins the same way.
    let r = decide(&order(Side::Sell, 90, 10, OrderType::Ioc), &views(&b, [0; 3]), Policy::BestPrice);
    assert_eq!(children(&r), [(1, 10, 90)], "B's 98 for all 10 beats A's (99×5 + 94×5)/10 = 96.5");
}

#[test]
fn lowest_fee_lets_a_fee_change_the_choice() {
    let b = books();
    // B's 150 bps taker fee: 101 × 1.015 = 102.515, worse than C's 102 × 1.0001.
    let v = views(&b, [0, 150, 1]);
    let o = order(Side::Buy, 110, 10, OrderType::Ioc);
    assert_eq!(children(&decide(&o, &v, Policy::BestPrice)), [(1, 10, 110)], "price alone: B");
    let r = decide(&o, &v, Policy::LowestFee);
    assert_eq!(children(&r), [(2, 10, 110)], "net of fees: C");
    assert_eq!(r.scores()[1].fee_bps, 150);
    // A resting order pays the maker fee: the rebate venue wins.
    let mut v = views(&b, [0; 3]);
    v[2].fees.maker_bps = -2;
    let r = decide(&order(Side::Buy, 96, 10, OrderType::PostOnly), &v, Policy::LowestFee);
    assert_eq!(children(&r), [(2, 10, 96)]);
    assert_eq!(r.scores()[2].fee_bps, -2);
}

#[test]
fn smart_route_splits_by_net_price_across_venues() {
    let b = books();
    let r = decide(
        &order(Side::Buy, 110, 40, OrderType::Ioc),
        &views(&b, [0; 3]),
        Policy::SmartRoute(SmartWeights::default()),
    );
    // Best first: A's 5 at 100, B's 20 at 101, then 15 of C's 102 (before A's 105).
    let mut got = children(&r);
    got.sort_unstable();
    assert_eq!(got, [(0, 5, 100), (1, 20, 101), (2, 15, 102)]);
    assert_eq!(r.children().map(|c| c.order.qty.0).sum::<i64>(), 40, "nothing lost in the split");
    assert!(r.scores().iter().all(|s| s.skipped.is_none()));
    for c in r.children() {
        assert_eq!(r.scores()[c.score].venue, c.venue, "each child points at its venue's score");
    }
    // More than the merged ladder holds: the rest rides with the best child at the parent's limit.
    let r = decide(
        &order(Side::Buy, 105, 100, OrderType::Limit),
        &views(&b, [0; 3]),
        Policy::SmartRoute(SmartWeights::default()),
    );
    assert_eq!(r.children().map(|c| c.order.qty.0).sum::<i64>(), 100);
    assert!(r.children().any(|c| c.order.price.0 == 105));
}

#[test]
fn smart_route_splits_the_same_at_prices_too_large_for_64_bit_keys() {
    // C's asks (102 × f ticks) and A's far ask overflow an i64 key (× 10 000); A's and
    // B's touches do not. The merge must fall back, not wrap C's price to a bargain.
    let f = 9_100_000_000_000;
    let scaled = |levels: &[(i64, i64)]| levels.iter().map(|&(p, q)| (p * f, q)).collect::<Vec<_>>();
    let b = [
        book(&scaled(&[(99, 5), (94, 10)]), &scaled(&[(100, 5), (105, 10)])),
        book(&scaled(&[(98, 20)]), &scaled(&[(101, 20)])),
        book(&scaled(&[(97, 50)]), &scaled(&[(102, 50)])),
    ];
    let smart = Policy::SmartRoute(SmartWeights::default());
    let mut got = children(&decide(&order(Side::Buy, 110 * f, 40, OrderType::Ioc), &views(&b, [0; 3]), smart));
    got.sort_unstable();
    assert_eq!(got, [(0, 5, 100 * f), (1, 20, 101 * f), (2, 15, 102 * f)]);
    let mut got = children(&decide(&order(Side::Sell, 90 * f, 40, OrderType::Ioc), &views(&b, [0; 3]), smart));
    got.sort_unstable();
    assert_eq!(got, [(0, 5, 99 * f), (1, 20, 98 * f), (2, 15, 97 * f)]);
    // A seller's rebate raises the multiplier above 10 000: A's 99 × f overflows
    // with a 300 bps rebate at A, and would wrap to the worst key if not caught.
    let mut got = children(&decide(&order(Side::Sell, 90 * f, 10, OrderType::Ioc), &views(&b, [-300, 0, 0]), smart));
    got.sort_unstable();
    assert_eq!(got, [(0, 5, 99 * f), (1, 5, 98 * f)], "A's touch (rebated) first, then B's");
}

/// One `Route` reused, as the pipeline does: a decision never shows an earlier one's
/// children, whether it makes fewer or none.
#[test]
fn a_reused_route_shows_only_its_own_decision() {
    let b = books();
    let smart = Policy::SmartRoute(SmartWeights::default());
    let mut r = Route::default();
    route(&order(Side::Buy, 110, 40, OrderType::Ioc), &views(&b, [0; 3]), smart, &mut r);
    assert_eq!(r.children().count(), 3);
    route(&order(Side::Buy, 110, 5, OrderType::Ioc), &views(&b, [0; 3]), smart, &mut r);
    assert_eq!(children(&r), [(0, 5, 100)]);
    // A FOK no venue can fill whole goes nowhere.
    route(&order(Side::Buy, 110, 80, OrderType::Fok), &views(&b, [0; 3]), smart, &mut r);
    assert_eq!(children(&r), []);
    assert_eq!(r.child(0), None);
}

#[test]
fn smart_route_charges_latency_and_a_half_open_breaker() {
    let b = books();
    let mut v = views(&b, [0; 3]);
    v[1].ack_ns = 200_000_000; // 200 ms: 200 bps on B's 101 = 103.02, worse than C's 102
    let smart = Policy::SmartRoute(SmartWeights::default());
    let r = decide(&order(Side::Buy, 110, 10, OrderType::Ioc), &v, smart);
    let mut got = children(&r);
    got.sort_unstable();
    assert_eq!(got, [(0, 5, 100), (2, 5, 102)]);
    assert_eq!(r.scores()[1].penalty_bps, 200);
    assert_eq!(r.scores()[1].skipped, Some(Skip::Outscored));
    let mut v = views(&b, [0; 3]);
    v[0].breaker = BreakerState::HalfOpen;
    let w = SmartWeights { half_open_bps: 300, ..SmartWeights::default() };
    let r = decide(&order(Side::Buy, 110, 5, OrderType::Ioc), &v, Policy::SmartRoute(w));
    assert_eq!(children(&r), [(1, 5, 101)], "A's touch, 3% dearer while half-open, loses to B");
}

#[test]
fn invalid_books_and_open_circuits_are_skipped_and_said_so() {
    let mut b = books();
    b[1].invalidate();
    let mut v = views(&b, [0; 3]);
    v[0].breaker = BreakerState::Open;
    for policy in [Policy::BestPrice, Policy::LowestFee, Policy::SmartRoute(SmartWeights::default())] {
        let r = decide(&order(Side::Buy, 110, 10, OrderType::Ioc), &v, policy);
        // One venue keeps the parent's limit; a SmartRoute child's is the worst level it takes.
        let limit = if matches!(policy, Policy::SmartRoute(_)) { 102 } else { 110 };
        assert_eq!(children(&r), [(2, 10, limit)], "{policy:?}");
        assert_eq!(r.scores()[0].skipped, Some(Skip::CircuitOpen));
        assert_eq!(r.scores()[1].skipped, Some(Skip::InvalidBook));
    }
    v[2].breaker = BreakerState::Open;
    let r = decide(&order(Side::Buy, 110, 10, OrderType::Ioc), &v, Policy::BestPrice);
    assert_eq!(r.children().count(), 0, "nowhere to go");
    // A market order with nothing within its protection price goes nowhere either.
    let b = books();
    let r = decide(&order(Side::Buy, 90, 10, OrderType::Market), &views(&b, [0; 3]), Policy::LowestFee);
    assert_eq!(r.children().count(), 0);
    assert!(r.scores().iter().all(|s| s.skipped == Some(Skip::NoLiquidity)));
}

#[test]
fn ack_latency_is_an_ewma() {
    let mut a = AckLatency::default();
    a.record(800);
    assert_eq!(a.get(), 800, "the first sample is the estimate");
    a.record(1_600);
    assert_eq!(a.get(), 900);
}

#[test]
fn a_fok_is_never_split_and_goes_only_where_it_fills_whole() {
    let b = books();
    let smart = Policy::SmartRoute(SmartWeights::default());
    // 40 fills nowhere whole within 110 but at C (A 15, B 20, C 50).
    let r = decide(&order(Side::Buy, 110, 40, OrderType::Fok), &views(&b, [0; 3]), smart);
    assert_eq!(children(&r), [(2, 40, 110)]);
    // 60 fills whole nowhere: no child, rather than a partial fill.
    let r = decide(&order(Side::Buy, 110, 60, OrderType::Fok), &views(&b, [0; 3]), smart);
    assert_eq!(r.children().count(), 0);
}

#[test]
fn a_limit_order_goes_where_it_can_fill_before_where_it_would_only_rest() {
    let b = books();
    // At 100 it crosses only A's touch (5 of 10); elsewhere it would rest.
    let r = decide(&order(Side::Buy, 100, 10, OrderType::Limit), &views(&b, [0; 3]), Policy::BestPrice);
    assert_eq!(children(&r), [(0, 10, 100)]);
    assert_eq!(r.scores()[1].avg_price(), 100, "a resting venue shows the limit");
}

#[test]
fn a_venue_its_own_limits_bar_is_skipped_by_every_policy() {
    let b = books();
    let mut v = views(&b, [0; 3]);
    v[1].barred = true; // B, the best for 10, is restricted there (or the size is out of its bounds)
    let smart = Policy::SmartRoute(SmartWeights { latency_bps_per_ms: 0, half_open_bps: 0, min_child: 1 });
    for policy in [Policy::BestPrice, Policy::LowestFee, smart] {
        let r = decide(&order(Side::Buy, 110, 10, OrderType::Ioc), &v, policy);
        assert!(children(&r).iter().all(|c| c.0 != 1), "{policy:?}: {:?}", children(&r));
        assert_eq!(r.scores()[1].skipped, Some(Skip::Barred), "{policy:?}");
        assert!(!children(&r).is_empty(), "{policy:?}: the others still take it");
    }
}
