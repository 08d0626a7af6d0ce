//! The Kraken WebSocket v2 side of a simulated feed connection: what a client's
//! request gets. Like Kraken, the simulator announces itself with a `status`
//! message, streams nothing until subscribed, answers each symbol of a `subscribe` or
//! `unsubscribe` with its own acknowledgement (`success` true, or false with an
//! `error` for a symbol or channel it does not carry, the other symbols going ahead),
//! answers `ping` with `pong`, echoes every `req_id`, and sends a book's snapshot
//! when its `book` channel is subscribed (unless the request said `"snapshot":
//! false`). A book subscription must ask for one of Kraken's depths, and for at
//! least the simulated book's 20 levels: a shallower client would need levels
//! resent as they come into its depth, which the simulator does not do.

use super::bybit::{Answer, Change};

/// The connection's first message, as Kraken sends it on connect.
pub(super) const STATUS: &str = r#"{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":1}]}"#;

/// What Kraken sends about once a second on a subscribed connection with nothing else
/// to say.
pub(super) const HEARTBEAT: &str = r#"{"channel":"heartbeat"}"#;

/// Now in RFC 3339: Kraken's `time_in` and `time_out` (when the request came and
/// when it was answered, the same instant here).
fn now_rfc3339() -> String {
    let mut text = Vec::new();
    feeds::time::write_rfc3339_micros(&mut text, super::unix_ns());
    String::from_utf8_lossy(&text).into_owned()
}

/// An answer of one reply that is not a subscription.
fn single(reply: serde_json::Value) -> Answer {
    Answer::only(reply.to_string())
}

/// The answer to `text`, for a market carrying `symbols` (Kraken v2 symbols).
pub(super) fn answer(text: &str, symbols: &[String]) -> Answer {
    let time_in = now_rfc3339();
    let time_out = &time_in;
    let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else {
        return single(serde_json::json!({
            "error": "Malformed request", "success": false, "time_in": time_in, "time_out": time_out,
        }));
    };
    let (method, req_id) = (request["method"].as_str().unwrap_or_default(), &request["req_id"]);
    let with_id = |mut reply: serde_json::Value| {
        if !req_id.is_null() {
            reply["req_id"] = req_id.clone();
        }
        reply
    };
    if method == "ping" {
        return single(with_id(serde_json::json!({"method": "pong", "time_in": time_in, "time_out": time_out})));
    }
    let refused = |error: String| {
        with_id(serde_json::json!({
            "error": error, "method": method, "success": false, "time_in": time_in, "time_out": time_out,
        }))
    };
    if method != "subscribe" && method != "unsubscribe" {
        return single(refused(format!("Unsupported method: {method}")));
    }
    let params = &request["params"];
    let channel = params["channel"].as_str().unwrap_or_default();
    if !matches!(channel, "book" | "trade") {
        return single(refused(format!("Channel {channel} is not supported")));
    }
    let requested: Vec<&str> =
        params["symbol"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(|s| s.as_str()).collect());
    if requested.is_empty() {
        return single(refused("Missing field: symbol".to_owned()));
    }
    let snapshot = params["snapshot"].as_bool().unwrap_or(true);
    // Kraken's depths. The simulated book always has 20 levels a side and sends
    // every change to them, which is a depth-25 (or deeper) subscription's view; a
    // depth-10 client would need levels resent as they come into its depth.
    let depth = params["depth"].as_u64().unwrap_or(10);
    let book_subscription = channel == "book" && method == "subscribe";
    if book_subscription && ![10, 25, 100, 500, 1000].contains(&depth) {
        return single(refused(format!("Invalid depth {depth}: one of 10, 25, 100, 500, 1000")));
    }
    if book_subscription && depth < crate::sim::SIM_DEPTH as u64 {
        return single(refused(format!(
            "depth {depth}: the simulator's book has {} levels a side; subscribe at depth 25 or more",
            crate::sim::SIM_DEPTH
        )));
    }
    let (mut replies, mut books, mut subscribed, mut changes) = (Vec::new(), Vec::new(), false, Vec::new());
    for symbol in requested {
        if !symbols.iter().any(|s| s == symbol) {
            let mut reply = refused(format!("Currency pair not supported {symbol}"));
            reply["symbol"] = symbol.into();
            replies.push(reply.to_string());
            continue;
        }
        let mut result = serde_json::json!({"channel": channel, "snapshot": snapshot, "symbol": symbol});
        if channel == "book" {
            result["depth"] = depth.into();
        }
        let reply = serde_json::json!({
            "method": method, "result": result, "success": true, "time_in": time_in, "time_out": time_out,
        });
        replies.push(with_id(reply).to_string());
        changes.push(Change { symbol: symbol.to_owned(), book: channel == "book", on: method == "subscribe" });
        if method == "subscribe" {
            subscribed = true;
            if channel == "book" && snapshot {
                books.push(symbol.to_owned());
            }
        }
    }
    Answer { replies, snapshots: books, subscribed, changes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn requests_are_answered_as_kraken_does() {
        let symbols = ["BTC/USDT".to_owned(), "ETH/USDT".to_owned()];
        let a = answer(
            r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT","ETH/USDT"],"depth":25},"req_id":7}"#,
            &symbols,
        );
        assert!(a.subscribed && a.snapshots == symbols, "a snapshot for each book");
        let reply = json(&a.replies[1]);
        assert_eq!(
            (reply["method"].as_str(), reply["success"].as_bool(), reply["req_id"].as_u64()),
            (Some("subscribe"), Some(true), Some(7))
        );
        assert_eq!(
            reply["result"],
            serde_json::json!({"channel": "book", "depth": 25, "snapshot": true, "symbol": "ETH/USDT"})
        );
        assert!(reply["time_in"].as_str().is_some_and(|t| t.ends_with('Z')));
        let a = answer(
            r#"{"method":"subscribe","params":{"channel":"trade","symbol":["ETH/USDT"],"snapshot":false}}"#,
            &symbols,
        );
        assert!(a.subscribed && a.snapshots.is_empty(), "trades send no book");
        assert!(json(&a.replies[0]).get("req_id").is_none(), "no req_id asked, none echoed");
        let a = answer(
            r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT"],"depth":25,"snapshot":false}}"#,
            &symbols,
        );
        assert!(a.snapshots.is_empty(), "the client declined the snapshot");
        let a = answer(r#"{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USDT"]}}"#, &symbols);
        assert!(!a.subscribed && a.snapshots.is_empty() && json(&a.replies[0])["success"] == true);
        // One symbol it does not carry: refused alone, the other goes ahead.
        let a = answer(
            r#"{"method":"subscribe","params":{"channel":"book","symbol":["DOGE/USDT","BTC/USDT"],"depth":100}}"#,
            &symbols,
        );
        let refusal = json(&a.replies[0]);
        assert_eq!((refusal["success"].as_bool(), refusal["symbol"].as_str()), (Some(false), Some("DOGE/USDT")));
        assert!(refusal["error"].as_str().unwrap().contains("DOGE/USDT"));
        assert!(a.subscribed && a.snapshots == ["BTC/USDT"]);
        let pong = json(&answer(r#"{"method":"ping","req_id":101}"#, &symbols).replies[0]);
        assert_eq!((pong["method"].as_str(), pong["req_id"].as_u64()), (Some("pong"), Some(101)));
        for (bad, reason) in [
            (r#"{"method":"subscribe","params":{"channel":"level3","symbol":["BTC/USDT"]}}"#, "level3"),
            (r#"{"method":"subscribe","params":{"channel":"book","depth":25}}"#, "symbol"),
            (r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT"],"depth":20}}"#, "Invalid depth"),
            (r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT"]}}"#, "depth 10"),
            (r#"{"method":"hello"}"#, "hello"),
            ("ping", "Malformed"),
        ] {
            let a = answer(bad, &symbols);
            let reply = json(&a.replies[0]);
            assert!(!a.subscribed && reply["success"] == false, "{bad}");
            assert!(reply["error"].as_str().unwrap().contains(reason), "{bad}: {reply}");
        }
    }

    /// What the simulator says decodes as a Kraken client reads it: the status, the
    /// heartbeat, acknowledgements and pongs to no events, a refusal as a refusal.
    #[test]
    fn kraken_decoder_reads_the_answers() {
        let decoder = feeds::kraken::KrakenDecoder::new(feeds::symbols::SymbolTable::new());
        let mut out = feeds::Events::with_capacity(4);
        let mut decode = |text: &str| decoder.decode(text.as_bytes(), feeds::event::UnixNanos(0), &mut out);
        let symbols = ["BTC/USDT".to_owned()];
        for quiet in
            [STATUS.to_owned(), HEARTBEAT.to_owned(), answer(r#"{"method":"ping"}"#, &symbols).replies[0].clone()]
        {
            assert_eq!(decode(&quiet), Ok(0), "{quiet}");
        }
        let ack = answer(r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USDT"]}}"#, &symbols);
        assert_eq!(decode(&ack.replies[0]), Ok(0));
        let refusal = answer(r#"{"method":"subscribe","params":{"channel":"trade","symbol":["X/Y"]}}"#, &symbols);
        assert_eq!(decode(&refusal.replies[0]).map_err(|e| e.kind), Err(feeds::DecodeErrorKind::Refused));
    }
}
