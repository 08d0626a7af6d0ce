//! Coinbase Exchange: `l2update`, `match` and `ticker` frames, and the peers' view.

use feeds::coinbase::CoinbaseDecoder;
use feeds::symbols::SymbolTable;
use serde::Deserialize;

use super::rng::{Rng, fixed as text, rfc3339 as time_text};
use super::tally::Tally;
use super::{Decode, Tallied, VenueSet, fixed, instrument, rfc3339};

/// Coinbase Exchange in the benchmark.
#[derive(Debug)]
pub struct Coinbase;

const SYMBOLS: &[&str] = &["BTC-USD", "ETH-USD", "SOL-USD", "ETH-BTC"];

impl VenueSet for Coinbase {
    const SYMBOLS: &'static [&'static str] = SYMBOLS;
    type Msg<'a> = Msg<'a>;
    fn ours(symbols: SymbolTable) -> impl Decode {
        let decoder = CoinbaseDecoder::new(symbols);
        move |frame, ts, out| decoder.decode(frame, ts, out)
    }
}

/// The peers' typed view of a Coinbase `l2update`, `match` or `ticker`.
#[derive(Debug, Deserialize)]
pub struct Msg<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    product_id: &'a str,
    #[serde(default)]
    sequence: u64,
    #[serde(default)]
    trade_id: u64,
    time: &'a str,
    #[serde(default)]
    side: Option<&'a str>,
    #[serde(default)]
    price: Option<&'a str>,
    #[serde(default)]
    size: Option<&'a str>,
    #[serde(default)]
    best_bid: Option<&'a str>,
    #[serde(default)]
    best_bid_size: Option<&'a str>,
    #[serde(default)]
    best_ask: Option<&'a str>,
    #[serde(default)]
    best_ask_size: Option<&'a str>,
    #[serde(borrow, default)]
    changes: Option<Vec<[&'a str; 3]>>,
}

fn field(value: Option<&str>) -> i64 {
    fixed(value.unwrap_or_else(|| panic!("bench frames are complete")))
}

impl Tallied for Msg<'_> {
    fn tally(&self, tally: &mut Tally) {
        let inst = instrument(SYMBOLS, self.product_id);
        let ts = rfc3339(self.time);
        match self.kind {
            "match" => {
                // `side` is the maker's: the taker took the other side.
                let buy = self.side == Some("sell");
                tally.trade(inst, self.trade_id, field(self.price), field(self.size), buy, ts);
            }
            "ticker" => {
                let bid = (field(self.best_bid), field(self.best_bid_size));
                let ask = (field(self.best_ask), field(self.best_ask_size));
                tally.bbo(inst, self.sequence, bid, ask, ts);
            }
            _ => {
                tally.book(inst, (0, 0), ts, self.kind == "snapshot");
                for [side, price, size] in self.changes.iter().flatten() {
                    tally.level(fixed(price), fixed(size), *side == "sell");
                }
            }
        }
    }
}

fn price(rng: &mut Rng) -> String {
    text(2_500_000 + rng.below(100_000), 2)
}

fn size(rng: &mut Rng) -> String {
    text(1 + rng.below(500_000_000), 8)
}

fn l2update(rng: &mut Rng, symbol: &str, time: &str) -> String {
    let changes = (0..1 + rng.below(3))
        .map(|_| {
            let side = rng.pick(&["buy", "sell"]);
            let size = if rng.chance(20) { "0.00000000".to_owned() } else { size(rng) };
            format!(r#"["{side}","{}","{size}"]"#, price(rng))
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(r#"{{"type":"l2update","product_id":"{symbol}","changes":[{changes}],"time":"{time}"}}"#)
}

fn matched(rng: &mut Rng, id: u64, symbol: &str, time: &str) -> String {
    format!(
        concat!(
            r#"{{"type":"match","trade_id":{id},"sequence":{seq},"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","#,
            r#""taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"{time}","product_id":"{symbol}","#,
            r#""size":"{size}","price":"{price}","side":"{side}"}}"#
        ),
        id = 370_843_401 + id,
        seq = 37_475_248_783 + id,
        time = time,
        symbol = symbol,
        size = size(rng),
        price = price(rng),
        side = rng.pick(&["buy", "sell"]),
    )
}

fn ticker(rng: &mut Rng, id: u64, symbol: &str, time: &str) -> String {
    format!(
        concat!(
            r#"{{"type":"ticker","sequence":{seq},"product_id":"{symbol}","price":"{last}","open_24h":"1310.79","#,
            r#""volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","#,
            r#""best_bid":"{bid}","best_bid_size":"{bid_size}","best_ask":"{ask}","best_ask_size":"{ask_size}","#,
            r#""side":"buy","time":"{time}","trade_id":{id},"last_size":"{last_size}"}}"#
        ),
        seq = 37_475_248_783 + id,
        symbol = symbol,
        last = price(rng),
        bid = price(rng),
        bid_size = size(rng),
        ask = price(rng),
        ask_size = size(rng),
        time = time,
        id = 370_843_401 + id,
        last_size = size(rng),
    )
}

/// `n` Coinbase frames: 60% `l2update` (1-3 changes), 25% `match`, 15% `ticker`.
pub fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0xc014_ba5e);
    (0..n as u64)
        .map(|id| {
            let symbol = rng.pick(SYMBOLS);
            let time = time_text(id * 137);
            match rng.below(100) {
                0..60 => l2update(&mut rng, symbol, &time),
                60..85 => matched(&mut rng, id, symbol, &time),
                _ => ticker(&mut rng, id, symbol, &time),
            }
            .into_bytes()
        })
        .collect()
}
