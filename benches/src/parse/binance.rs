//! Binance spot: `trade` and `depthUpdate` frames, and the peers' view of them.

use feeds::binance::BinanceDecoder;
use feeds::symbols::SymbolTable;
use serde::Deserialize;

use super::rng::{Rng, fixed as text};
use super::tally::Tally;
use super::{Decode, Tallied, VenueSet, fixed, instrument};

/// Binance spot in the benchmark.
#[derive(Debug)]
pub struct Binance;

const SYMBOLS: &[&str] = &["BTCUSDT", "ETHUSDT", "BNBBTC", "SOLUSDT"];

impl VenueSet for Binance {
    const SYMBOLS: &'static [&'static str] = SYMBOLS;
    type Msg<'a> = Msg<'a>;
    fn ours(symbols: SymbolTable) -> impl Decode {
        let decoder = BinanceDecoder::new(symbols);
        move |frame, ts, out| decoder.decode(frame, ts, out)
    }
}

/// The peers' typed view of a Binance trade or depthUpdate, borrowing from the frame.
#[derive(Debug, Deserialize)]
#[allow(non_snake_case, reason = "Binance's field names")]
pub struct Msg<'a> {
    #[serde(borrow)]
    e: &'a str,
    #[serde(borrow)]
    s: &'a str,
    #[serde(default)]
    E: u64,
    #[serde(default)]
    T: u64,
    #[serde(default)]
    t: u64,
    #[serde(default)]
    U: u64,
    #[serde(default)]
    u: u64,
    #[serde(default)]
    m: bool,
    #[serde(borrow, default)]
    p: Option<&'a str>,
    #[serde(borrow, default)]
    q: Option<&'a str>,
    #[serde(borrow, default)]
    b: Option<Vec<[&'a str; 2]>>,
    #[serde(borrow, default)]
    a: Option<Vec<[&'a str; 2]>>,
}

impl Tallied for Msg<'_> {
    fn tally(&self, tally: &mut Tally) {
        let inst = instrument(SYMBOLS, self.s);
        if let (b"trade", Some(p), Some(q)) = (self.e.as_bytes(), self.p, self.q) {
            // The buyer was the maker, so the seller took liquidity.
            tally.trade(inst, self.t, fixed(p), fixed(q), !self.m, self.T * 1_000_000);
            return;
        }
        tally.book(inst, (self.U, self.u), self.E * 1_000_000, false);
        for (ask, levels) in [(false, &self.b), (true, &self.a)] {
            for level in levels.iter().flatten() {
                tally.level(fixed(level[0]), fixed(level[1]), ask);
            }
        }
    }
}

fn price(rng: &mut Rng) -> String {
    text(2_000_000_000_000 + rng.below(100_000_000_000), 8)
}

fn qty(rng: &mut Rng, zero: bool) -> String {
    text(if zero { 0 } else { 1 + rng.below(500_000_000) }, 8)
}

fn trade(rng: &mut Rng, id: u64) -> Vec<u8> {
    let symbol = rng.pick(SYMBOLS);
    let time = 1_672_515_782_136 + id;
    format!(
        r#"{{"e":"trade","E":{time},"s":"{symbol}","t":{id},"p":"{}","q":"{}","T":{time},"m":{},"M":true}}"#,
        price(rng),
        qty(rng, false),
        rng.below(2) == 0
    )
    .into_bytes()
}

fn depth(rng: &mut Rng, id: u64) -> Vec<u8> {
    let symbol = rng.pick(SYMBOLS);
    let side = |rng: &mut Rng| {
        let n = 1 + rng.below(10);
        (0..n)
            .map(|_| {
                let p = price(rng);
                let delete = rng.below(5) == 0;
                format!(r#"["{p}","{}"]"#, qty(rng, delete))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let (bids, asks) = (side(rng), side(rng));
    format!(
        r#"{{"e":"depthUpdate","E":{},"s":"{symbol}","U":{},"u":{},"b":[{bids}],"a":[{asks}]}}"#,
        1_672_515_782_136 + id,
        id * 3,
        id * 3 + 2
    )
    .into_bytes()
}

/// `n` Binance frames of one kind or mixed: `"trade"`, `"depth"` or `"mix"` (half each).
pub fn frames(kind: &str, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    (0..n as u64)
        .map(|id| match kind {
            "trade" => trade(&mut rng, id),
            "depth" => depth(&mut rng, id),
            _ if rng.below(2) == 0 => trade(&mut rng, id),
            _ => depth(&mut rng, id),
        })
        .collect()
}
