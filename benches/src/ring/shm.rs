//! The shared-memory contender: the same scenarios with the other end in a second
//! process (this binary re-run as `ring-bench shm-child ...`), pinned to the other CPU.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use hdrhistogram::Histogram;
use rings::shm::{self, ShmOptions};

use super::measure::{READY, Throughput, consume, echo, mps, on_cpu, ping, produce};
use super::msg::{Msg, Msg64};

/// What the child process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChildRole {
    /// Echo pings back (latency).
    Echo,
    /// Consume and time a stream (throughput).
    Consume,
}

/// The child's arguments, passed on its command line.
#[derive(Debug, Clone, clap::Args)]
pub struct ChildArgs {
    /// What to do.
    #[arg(long, value_enum)]
    pub role: ChildRole,
    /// Message size: 8 or 64.
    #[arg(long)]
    pub bytes: usize,
    /// Messages to handle (including warm-up for echo).
    #[arg(long)]
    pub count: u64,
    /// Use the batch API.
    #[arg(long)]
    pub batched: bool,
    /// The ring the parent writes.
    #[arg(long)]
    pub inbound: PathBuf,
    /// The ring the child writes.
    #[arg(long)]
    pub outbound: PathBuf,
    /// CPU to pin to.
    #[arg(long)]
    pub cpu: usize,
}

fn ring_path(tag: &str) -> PathBuf {
    let name = format!("ring-bench-{}-{tag}", std::process::id());
    let shm = shm::path_for(&name);
    if shm.parent().is_some_and(Path::is_dir) { shm } else { std::env::temp_dir().join(name) }
}

fn spawn(args: &ChildArgs) -> Child {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("cannot find own executable: {e}"));
    let role = match args.role {
        ChildRole::Echo => "echo",
        ChildRole::Consume => "consume",
    };
    let mut cmd = Command::new(exe);
    cmd.arg("shm-child")
        .args(["--role", role, "--bytes", &args.bytes.to_string(), "--count", &args.count.to_string()])
        .arg("--inbound")
        .arg(&args.inbound)
        .arg("--outbound")
        .arg(&args.outbound)
        .args(["--cpu", &args.cpu.to_string()]);
    if args.batched {
        cmd.arg("--batched");
    }
    cmd.spawn().unwrap_or_else(|e| panic!("cannot start the shm child process: {e}"))
}

fn wait(child: Child) {
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("shm child: {e}"));
    assert!(out.status.success(), "shm child failed: {}", out.status);
}

fn pin(cpu: usize) {
    if let Err(e) = tuning::pin_current_thread(cpu) {
        eprintln!("warning: {e}; running unpinned");
    }
}

/// One-way latency with the echo side in another process.
pub fn latency(cpus: (usize, usize), warmup: u64, samples: u64) -> Histogram<u64> {
    let args = ChildArgs {
        role: ChildRole::Echo,
        bytes: 8,
        count: warmup + samples,
        batched: false,
        inbound: ring_path("ping"),
        outbound: ring_path("pong"),
        cpu: cpus.1,
    };
    let mut tx = create_producer::<u64>(&args.inbound);
    let mut rx = create_consumer(&args.outbound, 4096);
    let child = spawn(&args);
    let hist = on_cpu(cpus.0, move || ping(&mut tx, &mut rx, warmup, samples))
        .join()
        .unwrap_or_else(|_| panic!("shm latency initiator panicked"));
    wait(child);
    hist
}

fn create_producer<M: Msg>(path: &Path) -> rings::Producer<M> {
    ShmOptions::spsc(path, 4096).replace_existing(true).create_producer::<M>().unwrap_or_else(|e| panic!("{e}"))
}

/// The parent's end of the ring the child writes (pongs or the control channel).
fn create_consumer(path: &Path, capacity: usize) -> rings::Consumer<u64> {
    ShmOptions::spsc(path, capacity).replace_existing(true).create_consumer::<u64>().unwrap_or_else(|e| panic!("{e}"))
}

/// Throughput with the consumer in another process (its empty polls are not
/// reported back).
pub fn throughput<M: Msg>(cpus: (usize, usize), n: u64, batched: bool) -> Throughput {
    let args = ChildArgs {
        role: ChildRole::Consume,
        bytes: M::BYTES,
        count: n,
        batched,
        inbound: ring_path("data"),
        outbound: ring_path("ctl"),
        cpu: cpus.1,
    };
    let mut tx = create_producer::<M>(&args.inbound);
    let mut ctl = create_consumer(&args.outbound, 4);
    let child = spawn(&args);
    let nanos = on_cpu(cpus.0, move || {
        assert_eq!(pop_or_child_died(&mut ctl), READY, "child handshake");
        produce(&mut tx, n, batched);
        pop_or_child_died(&mut ctl)
    })
    .join()
    .unwrap_or_else(|_| panic!("shm producer panicked"));
    wait(child);
    Throughput { mps: mps(n, std::time::Duration::from_nanos(nanos)), empty_per_msg: None }
}

fn pop_or_child_died(rx: &mut rings::Consumer<u64>) -> u64 {
    rx.pop_wait(&mut rings::wait::SpinYield::default()).unwrap_or_else(|_| panic!("shm child died"))
}

/// The child process's whole job.
pub fn child_main(args: &ChildArgs) {
    pin(args.cpu);
    match (args.role, args.bytes) {
        (ChildRole::Echo, _) => {
            let mut rx = shm::attach_consumer::<u64>(&args.inbound).unwrap_or_else(|e| panic!("{e}"));
            let mut tx = shm::attach_producer::<u64>(&args.outbound).unwrap_or_else(|e| panic!("{e}"));
            echo(&mut rx, &mut tx, args.count);
        }
        (ChildRole::Consume, 64) => child_consume::<Msg64>(args),
        (ChildRole::Consume, _) => child_consume::<u64>(args),
    }
}

fn child_consume<M: Msg>(args: &ChildArgs) {
    let mut rx = shm::attach_consumer::<M>(&args.inbound).unwrap_or_else(|e| panic!("{e}"));
    let mut ctl = shm::attach_producer::<u64>(&args.outbound).unwrap_or_else(|e| panic!("{e}"));
    let _ = ctl.try_push(READY);
    let (elapsed, _) = consume(&mut rx, args.count, args.batched);
    let _ = ctl.try_push(elapsed.as_nanos() as u64);
}
