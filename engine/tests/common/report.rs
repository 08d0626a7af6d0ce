//! A fault-injection test's row of the reliability report (`scripts/reliability.sh`).
//! When `RELIABILITY_REPORT` names a file, [`Found::report`] appends one line of
//! `key=value` fields to it; the script runs one test at a time and joins the line
//! with the test's pass or fail. Without the variable it does nothing, so the same
//! tests run unchanged under `cargo test`. Shared by the persist tests too
//! (`#[path]`), hence no dependency beyond std.

/// What a scenario injected and what it found afterwards. `None` is "not part of
/// this scenario" (printed `-`), e.g. the database count of a journal-only run.
#[derive(Debug, Default, Clone)]
pub struct Found {
    /// Faults injected.
    pub injected: u64,
    /// Recoveries seen (resyncs, reconnects, restarts that resumed).
    pub recovered: u64,
    /// Records the engine accepted, so had to keep.
    pub expected: Option<u64>,
    /// Of those, found in the journal.
    pub journal: Option<u64>,
    /// Of those, found in PostgreSQL.
    pub database: Option<u64>,
    /// Records found more than once.
    pub duplicates: Option<u64>,
    /// One line on the outcome, e.g. `exit 4, kill switch tripped, 12 orders cancelled`.
    pub note: String,
}

impl Found {
    /// Appends this row to `$RELIABILITY_REPORT`, if set. Call it after the test's
    /// assertions, so a row only exists for a scenario that met its expectation.
    ///
    /// # Panics
    /// The report file cannot be written (the script then reports the test failed).
    pub fn report(&self) {
        let Some(path) = std::env::var_os("RELIABILITY_REPORT") else { return };
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let line = format!(
            "injected={} recovered={} expected={} journal={} database={} duplicates={} note={}\n",
            self.injected,
            self.recovered,
            opt(self.expected),
            opt(self.journal),
            opt(self.database),
            opt(self.duplicates),
            self.note.replace('\n', " "),
        );
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("RELIABILITY_REPORT");
        file.write_all(line.as_bytes()).expect("RELIABILITY_REPORT");
    }
}
