//! Binance spot decoding, from the documented example messages
//! (binance-spot-api-docs, web-socket-streams.md) and every class of bad input.

use feeds::binance::BinanceDecoder;
use feeds::decimal::DecimalError;
use feeds::event::{BookSide, Event, InstrumentId, Level, Price, Qty, Side, UnixNanos, Venue};
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, DecodeErrorKind, Events};

const RECV: UnixNanos = UnixNanos(1_700_000_000_123_456_789);

fn decoder() -> BinanceDecoder {
    let mut symbols = SymbolTable::new();
    symbols.intern("BNBBTC", 8, 8);
    symbols.intern("BNBUSDT", 8, 8);
    BinanceDecoder::new(symbols)
}

fn decode(frame: &str) -> Result<Vec<Event>, DecodeError> {
    let mut out = Events::with_capacity(64);
    decoder().decode(frame.as_bytes(), RECV, &mut out)?;
    Ok(out.as_slice().to_vec())
}

fn error(frame: &str) -> DecodeError {
    decode(frame).unwrap_err()
}

const TRADE: &str = r#"{
  "e": "trade",
  "E": 1672515782136,
  "s": "BNBBTC",
  "t": 12345,
  "p": "0.001",
  "q": "100",
  "T": 1672515782136,
  "m": true,
  "M": true
}"#;

#[test]
fn documented_trade() {
    let [Event::Trade(t)] = decode(TRADE).unwrap()[..] else { panic!("one trade") };
    assert_eq!(t.venue, Venue::Binance as u16);
    assert_eq!(t.instrument, InstrumentId(0));
    assert_eq!(t.trade_id, 12345);
    assert_eq!(t.price, Price(100_000));
    assert_eq!(t.qty, Qty(10_000_000_000));
    assert_eq!(t.ts_exchange, UnixNanos(1_672_515_782_136_000_000));
    assert_eq!(t.ts_recv, RECV);
    assert_eq!(t.aggressor(), Some(Side::Sell), "buyer was maker: the seller took");
}

#[test]
fn documented_agg_trade() {
    let frame = r#"{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":false,"M":true}"#;
    let [Event::Trade(t)] = decode(frame).unwrap()[..] else { panic!("one trade") };
    assert_eq!(t.trade_id, 12345);
    assert_eq!(t.aggressor(), Some(Side::Buy));
    assert_eq!(t.price, Price(100_000));
}

#[test]
fn documented_book_ticker() {
    let frame =
        r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
    let [Event::Bbo(b)] = decode(frame).unwrap()[..] else { panic!("one bbo") };
    assert_eq!(b.instrument, InstrumentId(1));
    assert_eq!(b.update_id, 400_900_217);
    assert_eq!((b.bid, b.bid_qty), (Price(2_535_190_000), Qty(3_121_000_000)));
    assert_eq!((b.ask, b.ask_qty), (Price(2_536_520_000), Qty(4_066_000_000)));
    assert_eq!(b.ts_exchange, UnixNanos(0), "spot bookTicker carries no time");
}

#[test]
fn documented_depth_update_and_combined_stream_wrapper() {
    let depth = r#"{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"],["0.0027","0.00000000"]]}"#;
    let wrapped = format!(r#"{{"stream":"bnbbtc@depth","data":{depth}}}"#);
    for frame in [depth.to_owned(), wrapped] {
        let [Event::BookDelta(d)] = decode(&frame).unwrap()[..] else { panic!("one delta") };
        assert_eq!((d.first_seq, d.last_seq), (157, 160));
        assert_eq!(d.ts_exchange, UnixNanos(1_672_515_782_136_000_000));
        assert!(d.is_last() && !d.is_snapshot());
        let levels: Vec<(BookSide, Level)> = d.levels().collect();
        assert_eq!(
            levels,
            [
                (BookSide::Bid, Level { price: Price(240_000), qty: Qty(1_000_000_000) }),
                (BookSide::Ask, Level { price: Price(260_000), qty: Qty(10_000_000_000) }),
                (BookSide::Ask, Level { price: Price(270_000), qty: Qty(0) }),
            ]
        );
    }
}

#[test]
fn long_depth_updates_split_with_last_on_the_final_event() {
    let bids: Vec<String> = (1..=13).map(|i| format!(r#"["0.{i:04}","1"]"#)).collect();
    let asks: Vec<String> = (1..=6).map(|i| format!(r#"["1.{i:04}","2"]"#)).collect();
    let frame = format!(
        r#"{{"e":"depthUpdate","E":1,"s":"BNBBTC","U":1,"u":2,"b":[{}],"a":[{}]}}"#,
        bids.join(","),
        asks.join(",")
    );
    let events = decode(&frame).unwrap();
    assert_eq!(events.len(), 3, "19 levels in events of 8");
    let mut total = 0;
    for (i, e) in events.iter().enumerate() {
        let Event::BookDelta(d) = e else { panic!("deltas only") };
        assert_eq!(d.is_last(), i == 2);
        total += d.len();
    }
    assert_eq!(total, 19);
}

#[test]
fn malformed_frames_give_offsets() {
    let e = error(r#"{"e":"trade","s":"BNBBTC" "t":1}"#);
    assert_eq!(e, DecodeError { offset: 26, kind: DecodeErrorKind::Unexpected { expected: "',' or '}'", found: '"' } });
    assert_eq!(error(r#"{"e" "trade"}"#).kind, DecodeErrorKind::Unexpected { expected: "':'", found: '"' });
    assert_eq!(error(r#"{"e":"trade""#).kind, DecodeErrorKind::UnexpectedEnd);
    assert_eq!(error(r#"{"e":"tra"#).kind, DecodeErrorKind::UnexpectedEnd);
    assert_eq!(error(&format!("{TRADE} x")).kind, DecodeErrorKind::TrailingData);
    assert_eq!(error("").kind, DecodeErrorKind::UnexpectedEnd);
    assert_eq!(error("[]").kind, DecodeErrorKind::Unexpected { expected: "'{'", found: '[' });
}

#[test]
fn bad_values_are_named() {
    let with =
        |field: &str, value: &str| {
            let frame = TRADE
                .replacen(&format!("\"{field}\": \"0.001\""), &format!("\"{field}\": {value}"), 1)
                .replacen(&format!("\"{field}\": \"100\""), &format!("\"{field}\": {value}"), 1);
            error(&frame).kind
        };
    assert_eq!(with("p", "\"NaN\""), DecodeErrorKind::BadDecimal { field: "p", error: DecimalError::NotFinite });
    assert_eq!(
        with("p", "\"0.000000001\""),
        DecodeErrorKind::BadDecimal { field: "p", error: DecimalError::TooManyDecimals { scale: 8 } }
    );
    assert_eq!(with("p", "\"-0.001\""), DecodeErrorKind::Negative { field: "p" });
    assert_eq!(with("q", "\"0.00000000\""), DecodeErrorKind::NotPositive { field: "q" });
    assert_eq!(
        with("q", "\"1e3\""),
        DecodeErrorKind::BadDecimal { field: "q", error: DecimalError::InvalidChar { found: 'e' } }
    );
    assert_eq!(error(&TRADE.replace("BNBBTC", "DOGEBTC")).kind, DecodeErrorKind::UnknownSymbol);
    assert_eq!(error(&TRADE.replace("\"t\": 12345,", "")).kind, DecodeErrorKind::MissingField { field: "t" });
    assert_eq!(
        error(&TRADE.replace("12345", "\"x\"")).kind,
        DecodeErrorKind::BadField { field: "t", expected: "unsigned integer" }
    );
    assert_eq!(
        error(&TRADE.replace("\"m\": true", "\"m\": 1")).kind,
        DecodeErrorKind::BadField { field: "m", expected: "boolean" }
    );
    assert_eq!(error(r#"{"result":null,"id":1}"#).kind, DecodeErrorKind::UnknownMessage);
    assert_eq!(
        error(&TRADE.replace("1672515782136,\n  \"m\"", "99999999999999999,\n  \"m\"")).kind,
        DecodeErrorKind::BadField { field: "T", expected: "millisecond timestamp" }
    );
}

#[test]
fn a_full_buffer_leaves_it_as_it_was() {
    let d = decoder();
    let mut out = Events::with_capacity(2);
    d.decode(TRADE.as_bytes(), RECV, &mut out).unwrap();
    let frame = r#"{"e":"depthUpdate","E":1,"s":"BNBBTC","U":1,"u":2,"b":[["1","1"],["2","1"],["3","1"],["4","1"],["5","1"],["6","1"],["7","1"],["8","1"],["9","1"]],"a":[]}"#;
    let err = d.decode(frame.as_bytes(), RECV, &mut out).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::BufferFull);
    assert_eq!(out.len(), 1, "the partial depth update was rolled back");
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    const FRAMES: [&str; 3] = [
        TRADE,
        r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
        r#"{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}}"#,
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Corrupted, truncated or spliced venue frames decode or fail cleanly.
        #[test]
        fn on_mutated_frames(which in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6), cut in any::<prop::sample::Index>()) {
            let mut frame = FRAMES[which].as_bytes().to_vec();
            for (at, byte) in edits {
                let i = at.index(frame.len());
                frame[i] = byte;
            }
            frame.truncate(cut.index(frame.len() + 1));
            let mut out = Events::with_capacity(8);
            let before = out.len();
            if decoder().decode(&frame, RECV, &mut out).is_err() {
                prop_assert_eq!(out.len(), before);
            }
        }

        #[test]
        fn on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let mut out = Events::with_capacity(8);
            let _ = decoder().decode(&bytes, RECV, &mut out);
        }
    }
}

#[test]
fn any_field_order_decodes_the_same() {
    let in_order =
        r#"{"e":"depthUpdate","E":5,"s":"BNBBTC","U":1,"u":2,"b":[["1.5","1"],["1.4","2"]],"a":[["1.6","3"]]}"#;
    let shuffled =
        r#"{"a":[["1.6","3"]],"u":2,"b":[["1.5","1"],["1.4","2"]],"E":5,"U":1,"s":"BNBBTC","e":"depthUpdate"}"#;
    assert_eq!(decode(in_order).unwrap(), decode(shuffled).unwrap());
    let trade_last_symbol = r#"{"p":"0.001","q":"100","T":1672515782136,"m":true,"t":12345,"e":"trade","s":"BNBBTC"}"#;
    assert_eq!(
        decode(trade_last_symbol).unwrap(),
        decode(TRADE)
            .unwrap()
            .iter()
            .map(|e| {
                let Event::Trade(t) = e else { panic!() };
                Event::Trade(*t)
            })
            .collect::<Vec<_>>()
    );
    // A bad price found late still names its field and byte.
    let late_bad = r#"{"p":"0.0000000001","q":"100","T":1,"m":true,"t":1,"e":"trade","s":"BNBBTC"}"#;
    assert_eq!(
        error(late_bad),
        DecodeError {
            offset: 5,
            kind: DecodeErrorKind::BadDecimal { field: "p", error: DecimalError::TooManyDecimals { scale: 8 } }
        }
    );
}

#[test]
fn older_trade_messages_with_order_ids_still_decode() {
    // The 2023 docs listed buyer and seller order ids as "b" and "a" numbers.
    let frame = TRADE.replace("\"M\": true", "\"M\": true, \"b\": 88, \"a\": 50");
    let [Event::Trade(t)] = decode(&frame).unwrap()[..] else { panic!("one trade") };
    assert_eq!(t.trade_id, 12345);
}

#[test]
fn a_repeated_field_is_refused_not_silently_overwritten() {
    let two_symbols = r#"{"e":"trade","E":1,"s":"BNBUSDT","t":1,"p":"1","q":"1","T":1,"m":true,"s":"BNBBTC"}"#;
    assert_eq!(error(two_symbols), DecodeError { offset: 74, kind: DecodeErrorKind::DuplicateField { field: "s" } });
    let two_bids = r#"{"e":"depthUpdate","E":1,"U":1,"u":2,"b":[["1","1"]],"s":"BNBBTC","b":[["2","1"]],"a":[]}"#;
    assert_eq!(error(two_bids).kind, DecodeErrorKind::DuplicateField { field: "b" });
    // Level arrays in a trade are refused wherever they stand.
    for frame in [
        r#"{"e":"trade","b":[],"s":"BNBBTC","t":1,"p":"1","q":"1","T":1,"m":true}"#,
        r#"{"e":"trade","s":"BNBBTC","t":1,"p":"1","q":"1","T":1,"m":true,"b":[]}"#,
    ] {
        assert_eq!(error(frame).kind, DecodeErrorKind::UnknownMessage, "{frame}");
    }
}

/// Binance's "Partial Book Depth Streams" payload, inside the combined-stream wrapper
/// (the stream name carries the symbol, in lower case): one snapshot update.
#[test]
fn partial_depth_in_a_combined_stream_is_a_snapshot() {
    let mut symbols = SymbolTable::new();
    symbols.intern("BNBBTC", 8, 8);
    let decoder = BinanceDecoder::new(symbols);
    let mut out = Events::with_capacity(16);
    let frame =
        br#"{"stream":"bnbbtc@depth5","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}}"#;
    assert_eq!(decoder.decode(frame, UnixNanos(3), &mut out), Ok(1));
    let Event::BookDelta(d) = out.as_slice()[0] else { panic!("{:?}", out.as_slice()) };
    assert!(d.is_snapshot() && d.is_last());
    assert_eq!((d.first_seq, d.last_seq), (160, 160));
    let levels: Vec<_> = d.levels().map(|(side, l)| (side, l.price.0, l.qty.0)).collect();
    assert_eq!(levels, [(BookSide::Bid, 240_000, 1_000_000_000), (BookSide::Ask, 260_000, 10_000_000_000)]);

    // Without the wrapper the payload names no symbol.
    out.clear();
    let raw = br#"{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[]}"#;
    let err = decoder.decode(raw, UnixNanos(3), &mut out).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::MissingField { field: "s" });
    // A snapshot missing a side is refused, not half-applied.
    let half = br#"{"stream":"bnbbtc@depth5","data":{"lastUpdateId":161,"bids":[["0.0024","10"]]}}"#;
    let err = decoder.decode(half, UnixNanos(3), &mut out).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::MissingField { field: "asks" });
    assert!(out.is_empty());
}

/// A documented-layout trade is read by a literal-matching fast path; the same frame
/// with a leading space goes the general way. Both must agree on every frame, valid
/// or not: the same trade, or an error of the same kind.
#[test]
fn documented_trades_decode_as_the_general_path_does() {
    let mut symbols = SymbolTable::new();
    symbols.intern("BNBBTC", 8, 8);
    symbols.intern("BTCUSDT", 2, 6);
    let decoder = BinanceDecoder::new(symbols);
    let prices =
        ["25.35190000", "0.001", "1", "0.00000000", "-1.5", "1e3", "0.123456789", "9223372036854.77580", "2.", ""];
    let ids = ["12345", "0", "18446744073709551615", "18446744073709551616", "-1", "1.5"];
    let times = ["1672515782136", "18446744073709551615", "x"];
    let symbols = ["BNBBTC", "BTCUSDT", "ETHBTC", "BNB\\u0042TC"];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut pick = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // The first (valid) choice most of the time, so valid frames are common.
        if seed % 10 < 7 { 0 } else { ((seed >> 8) % n as u64) as usize }
    };
    let mut fast_ok = 0;
    for _ in 0..5_000 {
        let frame = format!(
            r#"{{"e":"trade","E":{},"s":"{}","t":{},"p":"{}","q":"{}","T":{},"m":{},"M":{}}}"#,
            times[pick(times.len())],
            symbols[pick(symbols.len())],
            ids[pick(ids.len())],
            prices[pick(prices.len())],
            prices[pick(prices.len())],
            times[pick(times.len())],
            ["true", "false", "1"][pick(3)],
            ["true", "false"][pick(2)],
        );
        let decode = |text: &str| {
            let mut out = Events::with_capacity(4);
            decoder.decode(text.as_bytes(), UnixNanos(9), &mut out).map(|_| out.as_slice().to_vec()).map_err(|e| e.kind)
        };
        let (fast, general) = (decode(&frame), decode(&format!(" {frame}")));
        assert_eq!(fast, general, "{frame}");
        fast_ok += usize::from(fast.is_ok());
    }
    assert!(fast_ok > 500, "the valid frames were exercised too: {fast_ok}");
}
