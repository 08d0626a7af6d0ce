//! Decoders read a frame's data in the same pass as its envelope when the keys come
//! in the venue's documented order, and fall back to reading it afterwards when they
//! do not. JSON does not fix key order, so both paths must give the same events (a
//! book's two lists may come out in either order; these frames keep bids first).
//! A repeated data, level list or instrument must be an error, never read twice or
//! mixed.

use feeds::bybit::BybitDecoder;
use feeds::coinbase::CoinbaseDecoder;
use feeds::event::{Event, UnixNanos};
use feeds::kraken::KrakenDecoder;
use feeds::okx::OkxDecoder;
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, Events};

fn symbols(symbol: &str) -> SymbolTable {
    let mut symbols = SymbolTable::new();
    symbols.intern(symbol, 4, 8);
    symbols
}

type Decode<'a> = &'a dyn Fn(&[u8], UnixNanos, &mut Events) -> Result<usize, DecodeError>;

fn events(decode: Decode<'_>, frame: &str) -> Vec<Event> {
    let mut out = Events::with_capacity(16);
    decode(frame.as_bytes(), UnixNanos(7), &mut out).unwrap_or_else(|e| panic!("{frame}: {e}"));
    out.as_slice().to_vec()
}

fn same_events_in_any_key_order(decode: Decode<'_>, documented: &str, reordered: &[&str]) {
    let expected = events(decode, documented);
    assert!(!expected.is_empty(), "{documented}");
    for frame in reordered {
        assert_eq!(events(decode, frame), expected, "{frame}");
    }
}

#[test]
fn okx_books_and_trades_decode_the_same_whatever_the_key_order() {
    let okx = OkxDecoder::new(symbols("BTC-USDT"));
    let decode = |f: &[u8], t, out: &mut Events| okx.decode(f, t, out);
    same_events_in_any_key_order(
        &decode,
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"],["8475.5","0","0","0"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":1,"seqId":2}]}"#,
        &[
            r#"{"data":[{"seqId":2,"prevSeqId":1,"checksum":-855196043,"ts":"1597026383085","asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"],["8475.5","0","0","0"]]}],"action":"update","arg":{"instId":"BTC-USDT","channel":"books"}}"#,
            r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"],["8475.5","0","0","0"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":1,"seqId":2}],"action":"update"}"#,
        ],
    );
    same_events_in_any_key_order(
        &decode,
        r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897"}]}"#,
        &[
            r#"{"data":[{"sz":"0.12060306","px":"42219.9","ts":"1630048897897","side":"buy","tradeId":"130639474","instId":"BTC-USDT"}],"arg":{"channel":"trades","instId":"BTC-USDT"}}"#,
        ],
    );
    // A book update with the action after its data is still an update, not a snapshot.
    let late = events(
        &decode,
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"asks":[],"bids":[["1","1","0","1"]],"ts":"1","prevSeqId":1,"seqId":2}],"action":"update"}"#,
    );
    assert!(matches!(late.as_slice(), [Event::BookDelta(d)] if !d.is_snapshot()));
    let twice = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["1","1","0","1"]],"asks":[["1","1","0","1"]],"bids":[],"ts":"1","prevSeqId":1,"seqId":2}]}"#;
    assert!(okx.decode(twice.as_bytes(), UnixNanos(0), &mut Events::with_capacity(16)).is_err());
}

#[test]
fn bybit_books_and_trades_decode_the_same_whatever_the_key_order() {
    let bybit = BybitDecoder::new(symbols("BTCUSDT"));
    let decode = |f: &[u8], t, out: &mut Events| bybit.decode(f, t, out);
    same_events_in_any_key_order(
        &decode,
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"s":"BTCUSDT","b":[["30247.20","30.028"],["30240.00","0"]],"a":[["30248.70","0"]],"u":177400507,"seq":66544703342},"cts":1687940967464}"#,
        &[
            // The levels before the symbol, `cts` before `data`, `ts` after it.
            r#"{"cts":1687940967464,"data":{"b":[["30247.20","30.028"],["30240.00","0"]],"a":[["30248.70","0"]],"u":177400507,"s":"BTCUSDT","seq":66544703342},"type":"delta","topic":"orderbook.50.BTCUSDT","ts":1687940967466}"#,
            r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"a":[["30248.70","0"]],"s":"BTCUSDT","b":[["30247.20","30.028"],["30240.00","0"]],"u":177400507},"cts":1687940967464}"#,
        ],
    );
    same_events_in_any_key_order(
        &decode,
        r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","i":"2290000000061666327","BT":false}]}"#,
        &[
            r#"{"data":[{"p":"16578.50","v":"0.001","i":"2290000000061666327","S":"Buy","T":1672304486865,"s":"BTCUSDT"}],"ts":1672304486868,"type":"snapshot","topic":"publicTrade.BTCUSDT"}"#,
        ],
    );
    // The book's time is `cts` when sent, even when it follows the levels.
    let ts = events(
        &decode,
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":2,"data":{"s":"BTCUSDT","b":[["1.00","1"]],"a":[],"u":5},"cts":1}"#,
    );
    assert!(matches!(ts.as_slice(), [Event::BookDelta(d)] if d.ts_exchange.0 == 1_000_000));
    let twice = r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1.00","1"]],"b":[["1.00","1"]],"a":[],"u":5},"cts":1}"#;
    assert!(bybit.decode(twice.as_bytes(), UnixNanos(0), &mut Events::with_capacity(16)).is_err());
}

#[test]
fn kraken_books_and_trades_decode_the_same_whatever_the_key_order() {
    let kraken = KrakenDecoder::new(symbols("MATIC/USD"));
    let decode = |f: &[u8], t, out: &mut Events| kraken.decode(f, t, out);
    same_events_in_any_key_order(
        &decode,
        r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[{"price":0.5668,"qty":0.00000000}],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#,
        &[
            r#"{"data":[{"timestamp":"2023-10-06T17:35:55.440295Z","checksum":2114181697,"bids":[{"qty":1098.3947558,"price":0.5657}],"asks":[{"qty":0.00000000,"price":0.5668}],"symbol":"MATIC/USD"}],"type":"update","channel":"book"}"#,
            r#"{"channel":"book","type":"update","data":[{"asks":[{"price":0.5668,"qty":0.00000000}],"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#,
        ],
    );
    same_events_in_any_key_order(
        &decode,
        r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell","price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#,
        &[
            r#"{"data":[{"timestamp":"2023-09-25T07:49:37.708706Z","trade_id":4665906,"qty":40.0,"price":0.5117,"side":"sell","symbol":"MATIC/USD"}],"type":"update","channel":"trade"}"#,
        ],
    );
    let twice = r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[],"bids":[],"asks":[]}]}"#;
    assert!(kraken.decode(twice.as_bytes(), UnixNanos(0), &mut Events::with_capacity(16)).is_err());
}

#[test]
fn coinbase_l2updates_decode_the_same_whatever_the_key_order() {
    let coinbase = CoinbaseDecoder::new(symbols("BTC-USD"));
    let decode = |f: &[u8], t, out: &mut Events| coinbase.decode(f, t, out);
    same_events_in_any_key_order(
        &decode,
        r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","22356.27","0.00000000"],["sell","22356.30","1.5"]],"time":"2022-08-04T15:25:05.010067Z"}"#,
        &[
            r#"{"time":"2022-08-04T15:25:05.010067Z","changes":[["buy","22356.27","0.00000000"],["sell","22356.30","1.5"]],"product_id":"BTC-USD","type":"l2update"}"#,
            r#"{"product_id":"BTC-USD","changes":[["buy","22356.27","0.00000000"],["sell","22356.30","1.5"]],"type":"l2update","time":"2022-08-04T15:25:05.010067Z"}"#,
        ],
    );
    for hostile in [
        r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1","1"]],"changes":[["buy","1","1"]],"time":"2022-08-04T15:25:05Z"}"#,
        r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1","1"]],"type":"match","time":"2022-08-04T15:25:05Z"}"#,
    ] {
        assert!(
            coinbase.decode(hostile.as_bytes(), UnixNanos(0), &mut Events::with_capacity(16)).is_err(),
            "{hostile}"
        );
    }
}

fn refused(decode: Decode<'_>, frame: &str) {
    let mut out = Events::with_capacity(16);
    assert!(decode(frame.as_bytes(), UnixNanos(0), &mut out).is_err(), "{frame}");
    assert!(out.is_empty(), "a refused frame leaves nothing: {frame}");
}

#[test]
fn a_repeated_data_or_instrument_is_an_error_not_read_twice() {
    let okx = OkxDecoder::new(symbols("BTC-USDT"));
    let okx = |f: &[u8], t, out: &mut Events| okx.decode(f, t, out);
    let trade = r#"{"instId":"BTC-USDT","tradeId":"1","px":"1.5","sz":"1","side":"buy","ts":"1"}"#;
    refused(
        &okx,
        &format!(r#"{{"arg":{{"channel":"trades","instId":"BTC-USDT"}},"data":[{trade}],"data":[{trade}]}}"#),
    );
    refused(
        &okx,
        &format!(r#"{{"data":[{trade}],"data":[{trade}],"arg":{{"channel":"trades","instId":"BTC-USDT"}}}}"#),
    );
    refused(
        &okx,
        r#"{"arg":{"channel":"trades"},"data":[{"instId":"BTC-USDT","px":"1.5","instId":"BTC-USDT","tradeId":"1","sz":"1","side":"buy","ts":"1"}]}"#,
    );
    let bybit = BybitDecoder::new(symbols("BTCUSDT"));
    let bybit = |f: &[u8], t, out: &mut Events| bybit.decode(f, t, out);
    let data = r#"[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"1.00","i":"7"}]"#;
    refused(
        &bybit,
        &format!(r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":{data},"data":{data}}}"#),
    );
    refused(
        &bybit,
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1.00","1"]],"s":"BTCUSDT","a":[],"u":5}}"#,
    );
    let kraken = KrakenDecoder::new(symbols("MATIC/USD"));
    let kraken = |f: &[u8], t, out: &mut Events| kraken.decode(f, t, out);
    let data =
        r#"[{"symbol":"MATIC/USD","side":"sell","price":0.5,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:49:37Z"}]"#;
    refused(&kraken, &format!(r#"{{"channel":"trade","type":"update","data":{data},"data":{data}}}"#));
    refused(&kraken, &format!(r#"{{"data":{data},"data":{data},"channel":"trade","type":"update"}}"#));
    let coinbase = CoinbaseDecoder::new(symbols("BTC-USD"));
    let coinbase = |f: &[u8], t, out: &mut Events| coinbase.decode(f, t, out);
    refused(
        &coinbase,
        r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1","1"]],"product_id":"BTC-USD","time":"2022-08-04T15:25:05Z"}"#,
    );
}

#[test]
fn an_okx_answer_is_judged_by_its_event_not_by_data_beside_it() {
    let okx = OkxDecoder::new(symbols("BTC-USDT"));
    let mut out = Events::with_capacity(16);
    let ack = r#"{"event":"subscribe","arg":{"channel":"trades"},"data":[{"instId":"NOPE"}]}"#;
    assert_eq!(okx.decode(ack.as_bytes(), UnixNanos(0), &mut out).ok(), Some(0));
    let refusal = r#"{"event":"error","arg":{"channel":"trades"},"data":[{"instId":"BTC-USDT","px":"bad"}]}"#;
    let kind = okx.decode(refusal.as_bytes(), UnixNanos(0), &mut out).err().map(|e| e.kind);
    assert_eq!(kind, Some(feeds::DecodeErrorKind::Refused));
}

#[test]
fn a_bybit_book_takes_cts_even_when_its_ts_alone_would_not_convert() {
    let bybit = BybitDecoder::new(symbols("BTCUSDT"));
    let decode = |f: &[u8], t, out: &mut Events| bybit.decode(f, t, out);
    let book = events(
        &decode,
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":99999999999999999,"data":{"s":"BTCUSDT","b":[["1.00","1"]],"a":[],"u":5},"cts":1}"#,
    );
    assert!(matches!(book.as_slice(), [Event::BookDelta(d)] if d.ts_exchange.0 == 1_000_000));
}
