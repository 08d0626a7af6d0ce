//! Helpers shared by the engine's integration tests: running the `engine` binary,
//! and a counting global allocator for the zero-allocation tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod counting;
/// The TLS tests' throwaway CA and server certificate (the feeds tests' own).
#[path = "../../../feeds/tests/common/pki.rs"]
pub mod pki;
pub mod report;

use std::process::Command;

/// Runs `engine ARGS`: (exit code, stdout, stderr).
pub fn engine(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_engine")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `engine run --quiet --json PATH ARGS`: (exit code, the JSON summary or
/// `Null` if none was written, stderr).
pub fn run(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["run", "--quiet", "--json", json.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = std::fs::read(&json).map(|b| serde_json::from_slice(&b).unwrap()).unwrap_or_default();
    (out.status.code(), summary, stderr)
}

/// Orders whose last journaled state is not final (client id, state code): what a
/// run left hanging. Final: denied, rejected, filled, cancelled, expired.
pub fn unfinished_orders(records: &[persist::Record]) -> Vec<(i64, u16)> {
    use engine::oms::OrderState as S;
    let mut last = std::collections::BTreeMap::new();
    for r in records.iter().filter(|r| r.kind() == Some(persist::RecordKind::Order)) {
        last.insert(r.fields[0], r.code);
    }
    let done = [S::Denied, S::Rejected, S::Filled, S::Canceled, S::Expired].map(|s| s as u16);
    last.into_iter().filter(|(_, state)| !done.contains(state)).collect()
}

/// A fresh test PKI written into `dir` as PEM files: (CA, server certificate, its
/// key) paths, for `engine run --tls-ca` and `engine sim --tls-cert --tls-key`.
pub fn pki_files(dir: &std::path::Path) -> (String, String, String) {
    let pki = pki::test_pki();
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    (file("ca.pem", &pki.ca), file("cert.pem", &pki.cert), file("key.pem", &pki.key))
}

/// A new, empty database `name` on the test cluster, and its URL. The URL carries no
/// password (it comes from PGPASSWORD), as an operator's command line should not.
pub fn fresh_database(name: &str) -> String {
    assert!(std::env::var_os("PGHOST").is_some(), "needs the test cluster: run scripts/test.sh");
    let mut admin = persist::pg::connect(None).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let var = |k: &str| std::env::var(k).unwrap();
    format!("postgres://{}@{}:{}/{name}", var("PGUSER"), var("PGHOST"), var("PGPORT"))
}

/// Held by a test while it runs a whole engine against a simulator: the tests of
/// one binary run in parallel, and several engines and simulators at once starve
/// each other on a 2-core host until their timing-based expectations fail (an
/// engine that made 40 orders in 3 s instead of thousands, in CI).
pub fn one_engine_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts `engine sim` with `args` (and whatever `command` already holds, such as
/// credentials) and returns it with the URL its first line announces.
pub fn start_sim(command: Command, args: &[&str]) -> (std::process::Child, String) {
    start_sim_logging(command, args, std::process::Stdio::null())
}

/// [`start_sim`], its stderr going to `stderr`.
pub fn start_sim_logging(
    mut command: Command,
    args: &[&str],
    stderr: impl Into<std::process::Stdio>,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command.arg("sim").args(args).stdout(std::process::Stdio::piped()).stderr(stderr).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("sim said: {line}")).to_owned();
    (child, url)
}

/// A journal's records and, of them, how many repeat a (stream, sequence) already
/// seen: the journal columns of a reliability report row.
pub fn journal_counts(dir: &std::path::Path) -> (u64, u64) {
    let (records, _) = persist::journal::JournalReader::open(dir).unwrap().read_all().unwrap();
    let mut seen = std::collections::HashSet::new();
    let repeated = records.iter().filter(|r| !seen.insert((r.stream, r.seq))).count();
    (records.len() as u64, repeated as u64)
}

/// A report row for a run that journaled into `dir`: `expected` is what the run says
/// it journaled, checked against what the journal holds.
pub fn journaled_row(
    dir: &std::path::Path,
    summary: &serde_json::Value,
    injected: u64,
    recovered: u64,
) -> report::Found {
    let (found, repeated) = journal_counts(dir);
    report::Found {
        injected,
        recovered,
        expected: summary["journaled"].as_u64(),
        journal: Some(found),
        duplicates: Some(repeated),
        ..report::Found::default()
    }
}

/// Per stream: (records, distinct sequences, checksum), the checksum an XOR over
/// records of `seq × 1000003 ^ ts_ns`, which SQL computes the same way.
pub type Streams = std::collections::BTreeMap<i64, (i64, i64, i64)>;

/// The journal's [`Streams`] and how many records repeat a sequence; asserts each
/// stream is gapless from 1.
pub fn journal_streams(dir: &std::path::Path) -> (Streams, u64) {
    let (records, _) = persist::journal::JournalReader::open(dir).unwrap().read_all().unwrap();
    let mut seqs: std::collections::BTreeMap<i64, Vec<u64>> = std::collections::BTreeMap::new();
    let mut out = Streams::new();
    for r in &records {
        let e = out.entry(i64::from(r.stream)).or_default();
        e.0 += 1;
        e.2 ^= (r.seq as i64).wrapping_mul(1_000_003) ^ r.ts as i64;
        seqs.entry(i64::from(r.stream)).or_default().push(r.seq);
    }
    let mut repeated = 0;
    for (stream, mut s) in seqs {
        s.sort_unstable();
        let n = s.len();
        s.dedup();
        repeated += (n - s.len()) as u64;
        if let Some(e) = out.get_mut(&stream) {
            e.1 = s.len() as i64;
        }
        // Gapless: 1, 2, 3, ... across every restart.
        assert_eq!(s.first().copied(), Some(1), "stream {stream} starts at 1");
        assert_eq!(s.last().copied(), Some(s.len() as u64), "stream {stream} has a gap");
    }
    (out, repeated)
}

/// The database's [`Streams`], over every event table.
pub fn database_streams(url: &str) -> Streams {
    let tables = ["market_trades", "book_tops", "order_events", "fills", "position_snapshots", "risk_events"];
    let union = tables.map(|t| format!("SELECT stream, seq, ts_ns FROM {t}")).join(" UNION ALL ");
    let sql = format!(
        "SELECT stream::bigint, count(*), count(DISTINCT seq), \
         coalesce(bit_xor((seq * 1000003) # ts_ns), 0) FROM ({union}) u GROUP BY stream"
    );
    let mut db = persist::pg::connect(Some(url)).unwrap();
    db.query(&sql, &[]).unwrap().iter().map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3)))).collect()
}
