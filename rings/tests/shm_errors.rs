//! A shared-memory ring file that is missing, foreign, corrupt or mismatched gives a
//! clear error on attach, never undefined behaviour; hostile indices stay in bounds.
#![cfg(not(miri))] // Miri cannot map files

mod common;

use std::os::unix::fs::{FileExt, PermissionsExt};

use common::unique_path;
use rings::shm::{self, ShmError, ShmOptions};

/// Byte offsets of header fields (the file format, `repr(C)`, see shm/header.rs).
const LAYOUT_VERSION_AT: u64 = 8;
const KIND_AT: u64 = 12;
const CAPACITY_AT: u64 = 16;
const FILE_LEN_AT: u64 = 72;
const TAIL_AT: u64 = 1024;

fn poke(path: &std::path::Path, offset: u64, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

#[test]
fn files_are_created_owner_only() {
    let path = unique_path("mode");
    let _tx = ShmOptions::spsc(&path, 8).create_producer::<u64>().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_existing_file_is_not_clobbered_unless_asked() {
    let path = unique_path("exists");
    std::fs::write(&path, b"someone else's data").unwrap();
    let err = ShmOptions::spsc(&path, 8).create_producer::<u64>().unwrap_err();
    assert!(matches!(err, ShmError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("replace_existing(true)"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's data");
    let _tx = ShmOptions::spsc(&path, 8).replace_existing(true).create_producer::<u64>().unwrap();
}

#[test]
fn the_creator_removes_the_file_unless_told_to_keep_it() {
    let path = unique_path("remove");
    drop(ShmOptions::spsc(&path, 8).create_producer::<u64>().unwrap());
    assert!(!path.exists());
    drop(ShmOptions::spsc(&path, 8).remove_on_drop(false).create_producer::<u64>().unwrap());
    assert!(path.exists());
    // A kept ring can be attached again later and still holds its items.
    let mut tx = shm::attach_producer::<u64>(&path).unwrap();
    tx.try_push(5).unwrap();
    drop(tx);
    assert_eq!(shm::attach_consumer::<u64>(&path).unwrap().try_pop(), Ok(5));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn dropping_a_replaced_ring_does_not_remove_its_successor() {
    let path = unique_path("successor");
    let old = ShmOptions::spsc(&path, 8).create_producer::<u64>().unwrap();
    let _new = ShmOptions::spsc(&path, 8).replace_existing(true).create_producer::<u64>().unwrap();
    drop(old);
    assert!(path.exists(), "the new ring's file survives the old creator");
    assert!(shm::attach_consumer::<u64>(&path).is_ok());
}

#[test]
fn missing_short_and_foreign_files_are_refused() {
    let path = unique_path("missing");
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert!(matches!(err, ShmError::Io { op: "open", .. }), "{err}");
    assert!(err.to_string().starts_with(&format!("cannot open {}", path.display())), "{err}");

    std::fs::write(&path, [0u8; 100]).unwrap();
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert!(matches!(err, ShmError::TooSmall { len: 100, needed: 1024, .. }), "{err}");

    std::fs::write(&path, [0u8; 4096]).unwrap();
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert!(matches!(err, ShmError::NotInitialized { .. }), "{err}");

    std::fs::write(&path, [0xabu8; 4096]).unwrap();
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert!(matches!(err, ShmError::BadMagic { found: 0xabab_abab_abab_abab, .. }), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn version_kind_type_and_field_mismatches_are_named() {
    let path = unique_path("mismatch");
    let _tx = ShmOptions::spsc(&path, 8).create_producer::<u64>().unwrap();

    let err = shm::attach_subscriber::<u64>(&path, 0).unwrap_err();
    assert_eq!(err.to_string(), "ring kind mismatch: expected broadcast, found kind id 1");

    let err = shm::attach_consumer::<i64>(&path).unwrap_err();
    assert!(matches!(err, ShmError::TypeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("this process sends i64 (size 8, align 8"), "{err}");
    assert!(err.to_string().contains("the file holds u64 (size 8, align 8"), "{err}");

    poke(&path, CAPACITY_AT, &6u64.to_le_bytes());
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert_eq!(err.to_string(), "corrupt ring header: field capacity = 6");

    poke(&path, KIND_AT, &9u32.to_le_bytes());
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert_eq!(err.to_string(), "not a known ring kind: kind id 9");

    poke(&path, LAYOUT_VERSION_AT, &2u32.to_le_bytes());
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert_eq!(err.to_string(), "ring layout version mismatch: expected 1, found 2");
}

#[test]
fn a_truncated_file_is_refused_not_mapped() {
    let path = unique_path("trunc");
    let _tx = ShmOptions::spsc(&path, 4096).create_producer::<u64>().unwrap();
    let full = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(full - 4096).unwrap();
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("ring file length mismatch: header says {full} bytes, file has {}", full - 4096)
    );
}

#[test]
fn subscriber_indices_and_counts_are_checked() {
    let path = unique_path("subs");
    let _tx = ShmOptions::broadcast(&path, 8, 2).create_producer::<u64>().unwrap();
    let err = shm::attach_subscriber::<u64>(&path, 2).unwrap_err();
    assert_eq!(err.to_string(), "subscriber 2 does not exist: the ring has 2");
    let _one = shm::attach_subscriber::<u64>(&path, 1).unwrap();
    let err = shm::attach_subscriber::<u64>(&path, 1).unwrap_err();
    assert!(err.to_string().starts_with("the subscriber 1 side of this ring is held by live process"), "{err}");

    let err = ShmOptions::broadcast(unique_path("none"), 8, 0).create_producer::<u64>().unwrap_err();
    assert_eq!(err.to_string(), "a broadcast ring needs at least 1 subscriber, got 0");
    let err = ShmOptions::broadcast(unique_path("many"), 8, 33).create_producer::<u64>().unwrap_err();
    assert_eq!(err.to_string(), "a broadcast ring supports at most 32 subscribers, got 33");
}

#[test]
fn a_detached_subscriber_rejoins_at_the_tail_only_while_no_producer_runs() {
    let path = unique_path("rejoin");
    let mut tx = ShmOptions::broadcast(&path, 4, 1).remove_on_drop(false).create_producer::<u64>().unwrap();
    drop(shm::attach_subscriber::<u64>(&path, 0).unwrap());
    // Detached: the producer is not held back by it...
    for i in 0..10 {
        tx.try_push(i).unwrap();
    }
    // ... so while it runs, no position is safe to rejoin at.
    let err = shm::attach_subscriber::<u64>(&path, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "subscriber 0 detached earlier and cannot rejoin while the producer runs: the producer may already reuse its slots"
    );
    drop(tx);
    let mut rx = shm::attach_subscriber::<u64>(&path, 0).unwrap();
    assert!(rx.try_pop().is_err(), "joins at the tail, after the items it missed");
    let mut tx = shm::attach_producer::<u64>(&path).unwrap();
    tx.try_push(10).unwrap();
    assert_eq!(rx.try_pop(), Ok(10));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_header_whose_length_disagrees_with_its_layout_is_corrupt() {
    let path = unique_path("filelen");
    let _tx = ShmOptions::spsc(&path, 8).create_producer::<u64>().unwrap();
    poke(&path, FILE_LEN_AT, &123u64.to_le_bytes());
    let err = shm::attach_consumer::<u64>(&path).unwrap_err();
    assert_eq!(err.to_string(), "corrupt ring header: field file_len = 123");
}

#[test]
fn a_hostile_tail_index_cannot_push_reads_out_of_bounds() {
    let path = unique_path("hostile");
    let mut tx = ShmOptions::spsc(&path, 8).create_producer::<u64>().unwrap();
    let mut rx = shm::attach_consumer::<u64>(&path).unwrap();
    tx.try_push(1).unwrap();
    assert_eq!(rx.try_pop(), Ok(1));
    // Another process scribbles a tail a million items ahead.
    poke(&path, TAIL_AT, &1_000_000u64.to_le_bytes());
    assert!(rx.len() <= 8);
    assert!(rx.try_pop().is_err(), "a tail more than a lap ahead is ignored");
    assert_eq!(rx.read_chunk(64).len(), 0);
    // The real producer's next publish restores the index.
    tx.try_push(2).unwrap();
    assert_eq!(rx.try_pop(), Ok(2));
}

#[test]
fn huge_page_and_mlock_requests_either_work_or_say_why() {
    let path = unique_path("mem");
    match ShmOptions::spsc(&path, 1024).mlock(true).create_producer::<u64>() {
        Ok(mut tx) => tx.try_push(1).unwrap(),
        Err(err) => assert!(err.to_string().starts_with("cannot lock ring memory"), "{err}"),
    }
    assert!(!path.exists(), "a failed or dropped creation leaves no file");
    match ShmOptions::spsc(&path, 1024).huge_pages(true).create_producer::<u64>() {
        Ok(mut tx) => tx.try_push(1).unwrap(),
        Err(err) => assert!(err.to_string().starts_with("cannot back ring memory with huge pages"), "{err}"),
    }
}
