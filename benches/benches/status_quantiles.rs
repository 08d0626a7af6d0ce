//! The live status line's two percentiles (tick-to-order p50 and p99, read on the
//! hot core once a second), ours against HdrHistogram in one criterion
//! group (ids `0-ours`, `1-hdrhistogram`): `HopRecorder::values_at_quantiles` and
//! `Histogram::value_at_quantile` twice, over the same 200,000 samples shaped like a
//! live run's tick-to-order (most at 1-3 µs, 1% at 10-50 µs, 0.1% up to 5 ms).
//! Whatever this costs stalls the hot core each time.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use engine::pipeline::{Hop, HopRecorder};
use hdrhistogram::Histogram;

/// A live run's tick-to-order samples (ns), from a fixed seed.
fn samples(n: usize) -> Vec<u64> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    (0..n)
        .map(|_| match next() % 1_000 {
            0 => 50_000 + next() % 5_000_000,
            1..=10 => 10_000 + next() % 40_000,
            _ => 1_000 + next() % 2_000,
        })
        .collect()
}

fn quantiles(c: &mut Criterion) {
    let data = samples(200_000);
    let mut ours = HopRecorder::new();
    let mut hdr = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds");
    for &v in &data {
        ours.record(Hop::TickToOrder, v);
        hdr.saturating_record(v);
    }
    let [p50, p99] = ours.values_at_quantiles(Hop::TickToOrder, [0.5, 0.99]);
    assert_eq!([p50, p99], [hdr.value_at_quantile(0.5), hdr.value_at_quantile(0.99)], "both read the same values");
    let mut group = c.benchmark_group("status_p50_p99");
    group.bench_function("0-ours", |b| {
        b.iter(|| black_box(&ours).values_at_quantiles(Hop::TickToOrder, black_box([0.5, 0.99])));
    });
    group.bench_function("1-hdrhistogram", |b| {
        b.iter(|| {
            let h = black_box(&hdr);
            [h.value_at_quantile(black_box(0.5)), h.value_at_quantile(black_box(0.99))]
        });
    });
    group.finish();
}

criterion_group!(benches, quantiles);
criterion_main!(benches);
