//! `engine journal export`: a journal's records as CSV files, one per event table,
//! each row with the columns and values `engine journal load` stores (both read a
//! record through [`persist::pg::copy::columns`], and both skip a record at or below
//! its stream's highest sequence so far). The current-state tables (`positions`,
//! `orders`) are derived from these rows and are not exported. `COPY table FROM 'file' (FORMAT csv,
//! HEADER)` loads a file as it is; any spreadsheet or dataframe library reads it.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use persist::{
    RecordKind,
    journal::JournalReader,
    pg::copy::{COMMON_COLUMNS, Value, columns, table},
};

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Per table: its file and the rows in it, in [`RecordKind::ALL`] order.
    pub files: Vec<(PathBuf, u64)>,
    /// Records of a kind this build does not know (from a newer writer): skipped.
    pub unknown_kind: u64,
    /// Records at or below their stream's highest sequence so far (a repeat, which
    /// `engine journal verify` reports): skipped, as `journal load` skips them.
    pub repeats: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A file could not be made or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The journal is corrupt: the files hold every record before the damage.
    #[error("{source} (the files hold the {exported} records before it)")]
    Corrupt {
        /// Where and why.
        source: persist::journal::JournalError,
        /// Records written before it.
        exported: u64,
    },
}

/// One table's file.
struct Output {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl Output {
    /// Makes `dir/<table>.csv` with its header; an existing file is never
    /// overwritten.
    fn create(dir: &Path, kind: RecordKind) -> Result<Self, ExportError> {
        let (name, kind_columns) = table(kind);
        let path = dir.join(format!("{name}.csv"));
        let io = |source| ExportError::Io { path: path.clone(), source };
        let file = File::options().write(true).create_new(true).open(&path).map_err(io)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let header = format!("{COMMON_COLUMNS}, {kind_columns}").replace(", ", ",");
        writeln!(out, "{header}").map_err(io)?;
        Ok(Self { path, out, rows: 0 })
    }
}

/// Writes every record of `reader` into `dir/<table>.csv`, one file per table (made
/// for every table, so an empty one has just its header). `dir` is created if need
/// be; a file already there is an error, not overwritten.
///
/// # Errors
/// A file cannot be made or written, or the journal is corrupt (the files then hold
/// everything before the damage).
pub fn export(reader: &JournalReader, dir: &Path) -> Result<ExportReport, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.to_owned(), source })?;
    let mut outputs =
        RecordKind::ALL.into_iter().map(|kind| Output::create(dir, kind)).collect::<Result<Vec<_>, _>>()?;
    let (mut unknown_kind, mut repeats) = (0, 0);
    // Per stream, the highest sequence exported: a short list, as in the sink.
    let mut highest: Vec<(u16, u64)> = Vec::new();
    let mut failed = None;
    let mut line = String::with_capacity(256);
    let scanned = reader.scan(reader.start(), |_, r| {
        if failed.is_some() {
            return;
        }
        // A stream starts at 0, as a fresh database's watermark does.
        let at = highest.iter().position(|(stream, _)| *stream == r.stream).unwrap_or_else(|| {
            highest.push((r.stream, 0));
            highest.len() - 1
        });
        let Some((_, seq)) = highest.get_mut(at) else { return };
        if r.seq <= *seq {
            repeats += 1;
            return;
        }
        *seq = r.seq;
        let Some(kind) = r.kind() else {
            unknown_kind += 1;
            return;
        };
        let Some(output) = outputs.get_mut(kind as usize - 1) else { return };
        line.clear();
        columns(r, kind, |v| {
            if !line.is_empty() {
                line.push(',');
            }
            push_value(&mut line, v);
        });
        line.push('\n');
        match output.out.write_all(line.as_bytes()) {
            Ok(()) => output.rows += 1,
            Err(source) => failed = Some(ExportError::Io { path: output.path.clone(), source }),
        }
    });
    for output in &mut outputs {
        if let Err(source) = output.out.flush() {
            failed.get_or_insert(ExportError::Io { path: output.path.clone(), source });
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let exported = outputs.iter().map(|o| o.rows).sum();
    scanned.map_err(|source| ExportError::Corrupt { source, exported })?;
    Ok(ExportReport { files: outputs.into_iter().map(|o| (o.path, o.rows)).collect(), unknown_kind, repeats })
}

fn push_value(line: &mut String, v: Value) {
    use std::fmt::Write as _;
    let _ = match v {
        Value::I16(v) => write!(line, "{v}"),
        Value::I32(v) => write!(line, "{v}"),
        Value::I64(v) => write!(line, "{v}"),
        Value::Time(unix_ns) => write!(line, "{}", Timestamp(unix_ns)),
    };
}

/// Unix nanoseconds as PostgreSQL writes a `timestamptz` in UTC, to the microsecond
/// it keeps: `2026-11-18 11:06:40.123456+00`.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp(pub u64);

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = self.0 / 1_000;
        let secs = micros / 1_000_000;
        let (y, m, d) = feeds::time::civil_from_days((secs / 86_400) as i64);
        let of_day = secs % 86_400;
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}+00",
            of_day / 3_600,
            of_day / 60 % 60,
            of_day % 60,
            micros % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Timestamp, export};
    use persist::{
        Fields, Origin,
        journal::{FsyncPolicy, Journal, JournalOptions, JournalReader},
        record::TradeFields,
    };

    /// As `journal load` does: a record at or below its stream's sequence so far (a
    /// repeat, or a sequence 0 on a stream's first record) is skipped and counted.
    #[test]
    fn repeats_are_skipped_as_journal_load_skips_them() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        let options = JournalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::Never };
        let (mut j, _) = Journal::open(&journal, options).unwrap();
        let trade = |stream, seq| {
            let fields = TradeFields { aggressor: 1, ts_exchange: 1, trade_id: seq as i64, price: 10, qty: 1 };
            fields.into_record(Origin { stream, seq, ts: 1_795_000_000_000_000_000, venue: 1, instrument: 1 })
        };
        let records = [trade(1, 0), trade(1, 1), trade(2, 1), trade(1, 2), trade(1, 2), trade(1, 1), trade(1, 3)];
        j.append(&records).unwrap();
        j.sync().unwrap();
        drop(j);
        let out = dir.path().join("csv");
        let report = export(&JournalReader::open(&journal).unwrap(), &out).unwrap();
        assert_eq!(report.repeats, 3);
        let csv = std::fs::read_to_string(out.join("market_trades.csv")).unwrap();
        let kept: Vec<&str> = csv.lines().skip(1).map(|line| line.split(',').nth(7).unwrap()).collect();
        assert_eq!(kept, ["1", "1", "2", "3"], "trade ids, which are the sequences here");
    }

    #[test]
    fn timestamps_are_written_as_postgresql_writes_them_in_utc() {
        // 1_795_000_000 s after the epoch is 2026-11-18 11:06:40 UTC.
        assert_eq!(Timestamp(1_795_000_000_123_456_789).to_string(), "2026-11-18 11:06:40.123456+00");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01 00:00:00.000000+00");
        assert_eq!(Timestamp(951_782_400_000_000_000 - 1).to_string(), "2000-02-28 23:59:59.999999+00");
    }
}
