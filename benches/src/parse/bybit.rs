//! Bybit v5 public: `orderbook.50` deltas and `publicTrade` frames, and the peers' view.

use std::fmt;

use feeds::bybit::BybitDecoder;
use feeds::symbols::SymbolTable;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::rng::{Rng, fixed as text};
use super::tally::Tally;
use super::{Decode, Tallied, VenueSet, fixed, instrument};

/// Bybit in the benchmark.
#[derive(Debug)]
pub struct Bybit;

const SYMBOLS: &[&str] = &["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];

impl VenueSet for Bybit {
    const SYMBOLS: &'static [&'static str] = SYMBOLS;
    type Msg<'a> = Msg<'a>;
    fn ours(symbols: SymbolTable) -> impl Decode {
        let decoder = BybitDecoder::new(symbols);
        move |frame, ts, out| decoder.decode(frame, ts, out)
    }
}

/// The peers' typed view of a Bybit book or trade frame.
#[derive(Debug, Deserialize)]
pub struct Msg<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    ts: u64,
    #[serde(default)]
    cts: Option<u64>,
    #[serde(borrow)]
    data: Data<'a>,
}

/// `data`: an object for the book, an array for trades.
#[derive(Debug)]
enum Data<'a> {
    Book(Book<'a>),
    Trades(Vec<Trade<'a>>),
}

#[derive(Debug, Deserialize)]
struct Book<'a> {
    s: &'a str,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
    u: u64,
}

#[derive(Debug, Deserialize)]
#[allow(non_snake_case, reason = "Bybit's field names")]
struct Trade<'a> {
    T: u64,
    s: &'a str,
    S: &'a str,
    v: &'a str,
    p: &'a str,
    i: &'a str,
}

/// Reads `data` in one pass whichever shape it has (serde's untagged enums would
/// buffer it first, which no fast client would do).
impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Shape<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Shape<'a> {
            type Value = Data<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a book object or an array of trades")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Data<'a>, M::Error> {
                Book::deserialize(MapAccessDeserializer::new(map)).map(Data::Book)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<Data<'a>, S::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Data::Trades)
            }
        }
        deserializer.deserialize_any(Shape(std::marker::PhantomData))
    }
}

impl Tallied for Msg<'_> {
    fn tally(&self, tally: &mut Tally) {
        match &self.data {
            Data::Book(book) => {
                let ts = self.cts.unwrap_or(self.ts) * 1_000_000;
                // A restarted service resends the whole book with u = 1.
                let snapshot = self.kind == "snapshot" || book.u == 1;
                tally.book(instrument(SYMBOLS, book.s), (book.u, book.u), ts, snapshot);
                for (ask, levels) in [(false, &book.b), (true, &book.a)] {
                    for [price, size] in levels {
                        tally.level(fixed(price), fixed(size), ask);
                    }
                }
            }
            Data::Trades(trades) => {
                for t in trades {
                    let id = t.i.parse().unwrap_or_else(|e| panic!("bench trade ids are numeric: {e}"));
                    let (price, size) = (fixed(t.p), fixed(t.v));
                    tally.trade(instrument(SYMBOLS, t.s), id, price, size, t.S == "Buy", t.T * 1_000_000);
                }
            }
        }
    }
}

fn price(rng: &mut Rng) -> String {
    text(3_000_000 + rng.below(100_000), 2)
}

fn size(rng: &mut Rng) -> String {
    text(1 + rng.below(50_000), 3)
}

fn book(rng: &mut Rng, id: u64, symbol: &str, ms: u64) -> String {
    let side = |n: u64, rng: &mut Rng| {
        (0..n)
            .map(|_| {
                let size = if rng.chance(20) { "0".to_owned() } else { size(rng) };
                format!(r#"["{}","{size}"]"#, price(rng))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let n = rng.below(6);
    let bids = side(n, rng);
    let asks = side(if n == 0 { 1 + rng.below(5) } else { rng.below(6) }, rng);
    format!(
        r#"{{"topic":"orderbook.50.{symbol}","type":"delta","ts":{ms},"data":{{"s":"{symbol}","b":[{bids}],"a":[{asks}],"u":{},"seq":{}}},"cts":{}}}"#,
        177_400_507 + id,
        66_544_703_342 + id * 3,
        ms - 2
    )
}

fn trades(rng: &mut Rng, id: u64, symbol: &str, ms: u64) -> String {
    let data = (0..1 + rng.below(2))
        .map(|i| {
            format!(
                r#"{{"T":{},"s":"{symbol}","S":"{}","v":"{}","p":"{}","L":"PlusTick","i":"{}","BT":false}}"#,
                ms - 3,
                rng.pick(&["Buy", "Sell"]),
                size(rng),
                price(rng),
                2_290_000_000_061_666_327 + id * 2 + i,
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(r#"{{"topic":"publicTrade.{symbol}","type":"snapshot","ts":{ms},"data":[{data}]}}"#)
}

/// `n` Bybit frames: 70% `orderbook.50` deltas (1-10 levels), 30% trades (1-2 per frame).
pub fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0xb1b1_7000);
    (0..n as u64)
        .map(|id| {
            let symbol = rng.pick(SYMBOLS);
            let ms = 1_687_940_967_466 + id;
            if rng.chance(70) { book(&mut rng, id, symbol, ms) } else { trades(&mut rng, id, symbol, ms) }.into_bytes()
        })
        .collect()
}
