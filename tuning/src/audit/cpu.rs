//! CPU-side checks: isolation, ticks, frequency, idle states, SMT, IRQs, clocks.

use super::{AuditOptions, Finding, Host, Remedy, Status, unreadable};
use crate::{format_cpu_list, parse_cpu_list};

fn finding(
    check: &'static str,
    status: Status,
    read: &str,
    found: String,
    want: String,
    why: &'static str,
    fix: String,
) -> Finding {
    let fix = if status == Status::Ok { String::new() } else { fix };
    Finding { check, status, read: read.to_owned(), found, want, why, fix, remedies: Vec::new() }
}

fn list(text: &str) -> Vec<usize> {
    parse_cpu_list(text).unwrap_or_default()
}

fn missing(hot: &[usize], covered: &[usize]) -> Vec<usize> {
    hot.iter().copied().filter(|c| !covered.contains(c)).collect()
}

pub(super) fn checks(host: &Host, o: &AuditOptions, out: &mut Vec<Finding>) {
    let hot = format_cpu_list(&o.hot_cores);
    out.push(isolation(host, o, &hot));
    for (check, param, why) in [
        (
            "nohz_full",
            "nohz_full",
            "without it the scheduler tick interrupts a busy-polling core 250-1000 times a second",
        ),
        ("rcu_nocbs", "rcu_nocbs", "RCU callbacks otherwise run on the hot core and add jitter"),
    ] {
        let covered = host.cmdline_param(param).map(|v| list(&v)).unwrap_or_default();
        let gap = missing(&o.hot_cores, &covered);
        out.push(
            finding(
                check,
                if gap.is_empty() { Status::Ok } else { Status::Warn },
                "/proc/cmdline",
                host.cmdline_param(param).map_or_else(|| "not set".into(), |v| format!("{param}={v}")),
                format!("{param} covering {hot}"),
                why,
                format!("add {param}={hot} to the kernel command line and reboot"),
            )
            .with(vec![Remedy::KernelParam(format!("{param}={hot}"))]),
        );
    }
    out.push(governor(host, o));
    out.push(cstates(host, o, &hot));
    out.push(dma_latency_holders(host));
    out.push(turbo(host));
    out.push(smt(host, o));
    out.push(irq_affinity(host, o, &hot));
    out.push(clocksource(host));
}

fn isolation(host: &Host, o: &AuditOptions, hot: &str) -> Finding {
    const WHY: &str = "the scheduler may run other tasks on a hot core that is not isolated";
    let path = "/sys/devices/system/cpu/isolated";
    let Some(isolated) = host.read(path) else { return unreadable("isolated_cores", path, hot, WHY) };
    let isolated = list(&isolated);
    let gap = missing(&o.hot_cores, &isolated);
    let status = if o.hot_cores.contains(&0) {
        Status::Fail
    } else if gap.is_empty() {
        Status::Ok
    } else {
        Status::Fail
    };
    let found = if isolated.is_empty() { "none".into() } else { format_cpu_list(&isolated) };
    let fix = if o.hot_cores.contains(&0) {
        "choose hot cores other than CPU 0 (it takes housekeeping and most IRQs)".into()
    } else {
        format!(
            "add isolcpus=managed_irq,domain,{hot} to the kernel command line (or make a cpuset partition) and reboot"
        )
    };
    let remedies = if o.hot_cores.contains(&0) {
        Vec::new()
    } else {
        vec![Remedy::KernelParam(format!("isolcpus=managed_irq,domain,{hot}"))]
    };
    finding("isolated_cores", status, path, found, format!("{hot} (never CPU 0)"), WHY, fix).with(remedies)
}

fn governor(host: &Host, o: &AuditOptions) -> Finding {
    const WHY: &str = "other governors lower the clock while a core waits and take microseconds to ramp up";
    let mut found = Vec::new();
    let mut remedies = Vec::new();
    for cpu in &o.hot_cores {
        let path = format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor");
        match host.read(&path) {
            Some(g) => {
                if g != "performance" {
                    remedies.push(Remedy::Write { path, value: "performance".into() });
                }
                found.push(format!("cpu{cpu}={g}"));
            }
            None => return unreadable("governor", &path, "performance", WHY),
        }
    }
    let status = if remedies.is_empty() { Status::Ok } else { Status::Fail };
    finding(
        "governor",
        status,
        "/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor",
        found.join(" "),
        "performance".into(),
        WHY,
        format!(
            "for c in {}; do echo performance > /sys/devices/system/cpu/cpu$c/cpufreq/scaling_governor; done",
            o.hot_cores.iter().map(usize::to_string).collect::<Vec<_>>().join(" ")
        ),
    )
    .with(remedies)
}

/// Deeper than this (exit latency, µs) counts as a deep C-state.
const SHALLOW_US: u64 = 2;

fn cstates(host: &Host, o: &AuditOptions, hot: &str) -> Finding {
    const WHY: &str = "waking from a deep C-state takes tens to hundreds of microseconds";
    let mut deep = Vec::new();
    let mut remedies = Vec::new();
    let mut seen_any = false;
    for cpu in &o.hot_cores {
        let dir = format!("/sys/devices/system/cpu/cpu{cpu}/cpuidle");
        for state in host.list(&dir).into_iter().filter(|s| s.starts_with("state")) {
            seen_any = true;
            let read = |f: &str| host.read(&format!("{dir}/{state}/{f}"));
            let latency: u64 = read("latency").and_then(|v| v.parse().ok()).unwrap_or(0);
            let disabled = read("disable").is_some_and(|v| v == "1");
            if latency > SHALLOW_US && !disabled {
                deep.push(format!("cpu{cpu}:{}({latency}us)", read("name").unwrap_or_else(|| state.clone())));
                remedies.push(Remedy::Write { path: format!("{dir}/{state}/disable"), value: "1".into() });
            }
        }
    }
    if !seen_any {
        return unreadable("c_states", "/sys/devices/system/cpu/cpu*/cpuidle", "only states <= 2 us", WHY);
    }
    finding(
        "c_states",
        if deep.is_empty() { Status::Ok } else { Status::Warn },
        "/sys/devices/system/cpu/cpu*/cpuidle/state*/{latency,disable}",
        if deep.is_empty() { "only shallow states enabled".into() } else { deep.join(" ") },
        format!("only states with exit latency <= {SHALLOW_US} us on {hot}"),
        WHY,
        "disable the deep states on the hot cores (echo 1 > .../cpuidle/stateN/disable), or add processor.max_cstate=1 intel_idle.max_cstate=0 to the kernel command line".into(),
    )
    .with(remedies)
}

fn dma_latency_holders(host: &Host) -> Finding {
    let mut holders = Vec::new();
    for pid in host.list("/proc").into_iter().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        for fd in host.list(&format!("/proc/{pid}/fd")) {
            let link = host.link(std::path::Path::new(&format!("/proc/{pid}/fd/{fd}")));
            if link.is_some_and(|l| l == std::path::Path::new("/dev/cpu_dma_latency")) {
                let comm = host.read(&format!("/proc/{pid}/comm")).unwrap_or_default();
                holders.push(format!("{pid}({comm})"));
            }
        }
    }
    finding(
        "cpu_dma_latency",
        Status::Ok, // reported: a holder keeps C-states shallow, none is fine if C-states are
        "/proc/*/fd",
        if holders.is_empty() {
            "no process holds /dev/cpu_dma_latency".into()
        } else {
            format!("held by {}", holders.join(", "))
        },
        "reported".into(),
        "a process holding /dev/cpu_dma_latency at 0 keeps every core out of deep C-states",
        String::new(),
    )
}

fn turbo(host: &Host) -> Finding {
    let (path, found) = if let Some(v) = host.read("/sys/devices/system/cpu/intel_pstate/no_turbo") {
        ("/sys/devices/system/cpu/intel_pstate/no_turbo", if v == "1" { "turbo off" } else { "turbo on" })
    } else if let Some(v) = host.read("/sys/devices/system/cpu/cpufreq/boost") {
        ("/sys/devices/system/cpu/cpufreq/boost", if v == "1" { "boost on" } else { "boost off" })
    } else {
        return unreadable(
            "turbo",
            "/sys/devices/system/cpu/{intel_pstate/no_turbo,cpufreq/boost}",
            "reported",
            "turbo raises the clock but makes it vary with load and temperature",
        );
    };
    finding(
        "turbo",
        Status::Ok,
        path,
        found.into(),
        "reported (on: faster, off: steadier)".into(),
        "turbo raises the clock but makes it vary with load and temperature",
        String::new(),
    )
}

fn smt(host: &Host, o: &AuditOptions) -> Finding {
    const WHY: &str = "a busy SMT sibling shares the core's pipeline and caches with the hot thread";
    let mut busy_siblings = Vec::new();
    let mut read_any = false;
    for cpu in &o.hot_cores {
        let path = format!("/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list");
        let Some(siblings) = host.read(&path) else { continue };
        read_any = true;
        let isolated = list(&host.read("/sys/devices/system/cpu/isolated").unwrap_or_default());
        for sib in list(&siblings).into_iter().filter(|s| s != cpu) {
            let online = host.read(&format!("/sys/devices/system/cpu/cpu{sib}/online")).is_none_or(|v| v == "1");
            if online && !isolated.contains(&sib) {
                busy_siblings.push(format!("cpu{sib} (sibling of {cpu})"));
            }
        }
    }
    if !read_any {
        return unreadable(
            "smt_siblings",
            "/sys/devices/system/cpu/cpu*/topology/thread_siblings_list",
            "offline or isolated",
            WHY,
        );
    }
    // Advice only, never an automatic write: a sibling may be CPU 0, another hot core or
    // the last housekeeping CPU, and taking it offline would hurt more than sharing.
    let fix = "choose hot cores whose SMT siblings can be isolated or taken offline (echo 0 > /sys/devices/system/cpu/cpuN/online, never CPU 0), or disable SMT (nosmt on the kernel command line)".to_owned();
    finding(
        "smt_siblings",
        if busy_siblings.is_empty() { Status::Ok } else { Status::Warn },
        "/sys/devices/system/cpu/cpu*/topology/thread_siblings_list",
        if busy_siblings.is_empty() { "no online, unisolated sibling".into() } else { busy_siblings.join(", ") },
        "siblings of hot cores offline or isolated".into(),
        WHY,
        fix,
    )
}

fn irq_affinity(host: &Host, o: &AuditOptions, hot: &str) -> Finding {
    const WHY: &str = "an interrupt handled on a hot core stalls its poll loop for microseconds";
    let irqs: Vec<String> =
        host.list("/proc/irq").into_iter().filter(|i| i.bytes().all(|b| b.is_ascii_digit())).collect();
    if irqs.is_empty() {
        return unreadable("irq_affinity", "/proc/irq", "no IRQ on a hot core", WHY);
    }
    let on_hot: Vec<String> = irqs
        .iter()
        .filter(|irq| {
            host.read(&format!("/proc/irq/{irq}/smp_affinity_list"))
                .is_some_and(|a| list(&a).iter().any(|c| o.hot_cores.contains(c)))
        })
        .cloned()
        .collect();
    let online = list(&host.read("/sys/devices/system/cpu/online").unwrap_or_default());
    let others: Vec<usize> = online.into_iter().filter(|c| !o.hot_cores.contains(c)).collect();
    let housekeeping = if others.is_empty() { "0".to_owned() } else { format_cpu_list(&others) };
    let remedies = on_hot
        .iter()
        .map(|irq| Remedy::Write { path: format!("/proc/irq/{irq}/smp_affinity_list"), value: housekeeping.clone() })
        .collect();
    finding(
        "irq_affinity",
        if on_hot.is_empty() { Status::Ok } else { Status::Fail },
        "/proc/irq/*/smp_affinity_list",
        if on_hot.is_empty() {
            format!("no IRQ may run on {hot}")
        } else {
            format!("IRQs {} may run on {hot}", on_hot.join(","))
        },
        format!("no IRQ on {hot}"),
        WHY,
        format!(
            "for i in {}; do echo {housekeeping} > /proc/irq/$i/smp_affinity_list; done; and stop irqbalance or set IRQBALANCE_BANNED_CPULIST={hot}",
            on_hot.join(" ")
        ),
    )
    .with(remedies)
}

fn clocksource(host: &Host) -> Finding {
    const WHY: &str = "timestamps come from the TSC; another clocksource makes every clock read a slow path";
    let path = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
    let Some(source) = host.read(path) else { return unreadable("clocksource", path, "tsc", WHY) };
    let flags = host.cpu_flags();
    let has = |f: &str| flags.iter().any(|x| x == f);
    let stable = has("constant_tsc") && has("nonstop_tsc");
    let ok = source == "tsc" && stable;
    let remedies = if stable { vec![Remedy::Write { path: path.to_owned(), value: "tsc".into() }] } else { Vec::new() };
    finding(
        "clocksource",
        if ok { Status::Ok } else { Status::Fail },
        "/sys/devices/system/clocksource/clocksource0/current_clocksource, /proc/cpuinfo",
        format!("{source}, constant_tsc={}, nonstop_tsc={}", has("constant_tsc"), has("nonstop_tsc")),
        "tsc with constant_tsc and nonstop_tsc".into(),
        WHY,
        if stable {
            "echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource (and tsc=reliable on the kernel command line)".into()
        } else {
            "use a CPU with an invariant TSC (constant_tsc and nonstop_tsc)".into()
        },
    )
    .with(remedies)
}
