//! The contenders and how a run interleaves them.
//!
//! This host's core-to-core latency switches between regimes as the hypervisor moves
//! vCPUs, so measuring one contender after another would compare regimes, not rings.
//! A run therefore goes in rounds: every round measures every contender briefly, and
//! ratios are taken within a round (then the median over rounds is reported).

use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use crossbeam_queue::ArrayQueue;
use hdrhistogram::Histogram;

use super::ends::{ArrayQueueEnd, FusedPair, Rx, Tx};
use super::measure::{Throughput, histogram, latency_in_process, median, throughput_in_process};
use super::msg::{Msg, Msg64};
use super::report::{CandidateReport, Latency, Mode, Report};
use super::{pingpong, shm, stamped};

/// Every contender, in report order (the floor, ours, then the peers).
pub const CANDIDATES: [&str; 9] = [
    "pingpong",
    "spsc",
    "shm",
    "broadcast1",
    "broadcast2",
    "stamped_prototype",
    "rtrb",
    "crossbeam_array_queue",
    "std_sync_channel",
];

/// How much work a run does.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// CPUs for the producing/initiating and the consuming/echoing side.
    pub cpus: (usize, usize),
    /// Round trips before recording, per contender per round.
    pub warmup: u64,
    /// Round trips recorded, per contender per round.
    pub samples: u64,
    /// Messages per throughput measurement.
    pub messages: u64,
    /// Rounds; latency and every throughput mode are measured once per round.
    pub rounds: usize,
    /// Ring capacity (items) for every contender.
    pub capacity: usize,
}

type LatencyFn = Box<dyn Fn(&Plan) -> Histogram<u64>>;
type ThroughputFn = Box<dyn Fn(&Plan, Mode) -> Option<Throughput>>;

/// A contender: how to measure its latency and each throughput mode.
struct Contender {
    name: &'static str,
    latency: LatencyFn,
    throughput: ThroughputFn,
}

fn in_process<T8, R8, T64, R64>(
    name: &'static str,
    make8: impl Fn() -> (T8, R8) + Copy + 'static,
    make64: impl Fn() -> (T64, R64) + Copy + 'static,
) -> Contender
where
    T8: Tx<u64> + 'static,
    R8: Rx<u64> + 'static,
    T64: Tx<Msg64> + 'static,
    R64: Rx<Msg64> + 'static,
{
    Contender {
        name,
        latency: Box::new(move |p| latency_in_process(make8, p.cpus, p.warmup, p.samples)),
        throughput: Box::new(move |p, mode| match mode {
            Mode::B8 => Some(throughput_in_process(make8, p.cpus, p.messages, false)),
            Mode::B8Batched => T8::BATCHED.then(|| throughput_in_process(make8, p.cpus, p.messages, true)),
            Mode::B64 => Some(throughput_in_process(make64, p.cpus, p.messages, false)),
            Mode::B64Batched => T64::BATCHED.then(|| throughput_in_process(make64, p.cpus, p.messages, true)),
        }),
    }
}

fn contender(name: &'static str, cap: usize) -> Contender {
    match name {
        "pingpong" => Contender {
            name,
            latency: Box::new(|p| pingpong::latency(p.cpus, p.warmup, p.samples)),
            throughput: Box::new(|_, _| None),
        },
        "shm" => Contender {
            name,
            latency: Box::new(|p| shm::latency(p.cpus, p.warmup, p.samples)),
            throughput: Box::new(|p, mode| {
                Some(match mode {
                    Mode::B8 => shm::throughput::<u64>(p.cpus, p.messages, false),
                    Mode::B8Batched => shm::throughput::<u64>(p.cpus, p.messages, true),
                    Mode::B64 => shm::throughput::<Msg64>(p.cpus, p.messages, false),
                    Mode::B64Batched => shm::throughput::<Msg64>(p.cpus, p.messages, true),
                })
            }),
        },
        "spsc" => in_process(name, move || spsc::<u64>(cap), move || spsc::<Msg64>(cap)),
        "broadcast1" => in_process(name, move || broadcast1::<u64>(cap), move || broadcast1::<Msg64>(cap)),
        "broadcast2" => in_process(name, move || broadcast2::<u64>(cap), move || broadcast2::<Msg64>(cap)),
        "stamped_prototype" => {
            in_process(name, move || stamped::channel::<u64>(cap), move || stamped::channel::<Msg64>(cap))
        }
        "rtrb" => {
            in_process(name, move || rtrb::RingBuffer::<u64>::new(cap), move || rtrb::RingBuffer::<Msg64>::new(cap))
        }
        "crossbeam_array_queue" => in_process(name, move || array_queue::<u64>(cap), move || array_queue::<Msg64>(cap)),
        "std_sync_channel" => in_process(name, move || sync_channel::<u64>(cap), move || sync_channel::<Msg64>(cap)),
        other => unreachable!("unknown contender {other}"),
    }
}

fn spsc<M: Msg>(cap: usize) -> (rings::Producer<M>, rings::Consumer<M>) {
    rings::spsc::channel::<M>(cap).unwrap_or_else(|e| panic!("{e}"))
}

fn broadcast1<M: Msg>(cap: usize) -> (rings::Producer<M>, rings::Consumer<M>) {
    let (tx, mut subs) = rings::broadcast::channel::<M>(cap, 1).unwrap_or_else(|e| panic!("{e}"));
    (tx, subs.remove(0))
}

fn broadcast2<M: Msg>(cap: usize) -> (rings::Producer<M>, FusedPair<M>) {
    let (tx, mut subs) = rings::broadcast::channel::<M>(cap, 2).unwrap_or_else(|e| panic!("{e}"));
    let second = subs.remove(1);
    (tx, FusedPair(subs.remove(0), second))
}

fn array_queue<M: Msg>(cap: usize) -> (ArrayQueueEnd<M>, ArrayQueueEnd<M>) {
    let q = Arc::new(ArrayQueue::new(cap));
    (ArrayQueueEnd(q.clone()), ArrayQueueEnd(q))
}

/// Runs the named contenders (in [`CANDIDATES`] order) for `plan.rounds` rounds.
/// `progress` hears about each round.
pub fn run(names: &[&'static str], plan: &Plan, mut progress: impl FnMut(usize)) -> Report {
    let contenders: Vec<Contender> = names.iter().map(|n| contender(n, plan.capacity)).collect();
    let mut merged: Vec<Histogram<u64>> = contenders.iter().map(|_| histogram()).collect();
    let mut per_round: Vec<Vec<CandidateReport>> = Vec::new();
    for round in 0..plan.rounds {
        progress(round);
        let mut this_round = Vec::new();
        for (c, total) in contenders.iter().zip(&mut merged) {
            let h = (c.latency)(plan);
            let _ = total.add(&h);
            this_round.push(CandidateReport { latency: Some(Latency::from(&h)), ..CandidateReport::default() });
        }
        for mode in Mode::ALL {
            for (c, report) in contenders.iter().zip(&mut this_round) {
                let t = (c.throughput)(plan, mode);
                report.set(mode, t.map(|t| t.mps));
                if mode == Mode::B8 {
                    report.empty_polls_8b = t.and_then(|t| t.empty_per_msg);
                }
            }
        }
        per_round.push(this_round);
    }
    let mut report = Report::default();
    for (i, (c, total)) in contenders.iter().zip(&merged).enumerate() {
        let rounds: Vec<&CandidateReport> = per_round.iter().map(|r| &r[i]).collect();
        let mut summary = CandidateReport { latency: Some(Latency::from(total)), ..CandidateReport::default() };
        for mode in Mode::ALL {
            let values: Vec<f64> = rounds.iter().filter_map(|r| r.get(mode)).collect();
            summary.set(mode, (!values.is_empty()).then(|| median(values)));
        }
        let empty: Vec<f64> = rounds.iter().filter_map(|r| r.empty_polls_8b).collect();
        summary.empty_polls_8b = (!empty.is_empty()).then(|| median(empty));
        report.candidates.push((c.name.to_owned(), summary));
    }
    report.rounds = per_round.into_iter().map(|r| names.iter().map(|n| n.to_string()).zip(r).collect()).collect();
    report
}
