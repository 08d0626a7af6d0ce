//! OKX v5 public messages from the examples in OKX's v5 WebSocket documentation
//! (books snapshot, trades), the sequence chain, and each bad-input class.

use feeds::event::{BookSide, Event, Side, UnixNanos, Venue};
use feeds::okx::OkxDecoder;
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, DecodeErrorKind, Events};

fn decode(frame: &str) -> Result<Vec<Event>, DecodeError> {
    let mut symbols = SymbolTable::new();
    symbols.intern("BTC-USDT", 2, 8);
    let mut out = Events::with_capacity(16);
    OkxDecoder::new(symbols).decode(frame.as_bytes(), UnixNanos(5), &mut out)?;
    Ok(out.as_slice().to_vec())
}

#[test]
fn a_books_snapshot_from_the_docs() {
    let events = decode(
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"],["8477","7","0","2"],["8477.34","85","0","1"],["8477.56","1","0","1"],["8505.84","8","0","1"],["8506.37","85","0","1"],["8506.49","2","0","1"],["8506.96","100","0","2"]],"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"],["8475.54","100","0","1"],["8475.3","1","0","1"],["8447.32","6","0","1"],["8447.02","246","0","1"],["8446.83","24","0","1"],["8446","95","0","3"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}"#,
    )
    .unwrap();
    assert_eq!(events.len(), 2, "16 levels in two bounded events");
    let deltas: Vec<_> = events.iter().map(|e| if let Event::BookDelta(d) = e { *d } else { panic!() }).collect();
    assert!(deltas.iter().all(|d| d.is_snapshot() && d.venue == Venue::Okx as u16));
    assert!(!deltas[0].is_last() && deltas[1].is_last());
    assert_eq!((deltas[0].first_seq, deltas[0].last_seq), (0, 123456), "prevSeqId -1 becomes 0");
    assert_eq!(deltas[0].ts_exchange.0, 1_597_026_383_085_000_000);
    let levels: Vec<_> = deltas.iter().flat_map(|d| d.levels().collect::<Vec<_>>()).collect();
    // In the frame's order: asks first, as OKX sends them.
    assert_eq!((levels[0].0, levels[0].1.price.0, levels[0].1.qty.0), (BookSide::Ask, 847_698, 41_500_000_000));
    assert_eq!(levels[1].1.price.0, 847_700, "\"8477\" has no decimals");
    assert_eq!((levels[8].0, levels[8].1.price.0, levels[8].1.qty.0), (BookSide::Bid, 847_697, 25_600_000_000));
}

#[test]
fn an_update_carries_its_chain_and_deletes() {
    let events = decode(
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"]],"bids":[],"ts":"1597026383086","checksum":1,"prevSeqId":123456,"seqId":123470}]}"#,
    )
    .unwrap();
    let [Event::BookDelta(d)] = events[..] else { panic!("{events:?}") };
    assert!(!d.is_snapshot() && d.is_last());
    assert_eq!((d.first_seq, d.last_seq), (123456, 123470), "continues when first_seq == the last seqId");
    assert_eq!(d.levels().next().map(|(s, l)| (s, l.qty.0)), Some((BookSide::Ask, 0)));
}

#[test]
fn trades_from_the_docs() {
    let events = decode(
        r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}]}"#,
    )
    .unwrap();
    let [Event::Trade(t)] = events[..] else { panic!("{events:?}") };
    assert_eq!((t.trade_id, t.price.0, t.qty.0), (130_639_474, 4_221_990, 12_060_306));
    assert_eq!((t.aggressor(), t.ts_exchange.0, t.ts_recv.0), (Some(Side::Buy), 1_630_048_897_897_000_000, 5));
}

/// Answers to the client's requests, from the docs: an ack and `pong` are no events;
/// a refusal is an error at its `event` value, so the feed counts it.
#[test]
fn request_answers_decode_to_nothing_and_a_refusal_to_an_error() {
    for answer in [
        r#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#,
        r#"{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"d0b44253"}"#,
        r#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}"#,
        r#"{"event":"channel-conn-count","channel":"books","connCount":"2","connId":"abcd1234"}"#,
        "pong",
    ] {
        assert_eq!(decode(answer).unwrap(), [], "{answer}");
    }
    let refused =
        r#"{"event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\"}","connId":"a4d3ae55"}"#;
    let e = decode(refused).unwrap_err();
    assert_eq!((e.kind, e.offset), (DecodeErrorKind::Refused, 9));
}

#[test]
fn bad_input_is_a_typed_error() {
    let kind = |f: &str| decode(f).unwrap_err().kind;
    assert_eq!(kind(r#"{"connId":"a4d3ae55"}"#), DecodeErrorKind::UnknownMessage);
    assert_eq!(kind(r#"{"arg":{"channel":"trades","instId":"ETH-USDT"},"data":[]}"#), DecodeErrorKind::UnknownSymbol);
    let trade = |px: &str, sz: &str, side: &str, ts: &str| {
        format!(
            r#"{{"arg":{{"channel":"trades","instId":"BTC-USDT"}},"data":[{{"instId":"BTC-USDT","tradeId":"1","px":"{px}","sz":"{sz}","side":"{side}","ts":"{ts}"}}]}}"#
        )
    };
    assert!(matches!(kind(&trade("NaN", "1", "buy", "1")), DecodeErrorKind::BadDecimal { field: "px", .. }));
    assert_eq!(kind(&trade("1", "0", "buy", "1")), DecodeErrorKind::NotPositive { field: "sz" });
    assert_eq!(
        kind(&trade("1", "1", "hold", "1")),
        DecodeErrorKind::BadField { field: "side", expected: "buy or sell" }
    );
    assert!(matches!(kind(&trade("1", "1", "buy", "soon")), DecodeErrorKind::BadField { field: "ts", .. }));
    let book = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"ts":"1","prevSeqId":1,"seqId":2}]}"#;
    assert_eq!(kind(book), DecodeErrorKind::MissingField { field: "bids" });
}

/// The checksum rides on the update's last delta and matches the one computed from
/// the book the update builds (OKX's own consistent example: the current docs'
/// example snapshot carries an illustrative checksum that does not match its levels).
#[test]
fn the_checksum_sent_matches_the_book_built() {
    let mut symbols = SymbolTable::new();
    symbols.intern("BTC-USD-SWAP", 1, 0);
    let decoder = OkxDecoder::new(symbols);
    let mut out = Events::with_capacity(16);
    let frame = r#"{"arg":{"channel":"books","instId":"BTC-USD-SWAP"},"action":"snapshot","data":[{"asks":[["3366.8","9","0","3"],["3368","8","0","4"]],"bids":[["3366.1","7","0","3"],["3366","6","0","4"]],"ts":"1543916316300","checksum":-1881014294,"prevSeqId":-1,"seqId":7}]}"#;
    decoder.decode(frame.as_bytes(), UnixNanos(5), &mut out).unwrap();
    let mut book = feeds::book::Book::with_depth(50);
    let mut sent = None;
    for e in out.as_slice() {
        if let Event::BookDelta(d) = e {
            book.apply(d).unwrap();
            sent = d.checksum().or(sent);
        }
    }
    assert_eq!(sent.map(|c| c as i32), Some(-1_881_014_294));
    assert_eq!(feeds::checksum::okx(&book, (1, 0)), -1_881_014_294);
    // One level off and the sums disagree: a sequencer resyncs.
    let mut wrong = feeds::book::Book::with_depth(50);
    let frame = frame.replace(r#"["3368","8""#, r#"["3368","9""#);
    out.clear();
    decoder.decode(frame.as_bytes(), UnixNanos(5), &mut out).unwrap();
    for e in out.as_slice() {
        if let Event::BookDelta(d) = e {
            wrong.apply(d).unwrap();
        }
    }
    assert_ne!(feeds::checksum::okx(&wrong, (1, 0)), -1_881_014_294);
}
