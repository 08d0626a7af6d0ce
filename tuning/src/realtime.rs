//! What a process can do for its own latency at start-up: lock its memory and run hot
//! threads SCHED_FIFO. Both need privileges (CAP_IPC_LOCK / RLIMIT_MEMLOCK,
//! CAP_SYS_NICE / RLIMIT_RTPRIO); a refusal is an error the caller turns into a
//! clear warning, never a crash.

use thread_priority::{RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy};

use crate::Error;

/// Locks every current and future page of the process in RAM (`mlockall`), so no hot
/// thread ever waits for a page fault from swap.
///
/// # Errors
/// [`Error::MlockRefused`] with the OS error when the limit or capability is missing.
pub fn lock_memory() -> Result<(), Error> {
    use nix::sys::mman::{MlockAllFlags, mlockall};
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE)
        .map_err(|e| Error::MlockRefused { errno: e as i32 })
}

/// Undoes [`lock_memory`].
///
/// # Errors
/// [`Error::MlockRefused`] if the OS refuses (it should not).
pub fn unlock_memory() -> Result<(), Error> {
    nix::sys::mman::munlockall().map_err(|e| Error::MlockRefused { errno: e as i32 })
}

/// Runs the calling thread SCHED_FIFO at `priority` (1-99). A busy-polling FIFO thread
/// never yields its core: use it only on isolated cores, with RT throttling off.
///
/// # Errors
/// [`Error::BadPriority`] outside 1-99, [`Error::FifoRefused`] when the OS says no.
pub fn set_fifo(priority: u8) -> Result<(), Error> {
    if !(1..=99).contains(&priority) {
        return Err(Error::BadPriority { priority });
    }
    let value = ThreadPriorityValue::try_from(priority).map_err(|_| Error::BadPriority { priority })?;
    thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| Error::FifoRefused { priority, reason: format!("{e:?}") })
}

/// Whether the calling thread runs SCHED_FIFO.
pub fn is_fifo() -> bool {
    matches!(
        thread_priority::thread_schedule_policy(),
        Ok(ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_capability(bit: u32) -> bool {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let caps =
            status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|h| u64::from_str_radix(h.trim(), 16).ok());
        caps.is_some_and(|c| c & (1 << bit) != 0)
    }

    #[test]
    fn fifo_is_granted_with_cap_sys_nice_and_refused_clearly_otherwise() {
        let (result, fifo) = std::thread::spawn(|| (set_fifo(10), is_fifo())).join().unwrap();
        if has_capability(23) {
            assert_eq!(result, Ok(()));
            assert!(fifo, "the thread really runs SCHED_FIFO");
        } else {
            assert!(matches!(result, Err(Error::FifoRefused { priority: 10, .. })), "{result:?}");
        }
        assert_eq!(set_fifo(0), Err(Error::BadPriority { priority: 0 }));
        assert_eq!(set_fifo(100), Err(Error::BadPriority { priority: 100 }));
        assert!(!is_fifo(), "other threads keep their policy");
    }

    #[test]
    fn memory_locks_with_cap_ipc_lock() {
        let result = lock_memory();
        if has_capability(14) {
            assert_eq!(result, Ok(()));
            unlock_memory().unwrap();
        } else if let Err(e) = result {
            assert!(e.to_string().starts_with("mlockall refused: "), "{e}");
        }
    }
}
