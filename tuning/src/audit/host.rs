//! Reads of `/proc` and `/sys` below an injectable root.

use std::path::{Path, PathBuf};

use super::VmEvidence;

/// The machine being audited: `/` in production, a fixture tree in tests.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    /// The real machine.
    pub fn live() -> Self {
        Self::at("/")
    }

    /// A machine whose `/proc` and `/sys` live under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `path` (absolute, e.g. `/proc/cmdline`) below the root.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// The trimmed text of a file, or `None` if it cannot be read.
    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path)).ok().map(|s| s.trim().to_owned())
    }

    /// Whether a path exists below the root.
    pub fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    /// Names of the entries of a directory (empty if unreadable).
    pub fn list(&self, path: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.path(path)) else { return Vec::new() };
        let mut names: Vec<String> = dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
        names.sort();
        names
    }

    /// Where a symlink points, if it is one.
    pub fn link(&self, path: &Path) -> Option<PathBuf> {
        std::fs::read_link(self.root.join(path.strip_prefix("/").unwrap_or(path))).ok()
    }

    /// The value of `name=` on the kernel command line, if present.
    pub fn cmdline_param(&self, name: &str) -> Option<String> {
        let cmdline = self.read("/proc/cmdline")?;
        // The kernel lets a repeated parameter's last value win.
        cmdline
            .split_whitespace()
            .take_while(|w| *w != "--")
            .filter_map(|word| {
                let (key, value) = word.split_once('=')?;
                (key == name).then(|| value.to_owned())
            })
            .last()
    }

    /// The flags of the first CPU in `/proc/cpuinfo`.
    pub fn cpu_flags(&self) -> Vec<String> {
        let info = self.read("/proc/cpuinfo").unwrap_or_default();
        info.lines()
            .find(|l| l.starts_with("flags"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, flags)| flags.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Evidence that this is a virtual machine (CPU flag or DMI vendor), if any.
    pub fn vm_evidence(&self) -> VmEvidence {
        if self.cpu_flags().iter().any(|f| f == "hypervisor") {
            return VmEvidence(Some("hypervisor flag in /proc/cpuinfo".into()));
        }
        // Vendors that only ship virtual machines (Amazon and Microsoft also sell bare
        // metal under their own names, so the CPU flag has to tell for those).
        const VENDORS: [&str; 5] = ["QEMU", "KVM", "VMware", "Xen", "innotek"];
        let vendor = self.read("/sys/class/dmi/id/sys_vendor").unwrap_or_default();
        VENDORS
            .iter()
            .find(|v| vendor.contains(*v))
            .map_or(VmEvidence(None), |v| VmEvidence(Some(format!("DMI vendor {v}"))))
    }
}
