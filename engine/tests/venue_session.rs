//! What a feed's venue session sends the venue, against a real WebSocket server on
//! loopback that records every text message: the subscriptions on connect, then the
//! heartbeat each venue asks for at its interval (OKX a bare `ping`, Bybit
//! `{"op":"ping"}`, both every 20 s; Binance and Coinbase none). The feed is polled
//! at chosen clock readings, so 20 s pass without waiting for them.

use std::{net::TcpListener, sync::mpsc};

use engine::run::{Feed, Session, WsFeed};
use feeds::{event::Venue, ws::TlsConfig};
use tungstenite::Message;

const SECOND: u64 = 1_000_000_000;

/// A venue that records each text message of its one connection; the receiver
/// ends when the connection does.
fn recording_venue() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (heard, messages) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        while let Ok(message) = ws.read() {
            if let Message::Text(text) = message {
                heard.send(text.as_str().to_owned()).unwrap();
            }
        }
    });
    (url, messages)
}

#[test]
fn each_venue_is_subscribed_and_pinged_at_its_interval() {
    let cases: [(Venue, &[&str], Option<&str>); 4] = [
        (
            Venue::Okx,
            &[
                r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"}]}"#,
            ],
            Some("ping"),
        ),
        (
            Venue::Bybit,
            &[r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"]}"#],
            Some(r#"{"op":"ping"}"#),
        ),
        (
            Venue::Coinbase,
            &[r#"{"type":"subscribe","product_ids":["BTC-USDT"],"channels":["level2_batch","matches"]}"#],
            None,
        ),
        // Binance's streams are named in the URL: nothing to send.
        (Venue::Binance, &[], None),
    ];
    for (venue, subscriptions, ping) in cases {
        let (url, messages) = recording_venue();
        let mut feed = WsFeed::connect(&url, &TlsConfig::default(), Session::new(venue, &["BTCUSDT"], 0)).unwrap();
        // Connected at 1 s; a ping is due 20 s later, and then 20 s after that.
        for now in [1, 20, 21, 21, 40, 41, 41] {
            assert!(feed.poll(now * SECOND).is_none(), "{venue:?}: the venue sent nothing");
        }
        drop(feed);
        let heard: Vec<String> = messages.iter().collect();
        let pings: Vec<&str> = ping.into_iter().chain(ping).collect();
        let expected: Vec<&str> = subscriptions.iter().copied().chain(pings).collect();
        assert_eq!(heard, expected, "{venue:?}: subscribed on connect, then one ping every 20 s");
    }
}
