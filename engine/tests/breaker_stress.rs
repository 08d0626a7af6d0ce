//! The circuit breaker's half-open token accounting under contention: however many
//! threads ask at once, exactly the configured number of probes get through.

#![allow(clippy::disallowed_types, reason = "a test's counter, not a modelled protocol")]

use std::sync::{Barrier, atomic::AtomicUsize, atomic::Ordering};

use engine::risk::{BreakerConfig, BreakerState, CircuitBreaker};

const MS: u64 = 1_000_000;

#[test]
fn exactly_the_configured_probes_are_admitted_under_contention() {
    let threads = 8;
    for probes in [1u32, 3, 7] {
        for round in 0..200u64 {
            let config = BreakerConfig { consecutive_failures: 1, cool_down_ns: 10 * MS, probes, ..Default::default() };
            let breaker = CircuitBreaker::new(&config);
            breaker.try_call(0).unwrap().failure(0);
            assert_eq!(breaker.state(), BreakerState::Open);
            let (admitted, barrier) = (AtomicUsize::new(0), Barrier::new(threads));
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        barrier.wait();
                        // Each thread keeps every call it got until all have asked.
                        let calls: Vec<_> = (0..4).filter_map(|_| breaker.try_call(20 * MS + round).ok()).collect();
                        admitted.fetch_add(calls.len(), Ordering::Relaxed);
                        barrier.wait();
                        for call in calls {
                            assert!(call.is_probe());
                            call.success();
                        }
                    });
                }
            });
            assert_eq!(admitted.load(Ordering::Relaxed), probes as usize, "round {round}, {probes} probes");
            assert_eq!(breaker.state(), BreakerState::Closed, "the probes' successes closed it");
        }
    }
}
