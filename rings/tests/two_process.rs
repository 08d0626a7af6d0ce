//! A real second process attaches to shared-memory rings.
//!
//! The parent tests re-run this test binary with `--ignored --exact child` and an
//! environment variable naming what the child should do; the child is an ignored
//! test so a normal run never executes it on its own.
#![cfg(not(miri))] // Miri cannot map files or spawn processes

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rings::shm::{self, ShmOptions};
use rings::wait::SpinYield;
use rings::{PeerStatus, Pod, Zeroable};

const MODE: &str = "RINGS_CHILD_MODE";
const PATH: &str = "RINGS_CHILD_PATH";

fn items() -> u64 {
    std::env::var("RINGS_TWO_PROCESS_ITEMS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
}

/// A 64-byte record, like the engine's market events: sequence plus payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
struct Record {
    seq: u64,
    payload: [u64; 7],
}

impl Record {
    fn new(seq: u64) -> Self {
        Self { seq, payload: [seq.wrapping_mul(0x9e37_79b9_7f4a_7c15); 7] }
    }
}

fn spawn_child(mode: &str, path: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
        .env(PATH, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child failed: {stdout}");
    stdout
}

fn push_all(tx: &mut rings::Producer<Record>, n: u64) {
    let mut wait = SpinYield::default();
    let mut seq = 0;
    while seq < n {
        match tx.try_push(Record::new(seq)) {
            Ok(()) => {
                seq += 1;
                rings::wait::WaitStrategy::reset(&mut wait);
            }
            Err(_) => {
                assert!(!tx.is_abandoned() || seq == n, "consumer left at {seq}");
                rings::wait::WaitStrategy::wait(&mut wait);
            }
        }
    }
}

fn verify_all(rx: &mut rings::Consumer<Record>, n: u64) -> u64 {
    let mut wait = SpinYield::default();
    for seq in 0..n {
        let got = rx.pop_wait(&mut wait).unwrap_or_else(|_| panic!("producer left at {seq}"));
        assert_eq!(got, Record::new(seq), "item {seq} lost, duplicated or corrupt");
    }
    n
}

fn wait_for(status: impl Fn() -> bool, what: &str) {
    for _ in 0..6_000 {
        if status() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("waited 30 s for {what}");
}

#[test]
fn spsc_items_cross_to_another_process_in_order() {
    let path = common_path("spsc");
    let mut tx = ShmOptions::spsc(&path, 4096).create_producer::<Record>().unwrap();
    let child = spawn_child("spsc-verify", &path);
    push_all(&mut tx, items());
    let out = finish(child);
    assert!(out.contains(&format!("verified {}", items())), "{out}");
}

#[test]
fn broadcast_items_reach_a_subscriber_in_another_process_and_one_here() {
    let path = common_path("bcast");
    let mut tx = ShmOptions::broadcast(&path, 4096, 2).create_producer::<Record>().unwrap();
    let mut local = shm::attach_subscriber::<Record>(&path, 0).unwrap();
    let child = spawn_child("broadcast-verify", &path);
    let n = items();
    let here = std::thread::spawn(move || verify_all(&mut local, n));
    push_all(&mut tx, n);
    assert_eq!(here.join().unwrap(), n);
    let out = finish(child);
    assert!(out.contains(&format!("verified {n}")), "{out}");
}

#[test]
fn a_consumer_that_dies_is_reported_and_can_be_replaced() {
    let path = common_path("death");
    let mut tx = ShmOptions::spsc(&path, 16).create_producer::<Record>().unwrap();
    assert_eq!(tx.peer_status(), PeerStatus::NotAttached);
    let mut child = spawn_child("attach-and-hang", &path);
    let pid = child.id();
    wait_for(|| tx.peer_status() == PeerStatus::Alive, "the child to attach");
    tx.try_push(Record::new(0)).unwrap();
    // A second consumer is refused while the first lives.
    let err = shm::attach_consumer::<Record>(&path).unwrap_err();
    assert!(err.to_string().contains(&format!("held by live process {pid}")), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(tx.peer_status(), PeerStatus::Died { pid });
    assert!(tx.is_abandoned());
    // A new consumer takes over where the dead one stopped: nothing lost.
    let mut rx = shm::attach_consumer::<Record>(&path).unwrap();
    assert_eq!(tx.peer_status(), PeerStatus::Alive);
    assert_eq!(rx.try_pop(), Ok(Record::new(0)));
}

#[test]
fn a_producer_that_dies_is_reported_to_the_consumer() {
    let path = common_path("pdeath");
    let mut rx = ShmOptions::spsc(&path, 16).create_consumer::<Record>().unwrap();
    let mut child = spawn_child("produce-one-and-hang", &path);
    let pid = child.id();
    wait_for(|| rx.len() == 1, "the child to push");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(rx.peer_status(), PeerStatus::Died { pid });
    // What it published before dying is still delivered, then the wait ends.
    assert_eq!(rx.pop_wait(&mut SpinYield::default()), Ok(Record::new(7)));
    assert!(rx.pop_wait(&mut SpinYield::default()).is_err());
}

#[test]
fn a_process_with_the_wrong_item_type_gets_a_clear_error() {
    let path = common_path("wrongtype");
    let _tx = ShmOptions::spsc(&path, 16).create_producer::<Record>().unwrap();
    let out = finish(spawn_child("attach-wrong-type", &path));
    assert!(out.contains("ring item type mismatch"), "{out}");
    assert!(out.contains("two_process::Record (size 64, align 8"), "{out}");
}

fn common_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rings-2proc-{}-{tag}", std::process::id()))
}

/// The child side. Ignored so it runs only when a parent test spawns it.
#[test]
#[ignore = "run by the two-process tests in a child process"]
fn child() {
    let (Ok(mode), Ok(path)) = (std::env::var(MODE), std::env::var(PATH)) else {
        panic!("run only by the two-process tests ({MODE} and {PATH} unset)");
    };
    match mode.as_str() {
        "spsc-verify" => {
            let mut rx = shm::attach_consumer::<Record>(&path).unwrap();
            println!("verified {}", verify_all(&mut rx, items()));
        }
        "broadcast-verify" => {
            let mut rx = shm::attach_subscriber::<Record>(&path, 1).unwrap();
            println!("verified {}", verify_all(&mut rx, items()));
        }
        "attach-and-hang" => {
            let _rx = shm::attach_consumer::<Record>(&path).unwrap();
            std::thread::sleep(Duration::from_secs(600));
        }
        "produce-one-and-hang" => {
            let mut tx = shm::attach_producer::<Record>(&path).unwrap();
            tx.try_push(Record::new(7)).unwrap();
            std::thread::sleep(Duration::from_secs(600));
        }
        "attach-wrong-type" => {
            let err = shm::attach_consumer::<[u64; 8]>(&path).unwrap_err();
            println!("{err}");
        }
        other => panic!("unknown child mode {other}"),
    }
}
