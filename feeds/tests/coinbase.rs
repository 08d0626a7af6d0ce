//! Coinbase Exchange messages from the examples in Coinbase's WebSocket feed
//! documentation (ticker, match, level2 snapshot and l2update) and each bad-input class.

use feeds::coinbase::CoinbaseDecoder;
use feeds::event::{BookSide, Event, Side, UnixNanos, Venue};
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, DecodeErrorKind, Events};

fn decode(frame: &str) -> Result<Vec<Event>, DecodeError> {
    let mut symbols = SymbolTable::new();
    symbols.intern("ETH-USD", 2, 8);
    symbols.intern("BTC-USD", 2, 8);
    let mut out = Events::with_capacity(16);
    CoinbaseDecoder::new(symbols).decode(frame.as_bytes(), UnixNanos(4), &mut out)?;
    Ok(out.as_slice().to_vec())
}

#[test]
fn a_ticker_is_a_best_bid_and_offer() {
    let events = decode(
        r#"{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}"#,
    )
    .unwrap();
    let [Event::Bbo(b)] = events[..] else { panic!("{events:?}") };
    assert_eq!(
        (b.update_id, b.bid.0, b.bid_qty.0, b.ask.0, b.ask_qty.0),
        (37_475_248_783, 128_504, 46_688_654, 128_527, 156_637_040)
    );
    assert_eq!((b.venue, b.ts_exchange.0), (Venue::Coinbase as u16, 1_666_222_102_061_769_000));
}

#[test]
fn a_match_is_a_trade_taken_by_the_side_opposite_the_maker() {
    let events = decode(
        r#"{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#,
    )
    .unwrap();
    let [Event::Trade(t)] = events[..] else { panic!("{events:?}") };
    assert_eq!((t.trade_id, t.price.0, t.qty.0), (10, 40_023, 523_512_000));
    assert_eq!(t.aggressor(), Some(Side::Buy), "the maker sold, so the taker bought");
    assert_eq!(t.ts_exchange.0, 1_415_348_367_028_459_000);
}

#[test]
fn level2_snapshot_and_update() {
    let events = decode(
        r#"{"type":"snapshot","product_id":"BTC-USD","bids":[["10101.10","0.45054140"]],"asks":[["10102.55","0.57753524"]]}"#,
    )
    .unwrap();
    let [Event::BookDelta(d)] = events[..] else { panic!("{events:?}") };
    assert!(d.is_snapshot() && d.is_last());
    let levels: Vec<_> = d.levels().map(|(s, l)| (s, l.price.0, l.qty.0)).collect();
    assert_eq!(levels, [(BookSide::Bid, 1_010_110, 45_054_140), (BookSide::Ask, 1_010_255, 57_753_524)]);

    let events = decode(
        r#"{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80000000","0.162567"],["sell","10102.55","0"]]}"#,
    )
    .unwrap();
    let [Event::BookDelta(d)] = events[..] else { panic!("{events:?}") };
    assert!(!d.is_snapshot() && d.is_last());
    assert_eq!(d.ts_exchange.0, 1_565_815_347_265_000_000);
    let levels: Vec<_> = d.levels().map(|(s, l)| (s, l.price.0, l.qty.0)).collect();
    assert_eq!(levels, [(BookSide::Bid, 1_010_180, 16_256_700), (BookSide::Ask, 1_010_255, 0)]);
}

#[test]
fn bad_input_is_a_typed_error() {
    let kind = |f: &str| decode(f).unwrap_err().kind;
    // The subscription's confirmation and a heartbeat are nothing to decode; an
    // `error` (a refused subscription) is reported as a refusal.
    for nothing in [
        r#"{"type":"subscriptions","channels":[{"name":"level2","product_ids":["BTC-USD"]}]}"#,
        r#"{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}"#,
    ] {
        assert_eq!(decode(nothing).map(|e| e.len()), Ok(0), "{nothing}");
    }
    assert_eq!(
        kind(r#"{"type":"error","message":"Failed to subscribe","reason":"ETH-USDX is not a valid product"}"#),
        DecodeErrorKind::Refused
    );
    assert_eq!(kind(r#"{"type":"status","products":[]}"#), DecodeErrorKind::UnknownMessage);
    assert_eq!(kind(r#"{"type":"match","product_id":"DOGE-USD"}"#), DecodeErrorKind::UnknownSymbol);
    let m = |size: &str, side: &str, time: &str| {
        format!(
            r#"{{"type":"match","trade_id":1,"time":"{time}","product_id":"BTC-USD","size":"{size}","price":"400.23","side":"{side}"}}"#
        )
    };
    assert_eq!(kind(&m("0", "sell", "2014-11-07T08:19:27Z")), DecodeErrorKind::NotPositive { field: "size" });
    assert!(matches!(
        kind(&m("1.123456789", "sell", "2014-11-07T08:19:27Z")),
        DecodeErrorKind::BadDecimal { field: "size", .. }
    ));
    assert_eq!(
        kind(&m("1", "both", "2014-11-07T08:19:27Z")),
        DecodeErrorKind::BadField { field: "side", expected: "buy or sell" }
    );
    assert!(matches!(kind(&m("1", "sell", "noon")), DecodeErrorKind::BadField { field: "time", .. }));
    assert_eq!(
        kind(r#"{"type":"l2update","product_id":"BTC-USD","changes":[["hold","1.00","1"]]}"#),
        DecodeErrorKind::BadField { field: "changes", expected: "buy or sell" }
    );
    assert_eq!(
        kind(r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.00","-1"]]}"#),
        DecodeErrorKind::Negative { field: "size" }
    );
}
