//! The OKX v5 side of a simulated feed connection: what a client's request gets.
//! Like OKX, the simulator streams nothing until subscribed, answers each channel of
//! a `subscribe` or `unsubscribe` with an `event` message (or the whole request with
//! `{"event":"error"}` when one channel is one it does not carry), answers the text
//! `ping` with `pong`, and sends a book's snapshot only when its `books` channel is
//! subscribed.

use super::bybit::{Answer, Change};

fn error(code: &str, msg: &str) -> Answer {
    let reply = serde_json::json!({"event": "error", "code": code, "msg": msg, "connId": "engine-sim"});
    Answer::only(reply.to_string())
}

/// The answer to `text`, for a market carrying `symbols` (OKX instrument ids).
pub(super) fn answer(text: &str, symbols: &[String]) -> Answer {
    if text == "ping" {
        return Answer::only("pong".to_owned());
    }
    let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else {
        return error("60012", &format!("Invalid request: {text}"));
    };
    let op = request["op"].as_str().unwrap_or_default();
    if op != "subscribe" && op != "unsubscribe" {
        return error("60012", &format!("Invalid request: {text}"));
    }
    let args = request["args"].as_array().cloned().unwrap_or_default();
    let mut books = Vec::new();
    for arg in &args {
        let (channel, inst) = (arg["channel"].as_str().unwrap_or_default(), arg["instId"].as_str().unwrap_or_default());
        if !matches!(channel, "books" | "trades") || !symbols.iter().any(|s| s == inst) {
            return error("60018", &format!("Wrong URL or channel:{channel},instId:{inst} doesn't exist"));
        }
        if channel == "books" {
            books.push(inst.to_owned());
        }
    }
    let replies = args
        .iter()
        .map(|arg| serde_json::json!({"event": op, "arg": arg, "connId": "engine-sim"}).to_string())
        .collect();
    let subscribed = op == "subscribe" && !args.is_empty();
    let changes = args
        .iter()
        .map(|arg| Change {
            symbol: arg["instId"].as_str().unwrap_or_default().to_owned(),
            book: arg["channel"] == "books",
            on: op == "subscribe",
        })
        .collect();
    Answer { replies, snapshots: if subscribed { books } else { Vec::new() }, subscribed, changes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_answered_as_okx_does() {
        let symbols = ["BTC-USDT".to_owned()];
        let a = answer(
            r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"}]}"#,
            &symbols,
        );
        assert_eq!(a.replies.len(), 2, "one event per channel");
        assert!(a.replies[0].contains(r#""event":"subscribe""#) && a.snapshots == ["BTC-USDT"] && a.subscribed);
        let a = answer(r#"{"op":"subscribe","args":[{"channel":"books","instId":"ETH-USDT"}]}"#, &symbols);
        assert!(a.replies[0].contains(r#""event":"error""#) && a.replies[0].contains("ETH-USDT") && !a.subscribed);
        let a = answer(r#"{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#, &symbols);
        assert!(a.replies[0].contains(r#""event":"unsubscribe""#) && a.snapshots.is_empty());
        assert_eq!(answer("ping", &symbols).replies, ["pong"]);
        assert!(answer("hello", &symbols).replies[0].contains("60012"));
    }
}
