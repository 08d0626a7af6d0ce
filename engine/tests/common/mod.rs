//! Helpers shared by the engine's integration tests: running the `engine` binary,
//! and a counting global allocator for the zero-allocation tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod counting;

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

/// Starts `engine sim` with `args` (and whatever `command` already holds, such as
/// credentials) and returns it with the URL its first line announces.
pub fn start_sim(mut command: Command, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command
        .arg("sim")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("sim said: {line}")).to_owned();
    (child, url)
}
