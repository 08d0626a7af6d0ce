//! Process liveness for shared-memory peers: pid plus the kernel's start time, so a
//! recycled pid is not mistaken for the process that registered.

use crate::owner::PeerStatus;
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// Peer slot states, stored in `PeerSlot::state`.
pub(crate) const NEVER: u32 = 0;
pub(crate) const ATTACHED: u32 = 1;
pub(crate) const DETACHED: u32 = 2;

/// One side's registration in the shared header.
#[repr(C)]
pub(crate) struct PeerSlot {
    pub(crate) state: AtomicU32,
    pub(crate) pid: AtomicU32,
    /// `/proc/<pid>/stat` field 22 (clock ticks since boot) at attach time.
    pub(crate) start_time: AtomicU64,
}

impl PeerSlot {
    pub(crate) fn new() -> Self {
        Self { state: AtomicU32::new(NEVER), pid: AtomicU32::new(0), start_time: AtomicU64::new(0) }
    }

    /// Registers the calling process, taking over a slot whose holder died or left.
    /// Returns the live holder's pid when the slot is taken.
    pub(crate) fn claim(&self) -> Result<(), u32> {
        let me = std::process::id();
        let start = process_start_time(me).unwrap_or(0);
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state == ATTACHED && self.status() == PeerStatus::Alive {
                return Err(self.pid.load(Ordering::Acquire));
            }
            // Mark busy with our pid before publishing ATTACHED so a reader of the
            // state always finds the matching pid.
            if self.state.compare_exchange(state, u32::MAX, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                self.pid.store(me, Ordering::Relaxed);
                self.start_time.store(start, Ordering::Relaxed);
                // SYNC: pairs with the Acquire loads in `status`.
                self.state.store(ATTACHED, Ordering::Release);
                return Ok(());
            }
        }
    }

    /// Marks a clean detach.
    pub(crate) fn release(&self) {
        // SYNC: pairs with the Acquire loads in `status`.
        self.state.store(DETACHED, Ordering::Release);
    }

    /// What this slot's holder is doing now. Cold: reads `/proc`.
    pub(crate) fn status(&self) -> PeerStatus {
        match self.state.load(Ordering::Acquire) {
            NEVER => PeerStatus::NotAttached,
            DETACHED => PeerStatus::Detached,
            ATTACHED => {
                let pid = self.pid.load(Ordering::Relaxed);
                let registered = self.start_time.load(Ordering::Relaxed);
                match process_start_time(pid) {
                    Some(now) if registered == 0 || now == registered => PeerStatus::Alive,
                    _ => PeerStatus::Died { pid },
                }
            }
            // Mid-claim by another process: treat as alive; it finishes in nanoseconds.
            _ => PeerStatus::Alive,
        }
    }
}

/// Field 22 of `/proc/<pid>/stat`, or `None` if the process does not exist.
pub(crate) fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; it ends at the
    // last ')'. Fields after it start at field 3, so field 22 is the 20th of them.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None; // a zombie has exited; only its exit status remains
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc")]
    fn this_process_has_a_start_time() {
        assert!(process_start_time(std::process::id()).is_some());
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc")]
    fn a_pid_that_cannot_exist_has_none() {
        // pid_max is at most 2^22 on Linux.
        assert_eq!(process_start_time(u32::MAX - 1), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc")]
    fn claim_release_and_takeover() {
        let slot = PeerSlot::new();
        assert_eq!(slot.status(), PeerStatus::NotAttached);
        slot.claim().unwrap();
        assert_eq!(slot.status(), PeerStatus::Alive);
        assert_eq!(slot.claim(), Err(std::process::id()));
        slot.release();
        assert_eq!(slot.status(), PeerStatus::Detached);
        slot.claim().unwrap();
        // A holder that died is reported, and its slot can be taken over.
        slot.pid.store(u32::MAX - 1, Ordering::Relaxed);
        assert_eq!(slot.status(), PeerStatus::Died { pid: u32::MAX - 1 });
        slot.claim().unwrap();
        assert_eq!(slot.status(), PeerStatus::Alive);
    }
}
