//! Every audit check against fixture `/proc` and `/sys` trees: a tuned bare-metal
//! host, a default distro host and a VM, plus a missing file for each.

use std::path::Path;

use tuning::audit::{AuditOptions, Finding, Host, Status, audit, worst};

/// A fake root directory with just the files the audit reads.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn empty() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn file(self, path: &str, text: &str) -> Self {
        let full = self.dir.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, format!("{text}\n")).unwrap();
        self
    }

    fn link(self, path: &str, target: &str) -> Self {
        let full = self.dir.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, full).unwrap();
        self
    }

    fn remove(self, path: &str) -> Self {
        std::fs::remove_file(self.dir.path().join(path.trim_start_matches('/'))).unwrap();
        self
    }

    /// Four CPUs (0-3), SMT pairs 0/2 and 1/3, one NUMA node, deep C-state on each.
    fn common(self, governor: &str) -> Self {
        let mut f = self;
        for cpu in 0..4 {
            let base = format!("/sys/devices/system/cpu/cpu{cpu}");
            f = f
                .file(&format!("{base}/cpufreq/scaling_governor"), governor)
                .file(&format!("{base}/topology/thread_siblings_list"), if cpu % 2 == 0 { "0,2" } else { "1,3" })
                .file(&format!("{base}/online"), "1")
                .file(&format!("{base}/cpuidle/state0/name"), "POLL")
                .file(&format!("{base}/cpuidle/state0/latency"), "0")
                .file(&format!("{base}/cpuidle/state0/disable"), "0")
                .file(&format!("{base}/cpuidle/state1/name"), "C6")
                .file(&format!("{base}/cpuidle/state1/latency"), "133");
        }
        f.file("/sys/devices/system/node/node0/cpulist", "0-3")
            .file("/sys/devices/system/cpu/intel_pstate/no_turbo", "0")
            .file("/sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc")
            .file("/proc/irq/24/smp_affinity_list", "0")
            .file("/proc/interrupts", "           CPU0       CPU1       CPU2       CPU3\n 24:        100          0          0          0  IO-APIC  eth0\nLOC:       5000          7          0          0  Local timer interrupts")
            .file("/proc/self/status", "Name:\tengine\nCapEff:\t0000000000000000")
            .file(
                "/proc/meminfo",
                "MemTotal:       24000000 kB\nHugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:       2048 kB",
            )
    }

    /// A host tuned for hot cores 2 and 3: 1-3 isolated with ticks and RCU callbacks off,
    /// performance governor, deep C-state disabled on 2 and 3, IRQs on CPU 0. SMT pairs
    /// are 0/2 and 1/3: sibling 1 is isolated, sibling 0 is offline (housekeeping moved).
    fn tuned() -> Self {
        Self::empty()
            .common("performance")
            .file("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc")
            .file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz isolcpus=managed_irq,domain,1-3 nohz_full=1-3 rcu_nocbs=1-3 -- init args")
            .file("/sys/devices/system/cpu/isolated", "1-3")
            .file("/sys/devices/system/cpu/cpu0/online", "0")
            .file("/sys/devices/system/cpu/cpu2/cpuidle/state1/disable", "1")
            .file("/sys/devices/system/cpu/cpu3/cpuidle/state1/disable", "1")
            .file("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never")
            .file("/proc/meminfo", "HugePages_Total:     512\nHugePages_Free:      500\nHugepagesize:       2048 kB")
            .file("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority")
            .file("/proc/sys/vm/swappiness", "1")
            .file("/sys/kernel/mm/ksm/run", "0")
            .file("/proc/sys/kernel/timer_migration", "0")
            .file("/proc/sys/vm/stat_interval", "10")
            .file("/proc/sys/kernel/nmi_watchdog", "0")
            .file("/proc/sys/kernel/watchdog", "0")
            .file("/proc/sys/kernel/sched_rt_runtime_us", "-1")
            .file("/proc/self/limits", "Max locked memory         unlimited            unlimited            bytes\nMax realtime priority     99                   99")
            .link("/proc/4242/fd/3", "/dev/cpu_dma_latency")
            .file("/proc/4242/comm", "tuned")
            .file("/proc/77/comm", "irqbalance")
            .file("/proc/77/environ", "PATH=/usr/bin\0IRQBALANCE_BANNED_CPULIST=1-3\0")
    }

    /// A default distro install: nothing isolated, powersave, THP always, swap.
    fn distro() -> Self {
        Self::empty()
            .common("powersave")
            .file("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc")
            .file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet")
            .file("/sys/devices/system/cpu/isolated", "")
            .file("/proc/irq/24/smp_affinity_list", "0-3")
            .file("/proc/88/comm", "irqbalance")
            .file("/proc/88/environ", "PATH=/usr/bin\0")
            .file("/sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never")
            .file("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/swap.img\tfile\t4194300\t0\t-2")
            .file("/proc/sys/vm/swappiness", "60")
            .file("/sys/kernel/mm/ksm/run", "1")
            .file("/proc/sys/kernel/timer_migration", "1")
            .file("/proc/sys/vm/stat_interval", "1")
            .file("/proc/sys/kernel/nmi_watchdog", "1")
            .file("/proc/sys/kernel/watchdog", "1")
            .file("/proc/sys/kernel/sched_rt_runtime_us", "950000")
            .file("/proc/self/limits", "Max locked memory         8388608              8388608              bytes\nMax realtime priority     0                    0")
    }

    /// A VM like this CI machine: hypervisor flag, no cpufreq, kvm-clock.
    fn vm() -> Self {
        Self::distro()
            .file("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc hypervisor")
            .file("/sys/devices/system/clocksource/clocksource0/current_clocksource", "kvm-clock")
            .remove("/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor")
    }

    fn host(&self) -> Host {
        Host::at(self.dir.path())
    }
}

fn options(cores: &[usize], fifo: bool) -> AuditOptions {
    AuditOptions { hot_cores: cores.to_vec(), sched_fifo: fifo, irq_sample: Some(std::time::Duration::ZERO) }
}

fn find<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check} in {findings:#?}"))
}

fn status(findings: &[Finding], check: &str) -> Status {
    find(findings, check).status
}

#[test]
fn a_tuned_host_passes_every_check() {
    let f = Fixture::tuned();
    let findings = audit(&f.host(), &options(&[2, 3], true));
    for finding in &findings {
        assert_eq!(finding.status, Status::Ok, "{finding:#?}");
        assert!(finding.fix.is_empty(), "{finding:#?}");
    }
    assert_eq!(worst(&findings), Status::Ok);
    assert_eq!(find(&findings, "cpu_dma_latency").found, "held by 4242(tuned)");
    assert_eq!(find(&findings, "isolated_cores").found, "1-3");
}

#[test]
fn a_default_distro_host_fails_with_exact_fixes() {
    let f = Fixture::distro();
    let findings = audit(&f.host(), &options(&[2, 3], true));
    let expect = [
        ("isolated_cores", Status::Fail),
        ("nohz_full", Status::Warn),
        ("rcu_nocbs", Status::Warn),
        ("governor", Status::Fail),
        ("c_states", Status::Warn),
        ("smt_siblings", Status::Warn),
        ("irq_affinity", Status::Fail),
        ("transparent_hugepages", Status::Warn),
        ("hugepages", Status::Warn),
        ("swap", Status::Warn),
        ("swappiness", Status::Warn),
        ("ksm", Status::Warn),
        ("timer_migration", Status::Warn),
        ("vm_stat_interval", Status::Warn),
        ("nmi_watchdog", Status::Warn),
        ("soft_lockup_watchdog", Status::Warn),
        ("sched_rt_runtime", Status::Fail),
        ("memlock_limit", Status::Warn),
        ("rtprio_limit", Status::Warn),
        ("clocksource", Status::Ok),
        ("numa", Status::Ok),
        ("turbo", Status::Ok),
        ("irqbalance", Status::Warn),
        ("irq_growth", Status::Ok),
    ];
    for (check, want) in expect {
        assert_eq!(status(&findings, check), want, "{:#?}", find(&findings, check));
    }
    assert_eq!(worst(&findings), Status::Fail);
    assert_eq!(
        find(&findings, "isolated_cores").fix,
        "add isolcpus=managed_irq,domain,2-3 to the kernel command line (or make a cpuset partition) and reboot"
    );
    assert_eq!(find(&findings, "nohz_full").fix, "add nohz_full=2-3 to the kernel command line and reboot");
    assert_eq!(
        find(&findings, "governor").fix,
        "for c in 2 3; do echo performance > /sys/devices/system/cpu/cpu$c/cpufreq/scaling_governor; done"
    );
    assert_eq!(find(&findings, "governor").found, "cpu2=powersave cpu3=powersave");
    assert_eq!(find(&findings, "c_states").found, "cpu2:C6(133us) cpu3:C6(133us)");
    assert_eq!(find(&findings, "smt_siblings").found, "cpu0 (sibling of 2), cpu1 (sibling of 3)");
    assert_eq!(find(&findings, "irq_affinity").found, "IRQs 24 may run on 2-3");
    assert_eq!(find(&findings, "swap").found, "/swap.img");
    assert_eq!(find(&findings, "swappiness").fix, "echo 1 > /proc/sys/vm/swappiness");
    assert_eq!(find(&findings, "memlock_limit").found, "Max locked memory 8388608, CAP_IPC_LOCK not held");
}

#[test]
fn cpu_0_is_refused_as_a_hot_core_even_when_isolated() {
    let f = Fixture::tuned().file("/sys/devices/system/cpu/isolated", "0-3");
    let findings = audit(&f.host(), &options(&[0, 2], false));
    let iso = find(&findings, "isolated_cores");
    assert_eq!(iso.status, Status::Fail);
    assert!(iso.fix.contains("other than CPU 0"), "{iso:#?}");
}

#[test]
fn sched_rt_runtime_and_rtprio_matter_only_with_sched_fifo() {
    let f = Fixture::distro();
    let findings = audit(&f.host(), &options(&[2, 3], false));
    assert_eq!(status(&findings, "sched_rt_runtime"), Status::NotApplicable);
    assert_eq!(status(&findings, "rtprio_limit"), Status::NotApplicable);
    assert_eq!(status(&findings, "memlock_limit"), Status::Warn);
}

#[test]
fn capabilities_satisfy_the_limits() {
    // CAP_IPC_LOCK is bit 14, CAP_SYS_NICE bit 23.
    let f = Fixture::distro().file("/proc/self/status", "CapEff:\t0000000000804000");
    let findings = audit(&f.host(), &options(&[2], true));
    assert_eq!(status(&findings, "memlock_limit"), Status::Ok);
    assert_eq!(status(&findings, "rtprio_limit"), Status::Ok);
}

#[test]
fn in_a_vm_what_the_guest_cannot_fix_degrades_to_warn() {
    let f = Fixture::vm();
    let findings = audit(&f.host(), &options(&[2, 3], true));
    // Hypervisor-side: fail becomes warn, with a note, and nothing to apply in the guest.
    let clock = find(&findings, "clocksource");
    assert_eq!(clock.status, Status::Warn, "{clock:#?}");
    assert!(clock.fix.ends_with("(on the hypervisor host: this is a VM)"), "{clock:#?}");
    assert!(clock.remedies.is_empty());
    // Guest-side stays a failure: the guest's own command line, IRQs and sysctls.
    for check in ["isolated_cores", "irq_affinity", "sched_rt_runtime"] {
        assert_eq!(status(&findings, check), Status::Fail, "{:#?}", find(&findings, check));
    }
    // cpufreq missing in the VM: n/a with the path, not a failure.
    let gov = find(&findings, "governor");
    assert_eq!(gov.status, Status::NotApplicable);
    assert_eq!(gov.found, "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor not readable");
    assert_eq!(find(&findings, "clocksource").found, "kvm-clock, constant_tsc=false, nonstop_tsc=false");
}

#[test]
fn every_check_reports_a_missing_file_as_not_applicable() {
    let f = Fixture::empty();
    let findings = audit(&f.host(), &options(&[2, 3], true));
    assert!(findings.len() >= 24, "{}", findings.len());
    for finding in &findings {
        let ok_without_files = ["nohz_full", "rcu_nocbs", "cpu_dma_latency", "irqbalance"];
        if !ok_without_files.contains(&finding.check) {
            assert_eq!(finding.status, Status::NotApplicable, "{finding:#?}");
        }
    }
    assert_eq!(status(&findings, "nohz_full"), Status::Warn, "no cmdline means not set");
    assert_eq!(worst(&findings), Status::Warn);
}

#[test]
fn numa_warns_when_hot_cores_span_nodes() {
    let f = Fixture::tuned()
        .file("/sys/devices/system/node/node0/cpulist", "0-1")
        .file("/sys/devices/system/node/node1/cpulist", "2-3");
    let findings = audit(&f.host(), &options(&[1, 2], false));
    let numa = find(&findings, "numa");
    assert_eq!(numa.status, Status::Warn);
    assert_eq!(numa.found, "hot cores 1-2 on node0, node1");
}

#[test]
fn the_live_host_audit_completes() {
    // A real run on whatever machine runs the tests: every check yields a finding and
    // nothing panics, whatever /proc and /sys hold.
    let cpus = tuning::allowed_cpus().unwrap();
    let hot: Vec<usize> = cpus.iter().copied().filter(|&c| c != 0).collect();
    let findings = audit(&Host::live(), &options(if hot.is_empty() { &cpus } else { &hot }, false));
    assert!(findings.len() >= 24);
    assert!(Path::new("/proc/cmdline").exists());
}

#[test]
fn json_has_the_promised_keys() {
    let f = Fixture::distro();
    let findings = audit(&f.host(), &options(&[2], false));
    let json = serde_json::to_value(&findings).unwrap();
    let first = &json[0];
    for key in ["check", "status", "found", "want", "why", "fix"] {
        assert!(first.get(key).is_some(), "{key} missing in {first}");
    }
    assert_eq!(serde_json::to_value(Status::NotApplicable).unwrap(), "n/a");
    assert_eq!(Status::Warn.to_string(), "warn");
}

#[test]
fn apply_writes_runtime_fixes_and_only_reports_boot_parameters() {
    let f = Fixture::distro();
    let host = f.host();
    let findings = audit(&host, &options(&[2, 3], true));
    let planned = tuning::audit::apply(&host, &findings, true);
    assert!(planned.iter().all(|a| a.outcome != tuning::audit::Outcome::Applied), "dry run writes nothing");
    assert_eq!(host.read("/proc/sys/kernel/timer_migration").as_deref(), Some("1"));
    let commands: Vec<String> = planned.iter().map(|a| a.remedy.to_string()).collect();
    for expected in [
        "echo performance > /sys/devices/system/cpu/cpu2/cpufreq/scaling_governor",
        "echo 1 > /sys/devices/system/cpu/cpu3/cpuidle/state1/disable",
        "echo 64 > /proc/sys/vm/nr_hugepages",
        "echo 0 > /proc/sys/kernel/timer_migration",
        "echo -1 > /proc/sys/kernel/sched_rt_runtime_us",
        "# add to the kernel command line, then reboot: nohz_full=2-3",
        "# add to the kernel command line, then reboot: isolcpus=managed_irq,domain,2-3",
    ] {
        assert!(commands.iter().any(|c| c == expected), "{expected} not in {commands:#?}");
    }

    let applied = tuning::audit::apply(&host, &findings, false);
    assert!(applied.iter().any(|a| a.outcome == tuning::audit::Outcome::NeedsReboot));
    // After applying, every runtime-fixable check passes; boot parameters remain.
    let after = audit(&host, &options(&[2, 3], true));
    for check in [
        "governor",
        "c_states",
        "timer_migration",
        "vm_stat_interval",
        "nmi_watchdog",
        "ksm",
        "sched_rt_runtime",
        "transparent_hugepages",
    ] {
        assert_eq!(status(&after, check), Status::Ok, "{:#?}", find(&after, check));
    }
    assert_eq!(status(&after, "nohz_full"), Status::Warn);
}

#[test]
fn apply_reports_a_write_that_fails() {
    let f = Fixture::distro().remove("/proc/sys/kernel/timer_migration");
    let host = f.host();
    // A directory where the file should be makes the write fail.
    std::fs::create_dir(host.path("/proc/sys/kernel/timer_migration")).unwrap();
    let mut findings = audit(&host, &options(&[2], false));
    let timer = findings.iter_mut().find(|x| x.check == "timer_migration").unwrap();
    timer.status = Status::Warn;
    timer.remedies =
        vec![tuning::audit::Remedy::Write { path: "/proc/sys/kernel/timer_migration".into(), value: "0".into() }];
    let applied = tuning::audit::apply(&host, &findings, false);
    let timer = applied.iter().find(|a| a.check == "timer_migration").unwrap();
    assert!(matches!(timer.outcome, tuning::audit::Outcome::Failed(_)), "{timer:?}");
}

#[test]
fn interrupt_growth_on_hot_cores_is_named_per_source() {
    let before = "           CPU0       CPU1       CPU2\n 24:        100          0          5  IO-APIC  eth0\nLOC:       5000          7          9  Local timer\nERR:          0\n";
    let after = "           CPU0       CPU1       CPU2\n 24:        180          0          6  IO-APIC  eth0\nLOC:       5900          7          9  Local timer\nERR:          0\n";
    let quiet = tuning::audit::irq_growth(before, after, &[1], std::time::Duration::from_millis(200));
    assert_eq!(quiet.status, Status::Ok);
    assert_eq!(quiet.found, "no interrupt on 1 in 200 ms");
    let noisy = tuning::audit::irq_growth(before, after, &[1, 2], std::time::Duration::from_millis(200));
    assert_eq!(noisy.status, Status::Warn);
    assert_eq!(noisy.found, "in 200 ms on 1-2: 24+1");
    assert_eq!(tuning::audit::irq_counts(after, &[0]).get("LOC"), Some(&5900));
    assert_eq!(tuning::audit::irq_counts(after, &[0]).get("ERR"), None, "one system-wide count, no CPU column");
}

#[test]
fn irqbalance_is_fine_when_hot_cores_are_banned() {
    let f = Fixture::tuned();
    let findings = audit(&f.host(), &options(&[2, 3], false));
    let irqb = find(&findings, "irqbalance");
    assert_eq!(irqb.status, Status::Ok, "{irqb:#?}");
    assert_eq!(irqb.found, "running (pid 77), banned: 1-3");
    let f = Fixture::distro();
    let findings = audit(&f.host(), &options(&[2, 3], false));
    assert!(find(&findings, "irqbalance").fix.contains("IRQBALANCE_BANNED_CPULIST=2-3"));
}

#[test]
fn the_huge_page_fix_grows_the_pool_and_never_shrinks_it() {
    let f = Fixture::distro()
        .file("/proc/meminfo", "HugePages_Total:    1024\nHugePages_Free:       10\nHugepagesize:       2048 kB");
    let findings = audit(&f.host(), &options(&[2], false));
    let huge = find(&findings, "hugepages");
    assert_eq!(huge.found, "10 free of 1024 pages of 2048 kB");
    assert_eq!(huge.fix, "echo 1078 > /proc/sys/vm/nr_hugepages");
    let f = Fixture::distro()
        .file("/proc/meminfo", "HugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:    1048576 kB");
    let findings = audit(&f.host(), &options(&[2], false));
    assert!(find(&findings, "hugepages").remedies.is_empty(), "no automatic request for 1 GiB pages");
}

#[test]
fn smt_siblings_are_advice_never_an_automatic_offline() {
    let f = Fixture::distro();
    let findings = audit(&f.host(), &options(&[2, 3], false));
    let smt = find(&findings, "smt_siblings");
    assert_eq!(smt.status, Status::Warn);
    assert!(smt.remedies.is_empty(), "{smt:#?}");
    let planned = tuning::audit::apply(&f.host(), &findings, true);
    assert!(planned.iter().all(|a| !a.remedy.to_string().contains("/online")), "{planned:#?}");
}
