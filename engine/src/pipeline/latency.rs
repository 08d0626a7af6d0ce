//! Per-hop latency histograms: pre-sized at start-up (recording never allocates),
//! owned by the hot stage, merged and reported on the cold core.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// A measured hop. `TickToOrder` is end to end: frame received → order handed to the
/// venue gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// Frame received → events decoded.
    Parse,
    /// Events decoded on the feed core → taken off the ring by the trading core
    /// (pipelined topology only).
    Ring,
    /// Events decoded → books updated.
    Book,
    /// Book updated → strategy's intents out.
    Strategy,
    /// Intent → risk decision.
    Risk,
    /// Risk accepted → handed to the venue gateway.
    Route,
    /// Frame received → order handed to the venue gateway.
    TickToOrder,
}

impl Hop {
    /// Every hop, in pipeline order.
    pub const ALL: [Self; 7] =
        [Self::Parse, Self::Ring, Self::Book, Self::Strategy, Self::Risk, Self::Route, Self::TickToOrder];

    /// The name in reports and `.hgrm` file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Parse => "parse",
            Self::Ring => "ring",
            Self::Book => "book",
            Self::Strategy => "strategy",
            Self::Risk => "risk",
            Self::Route => "route",
            Self::TickToOrder => "tick_to_order",
        }
    }
}

/// Highest value tracked: 10 s; anything longer is clamped (and shows as max).
const MAX_NS: u64 = 10_000_000_000;

/// One histogram per hop.
#[derive(Debug, Clone)]
pub struct Latencies {
    hists: Vec<Histogram<u64>>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// Empty histograms, 3 significant digits from 1 ns to 10 s.
    pub fn new() -> Self {
        let hists = Hop::ALL
            .iter()
            .map(|_| Histogram::new_with_bounds(1, MAX_NS, 3).expect("constant bounds are valid"))
            .collect();
        Self { hists }
    }

    /// Records one sample (ns). Never allocates: values past the bounds are clamped.
    #[inline]
    pub fn record(&mut self, hop: Hop, ns: u64) {
        if let Some(h) = self.hists.get_mut(hop as usize) {
            h.saturating_record(ns.clamp(1, MAX_NS));
        }
    }

    /// The histogram of a hop, if it has samples (a fused run has no ring hop).
    pub fn get(&self, hop: Hop) -> Option<&Histogram<u64>> {
        self.hists.get(hop as usize).filter(|h| !h.is_empty())
    }

    /// Adds another stage's samples (cold core only: may allocate).
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.hists.iter_mut().zip(&other.hists) {
            let _ = a.add(b);
        }
    }
}

/// The percentiles every report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median (ns).
    pub p50: u64,
    /// 90th percentile (ns).
    pub p90: u64,
    /// 99th (ns).
    pub p99: u64,
    /// 99.9th (ns).
    pub p999: u64,
    /// 99.99th (ns).
    pub p9999: u64,
    /// Largest (ns).
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of a histogram.
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

/// HdrHistogram's percentile-distribution text (`.hgrm`), values in microseconds,
/// as HdrHistogram's plotter reads it.
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:>12} {:>14} {:>10} {:>14}\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let us = |v: u64| v as f64 / 1_000.0;
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let inverse = if q < 1.0 { format!("{:>14.2}", 1.0 / (1.0 - q)) } else { String::new() };
        let _ = writeln!(
            out,
            "{:>12.3} {:>14.12} {:>10} {inverse}",
            us(v.value_iterated_to()),
            q,
            v.count_since_last_iteration()
        );
    }
    let _ = writeln!(out, "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]", us(h.mean() as u64), h.stdev() / 1_000.0);
    let _ = writeln!(out, "#[Max     = {:>12.3}, Total count    = {:>12}]", us(h.max()), h.len());
    let _ = writeln!(out, "#[Buckets = {:>12}, SubBuckets     = {:>12}]", h.buckets(), h.distinct_values());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_hgrm_reflect_the_samples() {
        let mut l = Latencies::new();
        for v in 1..=1000u64 {
            l.record(Hop::Risk, v * 100);
        }
        l.record(Hop::Risk, u64::MAX);
        let h = l.get(Hop::Risk).unwrap();
        let p = Percentiles::of(h);
        assert_eq!(p.count, 1001);
        assert!((49_900..=50_200).contains(&p.p50), "{p:?}");
        assert!(p.max >= MAX_NS, "an out-of-range sample is clamped, not lost");
        let text = hgrm(h);
        assert!(text.starts_with("       Value"));
        assert!(text.contains("Total count    =         1001"), "{text}");
        let mut other = Latencies::new();
        other.merge(&l);
        assert_eq!(other.get(Hop::Risk).unwrap().len(), 1001);
    }
}
