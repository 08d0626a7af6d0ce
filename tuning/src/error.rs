//! Errors from CPU discovery and pinning.

/// What went wrong while discovering or pinning CPUs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The OS did not report which CPUs this process may use.
    #[error("cannot read this process's CPU affinity set")]
    CpuSetUnavailable,
    /// The requested CPU is not in this process's affinity set.
    #[error("CPU {cpu} is not available to this process ({available} CPUs are)")]
    CpuNotAllowed {
        /// The CPU that was requested.
        cpu: usize,
        /// How many CPUs the process may use.
        available: usize,
    },
    /// A CPU list (flag or kernel file) is not in the `0-3,8` form.
    #[error("invalid CPU list {text:?}: expected numbers and ranges like 0-3,8")]
    BadCpuList {
        /// The text as given.
        text: String,
    },
    /// `mlockall` was refused.
    #[error("mlockall refused: {} (raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK)", std::io::Error::from_raw_os_error(*errno))]
    MlockRefused {
        /// The OS error number.
        errno: i32,
    },
    /// A SCHED_FIFO priority outside 1-99.
    #[error("SCHED_FIFO priority {priority} is outside 1-99")]
    BadPriority {
        /// The priority asked for.
        priority: u8,
    },
    /// The OS refused SCHED_FIFO.
    #[error("SCHED_FIFO at priority {priority} refused ({reason}); grant CAP_SYS_NICE or raise RLIMIT_RTPRIO")]
    FifoRefused {
        /// The priority asked for.
        priority: u8,
        /// What the OS said.
        reason: String,
    },
    /// After pinning, the kernel still lets the thread run on other CPUs.
    #[error("pinning to CPU {cpu} did not take effect: the thread may run on {allowed}")]
    PinNotEffective {
        /// The CPU asked for.
        cpu: usize,
        /// The allowed list the kernel reports.
        allowed: String,
    },
    /// The OS refused to pin the thread.
    #[error("the OS refused to pin this thread to CPU {cpu}")]
    PinFailed {
        /// The CPU that was requested.
        cpu: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn display_names_the_fields_in_order() {
        assert_eq!(
            Error::CpuNotAllowed { cpu: 7, available: 2 }.to_string(),
            "CPU 7 is not available to this process (2 CPUs are)"
        );
        assert_eq!(Error::PinFailed { cpu: 3 }.to_string(), "the OS refused to pin this thread to CPU 3");
        assert_eq!(Error::CpuSetUnavailable.to_string(), "cannot read this process's CPU affinity set");
        assert_eq!(
            Error::MlockRefused { errno: 1 }.to_string(),
            "mlockall refused: Operation not permitted (os error 1) (raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK)"
        );
        assert_eq!(Error::BadPriority { priority: 0 }.to_string(), "SCHED_FIFO priority 0 is outside 1-99");
        assert_eq!(
            Error::PinNotEffective { cpu: 2, allowed: "0-3".into() }.to_string(),
            "pinning to CPU 2 did not take effect: the thread may run on 0-3"
        );
        assert_eq!(
            Error::FifoRefused { priority: 5, reason: "OS(1)".into() }.to_string(),
            "SCHED_FIFO at priority 5 refused (OS(1)); grant CAP_SYS_NICE or raise RLIMIT_RTPRIO"
        );
    }
}
