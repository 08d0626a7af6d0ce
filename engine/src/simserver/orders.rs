//! One order-entry connection to the simulated exchange. The first message must be a
//! signed login; every request after it is checked (signature, `ts` within the
//! receive window, the rate limit) before it reaches the account's matching, and
//! every refusal is an answer with a reason, never a silent drop. Answers go out in
//! the account's log order; a login with `resume_from` replays what came after it.
//! When the connection drops and the login asked for it, the account's resting
//! orders are cancelled.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use feeds::event::{Price, Qty, Side};
use tungstenite::{Message, WebSocket};

use super::{Registry, Socket, account::Account, lock, now, unix_ns};
use crate::{
    cli::SimArgs,
    gateway::protocol::{self, RECV_WINDOW_MS},
    order::NewOrder,
};

type Shared = Arc<Mutex<Account>>;

/// The session's state.
struct Session {
    account: Option<Shared>,
    /// Log entries already sent.
    sent: usize,
    /// Rate limit: tokens left, refilled at `--order-rate` per second.
    tokens: f64,
    refilled: std::time::Instant,
    /// Cancels held back by `--cancel-delay-ms`: (due, client id).
    delayed: Vec<(std::time::Instant, u64)>,
    /// The account's log length when the last query's answer was made: the
    /// entries before it go out before the answer, as a venue answers in order.
    answered_at: usize,
    /// The reply just made answers a query (`--query-delay-ms` holds it back).
    query_answered: bool,
}

/// Serves one order-entry connection until it ends (the error says how).
pub(super) fn serve<S: Socket>(mut ws: WebSocket<S>, registry: &Registry, args: &SimArgs) -> Result<(), String> {
    ws.get_ref().tcp().set_read_timeout(Some(Duration::from_millis(1))).map_err(|e| e.to_string())?;
    let mut session = Session {
        account: None,
        sent: 0,
        tokens: f64::from(args.order_rate),
        refilled: now(),
        delayed: Vec::new(),
        answered_at: 0,
        query_answered: false,
    };
    let result = run(&mut ws, &mut session, registry, args);
    if let Some(account) = &session.account {
        let mut a = lock(account);
        if a.cancel_on_disconnect {
            a.cancel_all(unix_ns());
        }
    }
    result
}

fn run<S: Socket>(ws: &mut WebSocket<S>, s: &mut Session, registry: &Registry, args: &SimArgs) -> Result<(), String> {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                if let Some(reply) = handle(text.as_bytes(), s, registry, args) {
                    if std::mem::take(&mut s.query_answered) {
                        std::thread::sleep(Duration::from_millis(args.query_delay_ms));
                    }
                    send_log(ws, s, s.answered_at)?;
                    ws.send(Message::text(reply)).map_err(|e| e.to_string())?;
                }
            }
            Ok(Message::Close(_)) => return Ok(()),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.to_string()),
        }
        let due = now();
        let (ready, waiting): (Vec<_>, Vec<_>) = s.delayed.drain(..).partition(|(at, _)| *at <= due);
        s.delayed = waiting;
        if let Some(account) = &s.account {
            let mut a = lock(account);
            for (_, cid) in ready {
                a.cancel(cid, unix_ns());
            }
        }
        send_log(ws, s, usize::MAX)?;
    }
}

/// Sends the account's log entries not sent yet, up to entry `upto` (exclusive).
fn send_log<S: Socket>(ws: &mut WebSocket<S>, s: &mut Session, upto: usize) -> Result<(), String> {
    let Some(account) = &s.account else { return Ok(()) };
    let mut a = lock(account);
    let upto = upto.min(a.log.len());
    let mut pending = Vec::with_capacity(upto.saturating_sub(s.sent));
    for seq in s.sent + 1..=upto {
        // --skip-report: left out once; a resumed login sends it.
        if seq as u64 == a.skip_report && !a.skipped {
            a.skipped = true;
            continue;
        }
        pending.extend(a.log.get(seq - 1).cloned());
    }
    drop(a);
    s.sent = s.sent.max(upto);
    for text in pending {
        ws.write(Message::text(text)).map_err(|e| e.to_string())?;
    }
    ws.flush().map_err(|e| e.to_string())
}

/// Handles one request; returns a direct reply (login, queries, protocol errors).
/// Order answers go through the account's log.
fn handle(text: &[u8], s: &mut Session, registry: &Registry, args: &SimArgs) -> Option<String> {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(text) else {
        return Some(serde_json::json!({"type": "error", "reason": "not a JSON object"}).to_string());
    };
    // A query's `id` comes back in its answer, or in the error in its place.
    let id = request["id"].as_u64();
    let error = |reason: &str| Some(serde_json::json!({"type": "error", "id": id, "reason": reason}).to_string());
    let op = request["op"].as_str().unwrap_or_default();
    let cid = request["cid"].as_u64();
    let login_reply = |ok: bool, seq: usize, reason: &str| {
        Some(serde_json::json!({"type": "login", "ok": ok, "seq": seq, "reason": reason}).to_string())
    };
    let Some(creds) = &registry.credentials else {
        return login_reply(false, 0, "the simulator has no API key: set ENGINE_API_KEY and ENGINE_API_SECRET");
    };
    let fresh = request["ts"].as_u64().is_some_and(|ts| (unix_ns() / 1_000_000).abs_diff(ts) <= RECV_WINDOW_MS);
    if op == "login" {
        if request["key"].as_str() != Some(creds.key()) {
            return login_reply(false, 0, "unknown API key");
        }
        if !creds.verify(text) {
            return login_reply(false, 0, "bad signature");
        }
        if !fresh {
            return login_reply(false, 0, "ts outside the receive window");
        }
        let account = registry.account(creds.key(), args);
        let mut a = lock(&account);
        a.cancel_on_disconnect = request["cancel_on_disconnect"].as_bool().unwrap_or(false);
        let seq = a.log.len();
        s.sent = usize::try_from(request["resume_from"].as_u64().unwrap_or(0)).unwrap_or(usize::MAX).min(seq);
        drop(a);
        s.account = Some(account);
        return login_reply(true, seq, "");
    }
    let Some(account) = s.account.clone() else { return error("log in first") };
    let mut a = lock(&account);
    // A refused request is answered in its own kind: a refused cancel or replace
    // leaves the order as it was; only a refused new order is a reject.
    let refuse = |a: &mut Account, reason: &str| match (cid, op) {
        (Some(cid), "cancel") => {
            a.refuse_cancel(cid, reason);
            None
        }
        (Some(cid), "replace") => {
            a.refuse_replace(cid, reason);
            None
        }
        (Some(cid), _) => {
            a.reject(cid, reason);
            None
        }
        (None, _) => error(reason),
    };
    if !creds.verify(text) {
        return refuse(&mut a, "bad_signature");
    }
    if !fresh {
        return refuse(&mut a, "stale_request");
    }
    let ts = unix_ns();
    match op {
        "new" => {
            let Some(cid) = cid else { return error("new without cid") };
            // The token bucket of the venue's published rate limit.
            let elapsed = s.refilled.elapsed().as_secs_f64();
            s.refilled = now();
            let rate = f64::from(args.order_rate);
            s.tokens = (s.tokens + elapsed * rate).min(rate.max(1.0));
            if s.tokens < 1.0 {
                a.reject(cid, "rate_limited");
                return None;
            }
            s.tokens -= 1.0;
            match parse_new(&request, &a) {
                Err(reason) => a.reject(cid, reason),
                Ok(_) if !a.has_market => a.reject(cid, "no_market"),
                Ok(order) => a.submit(cid, &order, ts),
            }
            None
        }
        "cancel" => {
            let Some(cid) = cid else { return error("cancel without cid") };
            if args.cancel_delay_ms > 0 {
                s.delayed.push((now() + Duration::from_millis(args.cancel_delay_ms), cid));
            } else {
                a.cancel(cid, ts);
            }
            None
        }
        "replace" => {
            let Some(cid) = cid else { return error("replace without cid") };
            match a.listing_of(cid).map(|l| (l.price_scale, l.qty_scale)) {
                Some((ps, qs)) => match (decimal(&request["price"], ps), decimal(&request["qty"], qs)) {
                    (Some(price), Some(qty)) if price > 0 && qty > 0 => a.replace(cid, Price(price), Qty(qty), ts),
                    _ => a.refuse_replace(cid, "bad_decimal"),
                },
                None => a.replace(cid, Price(1), Qty(1), ts),
            }
            None
        }
        "open_orders" | "positions" => {
            s.answered_at = a.log.len();
            s.query_answered = true;
            Some(if op == "open_orders" { a.open_orders(id) } else { a.positions(id) })
        }
        _ => error("unknown op"),
    }
}

fn decimal(value: &serde_json::Value, scale: u8) -> Option<i64> {
    feeds::decimal::parse_fixed(value.as_str()?.as_bytes(), scale).ok()
}

fn parse_new(request: &serde_json::Value, a: &Account) -> Result<NewOrder, &'static str> {
    let instrument = a.instrument(request["symbol"].as_str().unwrap_or_default()).ok_or("unknown_symbol")?;
    let listing = a.listings.get(instrument.0 as usize).ok_or("unknown_symbol")?;
    let side = match request["side"].as_str() {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        _ => return Err("bad_side"),
    };
    let order_type = protocol::parse_type(request["type"].as_str().unwrap_or_default().as_bytes()).ok_or("bad_type")?;
    let price = decimal(&request["price"], listing.price_scale).filter(|p| *p > 0).ok_or("bad_price")?;
    let qty = decimal(&request["qty"], listing.qty_scale).filter(|q| *q > 0).ok_or("bad_qty")?;
    Ok(NewOrder { instrument, side, price: Price(price), qty: Qty(qty), order_type, stop: Price(0) })
}
