//! Starting a hot thread: named after its stage (so `perf` and `top -H` show it),
//! pinned, optionally SCHED_FIFO, its stack prefaulted, and its placement verified
//! from the kernel's view before the stage's loop starts.

use crate::{Error, ThreadReport, pin_current_thread, set_fifo};

/// How a hot thread is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotThreadOptions {
    /// Run SCHED_FIFO at this priority (1-99); `None` keeps the default policy.
    pub fifo_priority: Option<u8>,
    /// Bytes of stack to touch before the loop starts, so the first deep call on the
    /// hot path does not page-fault.
    pub prefault_stack: usize,
}

impl Default for HotThreadOptions {
    /// Default policy, 256 KiB of stack prefaulted.
    fn default() -> Self {
        Self { fifo_priority: None, prefault_stack: 256 * 1024 }
    }
}

/// What starting a hot thread did, for the run's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotThreadStart {
    /// The kernel's view of the thread right after setup.
    pub report: ThreadReport,
    /// Whether it runs SCHED_FIFO.
    pub fifo: bool,
    /// A setup step the host refused (the thread still runs, without it).
    pub warning: Option<Error>,
}

/// Sets up the calling thread as a hot thread on `cpu`.
///
/// Pinning failures are errors (a hot stage on the wrong core is worse than none);
/// a refused SCHED_FIFO is a warning in the result, since the stage still works.
///
/// # Errors
/// [`Error::CpuNotAllowed`] / [`Error::PinFailed`] from pinning, and
/// [`Error::PinNotEffective`] when the kernel still lets the thread run elsewhere.
pub fn enter_hot_thread(cpu: usize, options: &HotThreadOptions) -> Result<HotThreadStart, Error> {
    pin_current_thread(cpu)?;
    let warning = options.fifo_priority.and_then(|p| set_fifo(p).err());
    prefault_stack(options.prefault_stack);
    let report = ThreadReport::current().ok_or(Error::PinNotEffective { cpu, allowed: String::from("unreadable") })?;
    if report.allowed_cpus != [cpu] {
        return Err(Error::PinNotEffective { cpu, allowed: crate::format_cpu_list(&report.allowed_cpus) });
    }
    Ok(HotThreadStart { report, fifo: crate::is_fifo(), warning })
}

/// Spawns a thread named `stage`, sets it up with [`enter_hot_thread`] and runs `body`
/// with the setup's outcome.
///
/// # Errors
/// The OS error when the thread cannot be spawned; setup errors reach `body`.
pub fn spawn_hot<T: Send + 'static>(
    stage: &str,
    cpu: usize,
    options: HotThreadOptions,
    body: impl FnOnce(Result<HotThreadStart, Error>) -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new().name(stage.to_owned()).spawn(move || body(enter_hot_thread(cpu, &options)))
}

/// Touches `bytes` of stack in 4 KiB steps below the caller's frame.
#[inline(never)]
fn prefault_stack(bytes: usize) {
    const CHUNK: usize = 16 * 1024;
    #[inline(never)]
    fn touch(left: usize) {
        let mut page = [0u8; CHUNK];
        for i in (0..CHUNK).step_by(4096) {
            if let Some(b) = page.get_mut(i) {
                *b = 1;
            }
        }
        std::hint::black_box(&mut page);
        if left > CHUNK {
            touch(left - CHUNK);
        }
    }
    if bytes > 0 {
        touch(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hot_thread_is_named_pinned_and_verified() {
        let cpu = *crate::allowed_cpus().unwrap().last().unwrap();
        let (name, start) = spawn_hot("feed", cpu, HotThreadOptions::default(), |start| {
            let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
            (comm.trim().to_owned(), start)
        })
        .unwrap()
        .join()
        .unwrap();
        assert_eq!(name, "feed", "perf and top -H show the stage name");
        let start = start.unwrap();
        assert_eq!(start.report.allowed_cpus, vec![cpu]);
        assert!(!start.fifo && start.warning.is_none());
    }

    #[test]
    fn an_unknown_cpu_is_an_error_and_a_refused_fifo_a_warning() {
        let err = enter_hot_thread(usize::MAX, &HotThreadOptions::default()).unwrap_err();
        assert!(matches!(err, Error::CpuNotAllowed { .. }), "{err}");
        let cpu = crate::allowed_cpus().unwrap()[0];
        let start = std::thread::spawn(move || {
            enter_hot_thread(cpu, &HotThreadOptions { fifo_priority: Some(0), prefault_stack: 0 })
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(start.warning, Some(Error::BadPriority { priority: 0 }));
    }
}
