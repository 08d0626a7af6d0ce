//! The full pre-trade check set, ours against the naive baseline in one criterion
//! group (ids `0-ours`, `1-naive` keep order): one order per iteration, and a batch
//! of 64. Throughput is in checks (elements), so criterion prints checks/s beside
//! the time per iteration. The fixture is `benches::risk`, the one `risk-bench`
//! uses: 20 instruments over 5 venues, each with limits of its own.

use std::hint::black_box;

use benches::risk::Fixture;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 64;

fn checks(c: &mut Criterion) {
    let fixture = Fixture::new();
    for (group_name, per_iter) in [("risk_check_one", 1), ("risk_check_batch64", BATCH)] {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(per_iter as u64));
        let mut ours = fixture.ours();
        let (mut k, mut now) = (0usize, 1_000_000_000u64);
        group.bench_function("0-ours", |b| {
            b.iter(|| {
                let mut accepted = 0u32;
                for _ in 0..per_iter {
                    let (i, o) = &fixture.orders[k % fixture.orders.len()];
                    (k, now) = (k + 1, now + 1_000_000); // 1 ms apart: no duplicates
                    accepted += u32::from(ours.check(black_box(o), &fixture.inputs(*i, now)).reject.is_none());
                }
                accepted
            });
        });
        let naive = fixture.naive();
        let (mut k, mut now) = (0usize, 1_000_000_000u64);
        group.bench_function("1-naive", |b| {
            b.iter(|| {
                let mut accepted = 0u32;
                for _ in 0..per_iter {
                    let (i, o) = &fixture.orders[k % fixture.orders.len()];
                    (k, now) = (k + 1, now + 1_000_000);
                    let symbol = &fixture.symbols[*i];
                    accepted += u32::from(naive.check(symbol, black_box(o), &fixture.inputs(*i, now)).is_none());
                }
                accepted
            });
        });
        group.finish();
    }
}

criterion_group!(benches, checks);
criterion_main!(benches);
