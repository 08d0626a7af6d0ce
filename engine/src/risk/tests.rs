use feeds::{
    book::Book,
    event::{BookDelta, BookSide, InstrumentId, Level, Price, Qty, Side, UnixNanos, Venue},
};

use super::*;
use crate::order::OrderType;

fn book(bid: i64, ask: i64) -> Book {
    let mut d = BookDelta::new(Venue::Binance, InstrumentId(0), (1, 1), UnixNanos(0), UnixNanos(0));
    d.push(BookSide::Bid, Level { price: Price(bid), qty: Qty(10) });
    d.push(BookSide::Ask, Level { price: Price(ask), qty: Qty(10) });
    d.set_snapshot();
    d.set_last();
    let mut b = Book::with_depth(8);
    b.apply(&d).unwrap();
    b
}

fn limits() -> RiskLimits {
    RiskLimits::with_quote_limits(
        0,
        0,
        QuoteLimits { order: 10_000, position: 20_000, open: 30_000, gross: 40_000, net: 30_000 },
    )
}

/// An order with a stop 1% away on its losing side (within the default 2%).
fn order(side: Side, price: i64, qty: i64) -> NewOrder {
    NewOrder {
        instrument: InstrumentId(0),
        side,
        price: Price(price),
        qty: Qty(qty),
        order_type: OrderType::Limit,
        stop: NewOrder::stop_at_bps(side, Price(price), 100),
    }
}

fn position(net: i64) -> Position {
    let mut p = Position::default();
    if net != 0 {
        p.apply_fill(if net > 0 { Side::Buy } else { Side::Sell }, 1000, net.abs());
    }
    p
}

fn check(risk: &mut Risk, o: NewOrder, b: &Book, net: i64, now: u64) -> Option<Reject> {
    risk.check(&o, &RiskInputs { now, ..inputs_with(b, net, OwnTop::default(), RICH) }).reject
}

#[test]
fn each_check_rejects_with_its_reason_and_counts_it() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 5), &b, 0, 1), None);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 0), &b, 0, 2), Some(Reject::QtyOutOfRange));
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 11), &b, 0, 3), Some(Reject::OrderNotional));
    assert_eq!(check(&mut r, order(Side::Buy, 1006, 1), &b, 0, 4), Some(Reject::OutsideCollar));
    assert_eq!(check(&mut r, order(Side::Buy, 994, 1), &b, 0, 5), Some(Reject::OutsideCollar));
    assert_eq!(check(&mut r, order(Side::Buy, 1005, 1), &b, 0, 6), None, "50 bps is inside the collar");
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 5), &b, 16, 7), Some(Reject::PositionLimit));
    assert_eq!(check(&mut r, order(Side::Sell, 1000, 5), &b, 16, 8), None, "reducing is always allowed");
    assert_eq!(check(&mut r, order(Side::Sell, 1000, 5), &b, 16, 9), Some(Reject::Duplicate));
    assert_eq!(check(&mut r, order(Side::Sell, 1000, 5), &b, 16, 300_000), None, "outside the window");
    assert_eq!(r.rejected(Reject::OutsideCollar), 2);
    assert_eq!((r.accepted(), r.rejected_total()), (4, 6));
}

#[test]
fn a_bad_reference_rejects() {
    let mut r = Risk::new(limits(), 0);
    let mut b = book(999, 1001);
    let stale = RiskInputs {
        now: 2_000_000_000,
        book: &b,
        book_ts: 0,
        position: Position::default(),
        open_notional: 0,
        working: (0, 0),
        elsewhere: 0,
        venue: 0,
        own: OwnTop::default(),
        exposure: RICH,
        breaker: None,
    };
    assert_eq!(r.check(&order(Side::Buy, 1000, 1), &stale).reject, Some(Reject::StaleReference));
    b.invalidate();
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 1), &b, 0, 1), Some(Reject::BookInvalid));
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 1), &Book::with_depth(4), 0, 1), Some(Reject::NoReference));
}

#[test]
fn open_notional_and_the_throttle_hold() {
    let b = book(999, 1001);
    let mut l = limits();
    l.order_burst = 2;
    l.orders_per_sec = 1;
    let mut r = Risk::new(l, 0);
    let inputs = RiskInputs {
        now: 1,
        book: &b,
        book_ts: 0,
        position: Position::default(),
        open_notional: 25_000,
        working: (0, 0),
        elsewhere: 0,
        venue: 0,
        own: OwnTop::default(),
        exposure: RICH,
        breaker: None,
    };
    assert_eq!(r.check(&order(Side::Buy, 1000, 6), &inputs).reject, Some(Reject::OpenNotional));
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 1), &b, 0, 1), None);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 2), &b, 0, 1), None);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 3), &b, 0, 1), Some(Reject::Throttled));
}

#[test]
fn trading_states_gate_everything_else() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0);
    r.set_state(TradingState::ReduceOnly);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 1), &b, 0, 1), Some(Reject::ReduceOnly));
    assert_eq!(check(&mut r, order(Side::Sell, 1000, 3), &b, 2, 1), Some(Reject::ReduceOnly), "would flip");
    assert_eq!(check(&mut r, order(Side::Sell, 1000, 2), &b, 2, 1), None);
    r.set_state(TradingState::Halted);
    assert_eq!(check(&mut r, order(Side::Sell, 1000, 1), &b, 2, 500_000), Some(Reject::Halted));
}

#[test]
fn an_open_venue_breaker_rejects_last_and_a_refused_order_takes_no_probe() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0);
    let config = BreakerConfig { consecutive_failures: 1, cool_down_ns: 1_000, probes: 1, ..Default::default() };
    let breaker = CircuitBreaker::new(&config);
    breaker.record_failure(false, 0);
    let check = |r: &mut Risk, o: NewOrder, now: u64| {
        let inputs = RiskInputs {
            now,
            book: &b,
            book_ts: 0,
            position: position(0),
            open_notional: 0,
            working: (0, 0),
            elsewhere: 0,
            venue: 0,
            own: OwnTop::default(),
            exposure: Exposure { equity: 1 << 100, ..Exposure::default() },
            breaker: Some(&breaker),
        };
        r.check(&o, &inputs)
    };
    let d = check(&mut r, order(Side::Buy, 1000, 5), 500);
    assert_eq!((d.reject, d.observed), (Some(Reject::VenueCircuitOpen), BreakerState::Open as i64));
    // After the cool-down: an order risk refuses anyway must not use up the probe...
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 11), 2_000).reject, Some(Reject::OrderNotional));
    assert_eq!(breaker.state(), BreakerState::Open);
    // ... so the next good order is the probe, and the one after it waits for its outcome.
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 5), 2_001).reject, None);
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 4), 2_002).reject, Some(Reject::VenueCircuitOpen));
    breaker.record_success(true);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 3), 2_003).reject, None, "the probe's ack closed it");
    assert_eq!(r.rejected(Reject::VenueCircuitOpen), 2);
}

fn inputs_with<'a>(b: &'a Book, net: i64, own: OwnTop, exposure: Exposure) -> RiskInputs<'a> {
    RiskInputs {
        now: 1,
        book: b,
        book_ts: 0,
        position: position(net),
        open_notional: 0,
        working: (0, 0),
        elsewhere: 0,
        venue: 0,
        own,
        exposure,
        breaker: None,
    }
}

const RICH: Exposure = Exposure { gross: 0, net: 0, equity: 1 << 100, mark: 1000, correlated: 0 };

#[test]
fn a_restricted_instrument_takes_no_new_exposure() {
    let b = book(999, 1001);
    let mut r = Risk::new(RiskLimits { restricted: 1, ..limits() }, 0);
    let d = r.check(&order(Side::Buy, 1000, 1), &inputs_with(&b, 5, OwnTop::default(), RICH));
    assert_eq!(d.reject, Some(Reject::Restricted), "no new exposure");
    let d = r.check(&order(Side::Sell, 999, 5), &inputs_with(&b, 5, OwnTop::default(), RICH));
    assert_eq!(d.reject, None, "shrinking a position may go");
    let d = r.check(&order(Side::Sell, 999, 6), &inputs_with(&b, 5, OwnTop::default(), RICH));
    assert_eq!(d.reject, Some(Reject::Restricted), "flipping it is new exposure");
    let mut r = Risk::new(RiskLimits { restricted: 1 << 1, ..limits() }, 0);
    assert_eq!(r.check(&order(Side::Buy, 1000, 1), &inputs_with(&b, 0, OwnTop::default(), RICH)).reject, None);
}

#[test]
fn an_order_crossing_our_own_resting_order_is_a_self_trade() {
    let b = book(995, 1005);
    let own = OwnTop { best_bid: Some(998), best_ask: Some(1002) };
    let mut r = Risk::new(limits(), 0);
    let mut at = |side, price| r.check(&order(side, price, 1), &inputs_with(&b, 0, own, RICH));
    assert_eq!(at(Side::Buy, 1002).reject, Some(Reject::SelfTrade), "buying at our own offer");
    assert_eq!(at(Side::Buy, 1001).reject, None, "one tick below it");
    let d = at(Side::Sell, 998);
    assert_eq!((d.reject, d.limit, d.observed), (Some(Reject::SelfTrade), 998, 998));
    assert_eq!(at(Side::Sell, 999).reject, None);
}

#[test]
fn the_position_limit_is_the_tighter_of_notional_and_a_fraction_of_equity() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0); // 20,000 notional, 200 bps of equity
    // Equity 500,000: 2% is 10,000, tighter than 20,000: 10 lots at 1,000 pass, 11 do not.
    let e = Exposure { equity: 500_000, ..RICH };
    assert_eq!(r.check(&order(Side::Buy, 1000, 10), &inputs_with(&b, 0, OwnTop::default(), e)).reject, None);
    let d = r.check(&order(Side::Buy, 1000, 1), &inputs_with(&b, 10, OwnTop::default(), e));
    assert_eq!((d.reject, d.limit), (Some(Reject::PositionLimit), 10_000));
    // Equity fallen to 100,000: the same position is now over 2%; reducing still passes.
    let e = Exposure { equity: 100_000, ..RICH };
    assert_eq!(r.check(&order(Side::Sell, 1000, 1), &inputs_with(&b, 10, OwnTop::default(), e)).reject, None);
    let mut off = Risk::new(
        RiskLimits { instrument: InstrumentLimits { position_equity_bps: 0, ..limits().instrument }, ..limits() },
        0,
    );
    assert_eq!(off.check(&order(Side::Buy, 1000, 3), &inputs_with(&b, 0, OwnTop::default(), e)).reject, None);
}

#[test]
fn gross_and_net_exposure_count_every_instrument_at_its_mark() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0); // gross 40,000, net 30,000
    // Other instruments: 35,000 long. Buying 5 more lots at mark 1,000 is 40,000: at the limit.
    let e = Exposure { gross: 35_000, net: 35_000, ..RICH };
    let e = Exposure { net: 25_000, ..e }; // net below its limit, so gross decides
    assert_eq!(r.check(&order(Side::Buy, 1000, 5), &inputs_with(&b, 0, OwnTop::default(), e)).reject, None);
    let d = r.check(&order(Side::Buy, 1000, 6), &inputs_with(&b, 0, OwnTop::default(), e));
    assert_eq!((d.reject, d.limit, d.observed), (Some(Reject::GrossExposure), 40_000, 41_000));
    // Net: 25,000 long elsewhere; 6 lots more is 31,000 net > 30,000.
    let e = Exposure { gross: 25_000, net: 25_000, ..RICH };
    let d = r.check(&order(Side::Buy, 1000, 6), &inputs_with(&b, 0, OwnTop::default(), e));
    assert_eq!((d.reject, d.observed), (Some(Reject::NetExposure), 31_000));
    // A short that offsets the long elsewhere lowers net, and 6 lots is within gross.
    assert_eq!(r.check(&order(Side::Sell, 1000, 6), &inputs_with(&b, 0, OwnTop::default(), e)).reject, None);
}

#[test]
fn fills_past_the_gross_limit_trip_the_kill_switch() {
    let k = KillSwitch::new(KillLimits {
        max_daily_loss: 0,
        equity: 0,
        max_drawdown_pct: 0,
        max_rejects_per_sec: 0,
        max_book_invalid_ns: 0,
        max_venue_down_ns: 0,
        max_messages_per_sec: 0,
    });
    assert_eq!(k.on_exposure(40_000, 40_000), None);
    let t = k.on_exposure(40_001, 40_000).unwrap();
    assert_eq!((t.reason, t.limit, t.observed), (TripReason::ExposureBreach, 40_000, 40_001));
    assert_eq!(k.on_exposure(1 << 60, 0), None, "0 is off");
}

#[test]
fn a_flattening_order_is_checked_reduce_only_without_pacing_while_halted() {
    let b = book(999, 1001);
    let mut l = limits();
    l.order_burst = 1;
    l.orders_per_sec = 1;
    let mut r = Risk::new(l, 0);
    assert_eq!(r.check(&order(Side::Sell, 999, 5), &inputs_with(&b, 5, OwnTop::default(), RICH)).reject, None);
    r.set_state(TradingState::Halted);
    let close = order(Side::Sell, 999, 5);
    let inputs = inputs_with(&b, 5, OwnTop::default(), RICH);
    assert_eq!(r.check(&close, &inputs).reject, Some(Reject::Halted));
    // The same order again, the bucket empty: neither a duplicate nor throttled.
    assert_eq!(r.check_flatten(&close, &inputs).reject, None);
    let grow = order(Side::Buy, 1001, 1);
    assert_eq!(r.check_flatten(&grow, &inputs).reject, Some(Reject::ReduceOnly));
    assert_eq!(r.check(&close, &inputs).reject, Some(Reject::Halted), "still halted afterwards");
}

#[test]
fn each_instrument_has_its_own_order_rate_and_cancels_have_theirs() {
    let b = book(999, 1001);
    let mut l = limits();
    (l.order_burst, l.orders_per_sec, l.instrument.orders_per_sec, l.cancels_per_sec) = (3, 1_000, 1, 1);
    l.instrument.cancels_per_sec = 1_000_000_000; // refills within a nanosecond: only the venue's rate holds cancels
    let mut r = Risk::new(l, 0);
    let inputs = |now| RiskInputs { now, ..inputs_with(&b, 0, OwnTop::default(), RICH) };
    for (k, qty) in [1, 2, 3].into_iter().enumerate() {
        assert_eq!(r.check(&order(Side::Buy, 1000, qty), &inputs(k as u64 * 1_000_000)).reject, None, "the burst");
    }
    let d = r.check(&order(Side::Buy, 1000, 4), &inputs(10_000_000));
    assert_eq!((d.reject, d.limit), (Some(Reject::InstrumentThrottled), 1), "1 a second for this instrument");
    let other = NewOrder { instrument: InstrumentId(1), ..order(Side::Buy, 1000, 4) };
    assert_eq!(r.check(&other, &inputs(11_000_000)).reject, None, "another instrument has its own bucket");
    assert!((0..3).all(|_| r.allow_cancel(0, InstrumentId(0), 20)), "the cancel burst");
    assert!(!r.allow_cancel(0, InstrumentId(0), 21), "then 1 a second");
    assert_eq!(r.cancels_throttled(), 1);
    assert!(r.allow_cancel(1, InstrumentId(1), 22), "another venue's cancels have a rate of their own");
    assert!(r.allow_cancel(0, InstrumentId(0), 1_000_000_021));
}

#[test]
fn each_venue_throttles_its_own_new_orders() {
    let b = book(999, 1001);
    let mut l = limits();
    (l.order_burst, l.orders_per_sec, l.instrument.orders_per_sec) = (1, 1, 1_000);
    let mut r = Risk::new(l, 0);
    // Venue v's instrument is id v, as with one symbol at each venue.
    let at = |venue: usize, qty, now| {
        let o = NewOrder { instrument: InstrumentId(venue as u32), ..order(Side::Buy, 1000, qty) };
        (o, RiskInputs { now, venue, ..inputs_with(&b, 0, OwnTop::default(), RICH) })
    };
    let (o, i) = at(0, 1, 1);
    assert_eq!(r.check(&o, &i).reject, None);
    let (o, i) = at(0, 2, 2);
    assert_eq!(r.check(&o, &i).reject, Some(Reject::Throttled), "venue 0's one order a second is used");
    let (o, i) = at(1, 3, 3);
    assert_eq!(r.check(&o, &i).reject, None, "venue 1 has its own rate");
}

#[test]
fn an_order_that_grows_a_position_needs_a_stop_on_its_losing_side_within_the_distance() {
    let b = book(999, 1001);
    let mut r = Risk::new(
        RiskLimits { instrument: InstrumentLimits { max_stop_distance_bps: 200, ..limits().instrument }, ..limits() },
        0,
    ); // 2%: 20 at 1,000
    let with_stop = |side, stop| NewOrder { stop: Price(stop), ..order(side, 1000, 1) };
    let mut check = |o: NewOrder, net: i64, now: u64| {
        r.check(&o, &RiskInputs { now, ..inputs_with(&b, net, OwnTop::default(), RICH) })
    };
    assert_eq!(check(with_stop(Side::Buy, 0), 0, 1).reject, Some(Reject::MissingStop));
    assert_eq!(check(with_stop(Side::Buy, 980), 0, 2).reject, None, "20 below: exactly 2%");
    let d = check(with_stop(Side::Buy, 979), 0, 3);
    assert_eq!((d.reject, d.limit, d.observed), (Some(Reject::BadStop), 200, 210));
    assert_eq!(check(with_stop(Side::Buy, 1001), 0, 4).reject, Some(Reject::BadStop), "above a buy: no protection");
    assert_eq!(check(with_stop(Side::Sell, 1020), 0, 5).reject, None);
    assert_eq!(check(with_stop(Side::Sell, 990), 0, 6).reject, Some(Reject::BadStop), "below a sell");
    assert_eq!(check(with_stop(Side::Sell, 0), 5, 7).reject, None, "reducing a long needs no stop");
    assert_eq!(check(with_stop(Side::Buy, 0), 5, 8).reject, Some(Reject::MissingStop), "growing it does");
    let mut off = Risk::new(
        RiskLimits { instrument: InstrumentLimits { max_stop_distance_bps: 0, ..limits().instrument }, ..limits() },
        0,
    );
    let o = with_stop(Side::Buy, 0);
    assert_eq!(off.check(&o, &inputs_with(&b, 0, OwnTop::default(), RICH)).reject, None, "0: not required");
}

#[test]
fn positions_correlated_with_the_instrument_count_as_one_exposure() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0); // position / correlated limit 20,000
    // 15 lots long elsewhere (at 1,000) in an instrument moving with this one.
    let e = Exposure { gross: 15_000, net: 15_000, correlated: 15_000, ..RICH };
    assert_eq!(r.check(&order(Side::Buy, 1000, 5), &inputs_with(&b, 0, OwnTop::default(), e)).reject, None);
    let d = r.check(&order(Side::Buy, 1000, 6), &inputs_with(&b, 0, OwnTop::default(), e));
    assert_eq!((d.reject, d.limit, d.observed), (Some(Reject::Correlation), 20_000, 21_000));
    // Selling it hedges the correlated long: allowed even past the size of it.
    let e = Exposure { net: 0, ..e };
    assert_eq!(r.check(&order(Side::Sell, 1000, 6), &inputs_with(&b, 0, OwnTop::default(), e)).reject, None);
    // Anti-correlated positions arrive with their sign flipped: a short there adds up.
    let e = Exposure { correlated: 15_000, gross: 15_000, net: -15_000, ..RICH };
    assert_eq!(
        r.check(&order(Side::Buy, 1000, 6), &inputs_with(&b, 0, OwnTop::default(), e)).reject,
        Some(Reject::Correlation)
    );
}

#[test]
fn the_position_limit_holds_for_the_symbol_over_every_venue() {
    // Limit 20,000 at price 1,000: 20 lots of the symbol in all.
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0);
    let at = |elsewhere, now| RiskInputs { now, elsewhere, ..inputs_with(&b, 0, OwnTop::default(), RICH) };
    assert_eq!(r.check(&order(Side::Buy, 1000, 5), &at(15, 1)).reject, None, "5 here + 15 elsewhere = 20");
    let d = r.check(&order(Side::Buy, 1000, 6), &at(15, 2));
    assert_eq!((d.reject, d.observed), (Some(Reject::PositionLimit), 21_000), "21 lots of the symbol");
    assert_eq!(r.check(&order(Side::Buy, 1000, 7), &at(-15, 3)).reject, None, "a short elsewhere offsets it");
    assert_eq!(r.check(&order(Side::Sell, 1000, 6), &at(-15, 4)).reject, Some(Reject::PositionLimit));
    // An order that shrinks the symbol goes, even with the symbol over the limit.
    assert_eq!(r.check(&order(Side::Sell, 1000, 1), &at(25, 6)).reject, None, "the symbol shrinks from 25 lots to 24");
    // A close at its own venue always goes, even when the venues hedge each other
    // (long 10 here, short 30 elsewhere: closing here grows the symbol's short).
    let long_here = |elsewhere, now| RiskInputs { now, elsewhere, ..inputs_with(&b, 10, OwnTop::default(), RICH) };
    let close = NewOrder { stop: Price(0), ..order(Side::Sell, 1000, 10) };
    assert_eq!(r.check(&close, &long_here(-30, 7)).reject, None, "closing needs no stop and no room");
    // Growing this venue's position while the symbol shrinks is checked here alone.
    assert_eq!(r.check(&order(Side::Buy, 1000, 4), &long_here(-30, 8)).reject, None, "14 here, symbol 16 short");
}

#[test]
fn an_instrument_with_its_own_limits_is_checked_against_them_alone() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0);
    let tight =
        InstrumentLimits { max_qty: 3, tick: 2, collar_bps: 5, max_position_notional: 4_000, ..limits().instrument };
    r.set_instrument(1, tight, 0);
    let at = |instrument: u32, side, price, qty| NewOrder {
        instrument: InstrumentId(instrument),
        ..order(side, price, qty)
    };
    let verdict = |r: &mut Risk, o: NewOrder, now| {
        r.check(&o, &RiskInputs { now, ..inputs_with(&b, 0, OwnTop::default(), RICH) })
    };
    // Instrument 0 keeps the account's: 10 lots (notional 10,000) and a 50 bps collar.
    assert_eq!(verdict(&mut r, at(0, Side::Buy, 1003, 9), 1).reject, None);
    let d = verdict(&mut r, at(1, Side::Buy, 1000, 4), 2);
    assert_eq!((d.reject, d.limit), (Some(Reject::QtyOutOfRange), 3), "instrument 1's own max size");
    let d = verdict(&mut r, at(1, Side::Buy, 1001, 3), 3);
    assert_eq!((d.reject, d.limit), (Some(Reject::OffTick), 2), "and its own tick");
    let d = verdict(&mut r, at(1, Side::Buy, 1002, 3), 4);
    assert_eq!((d.reject, d.limit), (Some(Reject::OutsideCollar), 5), "and its own collar");
    assert_eq!(verdict(&mut r, at(1, Side::Buy, 1000, 3), 5).reject, None, "inside all of them");
    let d = r.check(&at(1, Side::Buy, 1000, 2), &RiskInputs { now: 6, ..inputs_with(&b, 3, OwnTop::default(), RICH) });
    assert_eq!((d.reject, d.limit), (Some(Reject::PositionLimit), 4_000), "and its own position limit");
    assert_eq!(r.instrument(InstrumentId(1)), &tight);
    assert_eq!(r.instrument(InstrumentId(0)), &limits().instrument);
}

#[test]
fn a_venue_with_its_own_rates_throttles_at_them() {
    let b = book(999, 1001);
    let mut l = limits();
    // The account refills a token every microsecond; venue 1 one a second.
    (l.order_burst, l.orders_per_sec, l.cancels_per_sec) = (2, 1_000_000, 1_000_000);
    (l.instrument.orders_per_sec, l.instrument.cancels_per_sec) = (1_000_000, 1_000_000);
    let mut r = Risk::new(l, 0);
    r.set_venue(1, VenueRates { orders_per_sec: 1, cancels_per_sec: 1 }, 0);
    let at = |venue: usize, qty, now| {
        let o = NewOrder { instrument: InstrumentId(venue as u32), ..order(Side::Buy, 1000, qty) };
        (o, RiskInputs { now, book_ts: now, venue, ..inputs_with(&b, 0, OwnTop::default(), RICH) })
    };
    // 10 µs apart: the account's rate would have refilled every time.
    for (k, venue) in [0usize, 1].into_iter().enumerate() {
        for step in 0..3u64 {
            let now = 1 + 10_000 * (step + 3 * k as u64);
            let (o, i) = at(venue, 1 + step as i64, now);
            let d = r.check(&o, &i);
            let refused = venue == 1 && step == 2;
            assert_eq!(d.reject, refused.then_some(Reject::Throttled), "venue {venue}, order {step}");
            if refused {
                assert_eq!(d.limit, 1, "the reject names venue 1's own rate");
            }
            let cancel = r.allow_cancel(venue, InstrumentId(venue as u32), now + 1);
            assert_eq!(cancel, !refused, "venue {venue}'s cancel {step}");
        }
    }
    let (o, i) = at(1, 9, 1_100_000_000);
    assert_eq!(r.check(&o, &i).reject, None, "venue 1's next token, a second later");
}

#[test]
fn a_close_is_not_held_back_by_the_per_order_size_tick_or_notional() {
    let b = book(999, 1001);
    let mut r = Risk::new(limits(), 0);
    r.set_instrument(0, InstrumentLimits { max_qty: 3, min_qty: 2, tick: 2, ..limits().instrument }, 0);
    // A position of 12 built from orders of 3; the close takes it whole at the touch.
    let close = order(Side::Sell, 999, 12);
    let inputs = inputs_with(&b, 12, OwnTop::default(), RICH);
    assert_eq!(r.check(&close, &inputs).reject, Some(Reject::QtyOutOfRange), "a strategy's order is bounded");
    assert_eq!(r.check_flatten(&close, &inputs).reject, None, "a close is not: 12 lots, off the tick, 11,988 notional");
    let rest = order(Side::Sell, 999, 1);
    let inputs = inputs_with(&b, 1, OwnTop::default(), RICH);
    let d = r.check(&rest, &inputs);
    assert_eq!((d.reject, d.limit), (Some(Reject::QtyOutOfRange), 2), "under min-qty names min-qty");
    assert_eq!(r.check_flatten(&rest, &inputs).reject, None, "a last lot under min-qty still closes");
}

#[test]
fn notionals_of_instruments_with_different_scales_compare_in_one_money_unit() {
    // Instrument 0 at scales (2, 5), instrument 1 at (2, 4): one of 1's lots is ten of 0's.
    let (scale, money) = money_scale([(2u8, 5u8), (2, 4)].into_iter());
    assert_eq!((scale, money.clone()), (7, vec![1, 10]));
    // 10,000 quote a order, in 10^-7 units.
    let l = RiskLimits::with_quote_limits(
        7,
        0,
        QuoteLimits { order: 10_000, position: 50_000, open: 100_000, gross: 1 << 40, net: 1 << 40 },
    );
    let mut r = Risk::new(RiskLimits { instrument: InstrumentLimits { collar_bps: 10_000, ..l.instrument }, ..l }, 0);
    for (i, m) in money.iter().enumerate() {
        r.set_instrument(i, InstrumentLimits { money: *m, ..r.limits().instrument }, 0);
    }
    let b = book(299_900, 300_100); // 3,000.00 quote
    // 3 units at 3,000 = 9,000 quote: 300,000 lots at scale 5, 30,000 at scale 4.
    let at = |instrument: u32, qty, now| {
        let o = NewOrder { instrument: InstrumentId(instrument), ..order(Side::Buy, 300_000, qty) };
        (o, RiskInputs { now, ..inputs_with(&b, 0, OwnTop::default(), RICH) })
    };
    for (instrument, lots) in [(0, 300_000), (1, 30_000)] {
        let (o, i) = at(instrument, lots, 1 + u64::from(instrument));
        assert_eq!(r.check(&o, &i).reject, None, "9,000 quote passes at scale {}", 5 - instrument);
    }
    // 4 units, 12,000 quote: over the 10,000 a order at either scale.
    for (instrument, lots) in [(0, 400_000), (1, 40_000)] {
        let (o, i) = at(instrument, lots, 10 + u64::from(instrument));
        let d = r.check(&o, &i);
        assert_eq!(
            (d.reject, d.observed),
            (Some(Reject::OrderNotional), 12_000 * 10_000_000),
            "instrument {instrument}"
        );
    }
}

#[test]
fn an_instruments_cancels_have_their_own_rate_and_a_held_back_cancel_costs_no_token() {
    let mut l = limits();
    (l.order_burst, l.cancels_per_sec, l.instrument.cancels_per_sec) = (2, 1_000_000, 1_000_000);
    let mut r = Risk::new(l, 0);
    r.set_instrument(1, InstrumentLimits { cancels_per_sec: 1, ..l.instrument }, 0);
    // 10 µs apart: the venue's and instrument 0's rates refill every time.
    let at = |k: u64| 1 + 10_000 * k;
    let one: Vec<bool> = (0..3).map(|k| r.allow_cancel(0, InstrumentId(1), at(k))).collect();
    assert_eq!(one, [true, true, false], "instrument 1: a burst of 2, then 1 a second");
    assert!((3..6).all(|k| r.allow_cancel(0, InstrumentId(0), at(k))), "instrument 0 keeps the account's rate");
    assert_eq!(r.cancels_throttled(), 1);
    // Both buckets full (2 tokens each), time standing still: no refills.
    let later = 1_200_000_000;
    r.set_instrument(1, InstrumentLimits { cancels_per_sec: 1, ..l.instrument }, later);
    r.set_venue(0, VenueRates { orders_per_sec: 1_000_000, cancels_per_sec: 1 }, later);
    assert!(r.allow_cancel(0, InstrumentId(1), later) && r.allow_cancel(0, InstrumentId(0), later));
    assert!(!r.allow_cancel(0, InstrumentId(1), later), "the venue's two are spent");
    r.set_venue(0, VenueRates { orders_per_sec: 1_000_000, cancels_per_sec: 1 }, later);
    assert!(r.allow_cancel(0, InstrumentId(1), later), "instrument 1's token was given back");
    assert!(!r.allow_cancel(0, InstrumentId(1), later), "and now both of its are spent");
}

#[test]
fn an_order_for_a_venue_whose_order_entry_is_down_is_refused_without_using_a_token() {
    let b = book(999, 1001);
    let mut l = limits();
    (l.order_burst, l.orders_per_sec) = (1, 1);
    let mut r = Risk::new(l, 0);
    for state in [TradingState::Active, TradingState::ReduceOnly] {
        r.set_state(state);
        let d = r.refuse_entry_down();
        assert_eq!((d.reject, d.observed, d.probe), (Some(Reject::VenueCircuitOpen), ORDER_ENTRY_DOWN, false));
    }
    r.set_state(TradingState::Halted);
    assert_eq!(r.refuse_entry_down().reject, Some(Reject::Halted), "a halt is the reason to report first");
    assert_eq!((r.rejected(Reject::VenueCircuitOpen), r.rejected(Reject::Halted)), (2, 1));
    // None of the refusals took the one token a second allows.
    r.set_state(TradingState::Active);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 5), &b, 0, 1), None);
    assert_eq!(check(&mut r, order(Side::Buy, 1000, 4), &b, 0, 2), Some(Reject::Throttled));
}
