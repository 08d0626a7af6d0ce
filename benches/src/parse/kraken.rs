//! Kraken v2: `book` updates and `trade` frames, and the peers' view of them.
//!
//! Kraken writes prices and sizes as JSON numbers. Ours converts the number's text
//! exactly; the peers, typed, read an `f64` and round it to the scale, which is how
//! a serde client reads them and agrees here because every value has fewer than
//! 16 significant digits.

use feeds::kraken::KrakenDecoder;
use feeds::symbols::SymbolTable;
use serde::Deserialize;

use super::rng::{Rng, fixed as text, rfc3339 as time_text};
use super::tally::Tally;
use super::{Decode, Tallied, VenueSet, instrument, rfc3339};

/// Kraken in the benchmark.
#[derive(Debug)]
pub struct Kraken;

const SYMBOLS: &[&str] = &["BTC/USD", "ETH/USD", "SOL/USD", "MATIC/USD"];

impl VenueSet for Kraken {
    const SYMBOLS: &'static [&'static str] = SYMBOLS;
    type Msg<'a> = Msg<'a>;
    fn ours(symbols: SymbolTable) -> impl Decode {
        let decoder = KrakenDecoder::new(symbols);
        move |frame, ts, out| decoder.decode(frame, ts, out)
    }
}

/// The peers' typed view of a Kraken `book` or `trade` frame.
#[derive(Debug, Deserialize)]
pub struct Msg<'a> {
    channel: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    data: Vec<Entry<'a>>,
}

/// One element of `data`: a book entry or a trade.
#[derive(Debug, Deserialize)]
struct Entry<'a> {
    symbol: &'a str,
    #[serde(default)]
    bids: Vec<Level>,
    #[serde(default)]
    asks: Vec<Level>,
    #[serde(default)]
    checksum: Option<u32>,
    #[serde(default)]
    side: Option<&'a str>,
    #[serde(default)]
    price: f64,
    #[serde(default)]
    qty: f64,
    #[serde(default)]
    trade_id: u64,
    #[serde(default)]
    timestamp: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Level {
    price: f64,
    qty: f64,
}

fn scaled(value: f64) -> i64 {
    (value * 1e8).round() as i64
}

impl Tallied for Msg<'_> {
    fn tally(&self, tally: &mut Tally) {
        for e in &self.data {
            let inst = instrument(SYMBOLS, e.symbol);
            let ts = e.timestamp.map_or(0, rfc3339);
            if self.channel == "trade" {
                tally.trade(inst, e.trade_id, scaled(e.price), scaled(e.qty), e.side == Some("buy"), ts);
                continue;
            }
            tally.book(inst, (0, 0), ts, self.kind == "snapshot");
            if let Some(crc) = e.checksum {
                tally.checksum(crc);
            }
            for (ask, levels) in [(false, &e.bids), (true, &e.asks)] {
                for l in levels {
                    tally.level(scaled(l.price), scaled(l.qty), ask);
                }
            }
        }
    }
}

fn price(rng: &mut Rng) -> String {
    text(300_000 + rng.below(10_000), 1)
}

fn qty(rng: &mut Rng) -> String {
    text(1 + rng.below(500_000_000_000), 8)
}

fn book(rng: &mut Rng, symbol: &str, time: &str) -> String {
    let side = |n: u64, rng: &mut Rng| {
        (0..n)
            .map(|_| {
                let qty = if rng.chance(20) { "0.00000000".to_owned() } else { qty(rng) };
                format!(r#"{{"price":{},"qty":{qty}}}"#, price(rng))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let n = rng.below(3);
    let bids = side(n, rng);
    let asks = side(if n == 0 { 1 + rng.below(2) } else { rng.below(3) }, rng);
    let checksum = rng.below(1 << 32);
    format!(
        r#"{{"channel":"book","type":"update","data":[{{"symbol":"{symbol}","bids":[{bids}],"asks":[{asks}],"checksum":{checksum},"timestamp":"{time}"}}]}}"#
    )
}

fn trades(rng: &mut Rng, id: u64, symbol: &str, time: &str) -> String {
    let data = (0..1 + rng.below(2))
        .map(|i| {
            format!(
                r#"{{"symbol":"{symbol}","side":"{}","price":{},"qty":{},"ord_type":"{}","trade_id":{},"timestamp":"{time}"}}"#,
                rng.pick(&["buy", "sell"]),
                price(rng),
                qty(rng),
                rng.pick(&["market", "limit"]),
                4_665_906 + id * 2 + i,
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(r#"{{"channel":"trade","type":"update","data":[{data}]}}"#)
}

/// `n` Kraken frames: 70% book updates (1-4 levels), 30% trades (1-2 per frame).
pub fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x004b_4a4b_454e);
    (0..n as u64)
        .map(|id| {
            let symbol = rng.pick(SYMBOLS);
            let time = time_text(id * 137);
            if rng.chance(70) { book(&mut rng, symbol, &time) } else { trades(&mut rng, id, symbol, &time) }
                .into_bytes()
        })
        .collect()
}
