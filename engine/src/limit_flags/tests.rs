use super::*;
use crate::risk::QuoteLimits;

fn account() -> RiskLimits {
    RiskLimits::with_quote_limits(
        7,
        0,
        QuoteLimits { order: 10_000, position: 50_000, open: 100_000, gross: 200_000, net: 100_000 },
    )
}

fn flags(list: &[&str]) -> Vec<LimitFlag> {
    list.iter().map(|f| parse_limit(f).unwrap()).collect()
}

fn symbols() -> Vec<String> {
    vec!["BTCUSDT".into(), "ETHUSDT".into()]
}

const SCALES: [(u8, u8); 2] = [(2, 5), (2, 4)];

#[test]
fn the_most_specific_scope_wins_whatever_the_order_of_the_flags() {
    let f = flags(&[
        "BTCUSDT@1:collar-bps=5",
        "BTCUSDT:collar-bps=20,max-qty=0.5",
        "@1:collar-bps=30,orders-per-sec=100,cancels-per-sec=50",
        "ETHUSDT:max-order-notional=2500.5,tick=0.05",
    ]);
    let r = resolve(&f, &symbols(), &SCALES, 2, &account(), 7).unwrap();
    let collar: Vec<i64> = r.instruments.iter().map(|l| l.collar_bps).collect();
    // ids: BTC@0, ETH@0, BTC@1, ETH@1.
    assert_eq!(collar, [20, 50, 5, 30], "symbol@venue over symbol over venue over account");
    assert_eq!(r.instruments[0].max_qty, 50_000, "0.5 at BTC's size scale (5)");
    assert_eq!(r.instruments[2].max_qty, 50_000, "a symbol's limit holds at every venue");
    assert_eq!(r.instruments[1].max_qty, i64::MAX);
    assert_eq!(r.instruments[1].max_order_notional, 25_005_000_000, "2500.5 quote at the money scale (7)");
    assert_eq!(r.instruments[3].tick, 5, "0.05 at ETH's price scale (2)");
    assert_eq!(r.instruments[0].max_order_notional, account().instrument.max_order_notional);
    assert_eq!(r.venues[0], account().venue());
    assert_eq!(r.venues[1], VenueRates { orders_per_sec: 100, cancels_per_sec: 50 });
}

#[test]
fn a_later_flag_on_the_same_scope_wins_and_restricted_can_be_lifted() {
    let mut a = account();
    a.restricted = 0b1111; // --restricted BTCUSDT,ETHUSDT
    let f = flags(&[
        "ETHUSDT:restricted=false",
        "ETHUSDT@1:restricted=true",
        "BTCUSDT:collar-bps=10",
        "BTCUSDT:collar-bps=12",
    ]);
    let r = resolve(&f, &symbols(), &SCALES, 2, &a, 7).unwrap();
    assert_eq!(r.restricted, 0b1101, "ETH@0 lifted, ETH@1 kept");
    assert_eq!(r.instruments[0].collar_bps, 12);
}

#[test]
fn no_flags_leave_every_instrument_and_venue_at_the_accounts() {
    let r = resolve(&[], &symbols(), &SCALES, 3, &account(), 7).unwrap();
    assert_eq!(r.instruments, vec![account().instrument; 6]);
    assert_eq!(r.venues, vec![account().venue(); 3]);
}

#[test]
fn bad_limits_are_refused_with_the_flag_named() {
    let syntax = [
        ("BTCUSDT", "expected SCOPE:KEY=VALUE"),
        ("BTC-USDT:collar-bps=5", "not a venue symbol"),
        ("@x:orders-per-sec=5", "a venue is its number"),
        ("BTCUSDT:collar=5", "unknown limit `collar`: one of max-order-notional"),
        ("BTCUSDT:collar-bps", "expected KEY=VALUE"),
        ("BTCUSDT@0:orders-per-sec=5", "is a venue's rate"),
    ];
    for (text, expected) in syntax {
        let e = parse_limit(text).unwrap_err();
        assert!(e.contains(expected), "{text}: {e}");
    }
    let values = [
        ("SOLUSDT:collar-bps=5", "SOLUSDT is not one of --symbols BTCUSDT,ETHUSDT"),
        ("@2:collar-bps=5", "no venue @2 (the run has @0 to @1)"),
        ("BTCUSDT:collar-bps=0", "collar-bps=0: expected a whole number of basis points, 1 to 10000"),
        ("BTCUSDT:max-stop-distance-bps=10001", "0 to 10000"),
        ("ETHUSDT:max-qty=0.00001", "expected a size over 0 with at most 4 decimals"),
        ("BTCUSDT:tick=-1", "expected a price over 0"),
        ("BTCUSDT:max-order-notional=NaN", "expected an amount over 0"),
        ("BTCUSDT:max-reference-age=soon", "expected a number and a unit"),
        ("BTCUSDT:restricted=yes", "expected true or false"),
        ("@1:orders-per-sec=0", "orders-per-sec=0: expected a whole number over 0"),
        ("BTCUSDT:instrument-orders-per-sec=-1", "expected a whole number over 0"),
        (
            "BTCUSDT:min-qty=2,max-qty=1",
            "for BTCUSDT at venue @0: the flags leave min-qty (200000 lots) over max-qty (100000 lots)",
        ),
    ];
    for (text, expected) in values {
        let e = resolve(&flags(&[text]), &symbols(), &SCALES, 2, &account(), 7).unwrap_err();
        assert!(e.starts_with("--limit ") && e.contains(expected), "{text}: {e}");
    }
    // Nine venues: rates hold for @0 to @7, the rest share @7's.
    let e = resolve(&flags(&["@8:orders-per-sec=5"]), &symbols(), &SCALES, 9, &account(), 7).unwrap_err();
    assert!(e.contains("venues @7 and up share @7's rates"), "{e}");
    let r = resolve(&flags(&["@8:collar-bps=5"]), &symbols(), &SCALES, 9, &account(), 7).unwrap();
    assert_eq!(r.instruments[16].collar_bps, 5, "an instrument limit at venue 8 holds");
}
