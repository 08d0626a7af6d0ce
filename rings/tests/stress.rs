//! Two threads, millions of sequenced items: each arrives once and in order.

use rings::wait::{BusySpin, SpinYield, WaitStrategy};

fn items() -> u64 {
    if cfg!(miri) { 2_000 } else { 5_000_000 }
}

/// Pushes 0..n; yields when full, because these tests run more spinning threads
/// than this machine has cores.
fn push_all(tx: &mut rings::Producer<u64>, n: u64, batch: bool) {
    let mut wait = SpinYield::default();
    let mut next = 0;
    let mut buf = [0u64; 32];
    while next < n {
        if batch {
            let len = (n - next).min(32) as usize;
            for (i, slot) in buf[..len].iter_mut().enumerate() {
                *slot = next + i as u64;
            }
            let pushed = tx.push_slice(&buf[..len]) as u64;
            next += pushed;
            if pushed == 0 {
                wait.wait();
            } else {
                wait.reset();
            }
        } else if tx.try_push(next).is_ok() {
            next += 1;
            wait.reset();
        } else {
            wait.wait();
        }
    }
}

fn check_in_order(rx: &mut rings::Consumer<u64>, n: u64, batch: bool) {
    let mut expect = 0;
    while expect < n {
        if batch {
            let chunk = rx.read_chunk(64);
            if chunk.is_empty() {
                std::thread::yield_now();
            }
            let (a, b) = chunk.as_slices();
            for &got in a.iter().chain(b) {
                assert_eq!(got, expect, "out of order or lost");
                expect += 1;
            }
            chunk.commit_all();
        } else {
            let got = rx.pop_wait(&mut SpinYield::default()).expect("producer alive");
            assert_eq!(got, expect, "out of order or lost");
            expect += 1;
        }
    }
    assert!(rx.try_pop().is_err(), "nothing beyond the last item");
}

#[test]
fn spsc_single_items_cross_threads_in_order() {
    let (mut tx, mut rx) = rings::spsc::channel::<u64>(64).unwrap();
    let n = items();
    let consumer = std::thread::spawn(move || check_in_order(&mut rx, n, false));
    push_all(&mut tx, n, false);
    consumer.join().unwrap();
}

#[test]
fn spsc_batches_cross_threads_in_order() {
    let (mut tx, mut rx) = rings::spsc::channel::<u64>(128).unwrap();
    let n = items();
    let consumer = std::thread::spawn(move || check_in_order(&mut rx, n, true));
    push_all(&mut tx, n, true);
    consumer.join().unwrap();
}

#[test]
fn broadcast_two_subscribers_each_see_everything_in_order() {
    let (mut tx, subs) = rings::broadcast::channel::<u64>(64, 2).unwrap();
    let n = items();
    let readers: Vec<_> = subs
        .into_iter()
        .enumerate()
        .map(|(i, mut rx)| std::thread::spawn(move || check_in_order(&mut rx, n, i == 1)))
        .collect();
    push_all(&mut tx, n, false);
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn pop_wait_returns_once_the_producer_leaves() {
    let (tx, mut rx) = rings::spsc::channel::<u64>(4).unwrap();
    let waiter = std::thread::spawn(move || rx.pop_wait(&mut BusySpin));
    std::thread::sleep(std::time::Duration::from_millis(20));
    drop(tx);
    assert_eq!(waiter.join().unwrap(), Err(rings::PopError::Empty));
}
