//! The Bybit v5 side of a simulated feed connection: what a client's request gets.
//! Like Bybit, the simulator streams nothing until subscribed, answers every request
//! (`subscribe`, `unsubscribe`, `ping`) with `success` and a reason, refuses more
//! than 10 topics a request (its spot limit) and topics it does not carry, and sends
//! a book's snapshot only when its `orderbook.50` topic is subscribed.

/// A request's answer (in any subscribing venue's words), and the symbols whose book snapshot must
/// follow it.
#[derive(Debug, Default)]
pub(super) struct Answer {
    /// What is sent back, in order.
    pub replies: Vec<String>,
    pub snapshots: Vec<String>,
    /// A subscription that succeeded.
    pub subscribed: bool,
    /// The subscriptions it turned on or off, so the connection streams only what
    /// is subscribed.
    pub changes: Vec<Change>,
}

impl Answer {
    /// Just `reply`: nothing subscribed or unsubscribed.
    pub fn only(reply: String) -> Self {
        Self { replies: vec![reply], ..Self::default() }
    }
}

/// One subscription a request turned on or off: a symbol's book or its trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    /// As the venue writes it.
    pub symbol: String,
    /// The book; otherwise the trades.
    pub book: bool,
    /// Subscribed; otherwise unsubscribed.
    pub on: bool,
}

fn reply(success: bool, ret_msg: &str, op: &str) -> String {
    serde_json::json!({"success": success, "ret_msg": ret_msg, "conn_id": "engine-sim", "req_id": "", "op": op})
        .to_string()
}

/// The answer to `text`, for a market carrying `symbols`.
pub(super) fn answer(text: &str, symbols: &[String]) -> Answer {
    let refused = |msg: &str, op: &str| Answer::only(reply(false, msg, op));
    let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else { return refused("not JSON", "") };
    let op = request["op"].as_str().unwrap_or_default();
    let args: Vec<&str> =
        request["args"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(|t| t.as_str()).collect());
    match op {
        "ping" => Answer::only(reply(true, "pong", op)),
        "subscribe" | "unsubscribe" if args.len() > 10 => refused("args size >10", op),
        "subscribe" | "unsubscribe" => {
            let (mut books, mut changes) = (Vec::new(), Vec::new());
            let subscribed = op == "subscribe";
            for topic in &args {
                let known = |s: &&str| symbols.iter().any(|k| k == s);
                let (symbol, book) = match (topic.strip_prefix("orderbook.50."), topic.strip_prefix("publicTrade.")) {
                    (Some(s), _) if known(&s) => (s, true),
                    (_, Some(s)) if known(&s) => (s, false),
                    _ => return refused(&format!("error:handler not found,topic:{topic}"), op),
                };
                if book {
                    books.push(symbol.to_owned());
                }
                changes.push(Change { symbol: symbol.to_owned(), book, on: subscribed });
            }
            let snapshots = if subscribed { books } else { Vec::new() };
            Answer { replies: vec![reply(true, "", op)], snapshots, subscribed, changes }
        }
        _ => refused("unknown op", op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_answered_as_bybit_does() {
        let symbols = ["BTCUSDT".to_owned()];
        let a = answer(r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"]}"#, &symbols);
        assert!(a.replies[0].contains(r#""success":true"#) && a.snapshots == ["BTCUSDT"]);
        let a = answer(r#"{"op":"subscribe","args":["orderbook.50.ETHUSDT"]}"#, &symbols);
        assert!(a.replies[0].contains(r#""success":false"#) && a.replies[0].contains("orderbook.50.ETHUSDT"));
        let eleven: Vec<String> = (0..11).map(|_| "\"publicTrade.BTCUSDT\"".to_owned()).collect();
        let a = answer(&format!(r#"{{"op":"subscribe","args":[{}]}}"#, eleven.join(",")), &symbols);
        assert!(a.replies[0].contains("args size >10"));
        let a = answer(r#"{"op":"unsubscribe","args":["orderbook.50.BTCUSDT"]}"#, &symbols);
        assert!(a.replies[0].contains(r#""success":true"#) && a.snapshots.is_empty());
        assert_eq!(a.changes, [Change { symbol: "BTCUSDT".into(), book: true, on: false }]);
        assert!(answer(r#"{"op":"ping"}"#, &symbols).replies[0].contains(r#""ret_msg":"pong""#));
    }
}
