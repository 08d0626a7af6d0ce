//! A fresh database per test in the throwaway cluster that `scripts/test.sh` starts
//! (`scripts/pg.sh start` exports the PG* variables).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use persist::{
    Fields, Origin, Record,
    pg::{Mode, PgSink, connect, migrate},
    record::{BookTopFields, FillFields, OrderFields, PositionFields, RiskFields, TradeFields},
};

pub fn require_server() {
    assert!(
        std::env::var_os("PGHOST").is_some() && std::env::var_os("PGPORT").is_some(),
        "PostgreSQL tests need a server: run scripts/test.sh, or `eval \"$(scripts/pg.sh start)\"` first"
    );
}

/// The URL of a new, empty database named after the test.
pub fn fresh_database(name: &str) -> String {
    require_server();
    let mut admin = connect(None).expect("connect to the test cluster");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let var = |k: &str| std::env::var(k).unwrap();
    format!("postgres://{}:{}@{}:{}/{name}", var("PGUSER"), var("PGPASSWORD"), var("PGHOST"), var("PGPORT"))
}

pub fn sink(url: &str) -> PgSink {
    let mut client = connect(Some(url)).unwrap();
    let (mode, _) = migrate(&mut client).unwrap();
    assert_eq!(mode, Mode::Native, "this host has no TimescaleDB");
    PgSink::open(client, mode).unwrap()
}

/// One record of every kind per step, stream 1, seq from `first`.
pub fn records(first: u64, steps: u64, ts0: u64) -> Vec<Record> {
    let mut out = Vec::new();
    let mut seq = first;
    for i in 0..steps {
        let ts = ts0 + i * 1_000;
        let mut origin = || {
            let o = Origin { stream: 1, seq, ts, venue: 1, instrument: (i % 3) as u32 };
            seq += 1;
            o
        };
        let p = 6_000_000 + (i % 100) as i64;
        out.push(
            TradeFields {
                aggressor: (i % 3) as u16,
                ts_exchange: ts as i64 - 5,
                trade_id: i as i64,
                price: p,
                qty: 1 + i as i64,
            }
            .into_record(origin()),
        );
        out.push(
            BookTopFields { flags: 0, ts_exchange: 0, update_id: i as i64, bid: p, bid_qty: 5, ask: p + 1, ask_qty: 0 }
                .into_record(origin()),
        );
        out.push(
            OrderFields {
                state: 1 + (i % 9) as u16,
                client_id: i as i64,
                side: 1 + (i % 2) as i64,
                price: p,
                qty: 10,
                filled: 3,
                order_type: 2,
            }
            .into_record(origin()),
        );
        out.push(
            FillFields {
                liquidity: 1 + (i % 2) as u16,
                client_id: i as i64,
                venue_trade_id: i as i64 * 7,
                side: 2,
                price: p,
                qty: 3,
                fee: -(i as i64),
            }
            .into_record(origin()),
        );
        out.push(
            PositionFields {
                flags: 0,
                net_qty: -(i as i64),
                avg_price: p,
                realised: i64::MIN + i as i64,
                unrealised: i64::MAX - i as i64,
                fees: 0,
                mark: p,
            }
            .into_record(origin()),
        );
        out.push(
            RiskFields {
                reason: (i % 14) as u16,
                client_id: i as i64,
                side: 1,
                price: p,
                qty: 10,
                limit: 50,
                observed: i as i64,
            }
            .into_record(origin()),
        );
    }
    out
}

/// Rows per table, and the sum and distinct count of (stream, seq) across tables.
pub fn table_counts(sink: &mut PgSink) -> (Vec<(String, i64)>, i64, i64) {
    let tables = ["market_trades", "book_tops", "order_events", "fills", "position_snapshots", "risk_events"];
    let mut counts = Vec::new();
    let mut union = String::new();
    for t in tables {
        let n: i64 = sink.client().query_one(&format!("SELECT count(*) FROM {t}"), &[]).unwrap().get(0);
        counts.push((t.to_owned(), n));
        if !union.is_empty() {
            union += " UNION ALL ";
        }
        union += &format!("SELECT stream, seq FROM {t}");
    }
    let row = sink
        .client()
        .query_one(
            &format!("SELECT coalesce(sum(seq), 0)::bigint, count(DISTINCT (stream, seq)) FROM ({union}) u"),
            &[],
        )
        .unwrap();
    (counts, row.get(0), row.get(1))
}
