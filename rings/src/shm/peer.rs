//! Process liveness for shared-memory peers: pid plus the kernel's start time, so a
//! recycled pid is not mistaken for the process that registered.
//!
//! A side's state and pid share one atomic word, so claiming is a single
//! compare-and-swap against exactly the (state, pid) that was judged claimable: two
//! processes racing for a free or dead slot cannot both win, and a slot that someone
//! else took over in between is not stolen.

use crate::owner::PeerStatus;
use crate::sync::{AtomicU64, Ordering};

/// Peer slot states, the low 32 bits of `PeerSlot::word`; the pid is the high 32.
const NEVER: u32 = 0;
const ATTACHED: u32 = 1;
const DETACHED: u32 = 2;
/// Between winning the slot and publishing the start time.
const CLAIMING: u32 = 3;

fn pack(pid: u32, state: u32) -> u64 {
    (u64::from(pid) << 32) | u64::from(state)
}

fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// One side's registration in the shared header.
#[repr(C)]
pub(crate) struct PeerSlot {
    /// `pid << 32 | state`.
    word: AtomicU64,
    /// `/proc/<pid>/stat` field 22 (clock ticks since boot) at attach time; 0 if it
    /// could not be read, in which case liveness falls back to the pid alone.
    start_time: AtomicU64,
}

impl PeerSlot {
    pub(crate) fn new() -> Self {
        Self { word: AtomicU64::new(pack(0, NEVER)), start_time: AtomicU64::new(0) }
    }

    /// Registers the calling process, taking over a slot that was never used, was
    /// left cleanly, or whose holder died. Returns the live holder's pid otherwise.
    pub(crate) fn claim(&self) -> Result<(), u32> {
        let me = std::process::id();
        let start = process_start_time(me).unwrap_or(0);
        loop {
            // SYNC: pairs with the Release stores below and in `release`.
            let word = self.word.load(Ordering::Acquire);
            let (pid, _) = unpack(word);
            if self.status_of(word) == PeerStatus::Alive {
                return Err(pid);
            }
            if self.word.compare_exchange(word, pack(me, CLAIMING), Ordering::SeqCst, Ordering::Acquire).is_ok() {
                self.start_time.store(start, Ordering::Relaxed);
                // SYNC: pairs with the Acquire loads in `status`; the start time is
                // visible to whoever sees ATTACHED.
                self.word.store(pack(me, ATTACHED), Ordering::Release);
                return Ok(());
            }
        }
    }

    /// Marks a clean detach.
    pub(crate) fn release(&self) {
        // SYNC: pairs with the Acquire loads in `status` and `claim`.
        self.word.store(pack(std::process::id(), DETACHED), Ordering::Release);
    }

    /// What this slot's holder is doing now. Cold: reads `/proc`.
    pub(crate) fn status(&self) -> PeerStatus {
        self.status_of(self.word.load(Ordering::Acquire))
    }

    fn status_of(&self, word: u64) -> PeerStatus {
        let (pid, state) = unpack(word);
        match state {
            NEVER => PeerStatus::NotAttached,
            DETACHED => PeerStatus::Detached,
            ATTACHED => {
                let registered = self.start_time.load(Ordering::Relaxed);
                match process_start_time(pid) {
                    Some(now) if registered == 0 || now == registered => PeerStatus::Alive,
                    _ => PeerStatus::Died { pid },
                }
            }
            // Mid-claim (start time not yet published): alive while its process is.
            CLAIMING if process_start_time(pid).is_some() => PeerStatus::Alive,
            _ => PeerStatus::Died { pid },
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
        slot.word.store(pack(u32::MAX - 1, ATTACHED), Ordering::Relaxed);
        assert_eq!(slot.status(), PeerStatus::Died { pid: u32::MAX - 1 });
        slot.claim().unwrap();
        assert_eq!(slot.status(), PeerStatus::Alive);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc")]
    fn a_claim_in_progress_is_taken_and_a_dead_claimer_is_not() {
        let slot = PeerSlot::new();
        slot.word.store(pack(std::process::id(), CLAIMING), Ordering::Relaxed);
        assert_eq!(slot.claim(), Err(std::process::id()));
        slot.word.store(pack(u32::MAX - 1, CLAIMING), Ordering::Relaxed);
        assert_eq!(slot.status(), PeerStatus::Died { pid: u32::MAX - 1 });
        slot.claim().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc")]
    fn racing_claimers_never_both_win() {
        for _ in 0..if cfg!(debug_assertions) { 200 } else { 2_000 } {
            let slot = std::sync::Arc::new(PeerSlot::new());
            let wins: usize = (0..4)
                .map(|_| {
                    let slot = slot.clone();
                    std::thread::spawn(move || slot.claim().is_ok())
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| usize::from(t.join().unwrap()))
                .sum();
            assert_eq!(wins, 1);
        }
    }
}
