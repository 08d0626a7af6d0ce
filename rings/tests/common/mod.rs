//! Ring constructors shared by the integration tests: every ring kind behind one
//! signature, so each behavioural test runs against all of them.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use rings::{Consumer, Producer};

/// Both ends of a `u64` ring plus whatever must outlive them.
pub type Pair = (Producer<u64>, Consumer<u64>, Keep);

/// A named way to build a `u64` ring of (at least) a given capacity.
#[derive(Debug)]
pub struct Kind {
    pub name: &'static str,
    pub make: fn(usize) -> Pair,
}

/// Whatever must live as long as the pair (extra subscribers, temp dirs).
pub type Keep = Box<dyn std::any::Any>;

pub fn unique_path(tag: &str) -> std::path::PathBuf {
    thread_local!(static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let n = NEXT.replace(NEXT.get() + 1);
    let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_digit(), "");
    std::env::temp_dir().join(format!("rings-test-{}-{thread}-{tag}-{n}", std::process::id()))
}

fn spsc(cap: usize) -> Pair {
    let (p, c) = rings::spsc::channel(cap).unwrap();
    (p, c, Box::new(()))
}

fn spsc_huge_pages(cap: usize) -> Pair {
    let (p, c) = rings::spsc::channel_with(cap, rings::spsc::Memory::HugePages).unwrap();
    (p, c, Box::new(()))
}

fn broadcast1(cap: usize) -> Pair {
    let (p, mut subs) = rings::broadcast::channel(cap, 1).unwrap();
    (p, subs.remove(0), Box::new(()))
}

fn shm_spsc(cap: usize) -> Pair {
    let path = unique_path("spsc");
    let p = rings::shm::ShmOptions::spsc(&path, cap).create_producer().unwrap();
    let c = rings::shm::attach_consumer(&path).unwrap();
    (p, c, Box::new(()))
}

fn shm_broadcast1(cap: usize) -> Pair {
    let path = unique_path("bcast");
    let p = rings::shm::ShmOptions::broadcast(&path, cap, 1).create_producer().unwrap();
    let c = rings::shm::attach_subscriber(&path, 0).unwrap();
    (p, c, Box::new(()))
}

/// Every ring kind that runs in this environment (Miri cannot map memory).
pub fn kinds() -> Vec<Kind> {
    let mut kinds = vec![Kind { name: "spsc", make: spsc }, Kind { name: "broadcast1", make: broadcast1 }];
    if !cfg!(miri) {
        kinds.push(Kind { name: "spsc_huge_pages", make: spsc_huge_pages });
        kinds.push(Kind { name: "shm_spsc", make: shm_spsc });
        kinds.push(Kind { name: "shm_broadcast1", make: shm_broadcast1 });
    }
    kinds
}
