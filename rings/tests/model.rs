//! Random operation sequences against a `VecDeque` reference, on every ring kind.

mod common;

use std::collections::VecDeque;

use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Push,
    Pop,
    PushSlice(usize),
    PopSlice(usize),
    WriteChunk { claim: usize, fill: usize },
    ReadChunk { max: usize, commit: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Push),
        3 => Just(Op::Pop),
        1 => (0..12usize).prop_map(Op::PushSlice),
        1 => (0..12usize).prop_map(Op::PopSlice),
        1 => (0..12usize, 0..12usize).prop_map(|(claim, fill)| Op::WriteChunk { claim, fill }),
        1 => (0..12usize, 0..12usize).prop_map(|(max, commit)| Op::ReadChunk { max, commit }),
    ]
}

fn run(kind: &common::Kind, capacity: usize, ops: &[Op]) {
    let (mut p, mut c, _keep) = (kind.make)(capacity);
    let cap = p.capacity();
    let mut model = VecDeque::new();
    let mut next = 0u64;
    for op in ops {
        match *op {
            Op::Push => {
                let pushed = p.try_push(next).is_ok();
                assert_eq!(pushed, model.len() < cap, "{}: push with {} of {cap}", kind.name, model.len());
                if pushed {
                    model.push_back(next);
                    next += 1;
                }
            }
            Op::Pop => assert_eq!(c.try_pop().ok(), model.pop_front(), "{}", kind.name),
            Op::PushSlice(n) => {
                let src: Vec<u64> = (next..next + n as u64).collect();
                let pushed = p.push_slice(&src);
                assert_eq!(pushed, n.min(cap - model.len()), "{}", kind.name);
                model.extend(&src[..pushed]);
                next += pushed as u64;
            }
            Op::PopSlice(n) => {
                let mut dst = vec![0; n];
                let popped = c.pop_slice(&mut dst);
                let want: Vec<u64> = model.drain(..n.min(model.len())).collect();
                assert_eq!(&dst[..popped], &want[..], "{}", kind.name);
            }
            Op::WriteChunk { claim, fill } => {
                let mut chunk = p.write_chunk(claim);
                assert_eq!(chunk.len(), claim.min(cap - model.len()), "{}", kind.name);
                for _ in 0..fill {
                    if chunk.push(next).is_err() {
                        break;
                    }
                    model.push_back(next);
                    next += 1;
                }
            }
            Op::ReadChunk { max, commit } => {
                let chunk = c.read_chunk(max);
                let (a, b) = chunk.as_slices();
                let seen: Vec<u64> = a.iter().chain(b).copied().collect();
                let want: Vec<u64> = model.iter().take(max).copied().collect();
                assert_eq!(seen, want, "{}", kind.name);
                let commit = commit.min(chunk.len());
                chunk.commit(commit);
                model.drain(..commit);
            }
        }
        assert_eq!(c.len(), model.len(), "{}", kind.name);
        assert_eq!(p.len(), model.len(), "{}", kind.name);
        assert_eq!(c.is_empty(), model.is_empty(), "{}", kind.name);
        assert_eq!(p.is_full(), model.len() == cap, "{}", kind.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        // Miri's isolation forbids the file access that regression persistence needs.
        failure_persistence: if cfg!(miri) { None } else { ProptestConfig::default().failure_persistence },
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_ring_matches_a_vecdeque(capacity in 1usize..16, ops in prop::collection::vec(op(), 0..200)) {
        for kind in common::kinds() {
            run(&kind, capacity, &ops);
        }
    }
}
