//! The Bybit v5 side of a simulated feed connection: what a client's request gets.
//! Like Bybit, the simulator streams nothing until subscribed, answers every request
//! (`subscribe`, `unsubscribe`, `ping`) with `success` and a reason, refuses more
//! than 10 topics a request (its spot limit) and topics it does not carry, and sends
//! a book's snapshot only when its `orderbook.50` topic is subscribed.

/// A request's answer (in any subscribing venue's words), and the symbols whose book snapshot must
/// follow it.
pub(super) struct Answer {
    /// What is sent back, in order.
    pub replies: Vec<String>,
    pub snapshots: Vec<String>,
    /// A subscription that succeeded.
    pub subscribed: bool,
}

fn reply(success: bool, ret_msg: &str, op: &str) -> String {
    serde_json::json!({"success": success, "ret_msg": ret_msg, "conn_id": "engine-sim", "req_id": "", "op": op})
        .to_string()
}

/// The answer to `text`, for a market carrying `symbols`.
pub(super) fn answer(text: &str, symbols: &[String]) -> Answer {
    let refused =
        |msg: &str, op: &str| Answer { replies: vec![reply(false, msg, op)], snapshots: Vec::new(), subscribed: false };
    let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else { return refused("not JSON", "") };
    let op = request["op"].as_str().unwrap_or_default();
    let args: Vec<&str> =
        request["args"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(|t| t.as_str()).collect());
    match op {
        "ping" => Answer { replies: vec![reply(true, "pong", op)], snapshots: Vec::new(), subscribed: false },
        "subscribe" | "unsubscribe" if args.len() > 10 => refused("args size >10", op),
        "subscribe" | "unsubscribe" => {
            let mut books = Vec::new();
            for topic in &args {
                let known = |s: &&str| symbols.iter().any(|k| k == s);
                match (topic.strip_prefix("orderbook.50."), topic.strip_prefix("publicTrade.")) {
                    (Some(s), _) if known(&s) => books.push(s.to_owned()),
                    (_, Some(s)) if known(&s) => {}
                    _ => return refused(&format!("error:handler not found,topic:{topic}"), op),
                }
            }
            let subscribed = op == "subscribe";
            let snapshots = if subscribed { books } else { Vec::new() };
            Answer { replies: vec![reply(true, "", op)], snapshots, subscribed }
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
        assert!(answer(r#"{"op":"ping"}"#, &symbols).replies[0].contains(r#""ret_msg":"pong""#));
    }
}
