//! Memory checks: transparent and explicit huge pages, swap, KSM, NUMA locality.

use super::kernel::Knob;
use super::{AuditOptions, Finding, Host, Remedy, Status, unreadable};
use crate::format_cpu_list;

const THP: Knob = Knob {
    check: "transparent_hugepages",
    path: "/sys/kernel/mm/transparent_hugepage/enabled",
    good: |v| !v.contains("[always]"),
    want: "[madvise] or [never]",
    fix_value: "madvise",
    bad: Status::Warn,
    why: "with THP always, khugepaged compaction stalls the process at random",
};

const SWAPPINESS: Knob = Knob {
    check: "swappiness",
    path: "/proc/sys/vm/swappiness",
    good: |v| v.parse::<u64>().is_ok_and(|s| s <= 10),
    want: "<= 10",
    fix_value: "1",
    bad: Status::Warn,
    why: "a swapped-out page of a hot thread costs milliseconds to fault back",
};

const KSM: Knob = Knob {
    check: "ksm",
    path: "/sys/kernel/mm/ksm/run",
    good: |v| v == "0",
    want: "0",
    fix_value: "0",
    bad: Status::Warn,
    why: "KSM scans and merges pages, and a merged page faults on its next write",
};

pub(super) fn checks(host: &Host, o: &AuditOptions, out: &mut Vec<Finding>) {
    out.push(THP.check(host));
    out.push(hugepages(host));
    out.push(swap(host));
    out.push(SWAPPINESS.check(host));
    out.push(KSM.check(host));
    out.push(numa(host, o));
}

fn meminfo(host: &Host, key: &str) -> Option<u64> {
    let info = host.read("/proc/meminfo")?;
    info.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
}

fn hugepages(host: &Host) -> Finding {
    const WHY: &str = "rings on huge pages need no TLB misses on the hot path";
    let Some(free) = meminfo(host, "HugePages_Free") else {
        return unreadable("hugepages", "/proc/meminfo", ">= 64 free huge pages", WHY);
    };
    let size_kb = meminfo(host, "Hugepagesize").unwrap_or(2048);
    let total = meminfo(host, "HugePages_Total").unwrap_or(0);
    // Grow the pool by what is missing; never shrink someone else's reservation, and
    // only for 2 MiB pages (64 pages of 1 GiB would be a different request).
    let target = total + 64u64.saturating_sub(free);
    let remedies = if size_kb == 2048 {
        vec![Remedy::Write { path: "/proc/sys/vm/nr_hugepages".into(), value: target.to_string() }]
    } else {
        Vec::new()
    };
    Finding {
        check: "hugepages",
        status: if free >= 64 { Status::Ok } else { Status::Warn },
        read: "/proc/meminfo".into(),
        found: format!("{free} free of {total} pages of {size_kb} kB"),
        want: ">= 64 free 2 MiB pages (128 MiB) for rings".into(),
        why: WHY,
        fix: if free >= 64 { String::new() } else { format!("echo {target} > /proc/sys/vm/nr_hugepages") },
        remedies: Vec::new(),
    }
    .with(remedies)
}

fn swap(host: &Host) -> Finding {
    const WHY: &str = "a hot thread's page on swap costs milliseconds to fault back in";
    let path = "/proc/swaps";
    let Some(swaps) = host.read(path) else { return unreadable("swap", path, "no swap", WHY) };
    let devices: Vec<&str> = swaps.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    Finding {
        check: "swap",
        status: if devices.is_empty() { Status::Ok } else { Status::Warn },
        read: path.into(),
        found: if devices.is_empty() { "no swap".into() } else { devices.join(", ") },
        want: "no swap (or mlockall)".into(),
        why: WHY,
        fix: if devices.is_empty() { String::new() } else { "swapoff -a (or run with --mlock)".into() },
        remedies: Vec::new(),
    }
}

fn numa(host: &Host, o: &AuditOptions) -> Finding {
    const WHY: &str = "a ring between cores on two NUMA nodes crosses the interconnect on every cache line";
    let nodes: Vec<(String, Vec<usize>)> =
        crate::memory::numa_nodes(host).into_iter().map(|(id, cpus)| (format!("node{id}"), cpus)).collect();
    if nodes.is_empty() {
        return unreadable("numa", "/sys/devices/system/node/node*/cpulist", "hot cores on one node", WHY);
    }
    let used: Vec<&str> = nodes
        .iter()
        .filter(|(_, cpus)| cpus.iter().any(|c| o.hot_cores.contains(c)))
        .map(|(n, _)| n.as_str())
        .collect();
    Finding {
        check: "numa",
        status: if used.len() <= 1 { Status::Ok } else { Status::Warn },
        read: "/sys/devices/system/node/node*/cpulist".into(),
        found: format!(
            "hot cores {} on {}",
            format_cpu_list(&o.hot_cores),
            if used.is_empty() { "no node".into() } else { used.join(", ") }
        ),
        want: "one node".into(),
        why: WHY,
        fix: if used.len() <= 1 { String::new() } else { "choose hot cores from one node (see lscpu -e)".into() },
        remedies: Vec::new(),
    }
}
