//! `engine sim` streams a connection only what it subscribed to, as the venues do:
//! a raw WebSocket client subscribes one symbol's book and both symbols' trades,
//! sees exactly those, then unsubscribes the book and, once the venue's answer has
//! come, sees no more of it while the trades go on. In each dialect that subscribes.
#![allow(clippy::disallowed_methods, reason = "a client reading a live socket for wall-clock spans")]

use std::{
    net::TcpStream,
    time::{Duration, Instant},
};

use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

use crate::common;

/// How one venue writes what this test sends and reads.
struct Dialect {
    name: &'static str,
    /// Its names of BTCUSDT and ETHUSDT.
    symbols: [&'static str; 2],
    /// Text that marks a book message, and a trade message.
    book: &'static [&'static str],
    trade: &'static str,
    /// Subscribe BTC's book and both trades; then unsubscribe BTC's book.
    subscribe: &'static [&'static str],
    unsubscribe: &'static str,
    /// Text in the answer to the unsubscribe, and how many answers carry it by then.
    unsubscribed: (&'static str, usize),
}

const DIALECTS: [Dialect; 4] = [
    Dialect {
        name: "bybit",
        symbols: ["BTCUSDT", "ETHUSDT"],
        book: &["orderbook.50."],
        trade: "publicTrade.",
        subscribe: &[
            r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT","publicTrade.ETHUSDT"]}"#,
        ],
        unsubscribe: r#"{"op":"unsubscribe","args":["orderbook.50.BTCUSDT"]}"#,
        unsubscribed: (r#""op":"unsubscribe""#, 1),
    },
    Dialect {
        name: "okx",
        symbols: ["BTC-USDT", "ETH-USDT"],
        book: &[r#""channel":"books""#],
        trade: r#""channel":"trades""#,
        subscribe: &[
            r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"trades","instId":"ETH-USDT"}]}"#,
        ],
        unsubscribe: r#"{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#,
        unsubscribed: (r#""event":"unsubscribe""#, 1),
    },
    Dialect {
        name: "coinbase",
        symbols: ["BTC-USDT", "ETH-USDT"],
        book: &[r#""type":"l2update""#, r#""type":"snapshot""#],
        trade: r#""type":"match""#,
        subscribe: &[
            r#"{"type":"subscribe","channels":[{"name":"level2_batch","product_ids":["BTC-USDT"]},{"name":"matches","product_ids":["BTC-USDT","ETH-USDT"]}]}"#,
        ],
        unsubscribe: r#"{"type":"unsubscribe","product_ids":["BTC-USDT"],"channels":["level2_batch"]}"#,
        unsubscribed: (r#""type":"subscriptions""#, 2),
    },
    Dialect {
        name: "kraken",
        symbols: ["BTC/USDT", "ETH/USDT"],
        book: &[r#""channel":"book""#],
        trade: r#""channel":"trade""#,
        subscribe: &[
            r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT"],"depth":25}}"#,
            r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USDT","ETH/USDT"]}}"#,
        ],
        unsubscribe: r#"{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USDT"],"depth":25}}"#,
        unsubscribed: (r#""method":"unsubscribe""#, 1),
    },
];

/// Messages seen, per (symbol, book or trade).
#[derive(Debug, Default)]
struct Seen {
    /// [BTC, ETH] x [book, trade].
    counts: [[u64; 2]; 2],
    answers: usize,
}

impl Seen {
    /// Reads for `wait`, or until the `answers`-th message with `answer` in it.
    fn read(
        &mut self,
        ws: &mut WebSocket<MaybeTlsStream<TcpStream>>,
        d: &Dialect,
        wait: Duration,
        until: Option<usize>,
    ) {
        let start = Instant::now();
        while start.elapsed() < wait {
            if until.is_some_and(|n| self.answers >= n) {
                return;
            }
            let text = match ws.read() {
                Ok(Message::Text(t)) => t.as_str().to_owned(),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(e) => panic!("{}: {e}", d.name),
            };
            if text.contains(d.unsubscribed.0) {
                self.answers += 1;
            }
            if text.contains(r#""method":"#) || text.contains(r#""event":"#) {
                continue; // Kraken's and OKX's answers name the channel and symbol too
            }
            let Some(symbol) =
                d.symbols.iter().position(|s| text.contains(&format!("\"{s}\"")) || text.contains(&format!(".{s}\"")))
            else {
                continue;
            };
            if d.book.iter().any(|m| text.contains(m)) {
                self.counts[symbol][0] += 1;
            } else if text.contains(d.trade) {
                self.counts[symbol][1] += 1;
            }
        }
        assert!(until.is_none(), "{}: no answer to the unsubscribe within {wait:?}", d.name);
    }
}

#[test]
fn the_simulator_streams_only_what_is_subscribed() {
    for d in &DIALECTS {
        let (mut server, url) = common::start_sim(
            std::process::Command::new(env!("CARGO_BIN_EXE_engine")),
            &["--port", "0", "--dialect", d.name, "--rate", "20000", "--symbols", "BTCUSDT,ETHUSDT"],
        );
        let (mut ws, _) = tungstenite::connect(url.as_str()).unwrap();
        if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            tcp.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        }
        for request in d.subscribe {
            ws.send(Message::text(*request)).unwrap();
        }
        let mut before = Seen::default();
        before.read(&mut ws, d, Duration::from_millis(500), None);
        let [[btc_book, btc_trades], [eth_book, eth_trades]] = before.counts;
        assert!(btc_book > 20 && btc_trades > 5 && eth_trades > 5, "{}: {before:?}", d.name);
        assert_eq!(eth_book, 0, "{}: ETH's book was never subscribed", d.name);

        ws.send(Message::text(d.unsubscribe)).unwrap();
        // Until the venue answers, messages already on their way may still come.
        let mut answered = Seen { answers: before.answers, ..Seen::default() };
        answered.read(&mut ws, d, Duration::from_secs(5), Some(d.unsubscribed.1));
        let mut after = Seen::default();
        after.read(&mut ws, d, Duration::from_millis(500), None);
        let [[btc_book, btc_trades], [eth_book, eth_trades]] = after.counts;
        assert_eq!((btc_book, eth_book), (0, 0), "{}: no book after the unsubscribe: {after:?}", d.name);
        assert!(btc_trades > 5 && eth_trades > 5, "{}: the trades go on: {after:?}", d.name);
        server.kill().unwrap();
        let _ = server.wait();
    }
}
