//! `ring-ops`: one thread pushes eight 8-byte items and pops them, `--rounds` times,
//! through our spsc ring or rtrb, each push and pop a call of its own. It is not
//! timed: it is the workload for counting instructions per operation with callgrind,
//! which (unlike the wall clock on a shared host) gives the same count every run:
//!
//! `valgrind --tool=callgrind target/release/ring-ops ours` (or `rtrb`), then
//! `callgrind_annotate --inclusive=yes` shows the count of `ring_ops::*_push` and
//! `*_pop`. The first pop of each round finds its cached tail behind and reloads
//! it (one pop in eight, for either ring); the producer refreshes its cached head
//! about once in 1,024 pushes. The two-thread run takes those paths far more often.

use std::hint::black_box;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Ring {
    Ours,
    Rtrb,
}

/// Single-threaded push/pop rounds, for callgrind.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Which ring.
    ring: Ring,
    /// Rounds of eight pushes then eight pops.
    #[arg(long, default_value_t = 1_000_000)]
    rounds: u64,
}

const PER_ROUND: u64 = 8;

#[inline(never)]
fn ours_push(tx: &mut rings::Producer<u64>, v: u64) -> bool {
    tx.try_push(v).is_ok()
}

#[inline(never)]
fn ours_pop(rx: &mut rings::Consumer<u64>) -> Option<u64> {
    rx.try_pop().ok()
}

#[inline(never)]
fn rtrb_push(tx: &mut rtrb::Producer<u64>, v: u64) -> bool {
    tx.push(v).is_ok()
}

#[inline(never)]
fn rtrb_pop(rx: &mut rtrb::Consumer<u64>) -> Option<u64> {
    rx.pop().ok()
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let mut sum = 0u64;
    match args.ring {
        Ring::Ours => {
            let (mut tx, mut rx) = rings::spsc::channel::<u64>(1024).map_err(|e| e.to_string())?;
            for round in 0..args.rounds {
                for k in 0..PER_ROUND {
                    black_box(ours_push(&mut tx, round + k));
                }
                for _ in 0..PER_ROUND {
                    sum += ours_pop(&mut rx).ok_or("our ring lost an item")?;
                }
            }
        }
        Ring::Rtrb => {
            let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(1024);
            for round in 0..args.rounds {
                for k in 0..PER_ROUND {
                    black_box(rtrb_push(&mut tx, round + k));
                }
                for _ in 0..PER_ROUND {
                    sum += rtrb_pop(&mut rx).ok_or("rtrb lost an item")?;
                }
            }
        }
    }
    // Both rings must hand back every item: the sum is the same for either.
    let expected: u64 = (0..args.rounds).map(|r| PER_ROUND * r + PER_ROUND * (PER_ROUND - 1) / 2).sum();
    if sum != expected {
        return Err(format!("items lost or changed: sum {sum}, expected {expected}"));
    }
    println!("{} pushes and pops, all items back", args.rounds * PER_ROUND);
    Ok(())
}
