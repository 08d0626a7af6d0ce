//! OKX v5: `books` updates and `trades` frames, and the peers' view of them.

use feeds::okx::OkxDecoder;
use feeds::symbols::SymbolTable;
use serde::Deserialize;

use super::rng::{Rng, trimmed};
use super::tally::Tally;
use super::{Decode, Tallied, VenueSet, fixed, instrument};

/// OKX in the benchmark.
#[derive(Debug)]
pub struct Okx;

const SYMBOLS: &[&str] = &["BTC-USDT", "ETH-USDT", "SOL-USDT", "ETH-BTC"];

impl VenueSet for Okx {
    const SYMBOLS: &'static [&'static str] = SYMBOLS;
    type Msg<'a> = Msg<'a>;
    fn ours(symbols: SymbolTable) -> impl Decode {
        let decoder = OkxDecoder::new(symbols);
        move |frame, ts, out| decoder.decode(frame, ts, out)
    }
}

/// The peers' typed view of an OKX `books` or `trades` push.
#[derive(Debug, Deserialize)]
pub struct Msg<'a> {
    #[serde(borrow)]
    arg: Arg<'a>,
    #[serde(default)]
    action: Option<&'a str>,
    #[serde(borrow)]
    data: Vec<Entry<'a>>,
}

#[derive(Debug, Deserialize)]
#[allow(non_snake_case, reason = "OKX's field names")]
struct Arg<'a> {
    channel: &'a str,
    instId: &'a str,
}

/// One element of `data`: a book update or a trade.
#[derive(Debug, Deserialize)]
#[allow(non_snake_case, reason = "OKX's field names")]
struct Entry<'a> {
    #[serde(borrow, default)]
    asks: Vec<[&'a str; 4]>,
    #[serde(borrow, default)]
    bids: Vec<[&'a str; 4]>,
    ts: &'a str,
    #[serde(default)]
    checksum: Option<i64>,
    #[serde(default)]
    prevSeqId: i64,
    #[serde(default)]
    seqId: i64,
    #[serde(default)]
    instId: Option<&'a str>,
    #[serde(default)]
    tradeId: Option<&'a str>,
    #[serde(default)]
    px: Option<&'a str>,
    #[serde(default)]
    sz: Option<&'a str>,
    #[serde(default)]
    side: Option<&'a str>,
}

fn number(text: &str) -> u64 {
    text.parse().unwrap_or_else(|e| panic!("bench numbers are valid: {e}"))
}

fn field(value: Option<&str>) -> &str {
    value.unwrap_or_else(|| panic!("bench frames are complete"))
}

impl Tallied for Msg<'_> {
    fn tally(&self, tally: &mut Tally) {
        for e in &self.data {
            let ts = number(e.ts) * 1_000_000;
            if self.arg.channel == "trades" {
                let inst = instrument(SYMBOLS, field(e.instId));
                let (price, size) = (fixed(field(e.px)), fixed(field(e.sz)));
                tally.trade(inst, number(field(e.tradeId)), price, size, e.side == Some("buy"), ts);
                continue;
            }
            let (first, last) = (e.prevSeqId.max(0) as u64, e.seqId.max(0) as u64);
            // `books5` and `bbo-tbt` send no action: each is a whole book.
            let snapshot = self.action != Some("update");
            tally.book(instrument(SYMBOLS, self.arg.instId), (first, last), ts, snapshot);
            if let Some(crc) = e.checksum {
                tally.checksum(crc as i32 as u32);
            }
            for (ask, levels) in [(false, &e.bids), (true, &e.asks)] {
                for [price, size, _, _] in levels {
                    tally.level(fixed(price), fixed(size), ask);
                }
            }
        }
    }
}

fn price(rng: &mut Rng) -> String {
    trimmed(420_000 + rng.below(10_000), 1)
}

fn size(rng: &mut Rng) -> String {
    trimmed(1 + rng.below(50_000_000_000), 8)
}

fn book(rng: &mut Rng, id: u64, symbol: &str, ms: u64) -> String {
    let side = |n: u64, rng: &mut Rng| {
        (0..n)
            .map(|_| {
                let (size, orders) = if rng.chance(20) { ("0".to_owned(), 0) } else { (size(rng), 1 + rng.below(20)) };
                format!(r#"["{}","{size}","0","{orders}"]"#, price(rng))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let n = rng.below(6);
    let asks = side(n, rng);
    let bids = side(if n == 0 { 1 + rng.below(5) } else { rng.below(6) }, rng);
    let checksum = rng.bits() as i32;
    let seq = 123_456 + id * 5;
    format!(
        r#"{{"arg":{{"channel":"books","instId":"{symbol}"}},"action":"update","data":[{{"asks":[{asks}],"bids":[{bids}],"ts":"{ms}","checksum":{checksum},"prevSeqId":{seq},"seqId":{}}}]}}"#,
        seq + 5
    )
}

fn trades(rng: &mut Rng, id: u64, symbol: &str, ms: u64) -> String {
    let data = (0..1 + rng.below(2))
        .map(|i| {
            format!(
                r#"{{"instId":"{symbol}","tradeId":"{}","px":"{}","sz":"{}","side":"{}","ts":"{ms}","count":"{}","source":"0","seqId":{}}}"#,
                130_639_474 + id * 2 + i,
                price(rng),
                size(rng),
                rng.pick(&["buy", "sell"]),
                1 + rng.below(3),
                1234 + id,
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(r#"{{"arg":{{"channel":"trades","instId":"{symbol}"}},"data":[{data}]}}"#)
}

/// `n` OKX frames: 70% `books` updates (1-10 levels), 30% trades (1-2 per frame).
pub fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x000c_50c5);
    (0..n as u64)
        .map(|id| {
            let symbol = rng.pick(SYMBOLS);
            let ms = 1_597_026_383_085 + id;
            if rng.chance(70) { book(&mut rng, id, symbol, ms) } else { trades(&mut rng, id, symbol, ms) }.into_bytes()
        })
        .collect()
}
