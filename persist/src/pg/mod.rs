//! The PostgreSQL / TimescaleDB sink: schema migrations that detect TimescaleDB and
//! fall back to native daily partitioning, a binary-COPY writer that encodes rows
//! straight into a reused buffer, and exactly-once loading from the journal through
//! per-stream sequence watermarks committed with the rows.

pub mod copy;
mod orders;
mod parallel;
mod schema;
mod shipper;
mod sink;

pub use parallel::PART_MIN;
pub use schema::{Mode, migrate};
pub use shipper::{BATCH, DEFAULT_WRITERS, ShipStatus, Shipper};
pub use sink::{LoadReport, PARTS_LOCK, PgSink, load_journal, load_journal_from};

use crate::journal::JournalError;

/// Why a database operation failed. No variant ever contains a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The connection string could not be parsed.
    #[error("bad PostgreSQL connection string: {0}")]
    BadUrl(String),
    /// The server could not be reached or refused us.
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect {
        /// user@host:port/database, without the password.
        target: String,
        /// What the driver or the server said.
        reason: String,
    },
    /// A statement failed.
    #[error("PostgreSQL {what}: {reason}")]
    Query {
        /// What we were doing.
        what: &'static str,
        /// What the server said (message, detail, constraint).
        reason: String,
    },
    /// The connection failed while COPY data was being sent.
    #[error("PostgreSQL connection failed while sending COPY data: {source}")]
    Send {
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading the journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The whole story of a driver error: the server's message, detail and constraint
/// for a database error (the driver's own `Display` says only "db error"), else the
/// error and its causes.
pub fn render(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text += &format!(" ({detail})");
        }
        if let Some(constraint) = db.constraint() {
            text += &format!(" [constraint {constraint}]");
        }
        text += &format!(" (SQLSTATE {})", db.code().code());
        return text;
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

impl PgError {
    /// Whether retrying cannot help: the data or the schema is wrong (SQLSTATE
    /// classes 22, 23, 42) or the journal is unreadable. Connection trouble is not.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Query { reason, .. } => {
                ["SQLSTATE 22", "SQLSTATE 23", "SQLSTATE 42"].iter().any(|c| reason.contains(c))
            }
            Self::Journal(_) | Self::BadUrl(_) => true,
            Self::Connect { .. } | Self::Send { .. } => false,
        }
    }
}

pub(crate) fn query(what: &'static str) -> impl FnOnce(postgres::Error) -> PgError {
    move |e| PgError::Query { what, reason: render(&e) }
}

/// Connection settings from a URL (`postgres://user:pass@host:port/db` or
/// `key=value` pairs), or, without one, from the standard `PG*` variables
/// (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`).
///
/// # Errors
/// [`PgError::BadUrl`] when the string does not parse.
pub fn config(url: Option<&str>) -> Result<postgres::Config, PgError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(url) = url {
        let mut c = url.parse::<postgres::Config>().map_err(|e| PgError::BadUrl(e.to_string()))?;
        // A URL without its password takes PGPASSWORD's: the password then stays out
        // of the command line, which other local users can read.
        if c.get_password().is_none()
            && let Some(p) = env("PGPASSWORD")
        {
            c.password(p);
        }
        return Ok(c);
    }
    let mut c = postgres::Config::new();
    c.host(&env("PGHOST").unwrap_or_else(|| "localhost".into()));
    if let Some(port) = env("PGPORT") {
        c.port(port.parse().map_err(|_| PgError::BadUrl(format!("PGPORT `{port}` is not a port number")))?);
    }
    let user = env("PGUSER").or_else(|| env("USER")).unwrap_or_else(|| "postgres".into());
    c.user(&user);
    if let Some(p) = env("PGPASSWORD") {
        c.password(p);
    }
    c.dbname(&env("PGDATABASE").unwrap_or(user));
    Ok(c)
}

/// Whether `url` itself carries a password (rather than taking PGPASSWORD's).
pub fn url_has_password(url: &str) -> bool {
    url.parse::<postgres::Config>().is_ok_and(|c| c.get_password().is_some())
}

/// `user@host:port/database` for messages: never the password.
pub fn describe(c: &postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{}@{host}:{port}/{}", c.get_user().unwrap_or("?"), c.get_dbname().unwrap_or("?"))
}

/// Connects (without TLS: the database is expected on loopback or a private link).
///
/// # Errors
/// [`PgError::BadUrl`] or [`PgError::Connect`] naming the target without the password.
pub fn connect(url: Option<&str>) -> Result<postgres::Client, PgError> {
    let mut c = config(url)?;
    // The server's warnings (a closed day it could not index, say) go to stderr;
    // its notices ("already exists, skipping" on every migration check) do not.
    c.notice_callback(|notice| {
        if notice.severity() == "WARNING" {
            eprintln!("warning: PostgreSQL: {}", notice.message());
        }
    });
    c.connect(postgres::NoTls).map_err(|e| PgError::Connect { target: describe(&c), reason: render(&e) })
}

/// Connects to the database at `url` (or the PG* variables), brings its schema up to
/// date and opens a sink that may split a large batch among `writers` connections
/// (see [`PgSink::split_among`]).
/// Returns the sink, the mode and whether the schema was migrated now.
///
/// # Errors
/// As [`connect`], [`migrate`] and [`PgSink::open`].
pub fn open_sink(url: Option<&str>, writers: usize) -> Result<(PgSink, Mode, bool), PgError> {
    let mut client = connect(url)?;
    let (mode, migrated) = migrate(&mut client)?;
    let mut sink = PgSink::open(client, mode)?;
    sink.split_among(url, writers);
    Ok((sink, mode, migrated))
}
