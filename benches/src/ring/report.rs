//! What a run found: per-contender figures, their ratios to the floor and to rtrb, a
//! human table and the machine-readable JSON of `--json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// One-way latency percentiles in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

impl From<&Histogram<u64>> for Latency {
    fn from(h: &Histogram<u64>) -> Self {
        Self {
            p50: h.value_at_quantile(0.50) as f64,
            p99: h.value_at_quantile(0.99) as f64,
            p999: h.value_at_quantile(0.999) as f64,
            max: h.max() as f64,
        }
    }
}

/// Everything measured for one contender; `None` where it has no such mode.
#[derive(Debug, Clone, Default)]
pub struct CandidateReport {
    /// One-way latency (round trip / 2) with 8-byte messages.
    pub latency: Option<Latency>,
    /// Million 8-byte messages per second, one push/pop each.
    pub mps_8b: Option<f64>,
    /// Million 8-byte messages per second through the batch API.
    pub mps_8b_batched: Option<f64>,
    /// Million 64-byte messages per second, one push/pop each.
    pub mps_64b: Option<f64>,
    /// Million 64-byte messages per second through the batch API.
    pub mps_64b_batched: Option<f64>,
    /// In the 8-byte one-at-a-time run, polls that found the ring empty per message:
    /// how often the consumer had caught up with its producer.
    pub empty_polls_8b: Option<f64>,
}

/// A throughput mode: message size and whether the batch API is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 8-byte messages, one push/pop each.
    B8,
    /// 8-byte messages through the batch API.
    B8Batched,
    /// 64-byte messages, one push/pop each.
    B64,
    /// 64-byte messages through the batch API.
    B64Batched,
}

impl Mode {
    /// Every mode, in report order.
    pub const ALL: [Mode; 4] = [Mode::B8, Mode::B8Batched, Mode::B64, Mode::B64Batched];
}

impl CandidateReport {
    /// The figure for `mode`.
    pub fn get(&self, mode: Mode) -> Option<f64> {
        match mode {
            Mode::B8 => self.mps_8b,
            Mode::B8Batched => self.mps_8b_batched,
            Mode::B64 => self.mps_64b,
            Mode::B64Batched => self.mps_64b_batched,
        }
    }

    /// Sets the figure for `mode`.
    pub fn set(&mut self, mode: Mode, value: Option<f64>) {
        match mode {
            Mode::B8 => self.mps_8b = value,
            Mode::B8Batched => self.mps_8b_batched = value,
            Mode::B64 => self.mps_64b = value,
            Mode::B64Batched => self.mps_64b_batched = value,
        }
    }
}

/// The JSON shape of one contender (the figures `--json` promises, null where absent).
#[derive(Debug, Serialize)]
struct CandidateJson {
    p50_ns: Option<f64>,
    p99_ns: Option<f64>,
    p999_ns: Option<f64>,
    max_ns: Option<f64>,
    mps_8b: Option<f64>,
    mps_8b_batched: Option<f64>,
    mps_64b: Option<f64>,
    mps_64b_batched: Option<f64>,
    empty_polls_per_msg_8b: Option<f64>,
}

/// A whole run.
#[derive(Debug, Default)]
pub struct Report {
    /// Contenders in the order they ran: latency percentiles over all rounds merged,
    /// throughput as the median over rounds.
    pub candidates: Vec<(String, CandidateReport)>,
    /// Each round's own figures, for ratios taken within a round.
    pub rounds: Vec<Vec<(String, CandidateReport)>>,
    /// Where and how it ran (CPUs, counts, host), for the record.
    pub meta: BTreeMap<String, String>,
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> Option<f64> {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn cell(x: Option<f64>, precision: usize) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.precision$}"))
}

impl Report {
    /// The median over rounds of `figure(ours) / figure(theirs)`, each ratio taken
    /// within one round so both sides saw the same host regime.
    pub fn round_ratio(
        &self,
        ours: &str,
        theirs: &str,
        figure: impl Fn(&CandidateReport) -> Option<f64>,
    ) -> Option<f64> {
        let find = |round: &[(String, CandidateReport)], name: &str| {
            round.iter().find(|(n, _)| n == name).and_then(|(_, c)| figure(c))
        };
        let ratios: Vec<f64> =
            self.rounds.iter().filter_map(|round| ratio(find(round, ours), find(round, theirs))).collect();
        (!ratios.is_empty()).then(|| super::measure::median(ratios))
    }

    /// The human table: figures, then each contender's ratios to the floor and rtrb.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<22} {:>8} {:>8} {:>8} {:>9} | {:>8} {:>8} {:>8} {:>8}",
            "one-way ns / Mmsg/s", "p50", "p99", "p99.9", "max", "8B", "8B batch", "64B", "64B batch"
        );
        for (name, c) in &self.candidates {
            let l = c.latency;
            let [a, b, d, e] = Mode::ALL.map(|m| cell(c.get(m), 1));
            let _ = writeln!(
                out,
                "{:<22} {:>8} {:>8} {:>8} {:>9} | {a:>8} {b:>8} {d:>8} {e:>8}",
                name,
                cell(l.map(|l| l.p50), 0),
                cell(l.map(|l| l.p99), 0),
                cell(l.map(|l| l.p999), 0),
                cell(l.map(|l| l.max), 0),
            );
        }
        let _ = writeln!(
            out,
            "\n{:<22} {:>10} {:>12} | {:>8} {:>8} {:>8} {:>8}",
            "ratios (median/round)", "p50/floor", "p99.9/rtrb", "8B", "8B batch", "64B", "64B batch"
        );
        for (name, _) in &self.candidates {
            let p50 = self.round_ratio(name, "pingpong", |c| c.latency.map(|l| l.p50));
            let p999 = self.round_ratio(name, "rtrb", |c| c.latency.map(|l| l.p999));
            let [a, b, d, e] = Mode::ALL.map(|m| cell(self.round_ratio(name, "rtrb", |c| c.get(m)), 2));
            let _ =
                writeln!(out, "{:<22} {:>10} {:>12} | {a:>8} {b:>8} {d:>8} {e:>8}", name, cell(p50, 2), cell(p999, 2));
        }
        let empty: Vec<String> =
            self.candidates.iter().filter_map(|(name, c)| c.empty_polls_8b.map(|e| format!("{name} {e:.3}"))).collect();
        if !empty.is_empty() {
            let _ = writeln!(out, "\nempty polls per message, 8B one at a time (median/round): {}", empty.join(", "));
        }
        let _ = writeln!(
            out,
            "\n(throughput ratios are to rtrb in this run; p50/floor is to the raw cache-line ping-pong)"
        );
        out
    }

    /// `{"candidates": {NAME: {...}}, "meta": {...}}`.
    pub fn json(&self) -> serde_json::Value {
        let candidates: BTreeMap<&str, CandidateJson> = self
            .candidates
            .iter()
            .map(|(name, c)| {
                let l = c.latency;
                (
                    name.as_str(),
                    CandidateJson {
                        p50_ns: l.map(|l| l.p50),
                        p99_ns: l.map(|l| l.p99),
                        p999_ns: l.map(|l| l.p999),
                        max_ns: l.map(|l| l.max),
                        mps_8b: c.mps_8b,
                        mps_8b_batched: c.mps_8b_batched,
                        mps_64b: c.mps_64b,
                        mps_64b_batched: c.mps_64b_batched,
                        empty_polls_per_msg_8b: c.empty_polls_8b,
                    },
                )
            })
            .collect();
        let names: Vec<&str> = self.candidates.iter().map(|(n, _)| n.as_str()).collect();
        let ratios: BTreeMap<&str, serde_json::Value> = names
            .iter()
            .map(|&name| {
                let r = |theirs, f: &dyn Fn(&CandidateReport) -> Option<f64>| self.round_ratio(name, theirs, f);
                (
                    name,
                    serde_json::json!({
                        "p50_to_pingpong": r("pingpong", &|c| c.latency.map(|l| l.p50)),
                        "p999_to_rtrb": r("rtrb", &|c| c.latency.map(|l| l.p999)),
                        "mps_8b_to_rtrb": r("rtrb", &|c| c.mps_8b),
                        "mps_8b_batched_to_rtrb": r("rtrb", &|c| c.mps_8b_batched),
                        "mps_64b_to_rtrb": r("rtrb", &|c| c.mps_64b),
                        "mps_64b_batched_to_rtrb": r("rtrb", &|c| c.mps_64b_batched),
                    }),
                )
            })
            .collect();
        serde_json::json!({ "candidates": candidates, "ratios": ratios, "meta": self.meta })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lat(p50: f64) -> Option<Latency> {
        Some(Latency { p50, p99: p50 * 2.0, p999: p50 * 3.0, max: p50 * 10.0 })
    }

    fn sample() -> Report {
        Report {
            candidates: vec![
                ("pingpong".into(), CandidateReport { latency: lat(50.0), ..Default::default() }),
                (
                    "spsc".into(),
                    CandidateReport {
                        latency: lat(55.0),
                        mps_8b: Some(120.0),
                        mps_8b_batched: Some(400.0),
                        mps_64b: Some(30.0),
                        mps_64b_batched: Some(40.0),
                        empty_polls_8b: Some(0.25),
                    },
                ),
                (
                    "rtrb".into(),
                    CandidateReport {
                        latency: lat(60.0),
                        mps_8b: Some(100.0),
                        mps_8b_batched: Some(200.0),
                        mps_64b: Some(30.0),
                        mps_64b_batched: Some(20.0),
                        empty_polls_8b: None,
                    },
                ),
            ],
            meta: BTreeMap::new(),
            rounds: Vec::new(),
        }
    }

    /// Two rounds whose ratios differ; the table reports their median.
    fn with_rounds() -> Report {
        let mut r = sample();
        let one = r.candidates.clone();
        let mut two = r.candidates.clone();
        two[1].1.mps_8b = Some(140.0); // 1.4x rtrb in round two, 1.2x in round one
        r.rounds = vec![one, two];
        r
    }

    #[test]
    fn json_has_every_promised_key_with_null_for_missing_modes() {
        let json = sample().json();
        let pp = &json["candidates"]["pingpong"];
        assert_eq!(pp["p50_ns"], 50.0);
        assert!(pp["mps_8b"].is_null());
        let ours = &json["candidates"]["spsc"];
        for key in ["p50_ns", "p99_ns", "p999_ns", "mps_8b", "mps_8b_batched", "mps_64b", "mps_64b_batched"] {
            assert!(ours[key].is_number(), "{key}");
        }
        assert_eq!(ours["p999_ns"], 165.0);
        assert_eq!(ours["empty_polls_per_msg_8b"], 0.25);
        assert!(json["candidates"]["rtrb"]["empty_polls_per_msg_8b"].is_null());
        let json = with_rounds().json();
        let r = json["ratios"]["spsc"]["mps_8b_to_rtrb"].as_f64().unwrap();
        assert!((r - 1.3).abs() < 1e-9, "{r}");
    }

    #[test]
    fn table_prints_ratios_to_the_floor_and_to_rtrb() {
        let table = with_rounds().table();
        let spsc_ratios = table.lines().filter(|l| l.starts_with("spsc")).nth(1).unwrap();
        // p50 55/50, p99.9 165/180, 8B 120/100, 8B batch 400/200, 64B 1.0, 64B batch 2.0
        let cells: Vec<&str> = spsc_ratios.split_whitespace().filter(|c| *c != "|").collect();
        assert_eq!(cells, ["spsc", "1.10", "0.92", "1.30", "2.00", "1.00", "2.00"]);
        assert!(table.contains("empty polls per message, 8B one at a time (median/round): spsc 0.250\n"), "{table}");
    }
}
