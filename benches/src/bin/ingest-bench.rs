//! How fast records reach PostgreSQL, and how fast the journal writes, each against
//! its peer in the same run.
//!
//! Database: the same trade rows loaded into the partitioned `market_trades` table by
//! `ours` (the production writer: binary COPY encoded straight into a reused buffer,
//! watermarks committed with each batch, each batch split among `--writers`
//! connections, by default the engine's two), `text_copy` (COPY in text format) and `generic_binary_copy` (the
//! driver's `BinaryCopyInWriter`, one `ToSql` per field); `ours_one_writer` is the
//! production writer through one connection, `ours_unix_socket` the default over the
//! cluster's Unix socket.
//! Rows/s is wall time; client µs/row is this process's CPU time (the server is
//! another process). Journal: `Journal::append` with an fsync per batch against a raw
//! `write` + `fdatasync`, a raw io-uring ring and glommio's direct I/O writing the
//! same bytes, per batch size (`benches::journal_io`).
//!
//! `cargo run --release -p benches --bin ingest-bench -- [--quick] [--rounds N] [--db-only | --journal-only] [--only METHOD]... [--json PATH]`
//! starts and removes its own throwaway PostgreSQL (scripts/pg.sh).

#![allow(clippy::disallowed_methods, reason = "a benchmark measures wall time")]

use std::{
    collections::BTreeMap,
    io::Write,
    process::Command,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use benches::journal_io;
use clap::Parser;
use engine::export::Timestamp;
use persist::{
    Fields, Origin, Record,
    pg::{DEFAULT_WRITERS, PgSink, connect, migrate},
    record::TradeFields,
};
use postgres::{binary_copy::BinaryCopyInWriter, types::Type};

#[derive(Debug, Parser)]
struct Args {
    /// Fewer rows and bytes: a smoke run.
    #[arg(long)]
    quick: bool,
    /// Interleaved rounds; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Time only the journal's write methods: no database is started.
    #[arg(long)]
    journal_only: bool,
    /// Time only the database methods: no journal table.
    #[arg(long, conflicts_with = "journal_only")]
    db_only: bool,
    /// Run only this database method (repeatable; default: all five). The ratio
    /// column needs `text_copy` among them.
    #[arg(long, value_parser = ["ours", "ours_one_writer", "ours_unix_socket", "text_copy", "generic_binary_copy"])]
    only: Vec<String>,
    /// Connections `ours` and `ours_unix_socket` split each batch among.
    #[arg(long, default_value_t = DEFAULT_WRITERS)]
    writers: usize,
    /// Write results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// A throwaway cluster, removed on drop.
struct Cluster {
    env: Vec<(String, String)>,
}

impl Cluster {
    fn start() -> Result<Self, String> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");
        let out = Command::new(script).arg("start").output().map_err(|e| format!("{script}: {e}"))?;
        if !out.status.success() {
            return Err(format!("pg.sh start failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let env: Vec<(String, String)> = text
            .trim()
            .trim_start_matches("export ")
            .split_whitespace()
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect();
        Ok(Self { env })
    }

    fn var(&self, key: &str) -> String {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// The same database over the cluster's Unix socket (no TCP stack).
    fn unix_url(&self) -> String {
        format!(
            "host={} port={} user={} password={} dbname={}",
            self.var("ENGINE_PG_DIR"),
            self.var("PGPORT"),
            self.var("PGUSER"),
            self.var("PGPASSWORD"),
            self.var("PGDATABASE")
        )
    }

    fn url(&self) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}",
            self.var("PGUSER"),
            self.var("PGPASSWORD"),
            self.var("PGHOST"),
            self.var("PGPORT"),
            self.var("PGDATABASE")
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");
        let _ = Command::new(script).arg("stop").env("ENGINE_PG_DIR", self.var("ENGINE_PG_DIR")).status();
    }
}

/// This process's CPU time so far: (user, kernel). The kernel part is mostly the
/// socket writes (on loopback the receive path runs in the sender's context too).
fn cpu_now() -> (Duration, Duration) {
    let seconds = |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1_000);
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| (seconds(u.user_time()), seconds(u.system_time())))
        .unwrap_or_default()
}

fn trades(n: u64) -> Vec<Record> {
    let ts0 = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (1..=n)
        .map(|seq| {
            let f = TradeFields {
                aggressor: (seq % 3) as u16,
                ts_exchange: (ts0 + seq * 1_000) as i64 - 7,
                trade_id: seq as i64,
                price: 6_000_000 + (seq % 997) as i64,
                qty: 1 + (seq % 5_000) as i64,
            };
            f.into_record(Origin { stream: 1, seq, ts: ts0 + seq * 1_000, venue: 1, instrument: (seq % 4) as u32 })
        })
        .collect()
}

/// The engine's batch (its shipper's and `engine journal load`'s), for every method.
const BATCH: usize = persist::pg::BATCH;
const COLUMNS: &str = "ts, ts_ns, stream, seq, venue, instrument, ts_exchange_ns, trade_id, price, qty, aggressor";

fn reset(client: &mut postgres::Client) -> Result<(), postgres::Error> {
    client.batch_execute("TRUNCATE market_trades; TRUNCATE stream_watermarks; TRUNCATE stream_ranges; CHECKPOINT")
}

fn open_sink(url: &str, writers: usize) -> Result<PgSink, String> {
    persist::pg::open_sink(Some(url), writers).map(|(sink, ..)| sink).map_err(|e| e.to_string())
}

fn ours(sink: &mut PgSink, rows: &[Record]) -> Result<(), String> {
    for chunk in rows.chunks(BATCH) {
        sink.write_batch(chunk).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn text_copy(client: &mut postgres::Client, rows: &[Record]) -> Result<(), String> {
    let mut line = Vec::with_capacity(BATCH * 120);
    for chunk in rows.chunks(BATCH) {
        line.clear();
        for r in chunk {
            let f = TradeFields::from_record(r).unwrap_or_default();
            let _ = writeln!(
                line,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                Timestamp(r.ts),
                r.ts,
                r.stream,
                r.seq,
                r.venue,
                r.instrument,
                f.ts_exchange,
                f.trade_id,
                f.price,
                f.qty,
                f.aggressor
            );
        }
        let mut tx = client.transaction().map_err(|e| e.to_string())?;
        let mut w = tx.copy_in(&format!("COPY market_trades ({COLUMNS}) FROM STDIN")).map_err(|e| e.to_string())?;
        w.write_all(&line).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| persist::pg::render(&e))?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn generic_binary_copy(client: &mut postgres::Client, rows: &[Record]) -> Result<(), String> {
    let types = [
        Type::TIMESTAMPTZ,
        Type::INT8,
        Type::INT2,
        Type::INT8,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT2,
    ];
    for chunk in rows.chunks(BATCH) {
        let mut tx = client.transaction().map_err(|e| e.to_string())?;
        let sink = tx
            .copy_in(&format!("COPY market_trades ({COLUMNS}) FROM STDIN (FORMAT binary)"))
            .map_err(|e| e.to_string())?;
        let mut w = BinaryCopyInWriter::new(sink, &types);
        for r in chunk {
            let f = TradeFields::from_record(r).unwrap_or_default();
            let ts = UNIX_EPOCH + Duration::from_nanos(r.ts / 1_000 * 1_000);
            let (ts_ns, stream, seq, venue, instrument) =
                (r.ts as i64, r.stream as i16, r.seq as i64, r.venue as i16, r.instrument as i32);
            let aggressor = f.aggressor as i16;
            w.write(&[
                &ts,
                &ts_ns,
                &stream,
                &seq,
                &venue,
                &instrument,
                &f.ts_exchange,
                &f.trade_id,
                &f.price,
                &f.qty,
                &aggressor,
            ])
            .map_err(|e| e.to_string())?;
        }
        w.finish().map_err(|e| persist::pg::render(&e))?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

type Method = fn(Option<&mut PgSink>, &mut postgres::Client, &[Record]) -> Result<(), String>;

/// Times every way of appending durably (`benches::journal_io`) at each batch size,
/// rotating which goes first each round, and prints MB/s and ratios to the raw
/// `write` + `fdatasync` floor (medians of per-round ratios).
fn journal_table(total: usize, rounds: usize) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    println!(
        "\njournal append (durable every batch), {} MiB per size, MB/s and ratio to raw write + fdatasync",
        total >> 20
    );
    // A host may forbid io_uring (a container's seccomp filter, say): such a method
    // is reported as unavailable, with the reason, rather than failing the run.
    let mut methods = Vec::new();
    for m in journal_io::Method::ALL {
        match m.unavailable() {
            Some(why) => println!("{}: unavailable on this host ({why})", m.name()),
            None => methods.push(m),
        }
    }
    print!("{:>8}", "batch");
    for m in &methods {
        print!(" {:>20}", m.name());
    }
    println!();
    let mut table = serde_json::Map::new();
    for batch_bytes in [4 << 10, 64 << 10, 1 << 20, 4 << 20] {
        let batch = trades((batch_bytes / persist::RECORD_BYTES).max(1) as u64);
        let batches = (total / batch_bytes).max(4);
        let mut rates: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut ratios: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for round in 0..rounds {
            let mut order = methods.clone();
            order.rotate_left(round % methods.len());
            let mut this_round = BTreeMap::new();
            for m in order {
                this_round.insert(m.name(), m.rate_mb_s(&batch, batches)?);
            }
            let raw = this_round.get("raw_write_fdatasync").copied().unwrap_or(f64::NAN);
            for (name, rate) in this_round {
                rates.entry(name).or_default().push(rate);
                ratios.entry(name).or_default().push(rate / raw);
            }
        }
        print!("{batch_bytes:>8}");
        let mut row = serde_json::Map::new();
        for m in journal_io::Method::ALL {
            if !methods.contains(&m) {
                row.insert(format!("{}_mb_s", m.name()), serde_json::Value::Null);
                continue;
            }
            let rate = median(rates.remove(m.name()).unwrap_or_default());
            let ratio = median(ratios.remove(m.name()).unwrap_or_default());
            print!(" {rate:>12.1} ({ratio:>4.2}x)");
            row.insert(format!("{}_mb_s", m.name()), serde_json::json!(rate));
        }
        println!();
        table.insert(batch_bytes.to_string(), serde_json::Value::Object(row));
    }
    Ok(table)
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let mut json = serde_json::Map::new();
    if !args.journal_only {
        let (methods, mode) = database_table(&args)?;
        json.insert("methods".into(), serde_json::Value::Object(methods));
        json.insert("schema_mode".into(), mode.into());
    }
    let total = if args.quick { 16 << 20 } else { 128 << 20 };
    if !args.db_only {
        json.insert("journal".into(), serde_json::Value::Object(journal_table(total, args.rounds.max(2))?));
    }
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&json).map_err(|e| e.to_string())? + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Loads the same rows by every database method, `args.rounds` times in rotating
/// order, prints the table and returns it with the schema mode in use.
fn database_table(args: &Args) -> Result<(serde_json::Map<String, serde_json::Value>, &'static str), String> {
    let n: u64 = if args.quick { 200_000 } else { 2_000_000 };
    let cluster = Cluster::start()?;
    let url = cluster.url();
    let unix_url = cluster.unix_url();
    let mut client = connect(Some(&url)).map_err(|e| e.to_string())?;
    let (mode, _) = migrate(&mut client).map_err(|e| e.to_string())?;
    eprintln!("PostgreSQL schema mode: {}", mode.name());
    let rows = trades(n);
    let methods: [(&str, Method); 5] = [
        ("ours", |sink, _, rows| sink.ok_or_else(|| "no sink".to_owned()).and_then(|s| ours(s, rows))),
        ("ours_one_writer", |sink, _, rows| sink.ok_or_else(|| "no sink".to_owned()).and_then(|s| ours(s, rows))),
        ("ours_unix_socket", |sink, _, rows| sink.ok_or_else(|| "no sink".to_owned()).and_then(|s| ours(s, rows))),
        ("text_copy", |_, c, rows| text_copy(c, rows)),
        ("generic_binary_copy", |_, c, rows| generic_binary_copy(c, rows)),
    ];
    let mut results: BTreeMap<&str, Vec<(f64, f64, f64, f64)>> = BTreeMap::new();
    for round in 0..args.rounds {
        // Rotate the order each round so no method always runs first after the reset.
        let mut order = methods;
        order.rotate_left(round % methods.len());
        for (name, method) in order {
            if !args.only.is_empty() && !args.only.iter().any(|m| m == name) {
                continue;
            }
            reset(&mut client).map_err(|e| persist::pg::render(&e))?;
            // Connecting (SCRAM authentication) is not part of ingest: done before the clock.
            let mut sink = match name {
                "ours" => Some(open_sink(&url, args.writers)?),
                "ours_one_writer" => Some(open_sink(&url, 1)?),
                "ours_unix_socket" => Some(open_sink(&unix_url, args.writers)?),
                _ => None,
            };
            let (wall, (user, kernel)) = (Instant::now(), cpu_now());
            method(sink.as_mut(), &mut client, &rows)?;
            let (user_end, kernel_end) = cpu_now();
            let (user, kernel) = ((user_end - user).as_secs_f64(), (kernel_end - kernel).as_secs_f64());
            let (wall, cpu) = (wall.elapsed().as_secs_f64(), user + kernel);
            let stored: i64 =
                client.query_one("SELECT count(*) FROM market_trades", &[]).map_err(|e| e.to_string())?.get(0);
            if stored as u64 != n {
                return Err(format!("{name}: {stored} rows stored, {n} sent"));
            }
            let (rows_s, us_row) = (n as f64 / wall, cpu * 1e6 / n as f64);
            let (user_us_row, kernel_us_row) = (user * 1e6 / n as f64, kernel * 1e6 / n as f64);
            eprintln!(
                "round {round} {name:<20} {rows_s:>12.0} rows/s {us_row:>8.3} client µs/row \
                 ({user_us_row:.3} user, {kernel_us_row:.3} kernel)"
            );
            results.entry(name).or_default().push((rows_s, us_row, user_us_row, kernel_us_row));
        }
    }
    let peer = median(results.get("text_copy").map(|v| v.iter().map(|r| r.0).collect()).unwrap_or_default());
    println!("{n} trade rows into the partitioned market_trades, median of {} rounds", args.rounds);
    println!(
        "{:<20} {:>12} {:>16} {:>8} {:>8} {:>12}",
        "method", "rows/s", "client µs/row", "user", "kernel", "vs text"
    );
    let mut methods_json = serde_json::Map::new();
    for (name, _) in methods {
        let Some(r) = results.get(name).cloned() else { continue };
        let rows_s = median(r.iter().map(|x| x.0).collect());
        let us = median(r.iter().map(|x| x.1).collect());
        let user = median(r.iter().map(|x| x.2).collect());
        let kernel = median(r.iter().map(|x| x.3).collect());
        println!("{name:<20} {rows_s:>12.0} {us:>16.3} {user:>8.3} {kernel:>8.3} {:>11.2}x", rows_s / peer);
        methods_json.insert(
            name.into(),
            serde_json::json!({
                "rows_s": rows_s,
                "client_us_per_row": us,
                "client_user_us_per_row": user,
                "client_kernel_us_per_row": kernel,
            }),
        );
    }
    Ok((methods_json, mode.name()))
}
