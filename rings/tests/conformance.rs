//! One behavioural suite run against every ring kind (heap, broadcast, shared memory).

mod common;

use common::{Kind, kinds};
use rings::{PopError, PushError};

fn for_each_kind(test: fn(&Kind)) {
    for kind in kinds() {
        test(&kind);
    }
}

#[test]
fn capacity_rounds_up_to_a_power_of_two() {
    for_each_kind(|k| {
        let (p, c, _keep) = (k.make)(5);
        assert_eq!(p.capacity(), 8, "{}", k.name);
        assert_eq!(c.capacity(), 8, "{}", k.name);
    });
}

#[test]
fn fifo_full_and_empty() {
    for_each_kind(|k| {
        let (mut p, mut c, _keep) = (k.make)(4);
        assert_eq!(c.try_pop(), Err(PopError::Empty), "{}", k.name);
        for i in 0..4 {
            p.try_push(i).unwrap();
        }
        assert!(p.is_full(), "{}", k.name);
        assert_eq!(p.try_push(99), Err(PushError::Full(99)), "{}", k.name);
        assert_eq!(c.len(), 4, "{}", k.name);
        for i in 0..4 {
            assert_eq!(c.try_pop(), Ok(i), "{}", k.name);
        }
        assert_eq!(c.try_pop(), Err(PopError::Empty), "{}", k.name);
        assert!(p.is_empty(), "{}", k.name);
    });
}

#[test]
fn wraps_around_many_laps() {
    for_each_kind(|k| {
        let (mut p, mut c, _keep) = (k.make)(4);
        for i in 0..1_000u64 {
            p.try_push(i).unwrap();
            if i % 3 == 0 {
                p.try_push(i + 1_000_000).unwrap();
                assert_eq!(c.try_pop(), Ok(i), "{}", k.name);
                assert_eq!(c.try_pop(), Ok(i + 1_000_000), "{}", k.name);
            } else {
                assert_eq!(c.try_pop(), Ok(i), "{}", k.name);
            }
        }
    });
}

#[test]
fn slices_split_at_the_wrap_point() {
    for_each_kind(|k| {
        let (mut p, mut c, _keep) = (k.make)(8);
        assert_eq!(p.push_slice(&[0, 1, 2, 3, 4, 5]), 6);
        let mut out = [0; 6];
        assert_eq!(c.pop_slice(&mut out), 6);
        // head and tail now at 6: the next 6 items wrap after 2.
        assert_eq!(p.push_slice(&[10, 11, 12, 13, 14, 15, 16, 17, 18]), 8, "{}", k.name);
        let chunk = c.read_chunk(6);
        let (a, b) = chunk.as_slices();
        assert_eq!((a, b), (&[10, 11][..], &[12, 13, 14, 15][..]), "{}", k.name);
        chunk.commit(3);
        assert_eq!(c.try_pop(), Ok(13), "{}", k.name);
        let mut rest = [0; 8];
        assert_eq!(c.pop_slice(&mut rest), 4, "{}", k.name);
        assert_eq!(rest[..4], [14, 15, 16, 17], "{}", k.name);
    });
}

#[test]
fn write_chunk_claims_only_free_slots_and_publishes_on_drop() {
    for_each_kind(|k| {
        let (mut p, mut c, _keep) = (k.make)(4);
        p.try_push(1).unwrap();
        {
            let mut chunk = p.write_chunk(10);
            assert_eq!(chunk.len(), 3, "{}", k.name);
            chunk.push(2).unwrap();
            chunk.push(3).unwrap();
            assert_eq!(c.len(), 1, "unpublished items are invisible ({})", k.name);
        }
        assert_eq!(c.len(), 3, "{}", k.name);
        let mut chunk = p.write_chunk(10);
        assert_eq!(chunk.len(), 1, "{}", k.name);
        chunk.push(4).unwrap();
        assert_eq!(chunk.push(5), Err(5), "{}", k.name);
        assert_eq!(chunk.commit(), 1, "{}", k.name);
        assert!(p.write_chunk(1).is_empty(), "{}", k.name);
        let mut out = [0; 4];
        assert_eq!(c.pop_slice(&mut out), 4);
        assert_eq!(out, [1, 2, 3, 4], "{}", k.name);
    });
}

#[test]
fn dropped_read_chunk_is_a_peek() {
    for_each_kind(|k| {
        let (mut p, mut c, _keep) = (k.make)(4);
        p.push_slice(&[7, 8]);
        assert_eq!(c.read_chunk(4).len(), 2, "{}", k.name);
        assert_eq!(c.try_pop(), Ok(7), "{}", k.name);
    });
}

#[test]
fn each_side_sees_the_other_leave() {
    for_each_kind(|k| {
        let (p, c, _keep) = (k.make)(4);
        assert!(!p.is_abandoned(), "{}", k.name);
        assert_eq!(c.peer_status(), rings::PeerStatus::Alive, "{}", k.name);
        drop(p);
        assert_eq!(c.peer_status(), rings::PeerStatus::Detached, "{}", k.name);
        assert!(c.is_abandoned(), "{}", k.name);

        let (p, c, _keep) = (k.make)(4);
        drop(c);
        assert!(p.is_abandoned(), "{}", k.name);
    });
}

#[test]
fn zero_capacity_is_rejected() {
    assert_eq!(rings::spsc::channel::<u64>(0).unwrap_err(), rings::CapacityError::Zero);
    assert_eq!(rings::broadcast::channel::<u64>(0, 1).unwrap_err(), rings::CapacityError::Zero);
    assert_eq!(rings::broadcast::channel::<u64>(8, 0).unwrap_err(), rings::CapacityError::NoSubscribers);
    assert!(matches!(rings::spsc::channel::<u64>(usize::MAX), Err(rings::CapacityError::TooLarge { .. })));
    assert!(matches!(
        rings::spsc::channel::<[u8; 4096]>(usize::MAX / 8192),
        Err(rings::CapacityError::TooLarge { .. })
    ));
}

#[test]
fn broadcast_every_subscriber_sees_every_item_and_slowest_bounds_the_producer() {
    let (mut p, mut subs) = rings::broadcast::channel::<u64>(4, 2).unwrap();
    assert_eq!(p.push_slice(&[1, 2, 3, 4]), 4);
    assert_eq!(subs[0].pop_slice(&mut [0; 4]), 4);
    // Subscriber 1 has not read: the ring is still full for the producer.
    assert_eq!(p.try_push(5), Err(PushError::Full(5)));
    assert_eq!(subs[1].try_pop(), Ok(1));
    p.try_push(5).unwrap();
    assert_eq!(subs[0].try_pop(), Ok(5));
    let mut rest = [0; 4];
    assert_eq!(subs[1].pop_slice(&mut rest), 4);
    assert_eq!(rest, [2, 3, 4, 5]);
}

#[test]
fn a_subscriber_of_several_hands_slots_back_in_groups_and_when_caught_up() {
    // 1024 slots, two subscribers: single pops hand slots back 16 at a time. The
    // second subscriber leaves, so only the first holds the producer back.
    let (mut p, mut subs) = rings::broadcast::channel::<u64>(1024, 2).unwrap();
    drop(subs.pop());
    let items: Vec<u64> = (0..1024).collect();
    assert_eq!(p.push_slice(&items), 1024);
    let rx = &mut subs[0];
    for i in 0..15 {
        assert_eq!(rx.try_pop(), Ok(i));
    }
    // Read, not yet handed back: the producer still sees every slot taken.
    assert_eq!(p.try_push(1024), Err(PushError::Full(1024)));
    assert_eq!(p.len(), 1024);
    assert_eq!(rx.try_pop(), Ok(15));
    assert_eq!(p.len(), 1008);
    assert_eq!(p.push_slice(&[1024, 1025]), 2);
    // Catching up hands back everything read, at once.
    let mut next = 16;
    while let Ok(v) = rx.try_pop() {
        assert_eq!(v, next);
        next += 1;
    }
    assert_eq!(next, 1026);
    assert_eq!(p.len(), 0);
    // A batch read hands back what it read and what single pops held.
    assert_eq!(p.push_slice(&[1, 2, 3]), 3);
    assert_eq!(rx.try_pop(), Ok(1));
    assert_eq!(p.len(), 3);
    assert_eq!(rx.pop_slice(&mut [0; 2]), 2);
    assert_eq!(p.len(), 0);
}

#[test]
fn a_dropped_subscriber_stops_holding_the_producer_back() {
    let (mut p, mut subs) = rings::broadcast::channel::<u64>(2, 2).unwrap();
    let slow = subs.pop().unwrap();
    let mut fast = subs.pop().unwrap();
    for i in 0..2 {
        p.try_push(i).unwrap();
        assert_eq!(fast.try_pop(), Ok(i));
    }
    assert!(p.try_push(2).is_err());
    assert_eq!(p.peer_status(), rings::PeerStatus::Alive);
    drop(slow);
    assert_eq!(p.peer_status(), rings::PeerStatus::Detached);
    assert!(!p.is_abandoned(), "one subscriber still reads");
    p.try_push(2).unwrap();
    assert_eq!(fast.try_pop(), Ok(2));
    drop(fast);
    assert!(p.is_abandoned(), "now nobody reads");
}

#[test]
fn slot_memory_spans_the_slots_on_both_sides() {
    for_each_kind(|k| {
        let (p, c, _keep) = (k.make)(64);
        let span = p.slot_memory();
        assert_eq!(span.len(), 64 * size_of::<u64>(), "{}", k.name);
        if k.name.starts_with("shm") {
            // Each side maps the file itself: same size, its own addresses.
            assert_eq!(c.slot_memory().len(), span.len(), "{}", k.name);
        } else {
            assert_eq!(c.slot_memory(), span, "{}", k.name);
        }
        assert_eq!(span.start % 128, 0, "{}: slots start on their own cache-line pair", k.name);
    });
}
