//! Order processing, ours against the baseline in one criterion group (ids `0-ours`,
//! `1-baseline` keep order): per iteration, one order's SmartRoute decision across 5
//! venues and its whole OMS life (create, send, accept, then a fill, or a part-fill
//! and a cancel) with its position update. Throughput is in orders, so criterion
//! prints orders/s beside the time per order. The fixture is `benches::order`, the
//! one `order-bench` uses (which times every call alone for percentiles).

use std::hint::black_box;

use benches::order::{Baseline, Fixture, INSTRUMENTS, Untimed, base_life, naive_route, our_life, policy};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::{
    oms::Oms,
    route::{Route, route},
};

fn orders(c: &mut Criterion) {
    let fixture = Fixture::default();
    let views = fixture.views();
    let mut group = c.benchmark_group("order_route_and_life");
    group.throughput(Throughput::Elements(1));
    let (mut oms, mut decision, mut k) = (Oms::new(1024, INSTRUMENTS), Route::default(), 0usize);
    group.bench_function("0-ours", |b| {
        b.iter(|| {
            let (o, life) = &fixture.orders[k % fixture.orders.len()];
            k += 1;
            route(black_box(o), &views, policy(), &mut decision);
            let routed: i64 = decision.children().map(|c| c.order.qty.0).sum();
            routed + our_life(&mut oms, o, *life, &mut Untimed).expect("every life ends its order")
        });
    });
    let (mut base, mut k) = (Baseline::default(), 0usize);
    group.bench_function("1-baseline", |b| {
        b.iter(|| {
            let (o, life) = &fixture.orders[k % fixture.orders.len()];
            k += 1;
            let routed: i64 = naive_route(black_box(o), &fixture.books, &fixture.fees).iter().map(|(_, q)| q).sum();
            routed + base_life(&mut base, &fixture.symbols, o, *life, &mut Untimed)
        });
    });
    group.finish();
}

criterion_group!(benches, orders);
criterion_main!(benches);
