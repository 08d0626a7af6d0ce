//! Migrations: the SQL files under `persist/sql/`, each version applied once in one
//! transaction, in TimescaleDB mode when the extension can be created and in
//! native-partitioning mode otherwise. The mode is recorded and reported. A database
//! made by an older engine is brought forward step by step.

use super::{PgError, query};

const COMMON: &str = include_str!("../../sql/001_common.sql");
const EVENTS: &str = include_str!("../../sql/002_events.sql");
const NATIVE: &str = include_str!("../../sql/003_native.sql");
const TIMESCALE: &str = include_str!("../../sql/003_timescale.sql");
const REASON_CODES: &str = include_str!("../../sql/004_reason_codes.sql");
const ORDER_CODES: &str = include_str!("../../sql/005_order_codes.sql");
const ORDERS: &str = include_str!("../../sql/006_orders.sql");
const CLOSED_DAY_BRIN: &str = include_str!("../../sql/007_closed_day_brin.sql");
const STREAM_RANGES: &str = include_str!("../../sql/008_stream_ranges.sql");
const POSITION_SEQ: &str = include_str!("../../sql/009_position_seq.sql");
const SCHEMA_VERSION: i32 = 7;

/// The steps that bring an older schema forward: (the version it makes, the one mode
/// it is for if not both, its SQL, what it does). A fresh database runs them all
/// after creating version 1's tables.
const UPGRADES: [(i32, Option<Mode>, &str, &str); 6] = [
    (2, None, REASON_CODES, "widening risk reason codes (version 2)"),
    (3, None, ORDER_CODES, "widening order states and types (version 3)"),
    (4, None, ORDERS, "adding the current orders table (version 4)"),
    (5, Some(Mode::Native), CLOSED_DAY_BRIN, "indexing only closed days (version 5)"),
    (6, None, STREAM_RANGES, "adding the stream ranges of parallel writers (version 6)"),
    (7, None, POSITION_SEQ, "breaking position ties by sequence (version 7)"),
];

/// How time-series tables are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// TimescaleDB hypertables, compression and continuous aggregates.
    Timescale,
    /// Native range partitions by day, BRIN indexes on the days already written,
    /// plain aggregate views.
    Native,
}

impl Mode {
    /// The name stored and reported.
    pub fn name(self) -> &'static str {
        match self {
            Self::Timescale => "timescaledb",
            Self::Native => "native-partitioning",
        }
    }
}

/// Brings the schema up to date; returns the mode in use and whether it applied
/// anything (false when the schema was already current).
///
/// # Errors
/// A failed statement.
pub fn migrate(client: &mut postgres::Client) -> Result<(Mode, bool), PgError> {
    // Engines starting together against one database take turns: each reads the
    // version only once it holds the lock, so a step is never applied twice.
    client.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).map_err(query("locking migrations"))?;
    let result = migrate_locked(client);
    let unlocked = client
        .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .map_err(query("unlocking migrations"));
    let done = result?;
    unlocked?;
    Ok(done)
}

/// The advisory lock key migrations hold (any fixed number no one else uses).
const MIGRATION_LOCK: i64 = 0x656e_6769_6e65; // "engine"

fn migrate_locked(client: &mut postgres::Client) -> Result<(Mode, bool), PgError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, mode text NOT NULL, \
             applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .map_err(query("creating schema_migrations"))?;
    let row = client
        .query_opt("SELECT version, mode FROM schema_migrations ORDER BY version DESC LIMIT 1", &[])
        .map_err(query("reading schema_migrations"))?;
    if let Some(row) = row {
        let (version, mode): (i32, String) = (row.get(0), row.get(1));
        let mode = if mode == Mode::Timescale.name() { Mode::Timescale } else { Mode::Native };
        if version >= SCHEMA_VERSION {
            return Ok((mode, false));
        }
        let mut tx = client.transaction().map_err(query("starting the migration"))?;
        upgrade(&mut tx, version, mode)?;
        tx.commit().map_err(query("committing the migration"))?;
        return Ok((mode, true));
    }
    let available = client
        .query_one("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'", &[])
        .map_err(query("looking for TimescaleDB"))?
        .get::<_, i64>(0)
        > 0;
    // The extension can be packaged but not preloaded; then CREATE EXTENSION fails
    // and native mode is the answer, not an error.
    let mode = if available && client.batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb").is_ok() {
        Mode::Timescale
    } else {
        Mode::Native
    };
    let (partition, storage) = match mode {
        Mode::Timescale => ("", TIMESCALE),
        Mode::Native => ("PARTITION BY RANGE (ts)", NATIVE),
    };
    let mut tx = client.transaction().map_err(query("starting the migration"))?;
    tx.batch_execute(COMMON).map_err(query("creating common tables"))?;
    tx.batch_execute(&EVENTS.replace("{PARTITION}", partition)).map_err(query("creating event tables"))?;
    tx.batch_execute(storage).map_err(query("setting up time-series storage"))?;
    tx.execute("INSERT INTO schema_migrations (version, mode) VALUES (1, $1)", &[&mode.name()])
        .map_err(query("recording the migration"))?;
    upgrade(&mut tx, 1, mode)?;
    tx.commit().map_err(query("committing the migration"))?;
    Ok((mode, true))
}

/// Applies, in order, every step past `from`, recording each version it makes.
fn upgrade(tx: &mut postgres::Transaction<'_>, from: i32, mode: Mode) -> Result<(), PgError> {
    for (version, only, sql, what) in UPGRADES.into_iter().filter(|(v, ..)| *v > from) {
        if only.is_none_or(|only| only == mode) {
            tx.batch_execute(sql).map_err(query(what))?;
        }
        tx.execute("INSERT INTO schema_migrations (version, mode) VALUES ($1, $2)", &[&version, &mode.name()])
            .map_err(query("recording the migration"))?;
    }
    Ok(())
}
