//! Bybit v5 public messages, written from the examples in Bybit's v5 WebSocket
//! documentation (orderbook snapshot and delta, publicTrade), and each bad-input class.

use feeds::bybit::BybitDecoder;
use feeds::decimal::DecimalError;
use feeds::event::{BookSide, Event, Side, UnixNanos, Venue};
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, DecodeErrorKind, Events};

fn decode(frame: &str) -> Result<Vec<Event>, DecodeError> {
    let mut symbols = SymbolTable::new();
    symbols.intern("BTCUSDT", 2, 3);
    let decoder = BybitDecoder::new(symbols);
    let mut out = Events::with_capacity(16);
    decoder.decode(frame.as_bytes(), UnixNanos(99), &mut out)?;
    Ok(out.as_slice().to_vec())
}

fn kind(frame: &str) -> DecodeErrorKind {
    decode(frame).unwrap_err().kind
}

/// Answers to our requests, as Bybit's documentation shows them: a successful
/// subscription and a pong carry no market data and are not errors.
#[test]
fn a_subscription_ack_and_a_pong_decode_to_nothing() {
    let ack = r#"{"success":true,"ret_msg":"","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"10001","op":"subscribe"}"#;
    assert_eq!(decode(ack).unwrap(), []);
    let pong = r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#;
    assert_eq!(decode(pong).unwrap(), []);
    let linear_pong = r#"{"req_id":"test","op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocsvfriu23r3er0-1b"}"#;
    assert_eq!(decode(linear_pong).unwrap(), []);
}

#[test]
fn an_orderbook_snapshot_from_the_docs() {
    let events = decode(
        r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16611.00","0.029"],["16612.00","0.213"]],"u":18521288,"seq":7961638724},"cts":1672304484976}"#,
    )
    .unwrap();
    let [Event::BookDelta(d)] = events[..] else { panic!("{events:?}") };
    assert!(d.is_snapshot() && d.is_last());
    assert_eq!((d.first_seq, d.last_seq, d.venue), (18521288, 18521288, Venue::Bybit as u16));
    assert_eq!(d.ts_exchange.0, 1_672_304_484_976_000_000, "the matching engine's time, cts");
    assert_eq!(d.ts_recv.0, 99);
    let levels: Vec<_> = d.levels().map(|(s, l)| (s, l.price.0, l.qty.0)).collect();
    assert_eq!(
        levels,
        [
            (BookSide::Bid, 1_649_350, 6),
            (BookSide::Bid, 1_649_300, 100),
            (BookSide::Ask, 1_661_100, 29),
            (BookSide::Ask, 1_661_200, 213)
        ]
    );
}

#[test]
fn a_delta_with_deletes_splits_into_bounded_events() {
    let events = decode(
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"s":"BTCUSDT","b":[["30247.20","30.028"],["30245.40","0.224"],["30242.20","1.593"],["30240.30","1.305"],["30240.00","0"]],"a":[["30248.70","0"],["30249.30","0.892"],["30249.50","1.778"],["30249.60","0"],["30251.90","2.947"],["30252.20","0.659"],["30252.50","4.591"]],"u":177400507,"seq":66544703342},"cts":1687940967464}"#,
    )
    .unwrap();
    assert_eq!(events.len(), 2, "12 levels: 8 + 4");
    let deltas: Vec<_> = events.iter().map(|e| if let Event::BookDelta(d) = e { *d } else { panic!() }).collect();
    assert!(!deltas[0].is_last() && deltas[1].is_last());
    assert!(deltas.iter().all(|d| !d.is_snapshot() && d.first_seq == 177400507));
    let all: Vec<_> = deltas.iter().flat_map(|d| d.levels().collect::<Vec<_>>()).collect();
    assert_eq!(all.len(), 12);
    assert_eq!((all[4].0, all[4].1.qty.0), (BookSide::Bid, 0), "size \"0\" deletes the level");
    assert_eq!((all[5].0, all[5].1.price.0), (BookSide::Ask, 3_024_870));
}

#[test]
fn u_equal_to_one_replaces_the_book() {
    let events = decode(
        r#"{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1.00","1"]],"a":[["2.00","1"]],"u":1,"seq":5},"cts":1}"#,
    )
    .unwrap();
    let Event::BookDelta(d) = events[0] else { panic!() };
    assert!(d.is_snapshot(), "Bybit resends the whole book with u = 1 after a restart");
}

#[test]
fn public_trades_from_the_docs() {
    let events = decode(
        r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false},{"T":1672304486866,"s":"BTCUSDT","S":"Sell","v":"0.250","p":"16578.00","L":"MinusTick","i":"2290000000061666327","BT":false}]}"#,
    )
    .unwrap();
    let [Event::Trade(a), Event::Trade(b)] = events[..] else { panic!("{events:?}") };
    assert_eq!((a.price.0, a.qty.0, a.aggressor()), (1_657_850, 1, Some(Side::Buy)));
    assert_eq!(a.ts_exchange.0, 1_672_304_486_865_000_000);
    assert_ne!(a.trade_id, 0, "a UUID trade id is hashed, not dropped");
    assert_eq!((b.price.0, b.qty.0, b.aggressor()), (1_657_800, 250, Some(Side::Sell)));
    assert_eq!(b.trade_id, 2_290_000_000_061_666_327, "spot's numeric ids are kept");
}

#[test]
fn bad_input_is_a_typed_error_and_nothing_half_decoded() {
    let refused =
        r#"{"success":false,"ret_msg":"error:handler not found","conn_id":"abc","req_id":"","op":"subscribe"}"#;
    assert_eq!(kind(refused), DecodeErrorKind::Refused);
    assert_eq!(kind(r#"{"conn_id":"abc","req_id":""}"#), DecodeErrorKind::UnknownMessage, "neither data nor an answer");
    let book = |b: &str, u: &str| {
        format!(
            r#"{{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{{"s":"BTCUSDT","b":[{b}],"a":[],{u}"seq":1}},"cts":1}}"#
        )
    };
    assert_eq!(kind(&book(r#"["1.00","1"]"#, "")), DecodeErrorKind::MissingField { field: "u" });
    assert!(matches!(kind(&book(r#"["NaN","1"]"#, r#""u":2,"#)), DecodeErrorKind::BadDecimal { field: "b", .. }));
    assert_eq!(kind(&book(r#"["1.00","-1"]"#, r#""u":2,"#)), DecodeErrorKind::Negative { field: "b" });
    assert_eq!(
        kind(&book(r#"["1.001","1"]"#, r#""u":2,"#)),
        DecodeErrorKind::BadDecimal { field: "b", error: DecimalError::TooManyDecimals { scale: 2 } }
    );
    assert_eq!(
        kind(
            r#"{"topic":"orderbook.50.ETHUSDT","type":"delta","ts":1,"data":{"s":"ETHUSDT","b":[],"a":[],"u":2},"cts":1}"#
        ),
        DecodeErrorKind::UnknownSymbol
    );
    let trade = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"1.00","i":"7"},{"T":1,"s":"BTCUSDT","S":"Hold","v":"1","p":"1.00","i":"8"}]}"#;
    assert_eq!(kind(trade), DecodeErrorKind::BadField { field: "S", expected: "Buy or Sell" });
    let zero = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"0","p":"1.00","i":"7"}]}"#;
    assert_eq!(kind(zero), DecodeErrorKind::NotPositive { field: "v" });
    assert_eq!(kind(r#"{"topic":"publicTrade.BTCUSDT","data":[{"T":1"#), DecodeErrorKind::UnexpectedEnd);
}
