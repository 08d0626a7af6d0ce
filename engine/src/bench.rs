//! `engine bench e2e`: the latency lab. Drives the full pipeline from the simulator at
//! fixed offered rates, in each topology (fused and pipelined, alternating within
//! each rate so drift hits both), and records tick-to-order from each frame's
//! *intended* arrival time (its due time), so a stall delays every frame queued
//! behind it in the numbers too, not just the one that stalled (no coordinated
//! omission). Writes one `.hgrm` per rate, a JSON summary and a percentile plot (PNG,
//! or SVG).

mod png;

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
    /// Topology (`pipelined-shared`: the cold core shares the feed core's CPU).
    pub topology: String,
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

/// Runs every rate with each `(label, options)` in turn; returns results and histograms.
///
/// # Errors
/// A run that failed.
pub fn e2e(
    topologies: &[(String, RunOptions)],
    rates: &[u64],
    seconds: u64,
) -> Result<Vec<(RateResult, Histogram<u64>)>, RunError> {
    let mut out = Vec::new();
    for (round, &rate) in rates.iter().enumerate() {
        // Alternate which topology goes first, so slow drift of the host is shared.
        let order: Vec<&(String, RunOptions)> =
            if round % 2 == 0 { topologies.iter().collect() } else { topologies.iter().rev().collect() };
        for (label, base) in order {
            out.extend(one(label, base, rate, seconds)?);
        }
    }
    out.sort_by(|(a, _), (b, _)| (a.offered_rate, &a.topology).cmp(&(b.offered_rate, &b.topology)));
    Ok(out)
}

fn one(
    label: &str,
    base: &RunOptions,
    rate: u64,
    seconds: u64,
) -> Result<Option<(RateResult, Histogram<u64>)>, RunError> {
    {
        let mut o = base.clone();
        o.rate = rate;
        o.duration = Duration::from_secs(seconds);
        o.status_every = None;
        let outcome = run(&o)?;
        let s = &outcome.summary;
        let Some(t2o) = outcome.latency.get(Hop::TickToOrder).cloned() else { return Ok(None) };
        let result = RateResult {
            topology: label.to_owned(),
            offered_rate: rate,
            achieved_rate: s.counters.frames as f64 / s.seconds.max(1e-9),
            orders: s.orders,
            tick_to_order_ns: s.tick_to_order_ns,
            parse_ns: s.hops.get("parse").copied().unwrap_or_default(),
        };
        Ok(Some((result, t2o)))
    }
}

/// The human table.
pub fn table(results: &[(RateResult, Histogram<u64>)]) -> String {
    let mut t = format!(
        "{:<16} {:>10} {:>12} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}\n",
        "topology", "offered/s", "achieved/s", "orders", "p50 ns", "p99 ns", "p99.9 ns", "p99.99", "max ns"
    );
    for (r, _) in results {
        let p = r.tick_to_order_ns;
        let _ = writeln!(
            t,
            "{:<16} {:>10} {:>12.0} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
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

pub use png::{FONT_PATHS, font as png_font, png};

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
         <text x=\"{}\" y=\"14\" text-anchor=\"middle\">tick-to-order latency by percentile, per topology and offered rate</text>",
        W / 2.0,
        H - 12.0,
        W / 2.0
    );
    for (i, (r, h)) in results.iter().enumerate() {
        // One colour per offered rate (results are sorted by rate).
        let rate_index = results[..i].windows(2).filter(|w| w[0].0.offered_rate != w[1].0.offered_rate).count()
            + usize::from(i > 0 && results[i - 1].0.offered_rate != r.offered_rate);
        let color = colors[rate_index % colors.len()];
        let mut points = String::new();
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            if q >= 1.0 {
                break;
            }
            let _ = write!(points, "{:.1},{:.1} ", x(1.0 / (1.0 - q)), y(v.value_iterated_to() as f64));
        }
        // Pipelined runs dashed, so a topology pair at one rate shares a colour.
        let dash = if r.topology.starts_with("pipelined") { " stroke-dasharray=\"6 4\"" } else { "" };
        let _ =
            writeln!(s, "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{points}\"/>");
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
