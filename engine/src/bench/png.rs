//! The latency lab's percentile plot as PNG (plotters, bitmap backend): the same
//! axes as the SVG, latency on a log scale against "1 in N" on a log scale.

use std::{path::Path, sync::OnceLock};

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::RateResult;

/// Where a sans-serif font is looked for after `ENGINE_PLOT_FONT`: plotters draws
/// text only with a font it is given, and the engine ships none.
pub const FONT_PATHS: [&str; 6] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
];

/// Registers a font as `sans-serif` for the PNG's text, once per process:
/// `ENGINE_PLOT_FONT` if set (it must then be a readable font), else the first
/// font of [`FONT_PATHS`] that reads and parses.
///
/// # Errors
/// No usable font, with what to do about it.
pub fn font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let register = |path: &str| -> Result<(), String> {
            let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{path}: not a font plotters can read"))
        };
        if let Ok(path) = std::env::var("ENGINE_PLOT_FONT") {
            return register(&path).map_err(|e| format!("ENGINE_PLOT_FONT: {e}"));
        }
        if FONT_PATHS.iter().any(|path| register(path).is_ok()) {
            return Ok(());
        }
        Err(format!(
            "no font for the PNG's text: install one (Debian: fonts-dejavu-core), set ENGINE_PLOT_FONT to a \
             .ttf file, or write an SVG instead (--plot e2e.svg); looked in {}",
            FONT_PATHS.join(", ")
        ))
    })
    .clone()
}

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// Draws the plot into `path` (800 × 480 PNG).
///
/// # Errors
/// No font to draw text with, or the file cannot be written.
pub fn png(results: &[(RateResult, Histogram<u64>)], path: &Path) -> Result<(), String> {
    font()?;
    let draw = |e: DrawingAreaErrorKind<_>| e.to_string();
    let root = BitMapBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(draw)?;
    // Both axes are log10 of the value: x of "1 in N" (0 = 1, 6 = 1 in a million),
    // y of nanoseconds (1 = 10 ns, 7 = 10 ms).
    let mut chart = ChartBuilder::on(&root)
        .caption("tick-to-order latency by percentile, per topology and offered rate", ("sans-serif", 16))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..6f64, 1f64..7f64)
        .map_err(draw)?;
    const PERCENTILE: [&str; 7] = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"];
    const LATENCY: [&str; 8] = ["", "10 ns", "100 ns", "1 µs", "10 µs", "100 µs", "1 ms", "10 ms"];
    let label =
        |names: &'static [&'static str], v: f64| names.get(v.round() as usize).copied().unwrap_or("").to_owned();
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&|v| label(&PERCENTILE, *v))
        .y_label_formatter(&|v| label(&LATENCY, *v))
        .x_desc("percentile")
        .y_desc("latency")
        .draw()
        .map_err(draw)?;
    let mut rate_index = 0;
    for (i, (r, h)) in results.iter().enumerate() {
        // One colour per offered rate (results are sorted by rate); pipelined dashed.
        if i > 0 && results.get(i - 1).is_some_and(|(p, _)| p.offered_rate != r.offered_rate) {
            rate_index += 1;
        }
        let color = COLORS.get(rate_index % COLORS.len()).copied().unwrap_or(BLACK);
        let points: Vec<(f64, f64)> = h
            .iter_quantiles(5)
            .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
            .take_while(|(q, _)| *q < 1.0)
            .map(|(q, ns)| ((1.0 / (1.0 - q)).log10().clamp(0.0, 6.0), (ns.max(10) as f64).log10().clamp(1.0, 7.0)))
            .collect();
        let style = color.stroke_width(2);
        let name = format!("{} {}/s", r.topology, r.offered_rate);
        let series = if r.topology.starts_with("pipelined") {
            chart.draw_series(DashedLineSeries::new(points, 8, 5, style))
        } else {
            chart.draw_series(LineSeries::new(points, style))
        };
        series.map_err(draw)?.label(name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw)?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Percentiles;

    fn result(topology: &str, rate: u64, scale: u64) -> (RateResult, Histogram<u64>) {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for k in 1..=10_000u64 {
            h.record(500 + scale * k).unwrap();
        }
        let r = RateResult {
            topology: topology.into(),
            offered_rate: rate,
            achieved_rate: rate as f64,
            orders: 1,
            tick_to_order_ns: Percentiles::of(&h),
            parse_ns: Percentiles::default(),
        };
        (r, h)
    }

    #[test]
    fn a_png_plot_draws_each_rate_in_its_own_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e2e.png");
        // Three runs at two rates: two colours, the pipelined run dashed.
        let results = [result("fused", 100_000, 1), result("pipelined", 100_000, 3), result("fused", 500_000, 9)];
        png(&results, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
        // IHDR: width and height, big-endian, at bytes 16..24.
        assert_eq!((&bytes[16..20], &bytes[20..24]), (&800u32.to_be_bytes()[..], &480u32.to_be_bytes()[..]));
        let rgb = image_pixels(&bytes);
        let count = |c: RGBColor| rgb.chunks_exact(3).filter(|p| *p == [c.0, c.1, c.2]).count();
        // A legend swatch is about 40 pixels; a line across the plot is many more.
        for (k, c) in COLORS.iter().take(2).enumerate() {
            assert!(count(*c) > 300, "rate {k}'s lines are drawn: {} pixels", count(*c));
        }
        assert_eq!(count(COLORS[2]), 0, "two rates, two colours (not one per run)");
        let e = png(&results, &dir.path().join("missing-dir/e2e.png")).unwrap_err();
        assert!(e.contains("No such file"), "{e}");
    }

    /// The RGB pixels of a PNG plotters wrote (through the same `image` crate).
    fn image_pixels(bytes: &[u8]) -> Vec<u8> {
        let decoder = image::codecs::png::PngDecoder::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = vec![0; image::ImageDecoder::total_bytes(&decoder) as usize];
        image::ImageDecoder::read_image(decoder, &mut out).unwrap();
        out
    }
}
