//! `--limit SCOPE:KEY=VALUE[,KEY=VALUE...]`: one instrument's or one venue's own
//! limits, over the account's (the `--max-*`, `--collar-bps`, ... flags).
//!
//! A scope is a symbol (`BTCUSDT`: at every venue), a symbol at one venue
//! (`BTCUSDT@1`), or a venue (`@1`: its message rates, and limits for every symbol
//! there). The most specific wins: account, then `@V`, then `SYMBOL`, then
//! `SYMBOL@V`; within one scope, the later flag. A key is the name of the long
//! flag it overrides where there is one (`min-qty`, `max-qty`, `tick` and
//! `max-reference-age` are set only here; `restricted` is true or false). In a
//! `--config` file: a `[limits."BTCUSDT@1"]` table.

use crate::risk::{InstrumentLimits, RiskLimits, VenueRates};

/// What one `--limit` applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A symbol at every venue.
    Symbol(String),
    /// A symbol at one venue.
    SymbolAt(String, usize),
    /// Every symbol at one venue, and the venue's own rates.
    Venue(usize),
}

/// A limit that can be set per scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Largest price × size of one order (quote units).
    MaxOrderNotional,
    /// Largest position value (quote units).
    MaxPositionNotional,
    /// Largest exposure with correlated positions (quote units).
    MaxCorrelatedNotional,
    /// Collar half-width (bps).
    CollarBps,
    /// Stop distance (bps, 0: not required).
    MaxStopDistanceBps,
    /// Position at most this fraction of equity (bps, 0: off).
    MaxPositionEquityBps,
    /// New orders per second for the instrument.
    InstrumentOrdersPerSec,
    /// Cancels per second for the instrument.
    InstrumentCancelsPerSec,
    /// Smallest order size (a decimal size).
    MinQty,
    /// Largest order size (a decimal size).
    MaxQty,
    /// Price increment (a decimal price).
    Tick,
    /// Oldest book to price against (a duration).
    MaxReferenceAge,
    /// No new exposure (true or false).
    Restricted,
    /// The venue's new orders per second.
    OrdersPerSec,
    /// The venue's cancels per second.
    CancelsPerSec,
}

impl Key {
    const ALL: [(Self, &'static str); 15] = [
        (Self::MaxOrderNotional, "max-order-notional"),
        (Self::MaxPositionNotional, "max-position-notional"),
        (Self::MaxCorrelatedNotional, "max-correlated-notional"),
        (Self::CollarBps, "collar-bps"),
        (Self::MaxStopDistanceBps, "max-stop-distance-bps"),
        (Self::MaxPositionEquityBps, "max-position-equity-bps"),
        (Self::InstrumentOrdersPerSec, "instrument-orders-per-sec"),
        (Self::InstrumentCancelsPerSec, "instrument-cancels-per-sec"),
        (Self::MinQty, "min-qty"),
        (Self::MaxQty, "max-qty"),
        (Self::Tick, "tick"),
        (Self::MaxReferenceAge, "max-reference-age"),
        (Self::Restricted, "restricted"),
        (Self::OrdersPerSec, "orders-per-sec"),
        (Self::CancelsPerSec, "cancels-per-sec"),
    ];

    fn named(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(k, _)| *k == self).map_or("?", |(_, n)| n)
    }

    /// Set on a venue alone (`@V:`).
    fn of_venue(self) -> bool {
        matches!(self, Self::OrdersPerSec | Self::CancelsPerSec)
    }
}

/// One `--limit` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitFlag {
    /// What it applies to.
    pub scope: Scope,
    /// Its settings in the order given.
    pub settings: Vec<(Key, String)>,
    /// The flag as written, for messages.
    pub text: String,
}

/// Parses `SCOPE:KEY=VALUE[,KEY=VALUE...]` (clap's value parser): the scope's form
/// and the keys; values are checked against each instrument's scales at start-up.
///
/// # Errors
/// A message naming what is wrong and what is expected.
pub fn parse_limit(text: &str) -> Result<LimitFlag, String> {
    let (scope, settings) = text.split_once(':').ok_or_else(|| {
        "expected SCOPE:KEY=VALUE[,KEY=VALUE...], the scope a symbol (BTCUSDT), a symbol at a venue \
         (BTCUSDT@1) or a venue (@1)"
            .to_owned()
    })?;
    let venue = |v: &str| {
        v.parse::<usize>().map_err(|_| format!("`{scope}`: a venue is its number in --feed, from 0 (like @1)"))
    };
    let symbol = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Err(format!("`{scope}`: `{s}` is not a venue symbol (letters and digits, like BTCUSDT)"))
        } else {
            Ok(s.to_owned())
        }
    };
    let scope = match scope.split_once('@') {
        Some(("", v)) => Scope::Venue(venue(v)?),
        Some((s, v)) => Scope::SymbolAt(symbol(s)?, venue(v)?),
        None => Scope::Symbol(symbol(scope)?),
    };
    let mut parsed = Vec::new();
    for setting in settings.split(',') {
        let (key, value) =
            setting.split_once('=').ok_or_else(|| format!("`{setting}`: expected KEY=VALUE, like collar-bps=20"))?;
        let known = Key::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ");
        let key = Key::named(key.trim()).ok_or_else(|| format!("unknown limit `{key}`: one of {known}"))?;
        if key.of_venue() && !matches!(scope, Scope::Venue(_)) {
            return Err(format!("`{}` is a venue's rate: set it on a venue, like @1:{}=500", key.name(), key.name()));
        }
        parsed.push((key, value.trim().to_owned()));
    }
    Ok(LimitFlag { scope, settings: parsed, text: text.to_owned() })
}

/// The limits in force per instrument id and per venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Per instrument id (venue v's k-th symbol is v × symbols + k).
    pub instruments: Vec<InstrumentLimits>,
    /// Per venue.
    pub venues: Vec<VenueRates>,
    /// Restricted instruments (bit per id).
    pub restricted: u64,
}

/// Applies `flags` over the account's limits for `symbols` at `venues` venues, each
/// symbol at `scales` (price, size), amounts in units of 10^-`money` quote.
///
/// # Errors
/// A scope naming a symbol not traded or a venue that does not exist, a value its
/// key refuses, or a minimum size over the maximum; each names its flag.
pub fn resolve(
    flags: &[LimitFlag],
    symbols: &[String],
    scales: &[(u8, u8)],
    venues: usize,
    account: &RiskLimits,
    money: u8,
) -> Result<Resolved, String> {
    for flag in flags {
        let (symbol, venue) = match &flag.scope {
            Scope::Symbol(s) => (Some(s), None),
            Scope::SymbolAt(s, v) => (Some(s), Some(*v)),
            Scope::Venue(v) => (None, Some(*v)),
        };
        if let Some(s) = symbol.filter(|s| !symbols.contains(s)) {
            return Err(format!("--limit {}: {s} is not one of --symbols {}", flag.text, symbols.join(",")));
        }
        if let Some(v) = venue.filter(|v| *v >= venues) {
            return Err(format!("--limit {}: no venue @{v} (the run has @0 to @{})", flag.text, venues - 1));
        }
        let rates = flag.settings.iter().any(|(k, _)| k.of_venue());
        if let Some(v) = venue.filter(|v| rates && *v >= crate::risk::MAX_VENUES) {
            let last = crate::risk::MAX_VENUES - 1;
            return Err(format!(
                "--limit {}: venues @{last} and up share @{last}'s rates: set them there, not on @{v}",
                flag.text
            ));
        }
    }
    let mut out = Resolved {
        instruments: Vec::with_capacity(venues * symbols.len()),
        venues: vec![account.venue(); venues],
        restricted: account.restricted,
    };
    for (v, rates) in out.venues.iter_mut().enumerate() {
        for flag in flags.iter().filter(|f| f.scope == Scope::Venue(v)) {
            for (key, value) in &flag.settings {
                let rate = |value: &str| {
                    value.parse::<u32>().ok().filter(|r| *r > 0).ok_or_else(|| {
                        format!("--limit {}: {}={value}: expected a whole number over 0", flag.text, key.name())
                    })
                };
                match key {
                    Key::OrdersPerSec => rates.orders_per_sec = rate(value)?,
                    Key::CancelsPerSec => rates.cancels_per_sec = rate(value)?,
                    _ => {}
                }
            }
        }
    }
    for v in 0..venues {
        for (k, (symbol, scale)) in symbols.iter().zip(scales).enumerate() {
            let id = v * symbols.len() + k;
            let applies = |scope: &Scope| match scope {
                Scope::Venue(at) => *at == v,
                Scope::Symbol(s) => s == symbol,
                Scope::SymbolAt(s, at) => s == symbol && *at == v,
            };
            let rank = |scope: &Scope| match scope {
                Scope::Venue(_) => 0,
                Scope::Symbol(_) => 1,
                Scope::SymbolAt(..) => 2,
            };
            let mut limits = account.instrument;
            let mut restricted = account.restricted & (1u64 << (id & 63)) != 0;
            for rank_now in 0..3 {
                for flag in flags.iter().filter(|f| applies(&f.scope) && rank(&f.scope) == rank_now) {
                    for (key, value) in &flag.settings {
                        set(&mut limits, &mut restricted, *key, value, *scale, money)
                            .map_err(|e| format!("--limit {}: {}={value}: {e}", flag.text, key.name()))?;
                    }
                }
            }
            if limits.min_qty > limits.max_qty {
                return Err(format!(
                    "--limit for {symbol} at venue @{v}: the flags leave min-qty ({} lots) over max-qty ({} lots)",
                    limits.min_qty, limits.max_qty
                ));
            }
            if restricted {
                out.restricted |= 1u64 << (id & 63);
            } else {
                out.restricted &= !(1u64 << (id & 63));
            }
            out.instruments.push(limits);
        }
    }
    Ok(out)
}

/// Sets one key on one instrument's limits.
fn set(
    limits: &mut InstrumentLimits,
    restricted: &mut bool,
    key: Key,
    value: &str,
    (price_scale, qty_scale): (u8, u8),
    money: u8,
) -> Result<(), String> {
    let fixed = |scale: u8, what: &str| {
        feeds::decimal::parse_fixed(value.as_bytes(), scale)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("expected {what} over 0 with at most {scale} decimals"))
    };
    let rate = |value: &str| value.parse::<u32>().ok().filter(|r| *r > 0).ok_or("expected a whole number over 0");
    let bps = |low: u32| {
        value
            .parse::<u32>()
            .ok()
            .filter(|b| (low..=10_000).contains(b))
            .ok_or_else(|| format!("expected a whole number of basis points, {low} to 10000"))
    };
    match key {
        Key::MaxOrderNotional => limits.max_order_notional = i128::from(fixed(money, "an amount")?),
        Key::MaxPositionNotional => limits.max_position_notional = i128::from(fixed(money, "an amount")?),
        Key::MaxCorrelatedNotional => limits.max_correlated_notional = i128::from(fixed(money, "an amount")?),
        Key::CollarBps => limits.collar_bps = i64::from(bps(1)?),
        Key::MaxStopDistanceBps => limits.max_stop_distance_bps = bps(0)?,
        Key::MaxPositionEquityBps => limits.position_equity_bps = bps(0)?,
        Key::InstrumentOrdersPerSec => limits.orders_per_sec = rate(value)?,
        Key::InstrumentCancelsPerSec => limits.cancels_per_sec = rate(value)?,
        Key::MinQty => limits.min_qty = fixed(qty_scale, "a size")?,
        Key::MaxQty => limits.max_qty = fixed(qty_scale, "a size")?,
        Key::Tick => limits.tick = fixed(price_scale, "a price")?,
        Key::MaxReferenceAge => {
            limits.max_reference_age_ns = crate::cli::parse_duration(value)?.as_nanos() as u64;
        }
        Key::Restricted => {
            *restricted = value.parse::<bool>().map_err(|_| "expected true or false".to_owned())?;
        }
        Key::OrdersPerSec | Key::CancelsPerSec => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
