//! Frames in a venue's documented layout are read by literal-matching fast paths;
//! everything else by the general decoders. A leading space makes any frame miss its
//! fast path, so decoding a frame and decoding it with a leading space must agree:
//! the same events, or an error of the same kind. This runs both on documented
//! frames with random level counts and values, and on random single-byte mutations
//! of them (so near-misses of every literal are tried).

use feeds::binance::BinanceDecoder;
use feeds::bybit::BybitDecoder;
use feeds::coinbase::CoinbaseDecoder;
use feeds::event::{Event, UnixNanos};
use feeds::kraken::KrakenDecoder;
use feeds::okx::OkxDecoder;
use feeds::symbols::SymbolTable;
use feeds::{DecodeError, DecodeErrorKind, Events};

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PRICES: [&str; 6] = ["25.35", "0.5666", "30247.2", "8477", "1.00000001", "42219.9"];
const SIZES: [&str; 6] = ["0", "0.00000000", "1.5", "415", "4831.75496356", "0.001"];

fn list(rng: &mut Rng, level: impl Fn(&str, &str) -> String) -> String {
    let n = [0, 1, 2, 3, 7, 8, 9, 17][rng.below(8)];
    (0..n).map(|_| level(rng.pick(&PRICES), rng.pick(&SIZES))).collect::<Vec<_>>().join(",")
}

/// One to three trades, joined for a `data` array.
fn trades(rng: &mut Rng, trade: impl Fn(&mut Rng) -> String) -> String {
    (0..1 + rng.below(3)).map(|_| trade(rng)).collect::<Vec<_>>().join(",")
}

fn pair(p: &str, q: &str) -> String {
    format!(r#"["{p}","{q}"]"#)
}

type Decode = Box<dyn Fn(&[u8], &mut Events) -> Result<usize, DecodeError>>;

fn decoder_for(venue: &str) -> Decode {
    let mut symbols = SymbolTable::new();
    for s in ["BNBBTC", "BTC-USDT", "BTCUSDT", "MATIC/USD", "BTC-USD"] {
        symbols.intern(s, 8, 8);
    }
    let t = UnixNanos(3);
    match venue {
        "binance" => {
            let d = BinanceDecoder::new(symbols);
            Box::new(move |f, out| d.decode(f, t, out))
        }
        "okx" => {
            let d = OkxDecoder::new(symbols);
            Box::new(move |f, out| d.decode(f, t, out))
        }
        "bybit" => {
            let d = BybitDecoder::new(symbols);
            Box::new(move |f, out| d.decode(f, t, out))
        }
        "kraken" => {
            let d = KrakenDecoder::new(symbols);
            Box::new(move |f, out| d.decode(f, t, out))
        }
        _ => {
            let d = CoinbaseDecoder::new(symbols);
            Box::new(move |f, out| d.decode(f, t, out))
        }
    }
}

/// A documented frame of `venue` with random values and level counts.
fn documented(venue: &str, rng: &mut Rng) -> String {
    let id = rng.pick(&["12345", "0", "18446744073709551615", "7"]);
    match (venue, rng.below(if venue == "coinbase" { 4 } else { 2 })) {
        ("binance", 0) => format!(
            r#"{{"e":"trade","E":1672515782136,"s":"BNBBTC","t":{id},"p":"{}","q":"{}","T":1672515782136,"m":{},"M":true}}"#,
            rng.pick(&PRICES),
            rng.pick(&SIZES),
            rng.pick(&["true", "false"])
        ),
        ("binance", _) => format!(
            r#"{{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":{id},"b":[{}],"a":[{}]}}"#,
            list(rng, pair),
            list(rng, pair)
        ),
        ("okx", 0) => format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{}","data":[{{"asks":[{}],"bids":[{}],"ts":"1597026383085","checksum":-855196043,"prevSeqId":{},"seqId":{id}}}]}}"#,
            rng.pick(&["update", "snapshot"]),
            list(rng, |p, q| format!(r#"["{p}","{q}","0","13"]"#)),
            list(rng, |p, q| format!(r#"["{p}","{q}","0","1"]"#)),
            rng.pick(&["-1", "123456"]),
        ),
        ("okx", _) => {
            let data = trades(rng, |rng| {
                format!(
                    r#"{{"instId":"BTC-USDT","tradeId":"{id}","px":"{}","sz":"{}","side":"{}","ts":"1630048897897","count":"3","source":"0","seqId":1234}}"#,
                    rng.pick(&PRICES),
                    rng.pick(&SIZES),
                    rng.pick(&["buy", "sell"])
                )
            });
            format!(r#"{{"arg":{{"channel":"trades","instId":"BTC-USDT"}},"data":[{data}]}}"#)
        }
        ("bybit", 0) => format!(
            r#"{{"topic":"orderbook.50.BTCUSDT","type":"{}","ts":1687940967466,"data":{{"s":"BTCUSDT","b":[{}],"a":[{}],"u":{},"seq":66544703342}},"cts":1687940967464}}"#,
            rng.pick(&["delta", "snapshot"]),
            list(rng, pair),
            list(rng, pair),
            rng.pick(&["1", "177400507"]),
        ),
        ("bybit", _) => {
            let data = trades(rng, |rng| {
                format!(
                    r#"{{"T":1672304486865,"s":"BTCUSDT","S":"{}","v":"{}","p":"{}","L":"PlusTick","i":"{}","BT":false}}"#,
                    rng.pick(&["Buy", "Sell"]),
                    rng.pick(&SIZES),
                    rng.pick(&PRICES),
                    rng.pick(&[id, "20f43950-d8dd-5b31-9112-a178eb6023af"]),
                )
            });
            format!(r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{data}]}}"#)
        }
        ("kraken", 0) => format!(
            r#"{{"channel":"book","type":"{}","data":[{{"symbol":"MATIC/USD","bids":[{}],"asks":[{}],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}"#,
            rng.pick(&["update", "snapshot"]),
            list(rng, |p, q| format!(r#"{{"price":{p},"qty":{q}}}"#)),
            list(rng, |p, q| format!(r#"{{"price":{p},"qty":{q}}}"#)),
        ),
        ("kraken", _) => {
            let data = trades(rng, |rng| {
                format!(
                    r#"{{"symbol":"MATIC/USD","side":"{}","price":{},"qty":{},"ord_type":"market","trade_id":{id},"timestamp":"2023-09-25T07:49:37.708706Z"}}"#,
                    rng.pick(&["buy", "sell"]),
                    rng.pick(&PRICES),
                    rng.pick(&SIZES),
                )
            });
            format!(r#"{{"channel":"trade","type":"update","data":[{data}]}}"#)
        }
        (_, 0) => format!(
            r#"{{"type":"l2update","product_id":"BTC-USD","changes":[{}],"time":"2022-08-04T15:25:05.010067Z"}}"#,
            list(rng, |p, q| format!(r#"["{}","{p}","{q}"]"#, if q.len() % 2 == 0 { "buy" } else { "sell" })),
        ),
        (_, 1) => format!(
            r#"{{"type":"ticker","sequence":{id},"product_id":"BTC-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","best_bid":"{}","best_bid_size":"{}","best_ask":"{}","best_ask_size":"{}","side":"{}","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}}"#,
            rng.pick(&PRICES),
            rng.pick(&SIZES),
            rng.pick(&PRICES),
            rng.pick(&SIZES),
            rng.pick(&["buy", "sell"]),
        ),
        (_, 2) => format!(
            r#"{{"type":"ticker","sequence":{id},"product_id":"BTC-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"{}","best_bid_size":"{}","best_ask":"{}","best_ask_size":"{}","side":"{}","time":"2022-10-19T23:28:22.061769Z","trade_id":{id},"last_size":"11.4396987"}}"#,
            rng.pick(&PRICES),
            rng.pick(&SIZES),
            rng.pick(&PRICES),
            rng.pick(&SIZES),
            rng.pick(&["buy", "sell"]),
        ),
        (_, _) => format!(
            r#"{{"type":"{}","trade_id":{id},"sequence":50,"maker_order_id":"ac928c66","taker_order_id":"132fb6ae","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"{}","price":"{}","side":"{}"}}"#,
            rng.pick(&["match", "match", "last_match"]),
            rng.pick(&SIZES),
            rng.pick(&PRICES),
            rng.pick(&["buy", "sell"]),
        ),
    }
}

fn mutate(frame: &str, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = frame.as_bytes().to_vec();
    let at = rng.below(bytes.len());
    let palette = b"-x\"1e0],[{}: .\\";
    match rng.below(3) {
        0 => bytes[at] = palette[rng.below(palette.len())],
        1 => {
            bytes.remove(at);
        }
        _ => bytes.insert(at, palette[rng.below(palette.len())]),
    }
    bytes
}

fn outcome(decode: &Decode, frame: &[u8]) -> Result<Vec<Event>, DecodeErrorKind> {
    let mut out = Events::with_capacity(16);
    match decode(frame, &mut out) {
        Ok(n) => {
            assert_eq!(n, out.len());
            Ok(out.as_slice().to_vec())
        }
        Err(e) => {
            assert!(out.is_empty(), "an error leaves nothing behind");
            Err(e.kind)
        }
    }
}

#[test]
fn fast_paths_agree_with_the_general_decoders_on_every_venue() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for venue in ["binance", "okx", "bybit", "kraken", "coinbase"] {
        let decode = decoder_for(venue);
        let mut decoded = 0;
        for _ in 0..3_000 {
            let frame = documented(venue, &mut rng);
            for bytes in [frame.as_bytes().to_vec(), mutate(&frame, &mut rng), mutate(&frame, &mut rng)] {
                let spaced = [&b" "[..], &bytes].concat();
                let fast = outcome(&decode, &bytes);
                assert_eq!(fast, outcome(&decode, &spaced), "{venue}: {}", String::from_utf8_lossy(&bytes));
                decoded += usize::from(fast.is_ok());
            }
        }
        assert!(decoded > 1_000, "{venue}: valid frames were exercised ({decoded})");
    }
}

/// Near misses that a one-byte mutation rarely makes: repeated keys, keys in another
/// order inside a trade, integers one digit too long, times at the ns overflow.
#[test]
fn fast_paths_agree_on_repeated_keys_other_orders_and_limits() {
    let cases = [
        (
            "okx",
            r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"2","px":"3","sz":"1","side":"buy","ts":"1"}]}"#,
        ),
        (
            "okx",
            r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"sz":"1","instId":"BTC-USDT","tradeId":"1","px":"2","side":"buy","ts":"1"}]}"#,
        ),
        (
            "okx",
            r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"2","sz":"1","side":"buy","ts":"18446744073709"}]}"#,
        ),
        (
            "okx",
            r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"2","sz":"1","side":"buy","ts":"18446744073710"}]}"#,
        ),
        (
            "okx",
            r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":1234567890123456789,"prevSeqId":1,"seqId":2}]}"#,
        ),
        (
            "okx",
            r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":123456789012345678,"prevSeqId":-123456789012345678,"seqId":2}]}"#,
        ),
        (
            "bybit",
            r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"2","p":"3","i":"7"}]}"#,
        ),
        (
            "bybit",
            r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"p":"2","T":1,"s":"BTCUSDT","S":"Buy","v":"1","i":"7"}]}"#,
        ),
        (
            "bybit",
            r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"2","i":"1234567890123456789"}]}"#,
        ),
        (
            "bybit",
            r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"2","i":"12345678901234567890"}]}"#,
        ),
        (
            "bybit",
            r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":5,"seq":1},"cts":18446744073710}"#,
        ),
        (
            "kraken",
            r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":1,"price":2,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:49:37Z"}]}"#,
        ),
        (
            "kraken",
            r#"{"channel":"trade","type":"update","data":[{"qty":1,"symbol":"MATIC/USD","side":"buy","price":1,"trade_id":1,"timestamp":"2023-09-25T07:49:37Z"}]}"#,
        ),
        (
            "kraken",
            r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[],"asks":[],"checksum":4294967296,"timestamp":"2023-10-06T17:35:55Z"}]}"#,
        ),
        (
            "coinbase",
            r#"{"type":"ticker","sequence":1,"product_id":"BTC-USD","best_bid":"1","best_bid":"2","best_bid_size":"1","best_ask":"3","best_ask_size":"1","time":"2022-10-19T23:28:22Z"}"#,
        ),
        (
            "coinbase",
            r#"{"type":"match","trade_id":1,"size":"1","last_size":"2","price":"3","side":"buy","product_id":"BTC-USD","time":"2014-11-07T08:19:27Z"}"#,
        ),
        (
            "coinbase",
            r#"{"product_id":"BTC-USD","type":"match","trade_id":1,"size":"1","price":"3","side":"sell","time":"2014-11-07T08:19:27Z"}"#,
        ),
        (
            "coinbase",
            r#"{"type":"match","trade_id":1,"size":"1","price":"3","side":"buy","product_id":"BTC-USD","time":"2014-11-07T08:19:27Z","sequence":"x"}"#,
        ),
    ];
    for (venue, frame) in cases {
        let decode = decoder_for(venue);
        let spaced = format!(" {frame}");
        assert_eq!(outcome(&decode, frame.as_bytes()), outcome(&decode, spaced.as_bytes()), "{venue}: {frame}");
    }
}
