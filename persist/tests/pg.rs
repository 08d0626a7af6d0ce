//! The PostgreSQL sink against a real server: exact round trips of every record
//! kind, native partitioning, idempotent batches, CHECK constraints, a loader killed
//! with SIGKILL at random points, and connection errors that never show a password.

mod pg_common;
/// The reliability report's row (scripts/reliability.sh), shared with the engine's tests.
#[path = "../../engine/tests/common/report.rs"]
mod report;

use std::process::Command;

use persist::{
    Fields, Origin, RecordKind,
    journal::{FsyncPolicy, Journal, JournalOptions, JournalReader},
    pg::{LoadReport, PgError, connect, load_journal},
    record::{FillFields, OrderFields, PositionFields, TradeFields},
};
use pg_common::{fresh_database, records, sink, table_counts};

const TS0: u64 = 1_795_000_000_123_456_789;

#[test]
fn every_kind_round_trips_exactly_into_daily_partitions() {
    let url = fresh_database("pg_round_trip");
    let mut s = sink(&url);
    let batch = records(1, 50, TS0);
    assert_eq!(s.write_batch(&batch).unwrap(), 300);
    let c = s.client();
    let trade = TradeFields::from_record(&batch[6]).unwrap();
    let row = c
        .query_one(
            "SELECT ts_ns, ts_exchange_ns, trade_id, price, qty, aggressor, instrument, (extract(epoch FROM ts) * 1e6)::bigint \
             FROM market_trades WHERE seq = $1",
            &[&(batch[6].seq as i64)],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), batch[6].ts as i64);
    assert_eq!(
        (row.get::<_, i64>(1), row.get::<_, i64>(2), row.get::<_, i64>(3), row.get::<_, i64>(4)),
        (trade.ts_exchange, trade.trade_id, trade.price, trade.qty)
    );
    assert_eq!((row.get::<_, i16>(5), row.get::<_, i32>(6)), (trade.aggressor as i16, 1));
    assert_eq!(row.get::<_, i64>(7), (batch[6].ts / 1_000) as i64, "ts is the same instant in microseconds");
    let fill = FillFields::from_record(&batch[9]).unwrap();
    let row = c
        .query_one(
            "SELECT client_id, venue_trade_id, side, price, qty, fee, liquidity FROM fills WHERE seq = $1",
            &[&(batch[9].seq as i64)],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1), row.get::<_, i16>(2), row.get::<_, i64>(3)),
        (fill.client_id, fill.venue_trade_id, fill.side as i16, fill.price)
    );
    assert_eq!(
        (row.get::<_, i64>(4), row.get::<_, i64>(5), row.get::<_, i16>(6)),
        (fill.qty, fill.fee, fill.liquidity as i16)
    );
    let row = c.query_one("SELECT realised, unrealised FROM position_snapshots WHERE seq = 5", &[]).unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (i64::MIN, i64::MAX), "extremes survive");
    // Current positions: the latest snapshot per instrument.
    let n: i64 = c.query_one("SELECT count(*) FROM positions", &[]).unwrap().get(0);
    assert_eq!(n, 3);
    // Native mode: rows landed in the day's partition, not the default one.
    let day: i64 = c.query_one("SELECT count(*) FROM market_trades_p20261118", &[]).unwrap().get(0);
    let default: i64 = c.query_one("SELECT count(*) FROM market_trades_default", &[]).unwrap().get(0);
    assert_eq!((day, default), (50, 0));
    let mode: String = c.query_one("SELECT DISTINCT mode FROM schema_migrations", &[]).unwrap().get(0);
    assert_eq!(mode, "native-partitioning");
    let (counts, _, distinct) = table_counts(&mut s);
    assert!(counts.iter().all(|(_, n)| *n == 50), "{counts:?}");
    assert_eq!(distinct, 300);
}

#[test]
fn a_batch_written_twice_is_stored_once_and_migrations_run_once() {
    let url = fresh_database("pg_idempotent");
    let mut s = sink(&url);
    let batch = records(1, 20, TS0);
    assert_eq!(s.write_batch(&batch).unwrap(), 120);
    assert_eq!(s.write_batch(&batch).unwrap(), 0);
    assert_eq!(s.write_batch(&batch[60..]).unwrap(), 0);
    let more = records(121, 5, TS0 + 1_000_000);
    assert_eq!(s.write_batch(&[&batch[..], &more[..]].concat()).unwrap(), 30);
    drop(s);
    let mut s = sink(&url); // migrate again: a no-op
    assert_eq!(s.watermark(1), 150);
    let (_, sum, distinct) = table_counts(&mut s);
    assert_eq!((sum, distinct), ((1..=150).sum::<i64>(), 150));
}

/// One batch holding several streams and days, the days alternating among ones
/// with no partition yet: each stream's watermark moves on its own, a stream with
/// nothing new keeps its stored watermark, and every row lands in its own day's
/// partition, none in the default one.
#[test]
fn a_batch_of_several_streams_and_days_lands_in_each_days_partition() {
    const DAY_NS: u64 = 86_400_000_000_000;
    let url = fresh_database("pg_streams_days");
    let mut s = sink(&url);
    let on_stream = |mut rs: Vec<persist::Record>, stream: u16| {
        rs.iter_mut().for_each(|r| r.stream = stream);
        rs
    };
    let old = on_stream(records(1, 4, TS0), 4);
    assert_eq!(s.write_batch(&old).unwrap(), 24);
    let batch = [
        on_stream(records(1, 5, TS0 + 2 * DAY_NS), 3),
        on_stream(records(1, 10, TS0 + 3 * DAY_NS), 2),
        old,
        records(1, 5, TS0 + 2 * DAY_NS),
    ]
    .concat();
    assert_eq!(s.write_batch(&batch).unwrap(), 30 + 60 + 30, "stream 4's records were all there");
    drop(s);
    let mut s = sink(&url); // the watermarks as the database holds them
    let marks = [1, 2, 3, 4].map(|stream| s.watermark(stream));
    assert_eq!(marks, [30, 60, 30, 24]);
    let c = s.client();
    let count = |c: &mut postgres::Client, table: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0)
    };
    for table in ["market_trades", "fills", "risk_events"] {
        let days = [18, 20, 21].map(|day| count(c, &format!("{table}_p202611{day}")));
        assert_eq!(days, [4, 10, 10], "{table}");
        assert_eq!(count(c, &format!("{table}_default")), 0, "{table}");
    }
}

/// A day's partition is written with no index (a BRIN index kept row by row was a
/// fifth of the server's COPY time) and gets its BRIN index once the writer makes the
/// next day's partition; a late row for a closed day still lands in it, and rows for
/// a day the default partition already holds go there, not to a new partition.
#[test]
fn a_day_is_indexed_once_the_next_one_starts_and_late_rows_still_land() {
    const DAY_NS: u64 = 86_400_000_000_000;
    let url = fresh_database("pg_closed_days");
    let mut s = sink(&url);
    assert_eq!(s.write_batch(&records(1, 2, TS0)).unwrap(), 12);
    let c = s.client();
    assert_eq!(indexes(c, "market_trades_p20261118"), Vec::<String>::new(), "the live day has no index");
    // An operator's own index does not count as the day's time index.
    c.batch_execute("CREATE INDEX my_instrument_idx ON market_trades_p20261118 (instrument)").unwrap();
    assert_eq!(s.write_batch(&records(13, 2, TS0 + DAY_NS)).unwrap(), 12);
    let c = s.client();
    assert_eq!(indexes(c, "market_trades_p20261118"), vec!["market_trades_p20261118_ts_brin", "my_instrument_idx"]);
    assert_eq!(indexes(c, "fills_p20261118"), vec!["fills_p20261118_ts_brin"]);
    assert_eq!(indexes(c, "market_trades_p20261119"), Vec::<String>::new());
    // A late batch for the closed day, then rows for a day already in the default
    // partition (put there by hand, as an engine older than daily partitions would).
    assert_eq!(s.write_batch(&records(25, 1, TS0 + 5_000)).unwrap(), 6);
    let c = s.client();
    c.batch_execute(
        "INSERT INTO market_trades_default SELECT ts + interval '5 days', ts_ns + 5 * 86400000000000, 9, seq, \
         venue, instrument, ts_exchange_ns, trade_id, price, qty, aggressor FROM market_trades WHERE seq = 1",
    )
    .unwrap();
    assert_eq!(s.write_batch(&records(31, 2, TS0 + 5 * DAY_NS)).unwrap(), 12);
    let c = s.client();
    let count = |c: &mut postgres::Client, table: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0)
    };
    assert_eq!(count(c, "market_trades_p20261118"), 3, "two, then the late one");
    assert_eq!(count(c, "market_trades_default"), 3, "the hand-made row and the two of its day");
    assert_eq!(count(c, "fills_p20261123"), 2, "other kinds got the day's partition");
}

/// The writer copies straight into a day's partition only when it is one of the
/// table's and holds exactly that UTC day. A day made by an older writer in a time
/// zone with daylight saving (23 hours here) and a partition detached for archiving
/// take nothing directly, nor does the day after a 25-hour day (it would overlap):
/// their rows go through the parent, none is refused, and a database whose own time
/// zone has daylight saving makes 24-hour days.
#[test]
fn only_a_partition_holding_exactly_the_utc_day_takes_rows_directly() {
    const DAY_NS: u64 = 86_400_000_000_000;
    // 2027-03-28, the day London's clocks go forward, from 23:30 UTC.
    const SPRING: u64 = 1_806_192_000_000_000_000 + 23 * 3_600_000_000_000 + 1_800_000_000_000;
    let url = fresh_database("pg_day_bounds");
    let mut s = sink(&url);
    let name = s.client().query_one("SELECT current_database()", &[]).unwrap().get::<_, String>(0);
    s.client().batch_execute(&format!("ALTER DATABASE {name} SET TimeZone = 'Europe/London'")).unwrap();
    let mut s = sink(&url);
    let c = s.client();
    // As an older writer made it: a local "1 day" in London is 23 hours that day.
    london_day_as_an_older_writer_made_it(c, "2027-03-28");
    assert_eq!(s.write_batch(&records(1, 2, SPRING)).unwrap(), 12, "the last UTC hour fits no partition");
    let count = |c: &mut postgres::Client, table: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0)
    };
    let c = s.client();
    assert_eq!((count(c, "market_trades_p20270328"), count(c, "market_trades_default")), (0, 2));
    assert_eq!(count(c, "fills_p20270328"), 2, "a day this writer made holds all 24 hours");
    // A day's partition detached for archiving keeps what it had and takes no more.
    assert_eq!(s.write_batch(&records(13, 1, SPRING + 2 * DAY_NS)).unwrap(), 6);
    let c = s.client();
    c.batch_execute("ALTER TABLE market_trades DETACH PARTITION market_trades_p20270330").unwrap();
    assert_eq!(s.write_batch(&records(19, 1, SPRING + 2 * DAY_NS + 1_000)).unwrap(), 6);
    let c = s.client();
    assert_eq!(count(c, "market_trades_p20270330"), 1, "the detached table got nothing new");
    assert_eq!(count(c, "market_trades_default"), 3, "the new row went through the parent");
    assert_eq!(count(c, "market_trades"), 3, "the detached table's row left with it");
    // London's clocks go back on 2027-10-31: an older writer's "1 day" there is 25
    // hours and reaches into 2027-11-01, whose own partition cannot then be made.
    london_day_as_an_older_writer_made_it(c, "2027-10-31");
    const NOV_1_NOON: u64 = 1_825_070_400_000_000_000;
    assert_eq!(s.write_batch(&records(25, 1, NOV_1_NOON)).unwrap(), 6, "no overlap error fails the batch");
    let c = s.client();
    assert_eq!(count(c, "market_trades_default"), 4, "its rows went through the parent");
    assert_eq!(count(c, "fills_p20271101"), 1);
}

/// `orders` holds each order's latest event, written with the batch: a later batch
/// moves an order on, and an older event (a replay, or a slower stream) never moves
/// it back.
#[test]
fn the_orders_table_keeps_each_orders_latest_event() {
    let url = fresh_database("pg_orders");
    let mut s = sink(&url);
    let order = |stream, seq, ts, client_id, state, filled| {
        OrderFields { state, client_id, side: 2, price: 6_000_100, qty: 10, filled, order_type: 1 }
            .into_record(Origin { stream, seq, ts, venue: 3, instrument: 4 })
    };
    let first = [order(1, 1, TS0, 7, 1, 0), order(1, 2, TS0 + 10, 7, 3, 4), order(1, 3, TS0 + 20, 8, 1, 0)];
    assert_eq!(s.write_batch(&first).unwrap(), 3);
    let second = [order(1, 4, TS0 + 30, 8, 5, 0), order(1, 5, TS0 + 40, 7, 4, 10), order(2, 1, TS0 + 35, 7, 3, 6)];
    assert_eq!(s.write_batch(&second).unwrap(), 3);
    let rows: Vec<(i64, i16, i64, i64, i16)> = s
        .client()
        .query("SELECT client_id, state, filled, updated_ns, stream FROM orders ORDER BY client_id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let ts = |d: u64| (TS0 + d) as i64;
    assert_eq!(rows, vec![(7, 4, 10, ts(40), 1), (8, 5, 0, ts(30), 1)], "stream 2's older event did not win");
    let row = s
        .client()
        .query_one("SELECT venue, instrument, side, price, qty, order_type, seq FROM orders WHERE client_id = 7", &[])
        .unwrap();
    assert_eq!(
        (row.get::<_, i16>(0), row.get::<_, i32>(1), row.get::<_, i16>(2), row.get::<_, i64>(3)),
        (3, 4, 2, 6_000_100)
    );
    assert_eq!((row.get::<_, i64>(4), row.get::<_, i16>(5), row.get::<_, i64>(6)), (10, 1, 5));
    // In a batch of its own, a later sequence with an earlier engine time does not
    // win either: the database orders by time first, as the batch does.
    assert_eq!(s.write_batch(&[order(1, 6, TS0 + 25, 7, 3, 6)]).unwrap(), 1);
    let state: i16 = s.client().query_one("SELECT state FROM orders WHERE client_id = 7", &[]).unwrap().get(0);
    assert_eq!(state, 4);
    // A third stream replaying order 8's first event changes nothing.
    assert_eq!(s.write_batch(&[order(3, 1, TS0 + 20, 8, 1, 0)]).unwrap(), 1);
    let state: i16 = s.client().query_one("SELECT state FROM orders WHERE client_id = 8", &[]).unwrap().get(0);
    assert_eq!(state, 5);
}

/// A database made by schema version 1 (reason codes 0-13, order states 1-9) is
/// brought to the current version on the next start, step by step, once, keeping its
/// rows.
#[test]
fn a_version_1_database_is_migrated_forward_once() {
    let url = fresh_database("pg_upgrade");
    let mut s = sink(&url);
    assert_eq!(s.write_batch(&records(1, 5, TS0)).unwrap(), 30);
    // A later event for order 2: the backfill must keep it, not the first one.
    let later = OrderFields { state: 7, client_id: 2, side: 1, price: 6_000_002, qty: 10, filled: 10, order_type: 2 };
    assert_eq!(
        s.write_batch(&[later.into_record(Origin { stream: 1, seq: 31, ts: TS0 + 9_000, venue: 1, instrument: 2 })])
            .unwrap(),
        1
    );
    // Turn it back into what version 1 made.
    s.client()
        .batch_execute(
            "ALTER TABLE risk_events DROP CONSTRAINT risk_events_reason_check; \
             ALTER TABLE risk_events ADD CONSTRAINT risk_events_reason_check \
               CHECK (reason BETWEEN 0 AND 13 OR reason BETWEEN 100 AND 199); \
             ALTER TABLE order_events DROP CONSTRAINT order_events_state_check; \
             ALTER TABLE order_events ADD CONSTRAINT order_events_state_check CHECK (state BETWEEN 1 AND 9); \
             ALTER TABLE order_events DROP CONSTRAINT order_events_order_type_check; \
             ALTER TABLE order_events ADD CONSTRAINT order_events_order_type_check CHECK (order_type BETWEEN 1 AND 3); \
             DROP TABLE orders; \
             DROP TABLE stream_ranges; \
             ALTER TABLE positions DROP COLUMN as_of_seq; \
             DELETE FROM schema_migrations WHERE version > 1",
        )
        .unwrap();
    drop(s);
    let mut c = connect(Some(&url)).unwrap();
    assert_eq!(persist::pg::migrate(&mut c).unwrap(), (persist::pg::Mode::Native, true), "upgraded");
    assert_eq!(persist::pg::migrate(&mut c).unwrap(), (persist::pg::Mode::Native, false), "once");
    let versions: Vec<i32> = c
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 7], "each step recorded once");
    // Version 5: no time index on the parents; the days already written have one.
    assert_eq!(indexes(&mut c, "market_trades"), Vec::<String>::new());
    assert_eq!(indexes(&mut c, "market_trades_p20261118"), vec!["market_trades_p20261118_ts_brin"]);
    assert_eq!(indexes(&mut c, "market_trades_default"), vec!["market_trades_default_ts_brin"]);
    // Version 4's orders table is filled from the order events already stored.
    let backfilled: Vec<(i64, i16)> = c
        .query("SELECT client_id, state FROM orders ORDER BY client_id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(backfilled, vec![(0, 1), (1, 2), (2, 7), (3, 4), (4, 5)]);
    let check = constraint(&mut c, "risk_events", "risk_events_reason_check");
    assert!(check.contains("199") && !check.contains("13"), "{check}");
    let states = constraint(&mut c, "order_events", "order_events_state_check");
    assert!(states.contains("12"), "{states}");
    let types = constraint(&mut c, "order_events", "order_events_order_type_check");
    assert!(types.contains('7'), "{types}");
    let s = sink(&url);
    assert_eq!(s.watermark(1), 31, "rows kept");
}

/// Engines starting together against one fresh database: the migration runs once,
/// the others wait for it and find the schema current.
#[test]
fn concurrent_migrations_apply_once() {
    let url = fresh_database("pg_concurrent_migrate");
    let applied: Vec<bool> = std::thread::scope(|s| {
        let runs: Vec<_> =
            (0..4).map(|_| s.spawn(|| persist::pg::migrate(&mut connect(Some(&url)).unwrap()).unwrap().1)).collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(applied.iter().filter(|a| **a).count(), 1, "{applied:?}");
}

#[test]
fn a_row_breaking_a_check_constraint_fails_the_whole_batch_and_moves_no_watermark() {
    let url = fresh_database("pg_checks");
    let mut s = sink(&url);
    let mut batch = records(1, 3, TS0);
    let bad = TradeFields { aggressor: 1, ts_exchange: 0, trade_id: 1, price: 100, qty: 0 };
    batch.push(bad.into_record(Origin { stream: 1, seq: 19, ts: TS0, venue: 1, instrument: 0 }));
    let err = s.write_batch(&batch).unwrap_err();
    assert!(err.to_string().contains("market_trades_qty_check"), "{err}");
    assert!(err.is_permanent() && err.to_string().contains("SQLSTATE 23514"), "{err}");
    let mut s = sink(&url);
    assert_eq!(s.watermark(1), 0);
    let (counts, _, _) = table_counts(&mut s);
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
}

#[test]
fn connection_errors_are_clear_and_never_show_the_password() {
    pg_common::require_server();
    let port = std::env::var("PGPORT").unwrap();
    let url = format!("postgres://engine:hunter2-secret@127.0.0.1:{port}/engine");
    let err = connect(Some(&url)).err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, PgError::Connect { .. }), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(text.contains("engine@127.0.0.1"), "{text}");
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
    let err = connect(Some("postgres://engine:hunter2-secret@127.0.0.1:notaport/engine")).err().unwrap();
    assert!(matches!(err, PgError::BadUrl(_)) && !err.to_string().contains("hunter2"), "{err}");
    let err = connect(Some("postgres://engine:pw@127.0.0.1:1/engine")).err().unwrap();
    assert!(err.to_string().contains("cannot connect to PostgreSQL at engine@127.0.0.1:1/engine"), "{err}");
}

const CHILD_URL: &str = "PG_LOADER_CHILD_URL";
const CHILD_JOURNAL: &str = "PG_LOADER_CHILD_JOURNAL";

const CHILD_WRITERS: &str = "PG_LOADER_CHILD_WRITERS";

/// The child half of the kill tests: load the journal until done, in small batches
/// through one connection, or in batches split among CHILD_WRITERS connections.
#[test]
fn child_loader() {
    let (Some(url), Some(dir)) = (std::env::var_os(CHILD_URL), std::env::var_os(CHILD_JOURNAL)) else { return };
    let url = url.to_str().unwrap();
    let mut s = sink(url);
    let writers: usize = std::env::var(CHILD_WRITERS).map_or(1, |w| w.parse().unwrap());
    s.split_among(Some(url), writers);
    let batch = if writers == 1 { 997 } else { writers * persist::pg::PART_MIN };
    let reader = JournalReader::open(std::path::Path::new(&dir)).unwrap();
    load_journal(&mut s, &reader, batch).unwrap();
}

#[test]
fn a_loader_killed_at_random_points_resumes_to_exactly_once() {
    killed_loaders_resume_to_exactly_once("pg_kill", 1, |round| 150 + round * 97 % 200);
}

/// The same with each batch split among three connections: a kill can land between
/// the parts' commits, leaving some parts stored above the watermark.
#[test]
fn a_parallel_loader_killed_at_random_points_resumes_to_exactly_once() {
    killed_loaders_resume_to_exactly_once("pg_kill_parallel", 3, |round| 60 + round * 37 % 120);
}

fn killed_loaders_resume_to_exactly_once(name: &str, writers: usize, kill_after_ms: fn(u64) -> u64) {
    let url = fresh_database(name);
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) =
        Journal::open(dir.path(), JournalOptions { fsync: FsyncPolicy::Never, ..Default::default() }).unwrap();
    let all = records(1, 20_000, TS0);
    for chunk in all.chunks(4_000) {
        journal.append(chunk).unwrap();
    }
    drop(journal);
    let _ = sink(&url); // migrate once, before racing children
    let exe = std::env::current_exe().unwrap();
    let mut kills = 0;
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_loader", "--test-threads=1"])
            .env(CHILD_URL, &url)
            .env(CHILD_JOURNAL, dir.path())
            .env(CHILD_WRITERS, writers.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(kill_after_ms(round)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL, mid-transaction or between
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills > 0, "the loader finished before any kill: make the journal bigger");
    let mut s = sink(&url);
    let reader = JournalReader::open(dir.path()).unwrap();
    let report: LoadReport = load_journal(&mut s, &reader, 5_000).unwrap();
    assert_eq!(report.written + report.already_there, 120_000);
    let (counts, sum, distinct) = table_counts(&mut s);
    assert!(counts.iter().all(|(_, n)| *n == 20_000), "{counts:?}");
    assert_eq!(distinct, 120_000, "no duplicates");
    assert_eq!(sum, (1..=120_000i64).sum::<i64>(), "exactly the journal's records");
    assert_eq!(s.watermark(1), 120_000);
    let ranges: i64 = s.client().query_one("SELECT count(*) FROM stream_ranges", &[]).unwrap().get(0);
    assert_eq!(ranges, 0, "every stored range folded into the watermark");
    assert_eq!(load_journal(&mut s, &reader, 5_000).unwrap().written, 0, "a second load writes nothing");
    let _ = RecordKind::ALL;
    report::Found {
        injected: kills,
        recovered: kills,
        expected: Some(120_000),
        journal: Some(120_000),
        database: Some(distinct as u64),
        duplicates: Some(counts.iter().map(|(_, n)| *n as u64).sum::<u64>() - distinct as u64),
        note: if writers == 1 {
            "each restart resumed from the watermark stored with its rows".into()
        } else {
            format!("batches split among {writers} connections; each restart skipped the parts already stored")
        },
    }
    .report();
}

/// The stored ranges of stream 1 above its watermark.
fn stored_ranges(s: &mut persist::pg::PgSink) -> Vec<(i64, i64)> {
    let rows = s.client().query("SELECT first_seq, last_seq FROM stream_ranges ORDER BY first_seq", &[]).unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// A batch split among three connections stores every record once and leaves the
/// same current positions and orders as one transaction would.
#[test]
fn a_batch_split_among_connections_is_stored_once_like_one_transaction() {
    let batch = records(1, 10_000, TS0);
    let (one_url, split_url) = (fresh_database("pg_split_one"), fresh_database("pg_split_three"));
    let (mut one, mut split) = (sink(&one_url), sink(&split_url));
    split.split_among(Some(&split_url), 3);
    assert_eq!(one.write_batch(&batch).unwrap(), 60_000);
    assert_eq!(split.write_batch(&batch).unwrap(), 60_000);
    let report = split.report();
    assert_eq!((report.written, report.batches), (60_000, 1));
    let backends = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()";
    assert_eq!(split.client().query_one(backends, &[]).unwrap().get::<_, i64>(0), 3, "three connections wrote");
    let (counts, sum, distinct) = table_counts(&mut split);
    assert!(counts.iter().all(|(_, n)| *n == 10_000), "{counts:?}");
    assert_eq!((sum, distinct), ((1..=60_000i64).sum::<i64>(), 60_000));
    assert_eq!(split.watermark(1), 60_000);
    assert_eq!(stored_ranges(&mut split), vec![], "the parts' ranges folded into the watermark");
    let current = |s: &mut persist::pg::PgSink| {
        let q = "SELECT (SELECT string_agg(format('%s', p), ';' ORDER BY venue, instrument) FROM positions p),                  (SELECT md5(string_agg(format('%s', o), ';' ORDER BY client_id)) FROM orders o)";
        let row = s.client().query_one(q, &[]).unwrap();
        (row.get::<_, String>(0), row.get::<_, String>(1))
    };
    let (positions, orders) = current(&mut split);
    assert_eq!((positions.clone(), orders.clone()), current(&mut one));
    assert!(positions.contains("-9999"), "the last snapshot won: {positions}");
    assert_eq!(split.write_batch(&batch).unwrap(), 0, "written once");
}

/// One part of a split batch fails (a row breaking a CHECK) while the others commit:
/// what they stored is skipped by the next writer, even one that sees only part of
/// the journal, and folds into the watermark once the gap below it is filled.
#[test]
fn a_split_batch_whose_last_part_failed_is_completed_exactly_once() {
    let url = fresh_database("pg_split_failed");
    let good = records(1, 10_000, TS0);
    let mut bad = good.clone();
    let last = bad.iter_mut().rev().find(|r| r.kind() == Some(RecordKind::Trade)).unwrap();
    last.fields[2] = -1; // a trade's price: CHECK (price > 0)
    let mut s = sink(&url);
    s.split_among(Some(&url), 3);
    let err = s.write_batch(&bad).unwrap_err();
    assert!(err.to_string().contains("market_trades"), "{err}");
    assert_eq!(s.watermark(1), 0, "no watermark moves while a part is missing");
    assert_eq!(stored_ranges(&mut s), vec![(1, 20_000), (20_001, 40_000)], "the two parts that committed");
    let (_, _, stored) = table_counts(&mut s);
    assert_eq!(stored, 40_000);
    // A new writer (one connection) sees the parts' ranges as stored.
    let mut next = sink(&url);
    assert!(next.is_stored(1, 40_000) && !next.is_stored(1, 40_001));
    // It is given only the first 30,000 records: all stored, so it writes nothing
    // but folds the first range into the watermark.
    assert_eq!(next.write_batch(&good[..30_000]).unwrap(), 0);
    assert_eq!(next.watermark(1), 40_000);
    assert_eq!(stored_ranges(&mut next), vec![]);
    assert_eq!(next.report().already_there, 30_000);
    // Then everything: only the failed part's records are written.
    assert_eq!(next.write_batch(&good).unwrap(), 20_000);
    let (counts, sum, distinct) = table_counts(&mut next);
    assert!(counts.iter().all(|(_, n)| *n == 10_000), "{counts:?}");
    assert_eq!((sum, distinct), ((1..=60_000i64).sum::<i64>(), 60_000));
    assert_eq!(next.watermark(1), 60_000);
}

/// A writer that died after every part of its last batch committed but before
/// folding: the next load finds the whole journal stored, writes nothing, and
/// still moves the watermark to the journal's end.
#[test]
fn ranges_left_by_a_writer_that_died_before_folding_are_folded_by_the_next_load() {
    let url = fresh_database("pg_split_unfolded");
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) =
        Journal::open(dir.path(), JournalOptions { fsync: FsyncPolicy::Never, ..Default::default() }).unwrap();
    journal.append(&records(1, 5_000, TS0)).unwrap();
    drop(journal);
    let reader = JournalReader::open(dir.path()).unwrap();
    let mut s = sink(&url);
    s.split_among(Some(&url), 2);
    assert_eq!(load_journal(&mut s, &reader, 30_000).unwrap().written, 30_000);
    // Undo only the fold, as if the writer died between the parts' commits and it.
    s.client()
        .batch_execute(
            "DELETE FROM stream_watermarks; \
             INSERT INTO stream_ranges (stream, first_seq, last_seq) VALUES (1, 1, 15000), (1, 15001, 30000)",
        )
        .unwrap();
    let mut next = sink(&url);
    next.split_among(Some(&url), 2);
    assert_eq!(next.watermark(1), 0);
    assert!(next.is_stored(1, 1) && next.is_stored(1, 30_000) && !next.is_stored(1, 30_001));
    let report = load_journal(&mut next, &reader, 30_000).unwrap();
    assert_eq!((report.written, report.already_there), (0, 30_000));
    assert_eq!(next.watermark(1), 30_000);
    assert_eq!(stored_ranges(&mut next), vec![]);
    let (_, _, distinct) = table_counts(&mut next);
    assert_eq!(distinct, 30_000);
}

/// `n` trades of stream 1 from seq 1, one microsecond apart.
fn trades(n: u64) -> Vec<persist::Record> {
    (1..=n)
        .map(|seq| {
            let t = TradeFields { aggressor: 1, ts_exchange: 5, trade_id: seq as i64, price: 6_000_000, qty: 2 };
            t.into_record(Origin { stream: 1, seq, ts: TS0 + seq * 1_000, venue: 1, instrument: 1 })
        })
        .collect()
}

/// A part of a split batch still committing after its writer's first connection
/// (and with it the writer lock) is gone: the next loader waits for that part
/// before reading what is stored, so it never writes the part's records again.
/// Here another connection plays the part, its shared lock held open.
fn a_loader_waits_for_a_part_still_committing(name: &str, writers: usize) {
    use persist::pg::copy::{CopyBuf, copy_statement, encode};
    use std::io::Write;
    let url = fresh_database(name);
    let all = trades(40_000);
    // The day's partition made beforehand (by a record of another stream), so the
    // loader below can only be waiting for the part, not for the partition's DDL
    // behind the part's open COPY.
    let mut other = all[0];
    other.stream = 2;
    other.seq = 1;
    assert_eq!(sink(&url).write_batch(&[other]).unwrap(), 1);
    let mut part = connect(Some(&url)).unwrap();
    let mut tx = part.transaction().unwrap();
    tx.batch_execute(&format!("SELECT pg_advisory_xact_lock_shared({})", persist::pg::PARTS_LOCK)).unwrap();
    let mut buf = CopyBuf::new();
    buf.begin();
    for r in &all[..20_000] {
        encode(r, RecordKind::Trade, &mut buf);
    }
    buf.end();
    let mut copy = tx.copy_in(&copy_statement(RecordKind::Trade, "market_trades")).unwrap();
    copy.write_all(buf.pending()).unwrap();
    copy.finish().unwrap();
    tx.batch_execute("INSERT INTO stream_ranges (stream, first_seq, last_seq) VALUES (1, 1, 20000)").unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let loader = std::thread::spawn({
        let (url, all) = (url.clone(), all.clone());
        move || {
            let mut s = sink(&url);
            s.split_among(Some(&url), writers);
            let written = s.write_batch(&all).unwrap();
            done.send(()).unwrap();
            written
        }
    });
    let waited = finished.recv_timeout(std::time::Duration::from_millis(500)).is_err();
    tx.commit().unwrap();
    let written = loader.join().unwrap();
    assert!(waited, "the loader went ahead while a part was still committing");
    assert_eq!(written, 20_000, "only the records the part did not store");
    let mut s = sink(&url);
    let (counts, sum, distinct) = table_counts(&mut s);
    assert_eq!(counts.first().map(|(_, n)| *n), Some(40_001), "{counts:?}");
    assert_eq!((sum, distinct), ((1..=40_000i64).sum::<i64>() + 1, 40_001));
    assert_eq!(s.watermark(1), 40_000);
}

#[test]
fn a_loader_through_one_connection_waits_for_a_part_still_committing() {
    a_loader_waits_for_a_part_still_committing("pg_part_inflight_one", 1);
}

#[test]
fn a_split_loader_waits_for_a_part_still_committing() {
    a_loader_waits_for_a_part_still_committing("pg_part_inflight_split", 2);
}

/// Two position snapshots of one instrument at the same time (one drain's fills),
/// in different parts of a split batch: the later in the journal is the current
/// position, whichever part commits last. (Without the rule that only the part
/// holding a key's latest snapshot writes it, this fails about half the rounds.)
#[test]
fn the_later_of_two_same_time_snapshots_in_different_parts_is_the_position() {
    let url = fresh_database("pg_split_positions");
    let mut s = sink(&url);
    s.split_among(Some(&url), 3);
    for round in 0..6u64 {
        let first = 1 + round * 30_000;
        let mut batch: Vec<persist::Record> = trades(30_000)
            .into_iter()
            .map(|mut r| {
                r.seq += first - 1;
                r
            })
            .collect();
        let ts = TS0 + (first + 5_000) * 1_000;
        for (at, net) in [(2_000usize, -(round as i64) - 1), (28_000, round as i64 + 1)] {
            let o = Origin { stream: 1, seq: batch[at].seq, ts, venue: 1, instrument: 1 };
            let p = PositionFields {
                flags: 0,
                net_qty: net,
                avg_price: 6_000_000,
                realised: 0,
                unrealised: 0,
                fees: 0,
                mark: 6_000_000,
            };
            batch[at] = p.into_record(o);
        }
        assert_eq!(s.write_batch(&batch).unwrap(), 30_000);
        let net: i64 = s.client().query_one("SELECT net_qty FROM positions", &[]).unwrap().get(0);
        assert_eq!(net, round as i64 + 1, "round {round}: the earlier snapshot won");
    }
}

/// Two same-time position snapshots (one drain's), the older in a part that failed
/// and the newer in one that committed: written again, the older part does not
/// overwrite the newer position (rows move forward in time, then sequence).
#[test]
fn a_failed_part_written_again_does_not_undo_a_later_parts_position() {
    let url = fresh_database("pg_split_retry_position");
    let mut s = sink(&url);
    s.split_among(Some(&url), 2);
    let mut good = trades(30_000);
    let ts = TS0 + 5_000_000;
    for (at, net) in [(5_000usize, -1), (20_000, 1)] {
        let o = Origin { stream: 1, seq: good[at].seq, ts, venue: 1, instrument: 1 };
        let p = PositionFields { flags: 0, net_qty: net, avg_price: 1, realised: 0, unrealised: 0, fees: 0, mark: 1 };
        good[at] = p.into_record(o);
    }
    let mut bad = good.clone();
    bad[6_000].fields[2] = -1; // a trade's price, in the first part: CHECK (price > 0)
    assert!(s.write_batch(&bad).is_err());
    assert_eq!(stored_ranges(&mut s), vec![(15_001, 30_000)], "the second part committed");
    let net = |s: &mut persist::pg::PgSink| -> i64 {
        s.client().query_one("SELECT net_qty FROM positions", &[]).unwrap().get(0)
    };
    assert_eq!(net(&mut s), 1);
    assert_eq!(s.write_batch(&good).unwrap(), 15_000, "the first part, written again");
    assert_eq!(net(&mut s), 1, "the older snapshot did not win the tie");
    assert_eq!(s.watermark(1), 30_000);
}

/// Extra writer connections that cannot be opened cost only speed: the batch is
/// written through the sink's own connection.
#[test]
fn a_writer_connection_that_cannot_open_leaves_one_connection_writing() {
    let url = fresh_database("pg_split_unreachable");
    let mut s = sink(&url);
    s.split_among(Some("postgres://engine:nothing@127.0.0.1:1/nowhere"), 3);
    assert_eq!(s.write_batch(&records(1, 5_000, TS0)).unwrap(), 30_000);
    assert_eq!(s.watermark(1), 30_000);
    assert_eq!(stored_ranges(&mut s), vec![], "one transaction: no ranges");
}

#[test]
fn the_shipper_never_gets_ahead_of_what_the_journal_has_synced() {
    use persist::pg::{ShipStatus, Shipper};
    let url = fresh_database("pg_durable");
    let dir = tempfile::tempdir().unwrap();
    let every_hour = FsyncPolicy::Interval(std::time::Duration::from_secs(3_600));
    let (mut journal, _) =
        Journal::open(dir.path(), JournalOptions { fsync: every_hour, ..Default::default() }).unwrap();
    let mut shipper = Shipper::new(Some(url.clone()), dir.path().to_path_buf());
    #[allow(clippy::disallowed_methods, reason = "the shipper's backoff clock")]
    let now = std::time::Instant::now;
    journal.append(&records(1, 100, TS0)).unwrap();
    assert_eq!(shipper.poll(now(), Some(journal.durable_position())), ShipStatus::Shipped(0), "not synced yet");
    journal.sync().unwrap();
    assert_eq!(shipper.poll(now(), Some(journal.durable_position())), ShipStatus::Shipped(600));
    journal.append(&records(601, 10, TS0)).unwrap();
    assert_eq!(shipper.poll(now(), Some(journal.durable_position())), ShipStatus::Shipped(0));
    journal.sync().unwrap();
    assert_eq!(shipper.poll(now(), Some(journal.durable_position())), ShipStatus::Shipped(60));
}

#[test]
fn rows_whose_commit_acknowledgement_was_lost_count_as_shipped() {
    use persist::pg::{ShipStatus, Shipper};
    let url = fresh_database("pg_lost_ack");
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let mut shipper = Shipper::new(Some(url.clone()), dir.path().to_path_buf());
    #[allow(clippy::disallowed_methods, reason = "the shipper's backoff clock")]
    let now = std::time::Instant::now;
    journal.append(&records(1, 100, TS0)).unwrap();
    journal.sync().unwrap();
    assert_eq!(shipper.poll(now(), Some(journal.durable_position())), ShipStatus::Shipped(600));
    // The shipper's next commit goes through, but the database dies before the
    // shipper hears of it: the rows are in, its connection is gone.
    journal.append(&records(601, 50, TS0)).unwrap();
    journal.sync().unwrap();
    let mut other = sink(&url);
    let reader = JournalReader::open(dir.path()).unwrap();
    assert_eq!(load_journal(&mut other, &reader, 1_000).unwrap().written, 300);
    let killed = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                  WHERE datname = current_database() AND pid <> pg_backend_pid()";
    assert_eq!(other.client().query_one(killed, &[]).unwrap().get::<_, i64>(0), 1);
    journal.append(&records(901, 10, TS0)).unwrap();
    journal.sync().unwrap();
    assert!(matches!(shipper.poll(now(), Some(journal.durable_position())), ShipStatus::Down { .. }));
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(shipper.poll(now(), Some(journal.durable_position())), ShipStatus::Shipped(360));
    assert_eq!(shipper.shipped, 960, "every journaled row, counted once");
    let (_, _, distinct) = table_counts(&mut other);
    assert_eq!(distinct, 960);
}

/// `market_trades`' partition for the UTC day `date` (YYYY-MM-DD) as a writer before
/// version 5 made it in a session in London: "1 day" local, 23 or 25 hours on the
/// days the clocks change.
fn london_day_as_an_older_writer_made_it(c: &mut postgres::Client, date: &str) {
    let name = format!("market_trades_p{}", date.replace('-', ""));
    c.batch_execute(&format!(
        "SET TimeZone = 'Europe/London'; \
         CREATE TABLE {name} PARTITION OF market_trades \
           FOR VALUES FROM ('{date} 00:00:00+00') TO ('{date} 00:00:00+00'::timestamptz + interval '1 day'); \
         SET TimeZone = 'UTC'"
    ))
    .unwrap();
}

/// The names of a table's own indexes.
fn indexes(c: &mut postgres::Client, table: &str) -> Vec<String> {
    c.query("SELECT indexname::text FROM pg_indexes WHERE tablename = $1 ORDER BY 1", &[&table])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The definition of CHECK constraint `name` on `table`.
fn constraint(c: &mut postgres::Client, table: &str, name: &str) -> String {
    let sql =
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1 AND conrelid = $2::text::regclass";
    c.query_one(sql, &[&name, &table]).unwrap().get(0)
}
