//! The database follower thread: ships the journal into PostgreSQL while the engine
//! runs, off the cold loop so a slow or unreachable database can never hold up the
//! draining of the hot core's ring. It reports outages as they start and end.

use std::{path::PathBuf, thread::JoinHandle, time::Duration};

use persist::{
    journal::Position,
    pg::{ShipStatus, Shipper},
};
use rings::spsc::{self, Producer};

/// What the follower did, for the run's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShipReport {
    /// Rows shipped.
    pub shipped: u64,
    /// Outages seen.
    pub outages: u64,
    /// Whether the database was still unreachable at the end (the journal holds
    /// everything; `engine journal load` backfills it).
    pub behind_at_exit: bool,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// The running follower: ask it to finish with [`ShipperThread::finish`].
#[derive(Debug)]
pub struct ShipperThread {
    /// The stop request, carrying the journal's final durable position.
    stop: Producer<Option<Position>>,
    durable: Producer<Position>,
    handle: JoinHandle<ShipReport>,
}

const POLL: Duration = Duration::from_millis(200);
/// How long the final pass keeps retrying an unreachable database at exit.
const FINAL_GRACE: Duration = Duration::from_secs(10);

#[allow(clippy::disallowed_methods, reason = "cold-path pacing of database retries is wall time")]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// What the operator was last told about the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Up,
    Down,
    Failed,
}

fn note(status: &ShipStatus, told: &mut Told, shipper: &Shipper) {
    match status {
        ShipStatus::Down { error, .. } if *told == Told::Up => {
            eprintln!("database down: {error}; journaling continues, retrying with backoff");
            *told = Told::Down;
        }
        // Said even during an outage: a database that comes back refusing the rows
        // must not be taken for one still down.
        ShipStatus::Failed { error } if *told != Told::Failed => {
            eprintln!("database shipping stopped: {error}; not retried (fix it, then `engine journal load`)");
            *told = Told::Failed;
        }
        ShipStatus::Shipped(n) if *told == Told::Down => {
            eprintln!("database back: backfilled {n} rows from the journal ({} shipped in all)", shipper.shipped);
            *told = Told::Up;
        }
        _ => {}
    }
}

impl ShipperThread {
    /// Starts following `journal` into the database at `url` (or the PG* variables).
    ///
    /// # Errors
    /// The thread cannot be spawned.
    pub fn spawn(url: Option<String>, journal: PathBuf, writers: usize) -> std::io::Result<Self> {
        let (stop, mut stopped) = spsc::channel::<Option<Position>>(2).map_err(std::io::Error::other)?;
        let (durable, mut durable_rx) = spsc::channel::<Position>(64).map_err(std::io::Error::other)?;
        let handle = std::thread::Builder::new().name("db-ship".into()).spawn(move || {
            let mut shipper = Shipper::new(url, journal).with_writers(writers);
            let mut told = Told::Up;
            // Only what the journal has made durable is shipped: the database must
            // never hold a record a power cut could take from the journal.
            let mut until = None;
            let latest = |rx: &mut spsc::Consumer<Position>, until: &mut Option<Position>| {
                while let Ok(p) = rx.try_pop() {
                    *until = Some(p);
                }
            };
            let last = loop {
                if let Ok(last) = stopped.try_pop() {
                    break last;
                }
                if stopped.is_abandoned() {
                    break None;
                }
                latest(&mut durable_rx, &mut until);
                if until.is_some() {
                    let status = shipper.poll(now(), until);
                    note(&status, &mut told, &shipper);
                }
                std::thread::sleep(POLL);
            };
            latest(&mut durable_rx, &mut until);
            // The final position comes with the stop: the ring of updates may have
            // been full when the last one was offered.
            until = until.max(last);
            // Final pass: everything durable, retrying for a while if down.
            let deadline = now() + FINAL_GRACE;
            while until.is_some() {
                let status = shipper.poll(now(), until);
                note(&status, &mut told, &shipper);
                if matches!(status, ShipStatus::Shipped(_) | ShipStatus::Failed { .. }) || now() >= deadline {
                    break;
                }
                std::thread::sleep(POLL);
            }
            ShipReport {
                shipped: shipper.shipped,
                outages: shipper.outages,
                behind_at_exit: shipper.is_down(),
                last_error: Some(shipper.last_error().to_owned()).filter(|e| !e.is_empty()),
            }
        })?;
        Ok(Self { stop, durable, handle })
    }

    /// Tells the follower how far the journal is durable; `false` if its queue is
    /// full (it is busy, e.g. connecting): offer the position again later.
    pub fn durable(&mut self, position: Position) -> bool {
        self.durable.try_push(position).is_ok()
    }

    /// Ships everything up to `last` (the journal's final durable position, if any)
    /// and returns the report. Call after the journal's final sync.
    pub fn finish(mut self, last: Option<Position>) -> ShipReport {
        let _ = self.stop.try_push(last);
        self.handle.join().unwrap_or_else(|_| ShipReport {
            behind_at_exit: true,
            last_error: Some("the database follower panicked".into()),
            ..ShipReport::default()
        })
    }
}
