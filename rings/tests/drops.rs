//! Every item pushed into a ring is dropped exactly once: when popped, when released
//! from a read chunk, or with the ring.

use std::sync::Mutex;

/// Counts drops per id; shared across threads by the tests below.
static DROPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[derive(Debug)]
struct Tracked(usize);

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut drops = DROPS.lock().unwrap();
        if drops.len() <= self.0 {
            drops.resize(self.0 + 1, 0);
        }
        drops[self.0] += 1;
    }
}

#[test]
fn every_item_is_dropped_exactly_once() {
    let n = if cfg!(miri) { 40 } else { 1_000 };
    let (mut tx, mut rx) = rings::spsc::channel::<Tracked>(8).unwrap();
    let mut next = 0;
    let mut held = Vec::new();
    let mut round = 0;
    while next < n {
        round += 1;
        // Fill a few, in both single and chunk form.
        for _ in 0..3 {
            if next == n {
                break;
            }
            if tx.try_push(Tracked(next)).map_err(|e| e.into_inner()).is_ok() {
                next += 1;
            } else {
                // The rejected value came back and is dropped here, once.
                held.push(next);
                next += 1;
            }
        }
        {
            let mut chunk = tx.write_chunk(2);
            while next < n {
                let pushed = chunk.push(Tracked(next)).is_ok(); // a rejected one drops here
                next += 1;
                if !pushed {
                    held.push(next - 1);
                    break;
                }
            }
        }
        // Drain some: pop (moves out, dropped at end of statement), chunk commit.
        if round % 2 == 0 {
            let _ = rx.try_pop();
        }
        let chunk = rx.read_chunk(2);
        let len = chunk.len();
        chunk.commit(len.min(1));
    }
    drop(tx);
    drop(rx); // the rest are dropped with the ring
    let drops = DROPS.lock().unwrap();
    assert_eq!(drops.len(), n, "ids pushed: {n}");
    for (id, count) in drops.iter().enumerate() {
        assert_eq!(*count, 1, "item {id} dropped {count} times (rejected ones: {held:?})");
    }
}

#[test]
fn items_need_only_be_send_not_copy() {
    let (mut tx, mut rx) = rings::spsc::channel::<Vec<String>>(2).unwrap();
    tx.try_push(vec!["a".into()]).unwrap();
    assert_eq!(rx.try_pop().unwrap(), vec!["a".to_string()]);
}

/// A `Drop` that panics on the item with id 1.
#[derive(Debug)]
struct Bomb(u32, std::sync::Arc<Mutex<Vec<u32>>>);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.1.lock().unwrap().push(self.0);
        if self.0 == 1 {
            panic!("bomb {} went off", self.0);
        }
    }
}

#[test]
fn a_panicking_drop_during_commit_drops_nothing_twice() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let (mut tx, mut rx) = rings::spsc::channel::<Bomb>(4).unwrap();
    for id in 0..3 {
        tx.try_push(Bomb(id, log.clone())).unwrap();
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.read_chunk(3).commit(3)));
    assert!(result.is_err(), "the drop of item 1 panics");
    // Item 2 was not reached: it is still in the ring and pops normally.
    let two = rx.try_pop().unwrap();
    assert_eq!(two.0, 2);
    drop(two);
    drop((tx, rx));
    let mut seen = log.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2], "each item dropped exactly once");
}
