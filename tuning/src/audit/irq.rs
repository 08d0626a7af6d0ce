//! Interrupts on hot cores: who moves them (irqbalance) and whether they keep coming.

use std::collections::BTreeMap;

use super::{AuditOptions, Finding, Host, Status, unreadable};
use crate::{format_cpu_list, parse_cpu_list};

pub(super) fn checks(host: &Host, o: &AuditOptions, out: &mut Vec<Finding>) {
    out.push(irqbalance(host, o));
    out.push(match o.irq_sample {
        None => Finding {
            check: "irq_growth",
            status: Status::NotApplicable,
            read: String::new(),
            found: "not sampled".into(),
            want: "no interrupts on hot cores".into(),
            why: GROWTH_WHY,
            fix: String::new(),
            remedies: Vec::new(),
        },
        Some(interval) => {
            let before = host.read("/proc/interrupts");
            std::thread::sleep(interval);
            match (before, host.read("/proc/interrupts")) {
                (Some(before), Some(after)) => irq_growth(&before, &after, &o.hot_cores, interval),
                _ => unreadable("irq_growth", "/proc/interrupts", "no interrupts on hot cores", GROWTH_WHY),
            }
        }
    });
}

const GROWTH_WHY: &str = "every interrupt on a hot core stalls its poll loop; counts that grow mean it happens now";

/// Per-source interrupt counts summed over `cpus`, from a `/proc/interrupts` text.
pub fn irq_counts(text: &str, cpus: &[usize]) -> BTreeMap<String, u64> {
    let mut lines = text.lines();
    let header: Vec<usize> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|h| h.strip_prefix("CPU")?.parse().ok())
        .collect();
    let mut counts = BTreeMap::new();
    for line in lines {
        let Some((name, rest)) = line.split_once(':') else { continue };
        let values: Vec<u64> = rest.split_whitespace().take(header.len()).map_while(|v| v.parse().ok()).collect();
        if values.len() != header.len() {
            continue; // ERR:, MIS: carry one system-wide count, not one per CPU
        }
        let sum: u64 = header.iter().zip(&values).filter(|(cpu, _)| cpus.contains(cpu)).map(|(_, v)| *v).sum();
        counts.insert(name.trim().to_owned(), sum);
    }
    counts
}

/// Compares two `/proc/interrupts` samples taken `interval` apart.
pub fn irq_growth(before: &str, after: &str, hot: &[usize], interval: std::time::Duration) -> Finding {
    let (a, b) = (irq_counts(before, hot), irq_counts(after, hot));
    let grew: Vec<String> = b
        .iter()
        .filter_map(|(name, n)| {
            // A source that appeared between the samples has no baseline: skip it.
            let delta = n.saturating_sub(*a.get(name)?);
            (delta > 0).then(|| format!("{name}+{delta}"))
        })
        .collect();
    Finding {
        check: "irq_growth",
        status: if grew.is_empty() { Status::Ok } else { Status::Warn },
        read: "/proc/interrupts (twice)".into(),
        found: if grew.is_empty() {
            format!("no interrupt on {} in {} ms", format_cpu_list(hot), interval.as_millis())
        } else {
            format!("in {} ms on {}: {}", interval.as_millis(), format_cpu_list(hot), grew.join(" "))
        },
        want: "no interrupts on hot cores".into(),
        why: GROWTH_WHY,
        fix: if grew.is_empty() {
            String::new()
        } else {
            "move device IRQs off the hot cores (see irq_affinity); LOC/timer interrupts need nohz_full; RES/CAL/TLB come from other threads touching the core".into()
        },
        remedies: Vec::new(),
    }
}

fn irqbalance(host: &Host, o: &AuditOptions) -> Finding {
    const WHY: &str = "irqbalance moves interrupts back onto hot cores unless they are banned";
    let hot = format_cpu_list(&o.hot_cores);
    let pid = host
        .list("/proc")
        .into_iter()
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .find(|p| host.read(&format!("/proc/{p}/comm")).is_some_and(|c| c == "irqbalance"));
    let Some(pid) = pid else {
        return Finding {
            check: "irqbalance",
            status: Status::Ok,
            read: "/proc/*/comm".into(),
            found: "not running".into(),
            want: "not running, or hot cores banned".into(),
            why: WHY,
            fix: String::new(),
            remedies: Vec::new(),
        };
    };
    let environ = std::fs::read(host.path(&format!("/proc/{pid}/environ"))).unwrap_or_default();
    let banned = environ
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix("IRQBALANCE_BANNED_CPULIST="))
        .and_then(|list| parse_cpu_list(list).ok())
        .unwrap_or_default();
    let covered = o.hot_cores.iter().all(|c| banned.contains(c));
    Finding {
        check: "irqbalance",
        status: if covered { Status::Ok } else { Status::Warn },
        read: format!("/proc/{pid}/comm, /proc/{pid}/environ"),
        found: format!(
            "running (pid {pid}), banned: {}",
            if banned.is_empty() { "none".into() } else { format_cpu_list(&banned) }
        ),
        want: format!("not running, or {hot} banned"),
        why: WHY,
        fix: if covered {
            String::new()
        } else {
            format!(
                "systemctl stop irqbalance, or set IRQBALANCE_BANNED_CPULIST={hot} in /etc/default/irqbalance and restart it"
            )
        },
        remedies: Vec::new(),
    }
}
