//! Single-thread cost of one push + one pop, and of a 64-item batch round, for our
//! spsc ring and its peers in one criterion group (ids `0-ours`, `1-...` keep order).
//! No cache line crosses cores here: this isolates the instructions each ring spends
//! per item. Cross-core latency and throughput live in the `ring-bench` binary.

use std::hint::black_box;

use benches::ring::ends::{ArrayQueueEnd, Rx, Tx};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CAP: usize = 1024;

fn push_pop<T: Tx<u64>, R: Rx<u64>>(tx: &mut T, rx: &mut R) {
    assert!(tx.push(black_box(7)));
    assert_eq!(rx.pop(), Some(7));
}

fn batch<T: Tx<u64>, R: Rx<u64>>(tx: &mut T, rx: &mut R, buf: &mut [u64; 64]) {
    assert_eq!(tx.push_batch(black_box(&[7; 64])), 64);
    assert_eq!(rx.pop_batch(buf), 64);
}

fn single(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_pop_one");
    group.throughput(Throughput::Elements(1));
    let (mut tx, mut rx) = rings::spsc::channel::<u64>(CAP).unwrap();
    group.bench_function("0-ours", |b| b.iter(|| push_pop(&mut tx, &mut rx)));
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAP);
    group.bench_function("1-rtrb", |b| b.iter(|| push_pop(&mut tx, &mut rx)));
    let q = std::sync::Arc::new(crossbeam_queue::ArrayQueue::new(CAP));
    let (mut tx, mut rx) = (ArrayQueueEnd(q.clone()), ArrayQueueEnd(q));
    group.bench_function("2-crossbeam_array_queue", |b| b.iter(|| push_pop(&mut tx, &mut rx)));
    group.finish();
}

fn batched(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_pop_batch64");
    group.throughput(Throughput::Elements(64));
    let mut buf = [0u64; 64];
    let (mut tx, mut rx) = rings::spsc::channel::<u64>(CAP).unwrap();
    group.bench_function("0-ours", |b| b.iter(|| batch(&mut tx, &mut rx, &mut buf)));
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAP);
    group.bench_function("1-rtrb", |b| b.iter(|| batch(&mut tx, &mut rx, &mut buf)));
    group.finish();
}

criterion_group!(ring_ops, single, batched);
criterion_main!(ring_ops);
