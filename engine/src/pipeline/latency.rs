//! Per-hop latency histograms: pre-sized at start-up (recording never allocates),
//! owned by the hot stage ([`HopRecorder`]), turned into HdrHistograms
//! ([`Latencies`]), and reported on the cold core.

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

/// HdrHistogram's bucket layout for 1 ns to [`MAX_NS`] at 3 significant digits (what
/// `Histogram::new_with_bounds(1, MAX_NS, 3)` builds): 2,048 sub-buckets, the upper
/// half of each in use past the first bucket, one bucket per power of two.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF: usize = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << (SUB_BUCKET_HALF_MAGNITUDE + 1)) - 1;
const LEADING_ZERO_BASE: u32 = 64 - (SUB_BUCKET_HALF_MAGNITUDE + 1);
/// Slots per hop: up to [`MAX_NS`]'s, inclusive.
const SLOTS: usize = slot_of(MAX_NS) + 1;

/// The slot HdrHistogram counts `ns` (1 to [`MAX_NS`]) in.
const fn slot_of(ns: u64) -> usize {
    let bucket = LEADING_ZERO_BASE - (ns | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = (ns >> bucket) as usize;
    ((bucket as usize + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF
}

/// Slots summed at a time when a quantile scan passes over them.
const SCAN_RUN: usize = 64;

/// The lowest value slot `slot` counts, and how many values it counts.
const fn slot_range(slot: usize) -> (u64, u64) {
    let bucket = (slot >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let sub_bucket = (slot & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    let (bucket, sub_bucket) = if bucket < 0 { (0, sub_bucket - SUB_BUCKET_HALF) } else { (bucket, sub_bucket) };
    ((sub_bucket as u64) << bucket, 1 << bucket)
}

/// The hot stage's latency samples, one count per HdrHistogram slot per hop.
/// Recording is a slot computation and an increment: HdrHistogram's own
/// `saturating_record` (range checks, a resize path, min and max, saturating sums)
/// was 12% of a replay's per-frame instructions (`on_frame`, callgrind, 2026-11-28)
/// at about three samples per frame. [`HopRecorder::latencies`] gives the same histograms HdrHistogram would
/// have built from the same samples.
#[derive(Debug, Clone)]
pub struct HopRecorder {
    /// `SLOTS` counts per hop, in [`Hop::ALL`] order.
    counts: Vec<u64>,
    totals: [u64; Hop::ALL.len()],
}

impl Default for HopRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl HopRecorder {
    /// Empty, every slot allocated now.
    pub fn new() -> Self {
        Self { counts: vec![0; SLOTS * Hop::ALL.len()], totals: [0; Hop::ALL.len()] }
    }

    /// Records one sample (ns). Never allocates: values past the bounds are clamped.
    #[inline]
    pub fn record(&mut self, hop: Hop, ns: u64) {
        let at = hop as usize * SLOTS + slot_of(ns.clamp(1, MAX_NS));
        if let (Some(count), Some(total)) = (self.counts.get_mut(at), self.totals.get_mut(hop as usize)) {
            *count += 1;
            *total += 1;
        }
    }

    fn slots(&self, hop: Hop) -> &[u64] {
        self.counts.get(hop as usize * SLOTS..(hop as usize + 1) * SLOTS).unwrap_or_default()
    }

    /// A hop's `quantile` (0 to 1) as HdrHistogram's `value_at_quantile` gives it,
    /// without allocating; 0 with no samples.
    pub fn value_at_quantile(&self, hop: Hop, quantile: f64) -> u64 {
        let [value] = self.values_at_quantiles(hop, [quantile]);
        value
    }

    /// [`HopRecorder::value_at_quantile`] of each of `quantiles` (ascending), in
    /// one pass over the slots: the hot stage's live status reads two at every
    /// heartbeat.
    pub fn values_at_quantiles<const N: usize>(&self, hop: Hop, quantiles: [f64; N]) -> [u64; N] {
        let mut values = [0; N];
        let total = self.totals.get(hop as usize).copied().unwrap_or(0);
        if total == 0 {
            return values;
        }
        // HdrHistogram's count at each quantile, worked out once: per slot (a libm
        // `ceil` each, this target having no SSE4.1) a heartbeat's scan took 30 µs of
        // the hot core, 15x HdrHistogram's own (`status_quantiles` bench, 2026-11-29).
        let targets = quantiles.map(|q| ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1));
        let (mut seen, mut next) = (0, 0);
        // Runs of slots short of the next target are summed and passed over whole.
        for (run, counts) in self.slots(hop).chunks(SCAN_RUN).enumerate() {
            let Some(&target) = targets.get(next) else { break };
            let sum: u64 = counts.iter().sum();
            if seen + sum < target {
                seen += sum;
                continue;
            }
            for (i, count) in counts.iter().enumerate() {
                seen += count;
                while let (Some(&target), Some(&quantile), Some(value)) =
                    (targets.get(next), quantiles.get(next), values.get_mut(next))
                {
                    if seen < target {
                        break;
                    }
                    let (low, width) = slot_range(run * SCAN_RUN + i);
                    // As HdrHistogram: the lowest equivalent value for quantile 0 only.
                    *value = if quantile == 0.0 { low } else { low + width - 1 };
                    next += 1;
                }
            }
        }
        values
    }

    /// The samples as HdrHistograms (cold path: allocates).
    pub fn latencies(&self) -> Latencies {
        let mut out = Latencies::new();
        for (hop, hist) in Hop::ALL.iter().zip(&mut out.hists) {
            for (slot, count) in self.slots(*hop).iter().enumerate().filter(|(_, c)| **c > 0) {
                hist.saturating_record_n(slot_range(slot).0, *count);
            }
        }
        out
    }
}

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

    /// The histogram of a hop, if it has samples (a fused run has no ring hop).
    pub fn get(&self, hop: Hop) -> Option<&Histogram<u64>> {
        self.hists.get(hop as usize).filter(|h| !h.is_empty())
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
        let mut r = HopRecorder::new();
        for v in 1..=1000u64 {
            r.record(Hop::Risk, v * 100);
        }
        r.record(Hop::Risk, u64::MAX);
        let l = r.latencies();
        let h = l.get(Hop::Risk).unwrap();
        let p = Percentiles::of(h);
        assert_eq!(p.count, 1001);
        assert!((49_900..=50_200).contains(&p.p50), "{p:?}");
        assert!(p.max >= MAX_NS, "an out-of-range sample is clamped, not lost");
        let text = hgrm(h);
        assert!(text.starts_with("       Value"));
        assert!(text.contains("Total count    =         1001"), "{text}");
        assert!(l.get(Hop::Parse).is_none(), "a hop with no samples has no histogram");
    }

    fn hdr() -> Histogram<u64> {
        Histogram::new_with_bounds(1, MAX_NS, 3).unwrap()
    }

    #[test]
    fn the_slots_are_hdrhistograms_own() {
        let h = hdr();
        // HdrHistogram rounds its counts up to whole buckets; the slots stop at MAX_NS.
        assert!(SLOTS <= h.distinct_values(), "{SLOTS} slots, {} counts", h.distinct_values());
        assert_eq!(slot_of(MAX_NS), SLOTS - 1);
        for v in (1..5_000).chain([MAX_NS - 1, MAX_NS]).chain((0..64).map(|b| (1u64 << b).min(MAX_NS))) {
            let (low, width) = slot_range(slot_of(v));
            assert_eq!((low, low + width - 1), (h.lowest_equivalent(v), h.highest_equivalent(v)), "{v}");
        }
    }

    proptest::proptest! {
        /// Any samples, recorded by the hot recorder and by HdrHistogram itself, give
        /// equal histograms (counts, total, min, max) and the same quantiles.
        #[test]
        fn the_recorder_builds_what_hdrhistogram_would(
            samples in proptest::collection::vec(
                proptest::prop_oneof![0u64..3_000, 0u64..5_000_000, 0u64..=u64::MAX],
                1..400,
            ),
            quantile in 0.0f64..=1.0,
        ) {
            let mut r = HopRecorder::new();
            let mut h = hdr();
            for &v in &samples {
                r.record(Hop::Book, v);
                h.saturating_record(v.clamp(1, MAX_NS));
            }
            let l = r.latencies();
            let built = l.get(Hop::Book).unwrap();
            proptest::prop_assert!(*built == h);
            for q in [0.0, quantile, 0.5, 0.99, 1.0] {
                proptest::prop_assert_eq!(r.value_at_quantile(Hop::Book, q), h.value_at_quantile(q), "q {}", q);
            }
            let both = r.values_at_quantiles(Hop::Book, [0.5, 0.99]);
            proptest::prop_assert_eq!(both, [h.value_at_quantile(0.5), h.value_at_quantile(0.99)]);
            proptest::prop_assert_eq!(Percentiles::of(built), Percentiles::of(&h));
        }
    }
}
