//! Deterministic synthetic frames in each venue's exact format.

/// A tiny deterministic generator (xorshift64*), so every run parses the same bytes.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SYMBOLS: [&str; 4] = ["BTCUSDT", "ETHUSDT", "BNBBTC", "SOLUSDT"];

/// The symbols the sets use, for the decoders' symbol tables (8 decimals, as Binance).
pub fn binance_symbols() -> &'static [&'static str] {
    &SYMBOLS
}

fn price(rng: &mut Rng) -> String {
    let ticks = 2_000_000_000_000 + rng.below(100_000_000_000);
    format!("{}.{:08}", ticks / 100_000_000, ticks % 100_000_000)
}

fn qty(rng: &mut Rng, zero: bool) -> String {
    if zero {
        return "0.00000000".to_owned();
    }
    let lots = 1 + rng.below(500_000_000);
    format!("{}.{:08}", lots / 100_000_000, lots % 100_000_000)
}

fn trade(rng: &mut Rng, id: u64) -> Vec<u8> {
    let symbol = SYMBOLS[(rng.below(4)) as usize];
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
    let symbol = SYMBOLS[(rng.below(4)) as usize];
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
pub fn binance(kind: &str, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n as u64)
        .map(|id| match kind {
            "trade" => trade(&mut rng, id),
            "depth" => depth(&mut rng, id),
            _ if rng.below(2) == 0 => trade(&mut rng, id),
            _ => depth(&mut rng, id),
        })
        .collect()
}
