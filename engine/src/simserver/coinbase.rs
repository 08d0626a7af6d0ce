//! The Coinbase Exchange side of a simulated feed connection: what a client's
//! request gets. Like Coinbase, the simulator streams nothing until subscribed,
//! answers a `subscribe` or `unsubscribe` with a `subscriptions` message (here naming
//! the request's channels, not every channel the connection holds), refuses a product
//! or channel it does not carry with an `error`, and sends a product's level 2
//! `snapshot` when its `level2` or `level2_batch` channel is subscribed.

use super::bybit::{Answer, Change};

/// The level 2 channels (both send a `snapshot`, then `l2update`s), and the trades.
const CHANNELS: [&str; 3] = ["level2", "level2_batch", "matches"];

fn error(reason: &str) -> Answer {
    let reply = serde_json::json!({"type": "error", "message": "Failed to subscribe", "reason": reason});
    Answer::only(reply.to_string())
}

/// The answer to `text`, for a market carrying `products` (Coinbase product ids).
pub(super) fn answer(text: &str, products: &[String]) -> Answer {
    let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else {
        return error(&format!("malformed JSON: {text}"));
    };
    let kind = request["type"].as_str().unwrap_or_default();
    if kind != "subscribe" && kind != "unsubscribe" {
        return error(&format!("type {kind:?} is not one of subscribe, unsubscribe"));
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().map_or(Vec::new(), |a| a.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
    };
    let top = names(&request["product_ids"]);
    // A channel is a name (for the top-level products) or `{"name", "product_ids"}`.
    let mut channels = Vec::new();
    for channel in request["channels"].as_array().into_iter().flatten() {
        match channel.as_str() {
            Some(name) => channels.push((name.to_owned(), top.clone())),
            None => {
                channels.push((channel["name"].as_str().unwrap_or_default().to_owned(), names(&channel["product_ids"])))
            }
        }
    }
    if channels.is_empty() {
        return error("no channels");
    }
    let mut books = Vec::new();
    for (name, ids) in &channels {
        if !CHANNELS.contains(&name.as_str()) {
            return error(&format!("{name} is not a valid channel"));
        }
        if let Some(unknown) = ids.iter().find(|p| !products.contains(p)) {
            return error(&format!("{unknown} is not a valid product"));
        }
        if ids.is_empty() {
            return error(&format!("no product ids for {name}"));
        }
        if name.starts_with("level2") {
            books.extend(ids.iter().cloned());
        }
    }
    let listed: Vec<serde_json::Value> =
        channels.iter().map(|(name, ids)| serde_json::json!({"name": name, "product_ids": ids})).collect();
    let reply = serde_json::json!({"type": "subscriptions", "channels": listed}).to_string();
    let subscribed = kind == "subscribe";
    // Both level 2 channels are the book here: unsubscribing either stops it.
    let changes = channels
        .iter()
        .flat_map(|(name, ids)| {
            ids.iter().map(|id| Change { symbol: id.clone(), book: name.starts_with("level2"), on: subscribed })
        })
        .collect();
    Answer { replies: vec![reply], snapshots: if subscribed { books } else { Vec::new() }, subscribed, changes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_answered_as_coinbase_does() {
        let products = ["BTC-USDT".to_owned(), "ETH-USDT".to_owned()];
        let a = answer(
            r#"{"type":"subscribe","product_ids":["BTC-USDT","ETH-USDT"],"channels":["level2_batch","matches"]}"#,
            &products,
        );
        assert!(a.subscribed && a.snapshots == products, "a snapshot for each level 2 product");
        let reply: serde_json::Value = serde_json::from_str(&a.replies[0]).unwrap();
        assert_eq!(reply["type"], "subscriptions");
        assert_eq!(reply["channels"][0], serde_json::json!({"name": "level2_batch", "product_ids": products}));
        let a = answer(
            r#"{"type":"subscribe","channels":[{"name":"matches","product_ids":["ETH-USDT"]},{"name":"level2","product_ids":["BTC-USDT"]}]}"#,
            &products,
        );
        assert_eq!(a.snapshots, ["BTC-USDT"], "channels named with their own products");
        let a = answer(r#"{"type":"unsubscribe","product_ids":["BTC-USDT"],"channels":["level2_batch"]}"#, &products);
        assert!(!a.subscribed && a.snapshots.is_empty() && a.replies[0].contains("subscriptions"));
        for (bad, reason) in [
            (
                r#"{"type":"subscribe","product_ids":["DOGE-USD"],"channels":["matches"]}"#,
                "DOGE-USD is not a valid product",
            ),
            (r#"{"type":"subscribe","product_ids":["BTC-USDT"],"channels":["full"]}"#, "full is not a valid channel"),
            (r#"{"type":"subscribe","product_ids":["BTC-USDT"]}"#, "no channels"),
            (r#"{"type":"hello"}"#, "not one of subscribe"),
            ("ping", "malformed JSON"),
        ] {
            let a = answer(bad, &products);
            assert!(!a.subscribed && a.replies[0].contains(r#""type":"error""#), "{bad}");
            assert!(a.replies[0].contains(reason), "{bad}: {}", a.replies[0]);
        }
    }
}
