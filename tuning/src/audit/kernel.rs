//! Kernel knobs and process limits: sysctls, watchdogs, RT throttling, rlimits.

use super::{AuditOptions, Finding, Host, Remedy, Status, unreadable};

/// A file holding one value, good when `good(value)`; `fix` writes `want_value`.
pub(super) struct Knob {
    pub check: &'static str,
    pub path: &'static str,
    pub good: fn(&str) -> bool,
    pub want: &'static str,
    pub fix_value: &'static str,
    pub bad: Status,
    pub why: &'static str,
}

impl Knob {
    pub(super) fn check(&self, host: &Host) -> Finding {
        let Some(value) = host.read(self.path) else { return unreadable(self.check, self.path, self.want, self.why) };
        let ok = (self.good)(&value);
        Finding {
            check: self.check,
            status: if ok { Status::Ok } else { self.bad },
            read: self.path.to_owned(),
            found: value,
            want: self.want.to_owned(),
            why: self.why,
            fix: if ok { String::new() } else { format!("echo {} > {}", self.fix_value, self.path) },
            remedies: Vec::new(),
        }
        .with(vec![Remedy::Write { path: self.path.to_owned(), value: self.fix_value.to_owned() }])
    }
}

const KNOBS: [Knob; 4] = [
    Knob {
        check: "timer_migration",
        path: "/proc/sys/kernel/timer_migration",
        good: |v| v == "0",
        want: "0",
        fix_value: "0",
        bad: Status::Warn,
        why: "timers migrating onto idle-looking hot cores fire there",
    },
    Knob {
        check: "vm_stat_interval",
        path: "/proc/sys/vm/stat_interval",
        good: |v| v.parse::<u64>().is_ok_and(|s| s >= 10),
        want: ">= 10 (seconds)",
        fix_value: "10",
        bad: Status::Warn,
        why: "the vmstat worker wakes on every core once per interval",
    },
    Knob {
        check: "nmi_watchdog",
        path: "/proc/sys/kernel/nmi_watchdog",
        good: |v| v == "0",
        want: "0",
        fix_value: "0",
        bad: Status::Warn,
        why: "the NMI watchdog interrupts every core periodically",
    },
    Knob {
        check: "soft_lockup_watchdog",
        path: "/proc/sys/kernel/watchdog",
        good: |v| v == "0",
        want: "0 (or watchdog_cpumask without the hot cores)",
        fix_value: "0",
        bad: Status::Warn,
        why: "the soft-lockup watchdog runs a thread on every core, and flags busy-polling cores",
    },
];

const RT_RUNTIME: Knob = Knob {
    check: "sched_rt_runtime",
    path: "/proc/sys/kernel/sched_rt_runtime_us",
    good: |v| v == "-1",
    want: "-1 (no RT throttling)",
    fix_value: "-1",
    bad: Status::Fail,
    why: "with SCHED_FIFO, RT throttling stops a busy-polling thread for 50 ms every second",
};

pub(super) fn checks(host: &Host, o: &AuditOptions, out: &mut Vec<Finding>) {
    out.extend(KNOBS.iter().map(|k| k.check(host)));
    if o.sched_fifo {
        out.push(RT_RUNTIME.check(host));
    } else {
        out.push(Finding {
            check: RT_RUNTIME.check,
            status: Status::NotApplicable,
            read: String::new(),
            found: "SCHED_FIFO not requested".into(),
            want: RT_RUNTIME.want.into(),
            why: RT_RUNTIME.why,
            fix: String::new(),
            remedies: Vec::new(),
        });
    }
    let caps = effective_caps(host);
    out.push(limit(host, caps, "memlock_limit", "Max locked memory", 14, "CAP_IPC_LOCK", "mlockall", o.sched_fifo));
    out.push(limit(
        host,
        caps,
        "rtprio_limit",
        "Max realtime priority",
        23,
        "CAP_SYS_NICE",
        "SCHED_FIFO",
        o.sched_fifo,
    ));
}

fn effective_caps(host: &Host) -> Option<u64> {
    let status = host.read("/proc/self/status")?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

#[allow(clippy::too_many_arguments, reason = "one call per limit; a struct would only rename the arguments")]
fn limit(
    host: &Host,
    caps: Option<u64>,
    check: &'static str,
    row: &str,
    cap_bit: u32,
    cap: &str,
    feature: &str,
    fifo: bool,
) -> Finding {
    let why = if check == "memlock_limit" {
        "without it mlockall fails, and page faults can stall a hot thread"
    } else {
        "without it SCHED_FIFO is refused and hot threads can be preempted"
    };
    let path = "/proc/self/limits";
    let Some(limits) = host.read(path) else { return unreadable(check, path, "unlimited or the capability", why) };
    let soft = limits
        .lines()
        .find(|l| l.starts_with(row))
        .and_then(|l| l.get(row.len()..))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?")
        .to_owned();
    let has_cap = caps.is_some_and(|c| c & (1 << cap_bit) != 0);
    let enough =
        has_cap || soft == "unlimited" || (check == "rtprio_limit" && soft.parse::<u64>().is_ok_and(|p| p > 0));
    let status = match (enough, check == "rtprio_limit" && !fifo) {
        (true, _) => Status::Ok,
        (false, true) => Status::NotApplicable,
        (false, false) => Status::Warn,
    };
    Finding {
        check,
        status,
        read: format!("{path}, /proc/self/status CapEff"),
        found: format!("{row} {soft}, {cap} {}", if has_cap { "held" } else { "not held" }),
        want: format!("unlimited or {cap} (needed for {feature})"),
        why,
        fix: if status == Status::Warn {
            format!(
                "run with {cap} (setcap cap_ipc_lock,cap_sys_nice+ep on the binary) or raise the limit in /etc/security/limits.conf"
            )
        } else {
            String::new()
        },
        remedies: Vec::new(),
    }
}
