//! Where the kernel put a piece of this process's memory: which NUMA node its pages
//! are on and how much of it sits on transparent huge pages. Read once, after start-up,
//! from `/proc/self/numa_maps` and `/proc/self/smaps`, to report whether a ring built
//! for a hot core really landed on that core's node and on the pages asked for.

use std::ops::Range;

use crate::{audit::Host, parse_cpu_list};

/// The mapping (VMA) holding a memory range, as the kernel reports it.
///
/// The kernel reports per mapping, not per byte: a ring allocated from the heap may
/// share its mapping with neighbours, so these numbers describe the whole mapping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemoryPlacement {
    /// The mapping's size in bytes.
    pub mapping_bytes: u64,
    /// Bytes of it on transparent huge pages (`AnonHugePages` + `ShmemPmdMapped`).
    pub huge_page_bytes: u64,
    /// Resident bytes per NUMA node, `(node, bytes)`, in node order.
    pub bytes_per_node: Vec<(usize, u64)>,
}

impl MemoryPlacement {
    /// The placement of the mapping that holds `range.start` in this process.
    pub fn of(range: &Range<usize>) -> Option<Self> {
        Self::of_in(&Host::live(), range)
    }

    /// As [`MemoryPlacement::of`], reading `/proc/self` below `host`'s root.
    pub fn of_in(host: &Host, range: &Range<usize>) -> Option<Self> {
        let (start, end, huge_page_bytes) = smaps_entry(&host.read("/proc/self/smaps")?, range.start)?;
        let bytes_per_node = numa_maps_nodes(&host.read("/proc/self/numa_maps").unwrap_or_default(), start);
        Some(Self { mapping_bytes: (end - start) as u64, huge_page_bytes, bytes_per_node })
    }

    /// The nodes holding any page of the mapping.
    pub fn nodes(&self) -> Vec<usize> {
        self.bytes_per_node.iter().filter(|(_, bytes)| *bytes > 0).map(|(node, _)| *node).collect()
    }
}

/// Each NUMA node's CPUs, `(node, cpus)` in node order (empty if `/sys` has no nodes).
pub fn numa_nodes(host: &Host) -> Vec<(usize, Vec<usize>)> {
    let mut nodes: Vec<(usize, Vec<usize>)> = host
        .list("/sys/devices/system/node")
        .into_iter()
        .filter_map(|name| {
            let id = name.strip_prefix("node")?.parse().ok()?;
            let cpus = parse_cpu_list(&host.read(&format!("/sys/devices/system/node/{name}/cpulist"))?).ok()?;
            Some((id, cpus))
        })
        .collect();
    nodes.sort_unstable();
    nodes
}

/// The NUMA node of `cpu`, if the host reports nodes.
pub fn node_of_cpu(host: &Host, cpu: usize) -> Option<usize> {
    numa_nodes(host).into_iter().find(|(_, cpus)| cpus.contains(&cpu)).map(|(node, _)| node)
}

/// `(start, end, huge bytes)` of the smaps entry containing `addr`.
fn smaps_entry(smaps: &str, addr: usize) -> Option<(usize, usize, u64)> {
    let mut found: Option<(usize, usize)> = None;
    let mut huge_kb = 0;
    for line in smaps.lines() {
        if let Some(range) = vma_range(line) {
            if found.is_some() {
                break; // the next mapping: ours is complete
            }
            if range.0 <= addr && addr < range.1 {
                found = Some(range);
            }
        } else if found.is_some()
            && let Some((key, value)) = line.split_once(':')
            && matches!(key, "AnonHugePages" | "ShmemPmdMapped" | "FilePmdMapped")
        {
            huge_kb += value.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0);
        }
    }
    found.map(|(start, end)| (start, end, huge_kb * 1024))
}

/// A smaps mapping header (`start-end perms offset dev inode [path]`) as `(start, end)`.
fn vma_range(line: &str) -> Option<(usize, usize)> {
    let (range, rest) = line.split_once(' ')?;
    let (start, end) = range.split_once('-')?;
    // Field lines (`Rss:   4 kB`) have no dash-joined hex pair before a space.
    rest.split_whitespace().next().filter(|perms| perms.len() == 4)?;
    Some((usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?))
}

/// `N<node>=<pages>` fields of the numa_maps line for the mapping at `start`, in
/// bytes (pages of `kernelpagesize_kB`, 4 KiB unless the line says otherwise).
fn numa_maps_nodes(numa_maps: &str, start: usize) -> Vec<(usize, u64)> {
    let Some(line) = numa_maps
        .lines()
        .find(|l| l.split_whitespace().next().and_then(|a| usize::from_str_radix(a, 16).ok()) == Some(start))
    else {
        return Vec::new();
    };
    let page_kb: u64 =
        line.split_whitespace().find_map(|field| field.strip_prefix("kernelpagesize_kB=")?.parse().ok()).unwrap_or(4);
    let mut nodes: Vec<(usize, u64)> = line
        .split_whitespace()
        .filter_map(|field| {
            let (key, pages) = field.strip_prefix('N')?.split_once('=')?;
            Some((key.parse().ok()?, pages.parse::<u64>().ok()? * page_kb * 1024))
        })
        .collect();
    nodes.sort_unstable();
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
AnonHugePages:         0 kB
7f0000000000-7f0000600000 rw-p 00000000 00:00 0 
Size:               6144 kB
Rss:                6144 kB
AnonHugePages:      4096 kB
ShmemPmdMapped:        0 kB
7f0000600000-7f0000601000 r--p 00000000 08:01 1234                       /usr/lib/libc.so.6
Size:                  4 kB
AnonHugePages:         0 kB
";
    const NUMA_MAPS: &str = "\
55d0c0000000 default heap anon=33 dirty=33 N0=33 kernelpagesize_kB=4
7f0000000000 default anon=1536 dirty=1536 N1=1024 N0=512 kernelpagesize_kB=4
7f0000800000 default file=/dev/hugepages/x huge dirty=2 N0=2 kernelpagesize_kB=2048
";

    #[test]
    fn finds_the_mapping_its_huge_pages_and_nodes() {
        let smaps = smaps_entry(SMAPS, 0x7f00_0000_1000).unwrap();
        assert_eq!(smaps, (0x7f00_0000_0000, 0x7f00_0060_0000, 4096 * 1024));
        assert_eq!(numa_maps_nodes(NUMA_MAPS, smaps.0), vec![(0, 512 * 4096), (1, 1024 * 4096)]);
    }

    #[test]
    fn hugetlbfs_pages_count_at_their_own_size() {
        assert_eq!(numa_maps_nodes(NUMA_MAPS, 0x7f00_0080_0000), vec![(0, 4 << 20)]);
    }

    #[test]
    fn an_address_outside_every_mapping_has_no_placement() {
        assert_eq!(smaps_entry(SMAPS, 0x10), None);
        assert_eq!(numa_maps_nodes(NUMA_MAPS, 0x10), Vec::new());
    }

    #[test]
    fn field_lines_are_not_mapping_headers() {
        assert_eq!(vma_range("Size:                132 kB"), None);
        assert_eq!(vma_range("VmFlags: rd wr mr mw me ac sd"), None);
        assert_eq!(
            vma_range("7f0000600000-7f0000601000 r--p 00000000 08:01 1234 /x"),
            Some((0x7f00_0060_0000, 0x7f00_0060_1000))
        );
    }

    #[test]
    fn this_process_sees_its_own_memory_on_a_known_node() {
        let data = vec![1u8; 8 << 20];
        let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        let placement = MemoryPlacement::of(&range).expect("a live allocation is in smaps");
        assert!(placement.mapping_bytes >= data.len() as u64);
        let known: Vec<usize> = numa_nodes(&Host::live()).into_iter().map(|(n, _)| n).collect();
        assert!(placement.nodes().iter().all(|n| known.contains(n)), "{placement:?} vs nodes {known:?}");
    }
}
