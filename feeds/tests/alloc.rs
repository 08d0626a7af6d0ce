//! Decoding allocates nothing per message once the caller's buffer exists.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use feeds::Events;
use feeds::binance::BinanceDecoder;
use feeds::event::UnixNanos;
use feeds::symbols::SymbolTable;

thread_local!(static ALLOCS: Cell<u64> = const { Cell::new(0) });

/// Counts this thread's allocations, so other test threads do not interfere.
struct Counting;

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[test]
fn ten_thousand_mixed_frames_allocate_nothing_after_warm_up() {
    let mut symbols = SymbolTable::new();
    symbols.intern("BNBBTC", 8, 8);
    let decoder = BinanceDecoder::new(symbols);
    let mut out = Events::with_capacity(64);
    let frames: Vec<Vec<u8>> = [
        r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#,
        r#"{"e":"aggTrade","E":1,"s":"BNBBTC","a":1,"p":"0.001","q":"100","f":1,"l":2,"T":1,"m":false,"M":true}"#,
        r#"{"u":400900217,"s":"BNBBTC","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
        r#"{"stream":"bnbbtc@depth","data":{"e":"depthUpdate","E":1,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}}"#,
        r#"{"e":"trade","s":"BNBBTC","p":"NaN"}"#,
    ]
    .iter()
    .map(|f| f.as_bytes().to_vec())
    .collect();
    let before = ALLOCS.with(Cell::get);
    let mut decoded = 0;
    for i in 0..10_000 {
        out.clear();
        let frame = &frames[i % frames.len()];
        if decoder.decode(frame, UnixNanos(i as u64), &mut out).is_ok() {
            decoded += 1;
        }
    }
    let after = ALLOCS.with(Cell::get);
    assert_eq!(decoded, 8_000, "the NaN frame fails, the others decode");
    assert_eq!(after - before, 0, "allocations on the decode path");
}

#[test]
fn bybit_frames_allocate_nothing() {
    let mut symbols = SymbolTable::new();
    symbols.intern("BTCUSDT", 2, 3);
    let decoder = feeds::bybit::BybitDecoder::new(symbols);
    let mut out = Events::with_capacity(64);
    let frames = [
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"s":"BTCUSDT","b":[["30247.20","30.028"],["30240.00","0"]],"a":[["30248.70","0"],["30249.30","0.892"]],"u":177400507,"seq":66544703342},"cts":1687940967464}"#,
        r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}"#,
    ];
    let before = ALLOCS.with(Cell::get);
    for i in 0..10_000 {
        out.clear();
        decoder.decode(frames[i % 2].as_bytes(), UnixNanos(0), &mut out).unwrap();
    }
    assert_eq!(ALLOCS.with(Cell::get) - before, 0, "allocations on the Bybit decode path");
}

#[test]
fn okx_frames_allocate_nothing() {
    let mut symbols = SymbolTable::new();
    symbols.intern("BTC-USDT", 2, 8);
    let decoder = feeds::okx::OkxDecoder::new(symbols);
    let mut out = Events::with_capacity(64);
    let frames = [
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"]],"bids":[["8476.97","256","0","12"]],"ts":"1597026383086","checksum":1,"prevSeqId":123456,"seqId":123470}]}"#,
        r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3"}]}"#,
    ];
    let before = ALLOCS.with(Cell::get);
    for i in 0..10_000 {
        out.clear();
        decoder.decode(frames[i % 2].as_bytes(), UnixNanos(0), &mut out).unwrap();
    }
    assert_eq!(ALLOCS.with(Cell::get) - before, 0, "allocations on the OKX decode path");
}

#[test]
fn kraken_frames_allocate_nothing() {
    let mut symbols = SymbolTable::new();
    symbols.intern("MATIC/USD", 4, 8);
    let decoder = feeds::kraken::KrakenDecoder::new(symbols);
    let mut out = Events::with_capacity(64);
    let frames = [
        r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#,
        r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell","price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#,
    ];
    let before = ALLOCS.with(Cell::get);
    for i in 0..10_000 {
        out.clear();
        decoder.decode(frames[i % 2].as_bytes(), UnixNanos(0), &mut out).unwrap();
    }
    assert_eq!(ALLOCS.with(Cell::get) - before, 0, "allocations on the Kraken decode path");
}

#[test]
fn coinbase_frames_allocate_nothing() {
    let mut symbols = SymbolTable::new();
    symbols.intern("BTC-USD", 2, 8);
    let decoder = feeds::coinbase::CoinbaseDecoder::new(symbols);
    let mut out = Events::with_capacity(64);
    let frames = [
        r#"{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80000000","0.162567"]]}"#,
        r#"{"type":"match","trade_id":10,"sequence":50,"time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#,
        r#"{"type":"ticker","sequence":3,"product_id":"BTC-USD","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","time":"2022-10-19T23:28:22.061769Z"}"#,
    ];
    let before = ALLOCS.with(Cell::get);
    for i in 0..9_000 {
        out.clear();
        decoder.decode(frames[i % 3].as_bytes(), UnixNanos(0), &mut out).unwrap();
    }
    assert_eq!(ALLOCS.with(Cell::get) - before, 0, "allocations on the Coinbase decode path");
}
