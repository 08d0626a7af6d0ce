//! `--strategy NAME[:key=value,...]`: which strategy, with which parameters.

use std::str::FromStr;

use super::{MarketMakerParams, TakerParams};

/// A strategy and its parameters, as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyConfig {
    /// `mm` (market maker): keys `half_spread`, `size`, `skew`, `requote`, `max_inventory`, `backoff_us`, `stop_bps`,
    /// `amend` (true or false).
    MarketMaker(MarketMakerParams),
    /// `taker`: keys `levels`, `threshold_pct`, `size`, `cooldown_us`, `max_inventory`, `stop_bps`,
    /// `entry` (`ioc`, `fok`, `market`, `stop`, `stop_limit`), `slip_bps`, `route` (`run`,
    /// `stay`, `best-price`, `lowest-fee`, `smart`: this strategy's orders' routing).
    Taker(TakerParams),
    /// `idle`: never trades (recording a feed, watching books).
    Idle,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        Self::MarketMaker(MarketMakerParams::default())
    }
}

fn number<T: FromStr>(key: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("strategy parameter `{key}`: `{value}` is not a valid number"))
}

fn positive(key: &str, value: &str) -> Result<i64, String> {
    let n: i64 = number(key, value)?;
    if n > 0 { Ok(n) } else { Err(format!("strategy parameter `{key}` must be > 0, got {n}")) }
}

/// How many levels a side the taker's imbalance may read: at most as deep as a book
/// is known to be exact (a truncated side may hold no more; see `feeds::book`).
fn imbalance_levels(key: &str, value: &str) -> Result<usize, String> {
    let n = positive(key, value)? as usize;
    let most = feeds::book::TRUNCATED_FLOOR;
    if n <= most {
        Ok(n)
    } else {
        Err(format!("strategy parameter `{key}` must be at most {most} (how deep every book is exact), got {n}"))
    }
}

impl FromStr for StrategyConfig {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, params) = s.split_once(':').unwrap_or((s, ""));
        let pairs = params
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').ok_or_else(|| format!("strategy parameter `{p}`: expected key=value")));
        match name {
            "mm" | "market-maker" => {
                let mut p = MarketMakerParams::default();
                for pair in pairs {
                    let (k, v) = pair?;
                    match k {
                        "half_spread" => p.half_spread = number(k, v)?,
                        "size" => p.size = positive(k, v)?,
                        "skew" => p.skew = number(k, v)?,
                        "requote" => p.requote = positive(k, v)?,
                        "max_inventory" => p.max_inventory = positive(k, v)?,
                        "backoff_us" => p.backoff_ns = number::<u64>(k, v)?.saturating_mul(1_000),
                        "stop_bps" => p.stop_bps = positive(k, v)?,
                        "amend" => p.amend = flag(k, v)?,
                        _ => {
                            return Err(unknown(
                                k,
                                "half_spread, size, skew, requote, max_inventory, backoff_us, stop_bps, amend",
                            ));
                        }
                    }
                }
                Ok(Self::MarketMaker(p))
            }
            "taker" => {
                let mut p = TakerParams::default();
                for pair in pairs {
                    let (k, v) = pair?;
                    match k {
                        "levels" => p.levels = imbalance_levels(k, v)?,
                        "threshold_pct" => p.threshold_pct = number(k, v)?,
                        "size" => p.size = positive(k, v)?,
                        "cooldown_us" => p.cooldown_ns = number::<u64>(k, v)?.saturating_mul(1_000),
                        "max_inventory" => p.max_inventory = positive(k, v)?,
                        "stop_bps" => p.stop_bps = positive(k, v)?,
                        "entry" => p.entry = v.parse()?,
                        "slip_bps" => p.slip_bps = number(k, v)?,
                        "route" => p.route = v.parse()?,
                        _ => {
                            return Err(unknown(
                                k,
                                "levels, threshold_pct, size, cooldown_us, max_inventory, stop_bps, entry, slip_bps, route",
                            ));
                        }
                    }
                }
                Ok(Self::Taker(p))
            }
            "idle" if params.is_empty() => Ok(Self::Idle),
            "idle" => Err("strategy `idle` takes no parameters".into()),
            other => Err(format!("unknown strategy `{other}`: expected `mm` (market maker), `taker` or `idle`")),
        }
    }
}

fn flag(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(format!("strategy parameter `{key}` must be true or false, not `{value}`")),
    }
}

fn unknown(key: &str, known: &str) -> String {
    format!("unknown strategy parameter `{key}` (known: {known})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parameters_parse_and_mistakes_are_named() {
        assert_eq!("mm".parse(), Ok(StrategyConfig::default()));
        let Ok(StrategyConfig::MarketMaker(p)) = "mm:half_spread=5,size=20".parse() else { panic!() };
        assert_eq!((p.half_spread, p.size, p.requote), (5, 20, 2));
        let Ok(StrategyConfig::Taker(t)) = "taker:cooldown_us=3".parse() else { panic!() };
        assert_eq!(t.cooldown_ns, 3_000);
        assert!("mm:size=0".parse::<StrategyConfig>().unwrap_err().contains("> 0"));
        let Ok(StrategyConfig::Taker(t)) = "taker:levels=10".parse() else { panic!() };
        assert_eq!(t.levels, 10);
        let deep = "taker:levels=11".parse::<StrategyConfig>().unwrap_err();
        assert!(deep.contains("at most 10") && deep.contains("got 11"), "{deep}");
        assert!("mm:spread=1".parse::<StrategyConfig>().unwrap_err().contains("known: half_spread"));
        assert!("mm:size".parse::<StrategyConfig>().unwrap_err().contains("key=value"));
        assert!("arb".parse::<StrategyConfig>().unwrap_err().contains("unknown strategy"));
        assert_eq!("idle".parse(), Ok(StrategyConfig::Idle));
        assert!("idle:size=1".parse::<StrategyConfig>().is_err());
        let Ok(StrategyConfig::MarketMaker(p)) = "mm:amend=true".parse() else { panic!() };
        assert!(p.amend);
        assert!("mm:amend=yes".parse::<StrategyConfig>().unwrap_err().contains("true or false"));
        let Ok(StrategyConfig::Taker(t)) = "taker:entry=stop_limit,slip_bps=5".parse() else { panic!() };
        assert_eq!((t.entry, t.slip_bps), (super::super::Entry::StopLimit, 5));
        assert!("taker:entry=gtc".parse::<StrategyConfig>().unwrap_err().contains("stop_limit"));
    }
}
