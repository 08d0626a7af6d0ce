//! `engine tune check` and `engine tune apply`: the host audit from the command line;
//! `engine tune jitter`: the host's own interruptions of a spinning core.

use std::fmt::Write as _;
use std::process::ExitCode;

use tuning::audit::{self, AuditOptions, Finding, Host, Outcome, Status};

use crate::cli::{ApplyArgs, CheckArgs, JitterArgs, Target};
use tuning::jitter::{JitterReport, Paced, Percentiles};

/// A command-line mistake: printed to stderr with exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Resolves `--cores` (or its default) against the CPUs this process may use.
///
/// # Errors
/// A [`UsageError`] for an unparsable list, an empty one, or (on the live host) a CPU
/// this process may not use.
pub fn hot_cores(target: &Target) -> Result<Vec<usize>, UsageError> {
    let live = target.root == std::path::Path::new("/");
    let allowed = tuning::allowed_cpus().map_err(|e| UsageError(e.to_string()))?;
    let cores = match &target.cores {
        Some(list) => tuning::parse_cpu_list(list).map_err(|e| UsageError(format!("--cores: {e}")))?,
        None => {
            let rest: Vec<usize> = allowed.iter().copied().filter(|&c| c != 0).collect();
            if rest.is_empty() { allowed.clone() } else { rest }
        }
    };
    if cores.is_empty() {
        return Err(UsageError("--cores: the list names no CPU".into()));
    }
    if let Some(bad) = cores.iter().find(|c| live && !allowed.contains(c)) {
        return Err(UsageError(format!(
            "--cores: CPU {bad} is not available to this process (available: {})",
            tuning::format_cpu_list(&allowed)
        )));
    }
    Ok(cores)
}

fn run_audit(target: &Target) -> Result<(Host, Vec<Finding>), UsageError> {
    let irq_sample = (target.irq_sample_ms > 0).then(|| std::time::Duration::from_millis(target.irq_sample_ms));
    let options = AuditOptions { hot_cores: hot_cores(target)?, sched_fifo: target.sched_fifo, irq_sample };
    let host = Host::at(&target.root);
    let findings = audit::audit(&host, &options);
    Ok((host, findings))
}

/// `engine tune check`.
///
/// # Errors
/// A [`UsageError`] for bad flags.
pub fn check(args: &CheckArgs) -> Result<ExitCode, UsageError> {
    let (host, findings) = run_audit(&args.target)?;
    if args.json {
        let json = serde_json::to_string_pretty(&findings).map_err(|e| UsageError(e.to_string()))?;
        outln!("{json}");
    } else {
        if let Some(why) = host.vm_evidence().0 {
            outln!("This is a virtual machine ({why}): what only the hypervisor can fix is reported as warn.\n");
        }
        out!("{}", table(&findings));
    }
    let failed = audit::worst(&findings) == Status::Fail;
    Ok(if args.strict && failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The human table: one line per check, the fix under each that is not ok.
pub fn table(findings: &[Finding]) -> String {
    let mut out = String::new();
    let width = findings.iter().map(|f| f.check.len()).max().unwrap_or(5);
    let _ = writeln!(out, "{:<6} {:<width$}  found  (want)", "status", "check");
    for f in findings {
        let _ = writeln!(out, "{:<6} {:<width$}  {}  (want: {})", f.status.to_string(), f.check, f.found, f.want);
        if f.status != Status::Ok && !f.fix.is_empty() {
            let _ = writeln!(out, "{:<6} {:<width$}    why: {}", "", "", f.why);
            let _ = writeln!(out, "{:<6} {:<width$}    fix: {}", "", "", f.fix);
        }
    }
    let count = |s| findings.iter().filter(|f| f.status == s).count();
    let _ = writeln!(
        out,
        "\n{} ok, {} warn, {} fail, {} n/a",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::NotApplicable)
    );
    out
}

/// `engine tune apply`.
///
/// # Errors
/// A [`UsageError`] for bad flags.
pub fn apply(args: &ApplyArgs) -> Result<ExitCode, UsageError> {
    let (host, findings) = run_audit(&args.target)?;
    let done = audit::apply(&host, &findings, args.dry_run);
    if done.is_empty() {
        outln!("nothing to change: every check with a runtime fix is already ok");
        return Ok(ExitCode::SUCCESS);
    }
    let mut failures = 0;
    for step in &done {
        match &step.outcome {
            Outcome::DryRun | Outcome::NeedsReboot => outln!("{}", step.remedy),
            Outcome::Applied => outln!("ok      {}", step.remedy),
            Outcome::Failed(why) => {
                failures += 1;
                outln!("FAILED  {}  ({why})", step.remedy);
            }
        }
    }
    if failures > 0 {
        eprintln!("{failures} change(s) failed (run as root on the host itself)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `engine tune jitter`.
///
/// # Errors
/// A [`UsageError`] for bad flags or a CPU that cannot be pinned.
pub fn jitter(args: &JitterArgs) -> Result<ExitCode, UsageError> {
    let target = Target { cores: args.cores.clone(), sched_fifo: false, irq_sample_ms: 0, root: "/".into() };
    let threshold = std::time::Duration::from_nanos(args.threshold_ns);
    let mut reports = Vec::new();
    for cpu in hot_cores(&target)? {
        if !args.json {
            eprintln!("spinning on CPU {cpu} for {:?} ...", args.duration);
        }
        let duration = args.duration;
        // A thread of its own: the meter pins the thread it runs on.
        let report = std::thread::spawn(move || tuning::jitter::measure(cpu, duration, threshold))
            .join()
            .map_err(|_| UsageError(format!("the meter on CPU {cpu} panicked")))?
            .map_err(|e| UsageError(e.to_string()))?;
        reports.push(report);
    }
    if args.json {
        let json: Vec<_> = reports.iter().map(|r| jitter_json(r, &args.rates)).collect();
        let text = serde_json::to_string_pretty(&json).map_err(|e| UsageError(e.to_string()))?;
        outln!("{text}");
    } else {
        for r in &reports {
            out!("{}", jitter_table(r, &args.rates));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn jitter_json(r: &JitterReport, rates: &[u64]) -> serde_json::Value {
    let paced: Vec<Paced> = rates.iter().map(|&rate| r.paced(rate)).collect();
    serde_json::json!({
        "cpu": r.cpu,
        "duration_ns": r.duration_ns,
        "loop_min_ns": r.loop_min_ns,
        "threshold_ns": r.threshold_ns,
        "hiccups": r.count(),
        "hiccups_not_kept": r.overflow,
        "lost_fraction": r.lost_fraction(),
        "length_ns": r.lengths(),
        "paced": paced,
    })
}

/// The human report of one CPU.
pub fn jitter_table(r: &JitterReport, rates: &[u64]) -> String {
    let mut out = String::new();
    let secs = r.duration_ns as f64 / 1e9;
    let _ = writeln!(out, "CPU {}: spun {secs:.2} s; the loop's own step {} ns", r.cpu, r.loop_min_ns);
    let _ = writeln!(
        out,
        "  hiccups (gaps over {} ns): {} ({:.0}/s), {:.2}% of the time lost",
        r.threshold_ns,
        r.count(),
        r.count() as f64 / secs.max(1e-9),
        100.0 * r.lost_fraction()
    );
    if r.overflow > 0 {
        let _ = writeln!(
            out,
            "  warning: {} hiccups after the first {} were counted but not kept: the figures below leave them out",
            r.overflow,
            r.hiccups.len()
        );
    }
    let header = ["p50", "p90", "p99", "p99.9", "p99.99", "max"].map(|h| format!("{h:>9}")).concat();
    let _ = writeln!(out, "  {:<16} {:>8} {header}  (ns)", "", "delayed");
    let _ = writeln!(out, "  {:<16} {:>8} {}", "hiccup length", "", row(&r.lengths()));
    let _ = writeln!(out, "  a frame due in a hiccup waits for its end; the delay that alone adds to a feed at:");
    for &rate in rates {
        let p = r.paced(rate);
        let share = if p.frames == 0 { 0.0 } else { 100.0 * p.delayed as f64 / p.frames as f64 };
        let _ = writeln!(out, "  {:<16} {:>7.2}% {}", format!("{rate}/s"), share, row(&p.delay_ns));
    }
    out
}

fn row(p: &Percentiles) -> String {
    [p.p50, p.p90, p.p99, p.p999, p.p9999, p.max].map(|v| format!("{v:>9}")).concat()
}
