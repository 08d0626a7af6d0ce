//! The simulator's frames in each venue's own words: Bybit v5 `orderbook` messages,
//! OKX v5 `books` messages with their checksums, Coinbase Exchange `snapshot`,
//! `l2update` and `match` messages, Kraken v2 `book` and `trade` messages with their
//! checksums, and the decimals and levels they are written with (Binance's are in [`super::market`], the default).

use std::io::Write;

use feeds::event::{Level, Price, Qty};

use super::market::{SIM_DEPTH, SimSymbol};

/// A Bybit v5 `orderbook.50.{symbol}` message of `kind` (`snapshot` or `delta`), with
/// `u` (and `seq`) the symbol's update id.
pub(super) fn write_bybit_book(
    frame: &mut Vec<u8>,
    (s, ms): (&SimSymbol, u64),
    kind: &str,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) {
    let _ = write!(
        frame,
        r#"{{"topic":"orderbook.50.{}","type":"{kind}","ts":{ms},"data":{{"s":"{}","b":["#,
        s.name, s.name
    );
    write_levels(frame, bids, s.price_scale, s.qty_scale);
    frame.extend_from_slice(br#"],"a":["#);
    write_levels(frame, asks, s.price_scale, s.qty_scale);
    let _ = write!(frame, r#"],"u":{},"seq":{}}},"cts":{ms}}}"#, s.update_id, s.update_id);
}

/// An OKX v5 `books` message of `action` (`snapshot` or `update`): `seqId` the
/// symbol's update id, `prevSeqId` the one before it (-1 on a snapshot; an id the
/// simulator skipped breaks the chain), and the checksum of the simulator's whole book
/// as it stands, over the same decimals the levels are written in.
pub(super) fn write_okx_book(
    frame: &mut Vec<u8>,
    (s, ms): (&SimSymbol, u64),
    action: &str,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) {
    let inst = &s.venue_name;
    let _ = write!(frame, r#"{{"arg":{{"channel":"books","instId":"{inst}"}},"action":"{action}","data":[{{"asks":["#);
    write_okx_levels(frame, asks, (s.price_scale, s.qty_scale));
    frame.extend_from_slice(br#"],"bids":["#);
    write_okx_levels(frame, bids, (s.price_scale, s.qty_scale));
    let level = |price: i64, qty: i64| Level { price: Price(price), qty: Qty(qty) };
    let book_bids = (0..SIM_DEPTH).map(|i| level(s.best_bid - i as i64, s.bids[i]));
    let book_asks = (0..SIM_DEPTH).map(|i| level(s.best_bid + 1 + i as i64, s.asks[i]));
    let checksum = feeds::checksum::okx_levels(book_bids, book_asks, (s.price_scale, s.qty_scale));
    let prev = if action == "snapshot" { -1 } else { s.update_id as i64 - 1 };
    let _ = write!(frame, r#"],"ts":"{ms}","checksum":{checksum},"prevSeqId":{prev},"seqId":{}}}]}}"#, s.update_id);
}

/// A Coinbase Exchange level 2 message: a `snapshot` (`bids`, `asks`) or an
/// `l2update` (`changes`, each `[side, price, size]`, size 0 a delete, then its time).
pub(super) fn write_coinbase_book(
    frame: &mut Vec<u8>,
    (s, ms): (&SimSymbol, u64),
    snapshot: bool,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) {
    let product = &s.venue_name;
    if snapshot {
        let _ = write!(frame, r#"{{"type":"snapshot","product_id":"{product}","bids":["#);
        write_levels(frame, bids, s.price_scale, s.qty_scale);
        frame.extend_from_slice(br#"],"asks":["#);
        write_levels(frame, asks, s.price_scale, s.qty_scale);
        frame.extend_from_slice(b"]}");
        return;
    }
    let _ = write!(frame, r#"{{"type":"l2update","product_id":"{product}","changes":["#);
    let changes = bids.iter().map(|l| ("buy", l)).chain(asks.iter().map(|l| ("sell", l)));
    for (n, (side, (price, qty))) in changes.enumerate() {
        let _ = write!(frame, r#"{}["{side}",""#, if n == 0 { "" } else { "," });
        feeds::decimal::write_fixed(frame, *price, s.price_scale);
        frame.extend_from_slice(b"\",\"");
        feeds::decimal::write_fixed(frame, *qty, s.qty_scale);
        frame.extend_from_slice(b"\"]");
    }
    frame.extend_from_slice(br#"],"time":""#);
    feeds::time::write_rfc3339_micros(frame, ms * 1_000_000);
    frame.extend_from_slice(b"\"}");
}

/// A Coinbase Exchange `match`: `side` is the maker's (the taker bought when the
/// maker sold); `sequence` the product's, here its update id.
pub(super) fn write_coinbase_match(
    frame: &mut Vec<u8>,
    (s, ms): (&SimSymbol, u64),
    taker_bought: bool,
    (price, qty): (i64, i64),
) {
    let (trade_id, sequence, product) = (s.trade_id, s.update_id, &s.venue_name);
    let _ = write!(
        frame,
        r#"{{"type":"match","trade_id":{trade_id},"sequence":{sequence},"maker_order_id":"sim-maker-{trade_id}","taker_order_id":"sim-taker-{trade_id}","time":""#
    );
    feeds::time::write_rfc3339_micros(frame, ms * 1_000_000);
    let _ = write!(frame, r#"","product_id":"{product}","size":""#);
    feeds::decimal::write_fixed(frame, qty, s.qty_scale);
    frame.extend_from_slice(br#"","price":""#);
    feeds::decimal::write_fixed(frame, price, s.price_scale);
    let maker = if taker_bought { "sell" } else { "buy" };
    let _ = write!(frame, r#"","side":"{maker}"}}"#);
}

/// A Kraken v2 `book` message: a `snapshot`, or an `update` (size 0 a delete) with
/// its time. Prices and sizes are JSON numbers at the instrument's precision, and
/// the checksum is of the simulator's whole book as it stands (its top ten levels).
pub(super) fn write_kraken_book(
    frame: &mut Vec<u8>,
    (s, ms): (&SimSymbol, u64),
    snapshot: bool,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) {
    let kind = if snapshot { "snapshot" } else { "update" };
    let _ = write!(frame, r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"{}","bids":["#, s.venue_name);
    write_kraken_levels(frame, bids, (s.price_scale, s.qty_scale));
    frame.extend_from_slice(br#"],"asks":["#);
    write_kraken_levels(frame, asks, (s.price_scale, s.qty_scale));
    let level = |price: i64, qty: i64| Level { price: Price(price), qty: Qty(qty) };
    let book_asks = (0..SIM_DEPTH).map(|i| level(s.best_bid + 1 + i as i64, s.asks[i]));
    let book_bids = (0..SIM_DEPTH).map(|i| level(s.best_bid - i as i64, s.bids[i]));
    let scale = (s.price_scale, s.qty_scale);
    // Written at the book's own precision, so every level has a checksum text.
    let checksum = feeds::checksum::kraken_levels(book_asks, book_bids, scale, scale).unwrap_or(0);
    let _ = write!(frame, r#"],"checksum":{checksum}"#);
    if !snapshot {
        frame.extend_from_slice(br#","timestamp":""#);
        feeds::time::write_rfc3339_micros(frame, ms * 1_000_000);
        frame.push(b'"');
    }
    frame.extend_from_slice(b"}]}");
}

/// A Kraken v2 `trade` message of one trade: `side` is the taker's, who sent a
/// market order.
pub(super) fn write_kraken_trade(
    frame: &mut Vec<u8>,
    (s, ms): (&SimSymbol, u64),
    taker_bought: bool,
    (price, qty): (i64, i64),
) {
    let side = if taker_bought { "buy" } else { "sell" };
    let _ = write!(
        frame,
        r#"{{"channel":"trade","type":"update","data":[{{"symbol":"{}","side":"{side}","price":"#,
        s.venue_name
    );
    feeds::decimal::write_fixed(frame, price, s.price_scale);
    frame.extend_from_slice(br#","qty":"#);
    feeds::decimal::write_fixed(frame, qty, s.qty_scale);
    let _ = write!(frame, r#","ord_type":"market","trade_id":{},"timestamp":""#, s.trade_id);
    feeds::time::write_rfc3339_micros(frame, ms * 1_000_000);
    frame.extend_from_slice(br#""}]}"#);
}

/// Kraken's levels: `{"price":p,"qty":q}`, both JSON numbers.
fn write_kraken_levels(frame: &mut Vec<u8>, levels: &[(i64, i64)], (price_scale, qty_scale): (u8, u8)) {
    for (n, (price, qty)) in levels.iter().enumerate() {
        frame.extend_from_slice(if n == 0 { br#"{"price":"# } else { br#",{"price":"# });
        feeds::decimal::write_fixed(frame, *price, price_scale);
        frame.extend_from_slice(br#","qty":"#);
        feeds::decimal::write_fixed(frame, *qty, qty_scale);
        frame.push(b'}');
    }
}

/// OKX's 4-string levels: price, size, the deprecated `"0"` and an order count.
fn write_okx_levels(frame: &mut Vec<u8>, levels: &[(i64, i64)], (price_scale, qty_scale): (u8, u8)) {
    for (n, (price, qty)) in levels.iter().enumerate() {
        frame.extend_from_slice(if n == 0 { b"[\"" } else { b",[\"" });
        write_trimmed(frame, *price, price_scale);
        frame.extend_from_slice(b"\",\"");
        write_trimmed(frame, *qty, qty_scale);
        frame.extend_from_slice(br#"","0","1"]"#);
    }
}

/// Fixed point `value` as OKX writes decimals: no trailing zeros after the point,
/// and no point when nothing follows it.
pub(super) fn write_trimmed(out: &mut Vec<u8>, value: i64, scale: u8) {
    let start = out.len();
    feeds::decimal::write_fixed(out, value, scale);
    if out.get(start..).is_some_and(|digits| digits.contains(&b'.')) {
        while out.last() == Some(&b'0') {
            out.pop();
        }
        if out.last() == Some(&b'.') {
            out.pop();
        }
    }
}

pub(super) fn write_levels(out: &mut Vec<u8>, levels: &[(i64, i64)], price_scale: u8, qty_scale: u8) {
    for (n, (price, qty)) in levels.iter().enumerate() {
        out.extend_from_slice(if n == 0 { b"[\"" } else { b",[\"" });
        feeds::decimal::write_fixed(out, *price, price_scale);
        out.extend_from_slice(b"\",\"");
        feeds::decimal::write_fixed(out, *qty, qty_scale);
        out.extend_from_slice(b"\"]");
    }
}
