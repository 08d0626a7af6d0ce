//! Finding segment files in a journal directory.

use std::path::{Path, PathBuf};

use super::error::{JournalError, io_error};

const SUFFIX: &str = ".seg";

/// The file name of segment `index`: zero-padded so names sort in index order.
pub(crate) fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:016}{SUFFIX}"))
}

/// The journal's segments, by ascending index. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else { continue };
        if stem.len() == 16
            && let Ok(index) = stem.parse::<u64>()
        {
            found.push((index, entry.path()));
        }
    }
    found.sort_unstable();
    Ok(found)
}
