//! `engine bench e2e`: the latency lab. Drives the full fused pipeline from the
//! simulator at fixed offered rates and records tick-to-order from each frame's
//! *intended* arrival time (its due time), so a stall delays every frame queued
//! behind it in the numbers too, not just the one that stalled (no coordinated
//! omission). Writes one `.hgrm` per rate, a JSON summary and an SVG percentile plot.

use std::{fmt::Write as _, path::Path, time::Duration};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{
    pipeline::{Hop, Percentiles, hgrm},
    run::{RunError, RunOptions, run},
};

/// One offered rate's result.
#[derive(Debug, Clone, Serialize)]
pub struct RateResult {
    /// Topology.
    pub topology: &'static str,
    /// Frames offered per second.
    pub offered_rate: u64,
    /// Frames actually processed per second.
    pub achieved_rate: f64,
    /// Orders sent.
    pub orders: u64,
    /// Tick-to-order percentiles (ns).
    pub tick_to_order_ns: Percentiles,
    /// Parse-hop percentiles (ns): every frame, so it shows queueing behind stalls.
    pub parse_ns: Percentiles,
}

/// Runs every rate in turn with `base` options; returns results and histograms.
///
/// # Errors
/// A run that failed.
pub fn e2e(base: &RunOptions, rates: &[u64], seconds: u64) -> Result<Vec<(RateResult, Histogram<u64>)>, RunError> {
    let mut out = Vec::new();
    for &rate in rates {
        let mut o = base.clone();
        o.rate = rate;
        o.duration = Duration::from_secs(seconds);
        o.status_every = None;
        let outcome = run(&o)?;
        let s = &outcome.summary;
        let Some(t2o) = outcome.latency.get(Hop::TickToOrder).cloned() else { continue };
        let result = RateResult {
            topology: "fused",
            offered_rate: rate,
            achieved_rate: s.counters.frames as f64 / s.seconds.max(1e-9),
            orders: s.orders,
            tick_to_order_ns: s.tick_to_order_ns,
            parse_ns: s.hops.get("parse").copied().unwrap_or_default(),
        };
        out.push((result, t2o));
    }
    Ok(out)
}

/// The human table.
pub fn table(results: &[(RateResult, Histogram<u64>)]) -> String {
    let mut t = format!(
        "{:<8} {:>10} {:>12} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}\n",
        "topology", "offered/s", "achieved/s", "orders", "p50 ns", "p99 ns", "p99.9 ns", "p99.99", "max ns"
    );
    for (r, _) in results {
        let p = r.tick_to_order_ns;
        let _ = writeln!(
            t,
            "{:<8} {:>10} {:>12.0} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
            r.topology, r.offered_rate, r.achieved_rate, r.orders, p.p50, p.p99, p.p999, p.p9999, p.max
        );
    }
    t
}

/// Writes one `.hgrm` per rate into `dir`.
///
/// # Errors
/// A file cannot be written.
pub fn write_hgrms(dir: &Path, results: &[(RateResult, Histogram<u64>)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (r, h) in results {
        std::fs::write(dir.join(format!("{}-{}-tick_to_order.hgrm", r.topology, r.offered_rate)), hgrm(h))?;
    }
    Ok(())
}

/// A percentile plot as SVG: latency (log scale) against "1 in N" (log scale of
/// 1/(1-p), as HdrHistogram plots are drawn), one line per rate.
pub fn svg(results: &[(RateResult, Histogram<u64>)]) -> String {
    const W: f64 = 800.0;
    const H: f64 = 480.0;
    const L: f64 = 70.0;
    const B: f64 = 50.0;
    let (x_max, y_min, y_max) = (6.0f64, 1.0f64, 7.0f64); // 1..1e6 "1 in N"; 10 ns .. 10 ms
    let x = |inv: f64| L + (inv.max(1.0).log10() / x_max) * (W - L - 20.0);
    let y = |ns: f64| H - B - ((ns.max(10.0).log10() - y_min) / (y_max - y_min)).clamp(0.0, 1.0) * (H - B - 20.0);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for d in 0..=6 {
        let px = x(10f64.powi(d));
        let label = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"][d as usize];
        let _ = writeln!(s, "<line x1=\"{px}\" y1=\"20\" x2=\"{px}\" y2=\"{}\" stroke=\"#ddd\"/>", H - B);
        let _ = writeln!(s, "<text x=\"{px}\" y=\"{}\" text-anchor=\"middle\">{label}</text>", H - B + 16.0);
    }
    for e in 1..=7 {
        let py = y(10f64.powi(e));
        let label = ["10 ns", "100 ns", "1 µs", "10 µs", "100 µs", "1 ms", "10 ms"][(e - 1) as usize];
        let _ = writeln!(s, "<line x1=\"{L}\" y1=\"{py}\" x2=\"{}\" y2=\"{py}\" stroke=\"#ddd\"/>", W - 20.0);
        let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>", L - 6.0, py + 4.0);
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">percentile</text>\
         <text x=\"{}\" y=\"14\" text-anchor=\"middle\">tick-to-order latency by percentile (fused topology)</text>",
        W / 2.0,
        H - 12.0,
        W / 2.0
    );
    for (i, (r, h)) in results.iter().enumerate() {
        let color = colors[i % colors.len()];
        let mut points = String::new();
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            if q >= 1.0 {
                break;
            }
            let _ = write!(points, "{:.1},{:.1} ", x(1.0 / (1.0 - q)), y(v.value_iterated_to() as f64));
        }
        let _ = writeln!(s, "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{points}\"/>");
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{} {}/s</text>",
            L + 10.0,
            40.0 + 16.0 * i as f64,
            r.topology,
            r.offered_rate
        );
    }
    s.push_str("</svg>\n");
    s
}
