//! Never trust the wire: every venue decoder, fed documented frames with random
//! damage (bytes flipped, cut short, spliced in) or plain noise, never panics, reports
//! an error at an offset inside the frame, and on error leaves the caller's buffer
//! exactly as it was (all or nothing per frame). The capture reader gets the same.

use feeds::{
    DecodeError, Events,
    binance::BinanceDecoder,
    bybit::BybitDecoder,
    capture::{CaptureReader, CaptureWriter},
    coinbase::CoinbaseDecoder,
    event::UnixNanos,
    kraken::KrakenDecoder,
    okx::OkxDecoder,
    symbols::SymbolTable,
};
use proptest::prelude::*;

const BINANCE: &str = r#"{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}"#;
const BYBIT: &str = r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16611.00","0.029"],["16612.00","0.213"]],"u":18521288,"seq":7961638724},"cts":1672304484976}"#;
const OKX: &str = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"],["8477","7","0","2"]],"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}"#;
const KRAKEN: &str = r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[{"price":0.5668,"qty":0.00000000}],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
const COINBASE: &str = r#"{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80000000","0.162567"],["sell","10102.55","0"]]}"#;

type Decode = fn(&[u8], &mut Events) -> Result<usize, DecodeError>;

fn table(name: &str, price: u8, qty: u8) -> SymbolTable {
    let mut t = SymbolTable::new();
    t.intern(name, price, qty);
    t
}

fn venues() -> [(&'static str, Decode); 5] {
    [
        (BINANCE, |f, out| BinanceDecoder::new(table("BNBBTC", 8, 8)).decode(f, UnixNanos(1), out)),
        (BYBIT, |f, out| BybitDecoder::new(table("BTCUSDT", 2, 3)).decode(f, UnixNanos(1), out)),
        (OKX, |f, out| OkxDecoder::new(table("BTC-USDT", 2, 8)).decode(f, UnixNanos(1), out)),
        (KRAKEN, |f, out| KrakenDecoder::new(table("MATIC/USD", 4, 8)).decode(f, UnixNanos(1), out)),
        (COINBASE, |f, out| CoinbaseDecoder::new(table("BTC-USD", 2, 8)).decode(f, UnixNanos(1), out)),
    ]
}

/// Damage to a frame: flip bytes, cut it short, splice bytes in.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Cut(usize),
    Splice(usize, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Flip(at, b)),
        any::<usize>().prop_map(Damage::Cut),
        (
            any::<usize>(),
            prop::collection::vec(prop::sample::select(b"{}[]\",:-.0123456789eE \\ntrufalse".to_vec()), 1..6)
        )
            .prop_map(|(at, bytes)| Damage::Splice(at, bytes)),
    ]
}

fn apply(frame: &[u8], damages: &[Damage]) -> Vec<u8> {
    let mut f = frame.to_vec();
    for d in damages {
        match d {
            Damage::Flip(at, b) if !f.is_empty() => {
                let i = at % f.len();
                f[i] = *b;
            }
            Damage::Cut(at) => f.truncate(at % (f.len() + 1)),
            Damage::Splice(at, bytes) => {
                let i = at % (f.len() + 1);
                f.splice(i..i, bytes.iter().copied());
            }
            Damage::Flip(..) => {}
        }
    }
    f
}

/// Runs one frame through a decoder after a first, good frame already sits in the
/// buffer: an error must leave exactly that first frame's events.
fn check(decode: Decode, good: &[u8], frame: &[u8]) -> Result<(), TestCaseError> {
    let mut out = Events::with_capacity(64);
    decode(good, &mut out).map_err(|e| TestCaseError::fail(format!("the undamaged frame failed: {e:?}")))?;
    let before = out.as_slice().to_vec();
    match decode(frame, &mut out) {
        Ok(n) => prop_assert_eq!(out.len(), before.len() + n),
        Err(e) => {
            prop_assert!(e.offset as usize <= frame.len(), "offset {} past a {}-byte frame", e.offset, frame.len());
            prop_assert_eq!(out.as_slice(), &before[..], "a failed frame left events behind");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn damaged_frames_fail_cleanly_or_decode(venue in 0usize..5, damages in prop::collection::vec(damage(), 1..4)) {
        let (good, decode) = venues()[venue];
        check(decode, good.as_bytes(), &apply(good.as_bytes(), &damages))?;
    }

    #[test]
    fn noise_fails_cleanly(venue in 0usize..5, noise in prop::collection::vec(any::<u8>(), 0..300)) {
        let (good, decode) = venues()[venue];
        check(decode, good.as_bytes(), &noise)?;
    }

    #[test]
    fn a_damaged_capture_reads_up_to_the_damage_and_never_panics(damages in prop::collection::vec(damage(), 1..4)) {
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        for (i, (frame, _)) in venues().iter().enumerate() {
            w.frame(i as u64 + 1, frame.as_bytes()).unwrap();
        }
        let bytes = w.finish().unwrap();
        let damaged = apply(&bytes, &damages);
        if let Ok(mut reader) = CaptureReader::new(&damaged) {
            let mut items = 0;
            while let Some(item) = reader.next_item() {
                match item {
                    Ok(_) => items += 1,
                    Err(_) => break,
                }
                prop_assert!(items <= 1_000, "the reader must end");
            }
        }
    }
}
