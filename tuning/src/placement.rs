//! Start-up placement: which stage runs on which CPU, checked before any thread starts,
//! and what each pinned thread looks like once it runs.

use crate::{format_cpu_list, parse_cpu_list};

/// Why a requested placement cannot be used. Each message names the CPUs involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlacementError {
    /// Fewer CPUs than hot stages.
    #[error("the topology needs {required} hot cores but {available} were given")]
    NotEnoughCpus {
        /// Hot stages to place.
        required: usize,
        /// CPUs given for them.
        available: usize,
    },
    /// A requested CPU is outside this process's affinity set.
    #[error("CPU {cpu} is not available to this process (available: {allowed})")]
    CpuNotAllowed {
        /// The CPU asked for.
        cpu: usize,
        /// The allowed set, in kernel list form.
        allowed: String,
    },
    /// CPU 0 was asked for a hot stage without `force_cpu0`.
    #[error("CPU 0 takes housekeeping work and most interrupts; choose another core for {stage} or force it")]
    CpuZero {
        /// The stage that would have run there.
        stage: String,
    },
    /// The same CPU was listed twice.
    #[error("CPU {cpu} is listed twice; each hot stage needs its own core")]
    DuplicateCpu {
        /// The repeated CPU.
        cpu: usize,
    },
}

/// Each hot stage's CPU, in stage order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `(stage name, cpu)` pairs.
    pub assignments: Vec<(String, usize)>,
}

/// Assigns `stages` to `cores` in order, after checking the cores against `allowed`.
///
/// # Errors
/// [`PlacementError`] for too few cores, a core outside `allowed`, a repeated core, or
/// CPU 0 without `force_cpu0`.
///
/// # Examples
/// ```
/// let p = tuning::place(&["feed", "strategy"], &[2, 3], &[0, 1, 2, 3], false).unwrap();
/// assert_eq!(p.cpu_of("strategy"), Some(3));
/// let err = tuning::place(&["feed", "strategy", "oms"], &[2, 3], &[0, 1, 2, 3], false).unwrap_err();
/// assert_eq!(err.to_string(), "the topology needs 3 hot cores but 2 were given");
/// ```
pub fn place(
    stages: &[&str],
    cores: &[usize],
    allowed: &[usize],
    force_cpu0: bool,
) -> Result<Placement, PlacementError> {
    if cores.len() < stages.len() {
        return Err(PlacementError::NotEnoughCpus { required: stages.len(), available: cores.len() });
    }
    for (i, cpu) in cores.iter().enumerate() {
        if cores.get(..i).is_some_and(|before| before.contains(cpu)) {
            return Err(PlacementError::DuplicateCpu { cpu: *cpu });
        }
        if !allowed.contains(cpu) {
            return Err(PlacementError::CpuNotAllowed { cpu: *cpu, allowed: format_cpu_list(allowed) });
        }
    }
    let assignments: Vec<(String, usize)> = stages.iter().zip(cores).map(|(s, c)| ((*s).to_owned(), *c)).collect();
    if let Some((stage, _)) = assignments.iter().find(|(_, c)| *c == 0).filter(|_| !force_cpu0) {
        return Err(PlacementError::CpuZero { stage: stage.clone() });
    }
    Ok(Placement { assignments })
}

impl Placement {
    /// The CPU a stage was given.
    pub fn cpu_of(&self, stage: &str) -> Option<usize> {
        self.assignments.iter().find(|(s, _)| s == stage).map(|(_, c)| *c)
    }
}

/// What the kernel says about the calling thread: where it may run and how often it
/// was switched out. Read once after pinning and again at the end of a run; growing
/// involuntary switches on a hot thread mean something else ran on its core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadReport {
    /// `Cpus_allowed_list`.
    pub allowed_cpus: Vec<usize>,
    /// `voluntary_ctxt_switches`.
    pub voluntary_switches: u64,
    /// `nonvoluntary_ctxt_switches`.
    pub involuntary_switches: u64,
}

impl ThreadReport {
    /// The calling thread's report, from `/proc/thread-self/status`.
    pub fn current() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/thread-self/status").ok()?)
    }

    /// Parses a `/proc/<pid>/task/<tid>/status` text.
    pub fn parse(status: &str) -> Option<Self> {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim);
        Some(Self {
            allowed_cpus: parse_cpu_list(field("Cpus_allowed_list")?).ok()?,
            voluntary_switches: field("voluntary_ctxt_switches")?.parse().ok()?,
            involuntary_switches: field("nonvoluntary_ctxt_switches")?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_errors_name_the_cpus() {
        let allowed = [0, 1, 2, 3];
        assert_eq!(
            place(&["feed"], &[7], &allowed, false).unwrap_err().to_string(),
            "CPU 7 is not available to this process (available: 0-3)"
        );
        assert_eq!(
            place(&["feed", "oms"], &[0, 2], &allowed, false).unwrap_err().to_string(),
            "CPU 0 takes housekeeping work and most interrupts; choose another core for feed or force it"
        );
        assert!(place(&["feed", "oms"], &[0, 2], &allowed, true).is_ok());
        assert_eq!(
            place(&["feed", "oms"], &[2, 2], &allowed, false).unwrap_err().to_string(),
            "CPU 2 is listed twice; each hot stage needs its own core"
        );
        assert_eq!(
            place(&["feed", "oms", "risk"], &[1], &allowed, false).unwrap_err(),
            PlacementError::NotEnoughCpus { required: 3, available: 1 }
        );
    }

    #[test]
    fn thread_report_of_a_pinned_thread() {
        let cpu = *crate::allowed_cpus().unwrap().last().unwrap();
        let report = std::thread::spawn(move || {
            crate::pin_current_thread(cpu).unwrap();
            ThreadReport::current().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(report.allowed_cpus, vec![cpu]);
        let parsed = ThreadReport::parse(
            "Name:\tx\nCpus_allowed_list:\t2-3\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t7\n",
        );
        assert_eq!(
            parsed,
            Some(ThreadReport { allowed_cpus: vec![2, 3], voluntary_switches: 5, involuntary_switches: 7 })
        );
    }
}
