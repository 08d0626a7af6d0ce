//! Kraken v2 public messages from the examples in Kraken's v2 WebSocket
//! documentation (book snapshot and update, trade), with prices and sizes as JSON
//! numbers converted exactly, and each bad-input class.

use feeds::event::{BookSide, Event, Side, UnixNanos, Venue};
use feeds::kraken::KrakenDecoder;
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, DecodeErrorKind, Events};

fn decode(frame: &str) -> Result<Vec<Event>, DecodeError> {
    let mut symbols = SymbolTable::new();
    symbols.intern("MATIC/USD", 4, 8);
    let mut out = Events::with_capacity(16);
    KrakenDecoder::new(symbols).decode(frame.as_bytes(), UnixNanos(3), &mut out)?;
    Ok(out.as_slice().to_vec())
}

#[test]
fn a_book_snapshot_and_update_from_the_docs() {
    let events = decode(
        r#"{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739}],"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487}],"checksum":2439117997}]}"#,
    )
    .unwrap();
    let [Event::BookDelta(d)] = events[..] else { panic!("{events:?}") };
    assert!(d.is_snapshot() && d.is_last() && d.venue == Venue::Kraken as u16);
    assert_eq!((d.first_seq, d.last_seq), (0, 0), "Kraken books carry no sequence");
    let levels: Vec<_> = d.levels().map(|(s, l)| (s, l.price.0, l.qty.0)).collect();
    assert_eq!(levels[0], (BookSide::Bid, 5_666, 483_175_496_356), "JSON numbers converted exactly");
    assert_eq!(levels[3], (BookSide::Ask, 5_669, 465_540_412_487));

    let events = decode(
        r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[{"price":0.5668,"qty":0.00000000}],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#,
    )
    .unwrap();
    let [Event::BookDelta(d)] = events[..] else { panic!("{events:?}") };
    assert!(!d.is_snapshot());
    assert_eq!(d.ts_exchange.0, 1_696_613_755_440_295_000);
    assert_eq!(d.levels().nth(1).map(|(s, l)| (s, l.qty.0)), Some((BookSide::Ask, 0)), "qty 0 deletes");
}

#[test]
fn a_trade_from_the_docs() {
    let events = decode(
        r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell","price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#,
    )
    .unwrap();
    let [Event::Trade(t)] = events[..] else { panic!("{events:?}") };
    assert_eq!((t.trade_id, t.price.0, t.qty.0, t.aggressor()), (4_665_906, 5_117, 4_000_000_000, Some(Side::Sell)));
    assert_eq!(t.ts_exchange.0, 1_695_628_177_708_706_000);
}

#[test]
fn bad_input_is_a_typed_error() {
    let kind = |f: &str| decode(f).unwrap_err().kind;
    // A heartbeat, the status channel and a request's successful answer are nothing
    // to decode; a failed answer (a refused subscription) is a refusal.
    for nothing in [
        r#"{"channel":"heartbeat"}"#,
        r#"{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":1}]}"#,
        r#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"MATIC/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}"#,
        r#"{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}"#,
    ] {
        assert_eq!(decode(nothing).map(|e| e.len()), Ok(0), "{nothing}");
    }
    assert_eq!(
        kind(
            r#"{"error":"Already subscribed","method":"subscribe","req_id":1,"success":false,"symbol":"MATIC/USD","time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}"#
        ),
        DecodeErrorKind::Refused
    );
    assert_eq!(kind(r#"{"channel":"ticker","type":"update","data":[]}"#), DecodeErrorKind::UnknownMessage);
    let trade = |price: &str, ts: &str| {
        format!(
            r#"{{"channel":"trade","type":"update","data":[{{"symbol":"MATIC/USD","side":"buy","price":{price},"qty":1,"trade_id":1,"timestamp":"{ts}"}}]}}"#
        )
    };
    assert!(matches!(
        kind(&trade("0.51171", "2023-09-25T07:49:37Z")),
        DecodeErrorKind::BadDecimal { field: "price", .. }
    ));
    assert_eq!(kind(&trade("-0.5", "2023-09-25T07:49:37Z")), DecodeErrorKind::Negative { field: "price" });
    assert!(matches!(kind(&trade("0.5", "yesterday")), DecodeErrorKind::BadField { field: "timestamp", .. }));
    assert_eq!(
        kind(r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[]}]}"#),
        DecodeErrorKind::UnknownSymbol
    );
}

/// The checksum rides on the update's last delta. Kraken's documented example
/// messages are trimmed to a few levels, so their checksums (of the full book) do not
/// match them; this one carries the CRC32 of its own levels under Kraken's rules,
/// computed apart (zlib), and the book built from it gives the same value.
#[test]
fn the_checksum_sent_matches_the_book_built() {
    let frame = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739}],"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487}],"checksum":3588693387}]}"#;
    let events = decode(frame).unwrap();
    let [Event::BookDelta(d)] = events[..] else { panic!("{events:?}") };
    assert_eq!(d.checksum(), Some(3_588_693_387));
    let mut book = feeds::book::Book::with_depth(25);
    book.apply(&d).unwrap();
    assert_eq!(feeds::checksum::kraken(&book, (4, 8), (4, 8)), Some(3_588_693_387));
    let e = decode(&frame.replace("3588693387", "4294967296")).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::BadField { field: "checksum", .. }), "{e:?}");
}
