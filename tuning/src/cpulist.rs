//! The kernel's CPU list format: `0-3,8,10-11` (as in `isolcpus=`, `*_list` files).

use crate::Error;

/// Parses a kernel CPU list. Flags such as `isolcpus=managed_irq,domain,2-5` are
/// skipped (any item that is not a number or range); an empty string is no CPUs.
///
/// # Errors
/// [`Error::BadCpuList`] for a range that runs backwards or numbers that overflow.
///
/// # Examples
/// ```
/// assert_eq!(tuning::parse_cpu_list("0-2,5").unwrap(), vec![0, 1, 2, 5]);
/// assert_eq!(tuning::parse_cpu_list("domain,managed_irq,3").unwrap(), vec![3]);
/// assert!(tuning::parse_cpu_list("4-2").is_err());
/// ```
pub fn parse_cpu_list(text: &str) -> Result<Vec<usize>, Error> {
    let mut cpus = Vec::new();
    for item in text.trim().split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        let (Ok(lo), Ok(hi)) = (lo.parse::<usize>(), hi.parse::<usize>()) else {
            if item.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
                continue; // a flag word, not a CPU
            }
            return Err(Error::BadCpuList { text: text.trim().to_owned() });
        };
        if lo > hi || hi > 1 << 16 {
            return Err(Error::BadCpuList { text: text.trim().to_owned() });
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Formats CPUs back into the kernel's list form (`1-3,7`).
///
/// # Examples
/// ```
/// assert_eq!(tuning::format_cpu_list(&[1, 2, 3, 7]), "1-3,7");
/// ```
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&start) = sorted.get(i) {
        let mut end = start;
        while end.checked_add(1).is_some_and(|next| sorted.get(i + 1) == Some(&next)) {
            end += 1;
            i += 1;
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        assert_eq!(parse_cpu_list("").unwrap(), Vec::<usize>::new());
        assert_eq!(parse_cpu_list(" 3,1-2,2\n").unwrap(), vec![1, 2, 3]);
        assert_eq!(format_cpu_list(&parse_cpu_list("0,2-4,9").unwrap()), "0,2-4,9");
        assert!(parse_cpu_list("1-x").is_err());
        assert!(parse_cpu_list("0-99999999").is_err());
        assert_eq!(
            Error::BadCpuList { text: "4-2".into() }.to_string(),
            "invalid CPU list \"4-2\": expected numbers and ranges like 0-3,8"
        );
    }
}
