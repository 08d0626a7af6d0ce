//! `tuning` works out where threads run and whether the host is ready for them: CPU
//! discovery and pinning, start-up [`place`]ment of hot stages on cores, and the
//! [`audit`] of a host's latency tuning. It runs once per thread at start-up,
//! before any hot loop, never on the hot path itself, and it never fails a run in a VM:
//! what cannot be done is reported, not fatal.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

pub mod audit;
mod cpulist;
mod error;
mod hot;
pub mod jitter;
mod memory;
mod placement;
mod realtime;

pub use cpulist::{format_cpu_list, parse_cpu_list};
pub use error::Error;
pub use hot::{HotThreadOptions, HotThreadStart, enter_hot_thread, spawn_hot};
pub use memory::{MemoryPlacement, node_of_cpu, numa_nodes};
pub use placement::{Placement, PlacementError, ThreadReport, place};
pub use realtime::{is_fifo, lock_memory, set_fifo, unlock_memory};

/// The CPU ids the calling thread may run on, in ascending order.
///
/// A thread inherits its creator's affinity, so ask from an unpinned thread (the
/// main thread, before pinning anything) to see the whole process's set.
///
/// # Errors
/// [`Error::CpuSetUnavailable`] when the OS does not report an affinity set.
///
/// # Examples
/// ```
/// let cpus = tuning::allowed_cpus().unwrap();
/// assert!(!cpus.is_empty());
/// ```
pub fn allowed_cpus() -> Result<Vec<usize>, Error> {
    let mut ids: Vec<usize> =
        core_affinity::get_core_ids().ok_or(Error::CpuSetUnavailable)?.into_iter().map(|c| c.id).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Pins the calling thread to `cpu`.
///
/// # Errors
/// [`Error::CpuNotAllowed`] when `cpu` is outside [`allowed_cpus`], and
/// [`Error::PinFailed`] when the OS refuses the affinity change.
///
/// # Examples
/// ```
/// let first = tuning::allowed_cpus().unwrap()[0];
/// tuning::pin_current_thread(first).unwrap();
/// assert!(tuning::pin_current_thread(usize::MAX).is_err());
/// ```
pub fn pin_current_thread(cpu: usize) -> Result<(), Error> {
    let allowed = allowed_cpus()?;
    if !allowed.contains(&cpu) {
        return Err(Error::CpuNotAllowed { cpu, available: allowed.len() });
    }
    if core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        Ok(())
    } else {
        Err(Error::PinFailed { cpu })
    }
}
