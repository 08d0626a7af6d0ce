//! The exchange simulator's order-entry protocol: one JSON object per WebSocket text
//! frame, in both directions.
//!
//! Requests (client → venue) are signed: the client writes the object up to its last
//! field, computes HMAC-SHA256 with the account's secret over exactly those bytes,
//! and closes the object with `,"sig":"<64 hex digits>"}`. The venue recomputes it
//! over the same prefix, so no canonical form is needed. `ts` (ms since the epoch)
//! must be within [`RECV_WINDOW_MS`] of the venue's clock.
//!
//! ```text
//! {"op":"login","key":"K","ts":T,"cancel_on_disconnect":true,"resume_from":N,"sig":"…"}
//! {"op":"new","cid":7,"symbol":"BTCUSDT","side":"buy","type":"limit","price":"100.25","qty":"0.5","ts":T,"sig":"…"}
//! {"op":"cancel","cid":7,"ts":T,"sig":"…"}
//! {"op":"replace","cid":7,"price":"100.50","qty":"0.7","ts":T,"sig":"…"}
//! {"op":"open_orders","id":Q,"ts":T,"sig":"…"}    {"op":"positions","id":Q,"ts":T,"sig":"…"}
//! ```
//!
//! Answers (venue → client) carry `seq`, the account's report sequence: a client that
//! reconnects logs in with `resume_from` set to the last `seq` it applied and the
//! venue sends everything after it again, so no report is lost across a disconnect.
//!
//! ```text
//! {"type":"login","ok":true,"seq":N}         {"type":"login","ok":false,"reason":"…"}
//! {"type":"ack","seq":N,"cid":7}             {"type":"reject","seq":N,"cid":7,"reason":"rate_limited"}
//! {"type":"reject","seq":N,"cid":7,"reason":"would_cross"}   (a post-only order that would have taken)
//! {"type":"fill","seq":N,"cid":7,"symbol":"BTCUSDT","trade_id":9,"price":"…","qty":"…","liquidity":"maker","fee":-3}
//! {"type":"canceled","seq":N,"cid":7}        {"type":"cancel_reject","seq":N,"cid":7}
//! {"type":"replaced","seq":N,"cid":7,"symbol":"BTCUSDT","price":"…","qty":"…"}
//! {"type":"replace_reject","seq":N,"cid":7}  {"type":"expired","seq":N,"cid":7}
//! {"type":"open_orders","id":Q,"orders":[{"cid":7,"symbol":"…","side":"buy","price":"…","qty":"…","filled":"…"}]}
//! {"type":"positions","id":Q,"positions":[{"symbol":"…","net":"…"}]}
//! {"type":"error","id":Q,"reason":"…"}   (`id`: a query's; null for another request, none for one not JSON)
//! ```
//!
//! `fee` is in price units × size units of the instrument's fixed-point scales
//! (negative: a rebate). Encoding a request and decoding a report allocate nothing.

use std::{io::Write, path::Path};

use feeds::{
    DecodeError, DecodeErrorKind,
    decimal::write_fixed,
    event::{Price, Qty, Side},
    json::Scanner,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::order::{ClientId, ExecKind, Liquidity, OrderType};

/// How far a request's `ts` may be from the venue's clock.
pub const RECV_WINDOW_MS: u64 = 30_000;

/// A reject's reason for a post-only order that would have taken liquidity
/// (read as [`ExecKind::WouldCross`]).
pub const WOULD_CROSS: &str = "would_cross";

/// The environment variables the credentials come from.
pub const KEY_VAR: &str = "ENGINE_API_KEY";
/// See [`KEY_VAR`].
pub const SECRET_VAR: &str = "ENGINE_API_SECRET";
/// The environment variable naming a file that holds the API secret (mode 0600),
/// read when [`SECRET_VAR`] is not set.
pub const SECRET_FILE_VAR: &str = "ENGINE_API_SECRET_FILE";

/// An account's API key and secret. `Debug` shows the key only: the secret is never
/// printed or logged.
#[derive(Clone)]
pub struct Credentials {
    key: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("key", &self.key).field("secret", &"<redacted>").finish()
    }
}

impl Credentials {
    /// Credentials from a key and a secret.
    pub fn new(key: &str, secret: &[u8]) -> Self {
        Self { key: key.to_owned(), secret: secret.to_vec() }
    }

    /// From [`KEY_VAR`], and [`SECRET_VAR`] or else the file [`SECRET_FILE_VAR`] names.
    ///
    /// # Errors
    /// The key or the secret is missing or empty, the secret file cannot be read or
    /// others may read it, or the key has characters JSON would need escaped.
    pub fn from_env() -> Result<Self, String> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let key = read(KEY_VAR).ok_or_else(|| format!("{KEY_VAR} is not set (the venue's API key)"))?;
        let secret = match (read(SECRET_VAR), read(SECRET_FILE_VAR)) {
            (Some(secret), _) => secret,
            (None, Some(path)) => secret_file(Path::new(&path))?,
            (None, None) => {
                return Err(format!("neither {SECRET_VAR} nor {SECRET_FILE_VAR} is set (the venue's API secret)"));
            }
        };
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("{KEY_VAR} may hold only letters, digits, '-' and '_'"));
        }
        Ok(Self::new(&key, secret.as_bytes()))
    }

    /// The API key.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    /// Closes the request in `out` (an object missing its closing brace) with its
    /// signature.
    pub fn sign(&self, out: &mut Vec<u8>) {
        let mut mac = self.mac();
        mac.update(out);
        let digest = mac.finalize().into_bytes();
        out.extend_from_slice(b",\"sig\":\"");
        for b in digest {
            let hex = b"0123456789abcdef";
            out.push(hex.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.push(hex.get(usize::from(b & 15)).copied().unwrap_or(b'0'));
        }
        out.extend_from_slice(b"\"}");
    }

    /// Whether `message` ends with a valid signature of everything before it (checked
    /// in constant time).
    pub fn verify(&self, message: &[u8]) -> bool {
        let marker = b",\"sig\":\"";
        let Some(at) = message.windows(marker.len()).rposition(|w| w == marker) else { return false };
        let (payload, rest) = message.split_at(at);
        let Some(hex) = rest.get(marker.len()..marker.len() + 64) else { return false };
        if rest.get(marker.len() + 64..) != Some(b"\"}".as_slice()) {
            return false;
        }
        let mut sig = [0u8; 32];
        for (byte, pair) in sig.iter_mut().zip(hex.chunks(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            match (pair.first().and_then(|c| digit(*c)), pair.get(1).and_then(|c| digit(*c))) {
                (Some(h), Some(l)) => *byte = (h * 16 + l) as u8,
                _ => return false,
            }
        }
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_slice(&sig).is_ok()
    }
}

/// The secret in the file at `path`, its trailing newline dropped. Refused if its
/// group or others may read or write it: a secret needs mode 0600 (or 0400).
///
/// # Errors
/// The file cannot be read, is empty, or is open to others.
pub fn secret_file(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let named = |e: String| format!("{SECRET_FILE_VAR} {}: {e}", path.display());
    let mode = std::fs::metadata(path).map_err(|e| named(e.to_string()))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(named(format!("mode {:04o} lets others near the secret: chmod 600 it", mode & 0o7777)));
    }
    let text = std::fs::read_to_string(path).map_err(|e| named(e.to_string()))?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(named("empty".into()));
    }
    Ok(secret.to_owned())
}

/// A symbol's name and fixed-point scales, as the protocol writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireSymbol<'a> {
    /// The venue's symbol.
    pub name: &'a str,
    /// Decimal places of prices.
    pub price_scale: u8,
    /// Decimal places of sizes.
    pub qty_scale: u8,
}

/// The protocol name of an order type that may reach a venue (`None` for a stop:
/// the engine holds those).
pub fn type_name(t: OrderType) -> Option<&'static str> {
    Some(match t {
        OrderType::Limit => "limit",
        OrderType::PostOnly => "post_only",
        OrderType::Ioc => "ioc",
        OrderType::Market => "market",
        OrderType::Fok => "fok",
        OrderType::Stop { .. } | OrderType::StopLimit { .. } => return None,
    })
}

/// The order type a protocol name means.
pub fn parse_type(name: &[u8]) -> Option<OrderType> {
    Some(match name {
        b"limit" => OrderType::Limit,
        b"post_only" => OrderType::PostOnly,
        b"ioc" => OrderType::Ioc,
        b"market" => OrderType::Market,
        b"fok" => OrderType::Fok,
        _ => return None,
    })
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// Writes `{"op":"new",…` signed into `out` (cleared first).
#[allow(clippy::too_many_arguments, reason = "one wire field each; a struct would only rename them")]
pub fn encode_new(
    out: &mut Vec<u8>,
    creds: &Credentials,
    ts_ms: u64,
    cid: ClientId,
    symbol: WireSymbol<'_>,
    side: Side,
    order_type: &'static str,
    (price, qty): (Price, Qty),
) {
    out.clear();
    let _ = write!(
        out,
        "{{\"op\":\"new\",\"cid\":{},\"symbol\":\"{}\",\"side\":\"{}\",\"type\":\"{order_type}\",\"price\":\"",
        cid.0,
        symbol.name,
        side_name(side)
    );
    write_terms(out, symbol, (price, qty), ts_ms);
    creds.sign(out);
}

/// Writes `PRICE","qty":"QTY","ts":TS` (the request's opening quote is the caller's).
fn write_terms(out: &mut Vec<u8>, symbol: WireSymbol<'_>, (price, qty): (Price, Qty), ts_ms: u64) {
    write_fixed(out, price.0, symbol.price_scale);
    out.extend_from_slice(b"\",\"qty\":\"");
    write_fixed(out, qty.0, symbol.qty_scale);
    let _ = write!(out, "\",\"ts\":{ts_ms}");
}

/// Writes a signed cancel into `out` (cleared first).
pub fn encode_cancel(out: &mut Vec<u8>, creds: &Credentials, ts_ms: u64, cid: ClientId) {
    out.clear();
    let _ = write!(out, "{{\"op\":\"cancel\",\"cid\":{},\"ts\":{ts_ms}", cid.0);
    creds.sign(out);
}

/// Writes a signed replace into `out` (cleared first).
pub fn encode_replace(
    out: &mut Vec<u8>,
    creds: &Credentials,
    ts_ms: u64,
    cid: ClientId,
    symbol: WireSymbol<'_>,
    (price, qty): (Price, Qty),
) {
    out.clear();
    let _ = write!(out, "{{\"op\":\"replace\",\"cid\":{},\"price\":\"", cid.0);
    write_terms(out, symbol, (price, qty), ts_ms);
    creds.sign(out);
}

/// Writes a signed login into `out` (cleared first).
pub fn encode_login(out: &mut Vec<u8>, creds: &Credentials, ts_ms: u64, cancel_on_disconnect: bool, resume_from: u64) {
    out.clear();
    let _ = write!(
        out,
        "{{\"op\":\"login\",\"key\":\"{}\",\"ts\":{ts_ms},\"cancel_on_disconnect\":{cancel_on_disconnect},\"resume_from\":{resume_from}",
        creds.key()
    );
    creds.sign(out);
}

/// Writes a signed query (`open_orders` or `positions`) into `out` (cleared first).
/// The venue echoes `id` in its answer (or the error in its place).
pub fn encode_query(out: &mut Vec<u8>, creds: &Credentials, ts_ms: u64, op: &str, id: u64) {
    out.clear();
    let _ = write!(out, "{{\"op\":\"{op}\",\"id\":{id},\"ts\":{ts_ms}");
    creds.sign(out);
}

/// One venue message, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// A report on one order.
    Report {
        /// The account's report sequence.
        seq: u64,
        /// Which order.
        cid: ClientId,
        /// What happened (`Rejected` for a reject; the reason is below).
        kind: ExecKind,
        /// A reject's reason (empty otherwise).
        reason: &'a [u8],
        /// A fill's or a replace's symbol: its index in the symbols it was read with.
        symbol: Option<usize>,
    },
    /// The login's outcome; on success, the sequence the venue is at.
    Login {
        /// Accepted.
        ok: bool,
        /// The venue's latest sequence.
        seq: u64,
        /// Why not, if refused.
        reason: &'a [u8],
    },
    /// A query's answer (its orders or positions decoded by the caller: cold path).
    Query {
        /// The query's id, echoed.
        id: Option<u64>,
    },
    /// The venue refused a request it could not read.
    Error {
        /// Why.
        reason: &'a [u8],
        /// The query's id, when the request was a query.
        id: Option<u64>,
    },
}

impl Answer<'_> {
    /// The query id a query's answer, or an error in its place, echoes.
    pub fn query_id(&self) -> Option<u64> {
        match self {
            Self::Query { id } | Self::Error { id, .. } => *id,
            Self::Report { .. } | Self::Login { .. } => None,
        }
    }
}

/// Decodes one venue message. A fill's and a replace's price and size are read at the
/// scales of its `symbol`, looked up in `symbols`.
///
/// # Errors
/// Malformed JSON, a missing field, an unknown type or symbol, a bad decimal.
pub fn decode_answer<'a>(msg: &'a [u8], symbols: &[WireSymbol<'_>]) -> Result<Answer<'a>, DecodeError> {
    let mut s = Scanner::new(msg);
    let (mut kind, mut seq, mut cid, mut ok) = (&b""[..], 0u64, 0u64, false);
    let (mut reason, mut symbol) = (&b""[..], &b""[..]);
    let (mut price, mut qty, mut trade_id, mut fee, mut maker) = (&b""[..], &b""[..], 0u64, &b"0"[..], false);
    let mut query = false;
    let mut id = None;
    s.object(|s, key| {
        match key {
            b"type" => kind = s.string()?,
            b"seq" => seq = s.u64("seq")?,
            b"cid" => cid = s.u64("cid")?,
            b"ok" => ok = s.bool("ok")?,
            b"reason" => reason = s.string()?,
            b"symbol" => symbol = s.string()?,
            b"price" => price = s.scalar()?,
            b"qty" => qty = s.scalar()?,
            b"trade_id" => trade_id = s.u64("trade_id")?,
            b"fee" => fee = s.scalar()?,
            b"liquidity" => maker = s.string()? == b"maker",
            b"id" if s.peek() == Some(b'n') => s.skip()?,
            b"id" => id = Some(s.u64("id")?),
            b"orders" | b"positions" => {
                query = true;
                s.skip()?;
            }
            _ => s.skip()?,
        }
        Ok(())
    })?;
    s.end()?;
    let missing = |field| s.err(DecodeErrorKind::MissingField { field });
    let report = |kind| Ok(Answer::Report { seq, cid: ClientId(cid), kind, reason, symbol: None });
    let scales =
        || {
            symbols.iter().enumerate().find(|(_, w)| w.name.as_bytes() == symbol).ok_or_else(|| {
                s.err(DecodeErrorKind::BadField { field: "symbol", expected: "a symbol of this session" })
            })
        };
    let priced = |kind, index| Ok(Answer::Report { seq, cid: ClientId(cid), kind, reason, symbol: Some(index) });
    let fixed = |text: &[u8], scale, field| {
        feeds::decimal::parse_fixed(text, scale).map_err(|error| s.err(DecodeErrorKind::BadDecimal { field, error }))
    };
    // A fill or a replace at a price or size of zero or less is not one this engine
    // sent; it is refused here rather than reaching the positions.
    let positive = |text: &[u8], scale, field| match fixed(text, scale, field)? {
        v if v > 0 => Ok(v),
        _ => Err(s.err(DecodeErrorKind::BadField { field, expected: "a positive amount" })),
    };
    match kind {
        b"ack" => report(ExecKind::Accepted),
        b"reject" if reason == WOULD_CROSS.as_bytes() => report(ExecKind::WouldCross),
        b"reject" => report(ExecKind::Rejected),
        b"canceled" => report(ExecKind::Canceled),
        b"cancel_reject" => report(ExecKind::CancelRejected),
        b"replace_reject" => report(ExecKind::ReplaceRejected),
        b"expired" => report(ExecKind::Expired),
        b"fill" => {
            let (index, w) = scales()?;
            let price = Price(positive(price, w.price_scale, "price")?);
            let qty = Qty(positive(qty, w.qty_scale, "qty")?);
            let fee = fixed(fee, 0, "fee")?;
            let liquidity = if maker { Liquidity::Maker } else { Liquidity::Taker };
            if trade_id == 0 {
                return Err(missing("trade_id"));
            }
            priced(ExecKind::Fill { price, qty, liquidity, trade_id, fee }, index)
        }
        b"replaced" => {
            let (index, w) = scales()?;
            let price = Price(positive(price, w.price_scale, "price")?);
            let qty = Qty(positive(qty, w.qty_scale, "qty")?);
            priced(ExecKind::Replaced { price, qty }, index)
        }
        b"login" => Ok(Answer::Login { ok, seq, reason }),
        b"open_orders" | b"positions" if query => Ok(Answer::Query { id }),
        b"error" => Ok(Answer::Error { reason, id }),
        b"" => Err(missing("type")),
        _ => Err(s.err(DecodeErrorKind::BadField { field: "type", expected: "a known message type" })),
    }
}

/// The `seq` and `cid` of a venue message that [`decode_answer`] could not read,
/// where it has them before whatever is wrong with it: a numbered report the engine
/// cannot apply still takes its place in the sequence, and its client id says
/// whether it was about one of our orders.
pub fn seq_and_cid_of(msg: &[u8]) -> (Option<u64>, Option<u64>) {
    let mut s = Scanner::new(msg);
    let (mut seq, mut cid) = (None, None);
    let _ = s.object(|s, key| {
        match key {
            b"seq" => seq = Some(s.u64("seq")?),
            b"cid" => cid = Some(s.u64("cid")?),
            _ => s.skip()?,
        }
        Ok(())
    });
    (seq, cid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC: WireSymbol<'static> = WireSymbol { name: "BTCUSDT", price_scale: 2, qty_scale: 5 };

    #[test]
    fn signed_requests_verify_and_any_change_breaks_them() {
        let creds = Credentials::new("k1", b"s3cret");
        let mut out = Vec::with_capacity(512);
        encode_new(
            &mut out,
            &creds,
            1_700_000_000_000,
            ClientId(7),
            BTC,
            Side::Buy,
            "limit",
            (Price(10_025), Qty(50_000)),
        );
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with(r#"{"op":"new","cid":7,"symbol":"BTCUSDT","side":"buy","type":"limit","price":"100.25","qty":"0.50000","ts":1700000000000,"sig":""#), "{text}");
        assert!(creds.verify(&out));
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["price"], "100.25", "valid JSON");
        let mut tampered = out.clone();
        tampered[text.find("100.25").unwrap()] = b'9';
        assert!(!creds.verify(&tampered), "a changed price");
        assert!(!Credentials::new("k1", b"other").verify(&out), "another secret");
        assert!(!creds.verify(b"{\"op\":\"cancel\"}"), "unsigned");
        assert!(format!("{creds:?}").contains("redacted") && !format!("{creds:?}").contains("s3cret"));
    }

    #[test]
    fn a_secret_file_must_be_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        for (mode, ok) in [(0o600, true), (0o400, true), (0o640, false), (0o644, false), (0o602, false)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            match secret_file(&path) {
                Ok(secret) => assert!(ok && secret == "s3cret", "{mode:o}: {secret}"),
                Err(e) => assert!(!ok && e.contains("chmod 600") && !e.contains("s3cret"), "{mode:o}: {e}"),
            }
        }
        std::fs::write(&path, "\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(secret_file(&path).unwrap_err().contains("empty"));
        assert!(secret_file(&dir.path().join("none")).unwrap_err().contains("ENGINE_API_SECRET_FILE"));
    }

    #[test]
    fn reports_decode_at_their_symbols_scales() {
        let fill = br#"{"type":"fill","seq":4,"cid":7,"symbol":"BTCUSDT","trade_id":9,"price":"100.25","qty":"0.00100","liquidity":"maker","fee":-3}"#;
        assert_eq!(
            decode_answer(fill, &[BTC]).unwrap(),
            Answer::Report {
                seq: 4,
                cid: ClientId(7),
                kind: ExecKind::Fill {
                    price: Price(10_025),
                    qty: Qty(100),
                    liquidity: Liquidity::Maker,
                    trade_id: 9,
                    fee: -3
                },
                reason: b"",
                symbol: Some(0),
            }
        );
        let reject = br#"{"type":"reject","seq":5,"cid":8,"reason":"rate_limited"}"#;
        assert!(matches!(
            decode_answer(reject, &[BTC]),
            Ok(Answer::Report { kind: ExecKind::Rejected, reason: b"rate_limited", .. })
        ));
        assert!(
            decode_answer(
                br#"{"type":"fill","seq":1,"cid":1,"symbol":"ETHUSDT","trade_id":1,"price":"1","qty":"1"}"#,
                &[BTC]
            )
            .is_err()
        );
        for (price, qty) in [("0", "0.001"), ("-1", "0.001"), ("100", "0"), ("100", "-0.001")] {
            let fill = format!(
                r#"{{"type":"fill","seq":1,"cid":1,"symbol":"BTCUSDT","trade_id":1,"price":"{price}","qty":"{qty}"}}"#
            );
            let e = decode_answer(fill.as_bytes(), &[BTC]).expect_err(&fill);
            assert!(e.to_string().contains("positive"), "{fill}: {e}");
            let replaced =
                format!(r#"{{"type":"replaced","seq":1,"cid":1,"symbol":"BTCUSDT","price":"{price}","qty":"{qty}"}}"#);
            assert!(decode_answer(replaced.as_bytes(), &[BTC]).is_err(), "{replaced}");
        }
        assert!(decode_answer(br#"{"type":"teleport","cid":1}"#, &[BTC]).is_err());
        // Unreadable, yet numbered: the number is still found.
        let other_symbol = br#"{"type":"fill","seq":12,"cid":1,"symbol":"ETHUSDT","trade_id":1,"price":"1","qty":"1"}"#;
        assert!(decode_answer(other_symbol, &[BTC]).is_err());
        assert_eq!(seq_and_cid_of(other_symbol), (Some(12), Some(1)));
        let damaged = br#"{"type":"fill","seq":13,"price":tru"#;
        assert_eq!(seq_and_cid_of(damaged), (Some(13), None), "a number before the damage");
        assert_eq!(seq_and_cid_of(br#"{"type":"fill","price":"1""#), (None, None));
        assert!(decode_answer(br#"{"type":"ack","cid":1"#, &[BTC]).is_err(), "truncated");
        assert!(matches!(
            decode_answer(br#"{"type":"open_orders","orders":[]}"#, &[BTC]),
            Ok(Answer::Query { id: None })
        ));
        let answer = decode_answer(br#"{"type":"open_orders","id":3,"orders":[]}"#, &[BTC]);
        assert!(matches!(answer, Ok(Answer::Query { id: Some(3) })), "{answer:?}");
        let error = decode_answer(br#"{"type":"error","id":7,"reason":"stale_request"}"#, &[BTC]);
        assert!(matches!(error, Ok(Answer::Error { reason: b"stale_request", id: Some(7) })), "{error:?}");
        let error = decode_answer(br#"{"type":"error","id":null,"reason":"unknown op"}"#, &[BTC]);
        assert!(matches!(error, Ok(Answer::Error { id: None, .. })), "{error:?}");
    }
}
