//! Loom models of the real ring code (`--features loom` swaps in loom's atomics through
//! `rings::sync`). Capacities are tiny and item counts exceed them, so loom explores
//! the wrap-around and full/empty races under every interleaving it can reach.
//!
//! Run: `scripts/loom.sh` (`cargo test -p rings --features loom --test loom`).
#![cfg(feature = "loom")]

use loom::thread;

fn push(tx: &mut rings::Producer<u64>, mut value: u64) {
    while let Err(rings::PushError::Full(back)) = tx.try_push(value) {
        value = back;
        thread::yield_now();
    }
}

fn pop(rx: &mut rings::Consumer<u64>) -> u64 {
    loop {
        if let Ok(v) = rx.try_pop() {
            return v;
        }
        thread::yield_now();
    }
}

type Reader = thread::JoinHandle<(rings::Consumer<u64>, Vec<u64>)>;

/// Each subscriber on a thread of its own, trying `pops` pops once each (no
/// spinning: three spinning threads exceed what loom can explore).
fn try_pops_each(subs: Vec<rings::Consumer<u64>>, pops: usize) -> Vec<Reader> {
    subs.into_iter()
        .map(|mut rx| {
            thread::spawn(move || {
                let seen: Vec<u64> = (0..pops).filter_map(|_| rx.try_pop().ok()).collect();
                (rx, seen)
            })
        })
        .collect()
}

/// Joins each subscriber, drains what it left, and checks it saw exactly `pushed`.
fn each_saw_exactly(readers: Vec<Reader>, pushed: &[u64]) {
    for reader in readers {
        let (mut rx, mut seen) = reader.join().unwrap();
        while let Ok(v) = rx.try_pop() {
            seen.push(v);
        }
        assert_eq!(seen, pushed);
    }
}

#[test]
fn spsc_single_items_wrap_in_order() {
    loom::model(|| {
        let (mut tx, mut rx) = rings::spsc::channel::<u64>(2).unwrap();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                push(&mut tx, i);
            }
        });
        for i in 0..3 {
            assert_eq!(pop(&mut rx), i);
        }
        producer.join().unwrap();
    });
}

#[test]
fn spsc_chunks_wrap_in_order() {
    loom::model(|| {
        let (mut tx, mut rx) = rings::spsc::channel::<u64>(2).unwrap();
        let producer = thread::spawn(move || {
            let items = [0, 1, 2];
            let mut sent = 0;
            while sent < items.len() {
                let n = tx.push_slice(&items[sent..]);
                if n == 0 {
                    thread::yield_now();
                }
                sent += n;
            }
        });
        let mut expect = 0;
        while expect < 3 {
            let chunk = rx.read_chunk(2);
            if chunk.is_empty() {
                thread::yield_now();
                continue;
            }
            let (a, b) = chunk.as_slices();
            for &v in a.iter().chain(b) {
                assert_eq!(v, expect);
                expect += 1;
            }
            chunk.commit_all();
        }
        producer.join().unwrap();
    });
}

#[test]
fn spsc_items_left_in_the_ring_are_dropped_once() {
    loom::model(|| {
        let (mut tx, mut rx) = rings::spsc::channel::<loom::sync::Arc<u8>>(2).unwrap();
        let item = loom::sync::Arc::new(0u8);
        let producer = {
            let item = item.clone();
            thread::spawn(move || {
                let _ = tx.try_push(item.clone());
                let _ = tx.try_push(item);
            })
        };
        let _ = rx.try_pop();
        producer.join().unwrap();
        drop(rx);
        // Every clone pushed was dropped exactly once (loom checks Arc leaks too).
        assert_eq!(loom::sync::Arc::strong_count(&item), 1);
    });
}

/// Three spinning threads exceed what loom can explore, so nobody spins here: the
/// producer tries each push once and each subscriber tries two pops, and the model
/// checks safety under every interleaving: each subscriber ends up with exactly the
/// pushed items, in order, never a slot the producer was rewriting (the slot tracker
/// would flag that). Capacity 1 makes every second push reuse a slot that both
/// subscribers must have released.
#[test]
fn broadcast_two_subscribers_each_see_every_item() {
    loom::model(|| {
        let (mut tx, subs) = rings::broadcast::channel::<u64>(1, 2).unwrap();
        let readers = try_pops_each(subs, 2);
        let pushed: Vec<u64> = (0..3).filter(|&i| tx.try_push(i).is_ok()).collect();
        assert_eq!(pushed.first(), Some(&0), "an empty ring takes the first push");
        each_saw_exactly(readers, &pushed);
    });
}

/// Subscribers handing slots back two at a time (or when they find nothing new):
/// with capacity 2 the producer's third push needs a slot that both subscribers
/// have read, and it must never get one a subscriber read but did not hand back.
#[test]
fn broadcast_subscribers_handing_slots_back_in_groups_never_lose_or_expose_one() {
    loom::model(|| {
        let (mut tx, subs) = rings::broadcast::channel_grouped::<u64>(2, 2, 2).unwrap();
        let readers = try_pops_each(subs, 3);
        let pushed: Vec<u64> = (0..4).filter(|&i| tx.try_push(i).is_ok()).collect();
        assert_eq!(pushed.get(..2), Some(&[0, 1][..]), "an empty ring of two takes two pushes");
        each_saw_exactly(readers, &pushed);
    });
}
