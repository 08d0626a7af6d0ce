//! The host audit behind `engine tune check`: is this machine ready for hot cores?
//!
//! Every read goes through a [`Host`] rooted at `/` in production and at a fixture
//! tree in tests, so each check is tested against a tuned bare-metal host, a default
//! distro host and a VM without touching the real machine. A check never fails the
//! audit by being unable to read something: a missing file is `n/a` with the path
//! that was missing. Inside a VM, what cannot be fixed from inside the guest degrades
//! from `fail` to `warn`.

mod cpu;
mod host;
mod irq;
mod kernel;
mod memory;

use serde::Serialize;

pub use self::host::Host;
pub use self::irq::{irq_counts, irq_growth};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Good for hot cores.
    Ok,
    /// Not applicable or could not be read on this host.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// Costs latency or jitter; the run still works.
    Warn,
    /// Wrong for hot cores; `--strict` refuses to go on.
    Fail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ok => "ok",
            Self::NotApplicable => "n/a",
            Self::Warn => "warn",
            Self::Fail => "fail",
        })
    }
}

/// One line of the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Short name, e.g. `governor`.
    pub check: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was read (file paths), so a reader can verify it.
    #[serde(skip)]
    pub read: String,
    /// The value found.
    pub found: String,
    /// The value a tuned host has.
    pub want: String,
    /// Why it matters for latency.
    pub why: &'static str,
    /// The exact command or kernel parameter that fixes it (empty when ok).
    pub fix: String,
    /// The machine-appliable part of `fix`, for `engine tune apply`.
    #[serde(skip)]
    pub remedies: Vec<Remedy>,
}

impl Finding {
    /// The same finding with `remedies` attached (only kept when not ok).
    #[must_use]
    pub fn with(mut self, remedies: Vec<Remedy>) -> Self {
        if self.status != Status::Ok {
            self.remedies = remedies;
        }
        self
    }
}

/// One step that brings a check to its good value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// Write `value` to a sysfs or procfs file: takes effect at once, lost at reboot.
    Write {
        /// The absolute path, e.g. `/proc/sys/kernel/timer_migration`.
        path: String,
        /// What to write.
        value: String,
    },
    /// A kernel command-line parameter: needs a reboot, and is never applied by us.
    KernelParam(String),
}

impl std::fmt::Display for Remedy {
    /// The shell command (or note) a person would run.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Write { path, value } => write!(f, "echo {value} > {path}"),
            Self::KernelParam(param) => write!(f, "# add to the kernel command line, then reboot: {param}"),
        }
    }
}

/// What the audit is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// The CPUs that will run hot (busy-polling) stages.
    pub hot_cores: Vec<usize>,
    /// Whether hot threads will run SCHED_FIFO (adds the RT-throttling check).
    pub sched_fifo: bool,
    /// How long to watch `/proc/interrupts` for interrupts on hot cores (`None`: skip).
    pub irq_sample: Option<std::time::Duration>,
}

/// Whether the host is a virtual machine, and how we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmEvidence(pub Option<String>);

/// Runs every check.
pub fn audit(host: &Host, options: &AuditOptions) -> Vec<Finding> {
    let vm = host.vm_evidence();
    let mut findings = Vec::new();
    cpu::checks(host, options, &mut findings);
    irq::checks(host, options, &mut findings);
    memory::checks(host, options, &mut findings);
    kernel::checks(host, options, &mut findings);
    if vm.0.is_some() {
        for f in &mut findings {
            if f.status == Status::Fail && !fixable_inside_a_vm(f.check) {
                f.status = Status::Warn;
                f.fix = format!("{} (on the hypervisor host: this is a VM)", f.fix);
                f.remedies.clear(); // nothing to apply from inside the guest
            }
        }
    }
    findings
}

/// Checks a guest can fix for itself (sysctls, its own limits); the rest depends on
/// the hypervisor (frequency, C-states, SMT, physical IRQs, clock source).
fn fixable_inside_a_vm(check: &str) -> bool {
    matches!(
        check,
        "isolated_cores"
            | "irq_affinity"
            | "transparent_hugepages"
            | "hugepages"
            | "swap"
            | "swappiness"
            | "timer_migration"
            | "vm_stat_interval"
            | "nmi_watchdog"
            | "soft_lockup_watchdog"
            | "ksm"
            | "sched_rt_runtime"
            | "memlock_limit"
            | "rtprio_limit"
            | "irqbalance"
    )
}

/// The worst status in `findings` (for `--strict` and exit codes).
pub fn worst(findings: &[Finding]) -> Status {
    findings.iter().map(|f| f.status).max().unwrap_or(Status::Ok)
}

/// A finding for something that could not be read.
pub(crate) fn unreadable(check: &'static str, path: &str, want: &str, why: &'static str) -> Finding {
    Finding {
        check,
        status: Status::NotApplicable,
        read: path.to_owned(),
        found: format!("{path} not readable"),
        want: want.to_owned(),
        why,
        fix: String::new(),
        remedies: Vec::new(),
    }
}

/// What became of one remedy in `engine tune apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `--dry-run`: printed, not done.
    DryRun,
    /// Written.
    Applied,
    /// The write failed (permissions, read-only file system, missing file).
    Failed(String),
    /// A kernel parameter: needs the boot configuration, which we never change.
    NeedsReboot,
}

/// One remedy and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The check it fixes.
    pub check: &'static str,
    /// What was (or would be) done.
    pub remedy: Remedy,
    /// How it went.
    pub outcome: Outcome,
}

/// Applies (or with `dry_run` only lists) every remedy of every finding that is not
/// ok. Runtime writes go below the host's root; kernel parameters are only reported.
pub fn apply(host: &Host, findings: &[Finding], dry_run: bool) -> Vec<Applied> {
    let mut done = Vec::new();
    for finding in findings.iter().filter(|f| f.status != Status::Ok) {
        for remedy in &finding.remedies {
            let outcome = match remedy {
                Remedy::KernelParam(_) => Outcome::NeedsReboot,
                Remedy::Write { .. } if dry_run => Outcome::DryRun,
                Remedy::Write { path, value } => match std::fs::write(host.path(path), format!("{value}\n")) {
                    Ok(()) => Outcome::Applied,
                    Err(e) => Outcome::Failed(e.to_string()),
                },
            };
            done.push(Applied { check: finding.check, remedy: remedy.clone(), outcome });
        }
    }
    done
}
