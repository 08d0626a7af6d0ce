//! `engine decode`: venue messages in, one JSON object per event out, for debugging a
//! feed by hand. Prices and sizes print as exact decimal strings.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use feeds::Events;
use feeds::binance::BinanceDecoder;
use feeds::decimal::format_fixed;
use feeds::event::{BookSide, Event, Side, UnixNanos};
use feeds::symbols::SymbolTable;
use serde_json::{Value, json};

use crate::cli::{DecodeArgs, VenueArg};

/// Binance quotes every price and size with 8 decimal places; Bybit's are at the
/// instrument's precision, never finer than 8.
const BINANCE_SCALE: u8 = 8;
const BYBIT_SCALE: u8 = 8;
const OKX_SCALE: u8 = 8;
/// Kraken's numbers carry up to 8 decimals for sizes and 10 for some prices.
const KRAKEN_SCALE: u8 = 10;
const COINBASE_SCALE: u8 = 8;

/// The symbol a Binance frame names (`s`, or `data.s` in the combined stream), so the
/// tool can intern symbols on first sight. Cold path: allocation is fine here.
fn binance_symbol(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    let inner = value.get("data").unwrap_or(&value);
    inner.get("s")?.as_str().map(str::to_owned)
}

/// The symbol a Bybit v5 frame's topic names (`orderbook.50.BTCUSDT` → `BTCUSDT`).
fn bybit_symbol(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    value.get("topic")?.as_str()?.rsplit('.').next().map(str::to_owned)
}

/// The instrument an OKX v5 frame's `arg.instId` names (`BTC-USDT`).
fn okx_symbol(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    value.get("arg")?.get("instId")?.as_str().map(str::to_owned)
}

/// The symbol a Kraken v2 frame's first data entry names (`BTC/USD`).
fn kraken_symbol(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    value.get("data")?.get(0)?.get("symbol")?.as_str().map(str::to_owned)
}

/// The product a Coinbase frame names (`product_id`).
fn coinbase_symbol(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    value.get("product_id")?.as_str().map(str::to_owned)
}

/// Finds the symbol a raw line names, to intern it on first sight.
type SymbolOf = fn(&str) -> Option<String>;

/// One decoder per venue, chosen by `--venue`.
enum Decoder {
    Binance(BinanceDecoder),
    Bybit(feeds::bybit::BybitDecoder),
    Okx(feeds::okx::OkxDecoder),
    Kraken(feeds::kraken::KrakenDecoder),
    Coinbase(feeds::coinbase::CoinbaseDecoder),
}

impl Decoder {
    fn new(venue: VenueArg, symbols: SymbolTable) -> Self {
        match venue {
            VenueArg::Binance => Self::Binance(BinanceDecoder::new(symbols)),
            VenueArg::Bybit => Self::Bybit(feeds::bybit::BybitDecoder::new(symbols)),
            VenueArg::Okx => Self::Okx(feeds::okx::OkxDecoder::new(symbols)),
            VenueArg::Kraken => Self::Kraken(feeds::kraken::KrakenDecoder::new(symbols)),
            VenueArg::Coinbase => Self::Coinbase(feeds::coinbase::CoinbaseDecoder::new(symbols)),
        }
    }

    fn decode(&self, frame: &[u8], ts: UnixNanos, out: &mut Events) -> Result<usize, feeds::DecodeError> {
        match self {
            Self::Binance(d) => d.decode(frame, ts, out),
            Self::Bybit(d) => d.decode(frame, ts, out),
            Self::Okx(d) => d.decode(frame, ts, out),
            Self::Kraken(d) => d.decode(frame, ts, out),
            Self::Coinbase(d) => d.decode(frame, ts, out),
        }
    }
}

fn side(side: BookSide) -> &'static str {
    match side {
        BookSide::Bid => "bid",
        BookSide::Ask => "ask",
    }
}

fn event_json(event: &Event, symbols: &SymbolTable, venue: &str, scale: u8) -> Value {
    let px = |v: i64| format_fixed(v, scale);
    match event {
        Event::Trade(t) => json!({
            "kind": "trade",
            "venue": venue,
            "symbol": symbols.symbol(t.instrument),
            "side": t.aggressor().map(|s| if s == Side::Buy { "buy" } else { "sell" }),
            "price": px(t.price.0),
            "size": px(t.qty.0),
            "seq": t.trade_id,
            "ts_exchange_ns": t.ts_exchange.0,
        }),
        Event::Status(st) => json!({
            "kind": "status",
            "venue": venue,
            "symbol": symbols.symbol(st.instrument),
            "status": st.kind().map(feeds::event::StatusKind::name),
            "seq": st.seq,
            "detail": st.detail,
        }),
        Event::Bbo(b) => json!({
            "kind": "bbo",
            "venue": venue,
            "symbol": symbols.symbol(b.instrument),
            "seq": b.update_id,
            "ts_exchange_ns": b.ts_exchange.0,
            "levels": [
                {"side": "bid", "price": px(b.bid.0), "size": px(b.bid_qty.0)},
                {"side": "ask", "price": px(b.ask.0), "size": px(b.ask_qty.0)},
            ],
        }),
        Event::BookDelta(d) => json!({
            "kind": "book_delta",
            "venue": venue,
            "symbol": symbols.symbol(d.instrument),
            "first_seq": d.first_seq,
            "last_seq": d.last_seq,
            "ts_exchange_ns": d.ts_exchange.0,
            "last": d.is_last(),
            "levels": d.levels().map(|(s, l)| json!({"side": side(s), "price": px(l.price.0), "size": px(l.qty.0)})).collect::<Vec<_>>(),
        }),
    }
}

/// Decodes every line of `input`, writing JSON lines to `output`. Returns whether
/// every non-empty line decoded.
///
/// # Errors
/// I/O errors reading or writing.
pub fn run(venue: VenueArg, input: impl BufRead, mut output: impl Write) -> std::io::Result<bool> {
    let (name, scale, symbol_of): (&str, u8, SymbolOf) = match venue {
        VenueArg::Binance => ("binance", BINANCE_SCALE, binance_symbol),
        VenueArg::Bybit => ("bybit", BYBIT_SCALE, bybit_symbol),
        VenueArg::Okx => ("okx", OKX_SCALE, okx_symbol),
        VenueArg::Kraken => ("kraken", KRAKEN_SCALE, kraken_symbol),
        VenueArg::Coinbase => ("coinbase", COINBASE_SCALE, coinbase_symbol),
    };
    let mut symbols = SymbolTable::new();
    let mut decoder = Decoder::new(venue, symbols.clone());
    let mut events = Events::with_capacity(256);
    let mut all_ok = true;
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(symbol) = symbol_of(&line) {
            let known = symbols.len();
            symbols.intern(&symbol, scale, scale);
            if symbols.len() != known {
                decoder = Decoder::new(venue, symbols.clone()); // only when a symbol is new
            }
        }
        events.clear();
        match decoder.decode(line.as_bytes(), UnixNanos(0), &mut events) {
            Ok(_) => {
                for event in events.as_slice() {
                    writeln!(output, "{}", event_json(event, &symbols, name, scale))?;
                }
            }
            Err(e) => {
                all_ok = false;
                writeln!(output, "{}", json!({"error": e.to_string(), "line": index + 1, "offset": e.offset}))?;
            }
        }
    }
    Ok(all_ok)
}

/// `engine decode`.
///
/// # Errors
/// A message naming the file when it cannot be read.
pub fn decode(args: &DecodeArgs) -> Result<ExitCode, String> {
    let file = std::fs::File::open(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let stdout = std::io::stdout();
    let ok = run(args.venue, std::io::BufReader::new(file), stdout.lock())
        .map_err(|e| format!("while decoding {}: {e}", args.file.display()))?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_becomes_json_and_failures_name_their_line() {
        let input = concat!(
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#,
            "\n\n",
            r#"{"result":null,"id":1}"#,
            "\n",
            r#"{"stream":"x","data":{"e":"depthUpdate","E":5,"s":"ETHBTC","U":1,"u":2,"b":[["0.05","1.5"]],"a":[]}}"#,
            "\n",
        );
        let mut out = Vec::new();
        let ok = run(VenueArg::Binance, input.as_bytes(), &mut out).unwrap();
        assert!(!ok, "the ack line fails");
        let lines: Vec<Value> =
            String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["kind"], "trade");
        assert_eq!(lines[0]["symbol"], "BNBBTC");
        assert_eq!(lines[0]["side"], "sell");
        assert_eq!(lines[0]["price"], "0.00100000");
        assert_eq!(lines[0]["size"], "100.00000000");
        assert_eq!(lines[0]["seq"], 12345);
        assert_eq!(lines[0]["ts_exchange_ns"], 1_672_515_782_136_000_000u64);
        assert_eq!(lines[1]["error"], "at byte 0: unknown message kind");
        assert_eq!(lines[1]["line"], 3);
        assert_eq!(lines[2]["kind"], "book_delta");
        assert_eq!(lines[2]["symbol"], "ETHBTC");
        assert_eq!(lines[2]["levels"][0], json!({"side": "bid", "price": "0.05000000", "size": "1.50000000"}));
        assert_eq!((lines[2]["first_seq"].as_u64(), lines[2]["last_seq"].as_u64()), (Some(1), Some(2)));
    }
}
