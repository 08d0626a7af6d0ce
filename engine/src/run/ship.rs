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
    stop: Producer<u8>,
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

fn note(status: &ShipStatus, was_down: &mut bool, shipper: &Shipper) {
    match status {
        ShipStatus::Down { error, .. } if !*was_down => {
            eprintln!("database down: {error}; journaling continues, retrying with backoff");
            *was_down = true;
        }
        ShipStatus::Failed { error } if !*was_down => {
            eprintln!("database shipping stopped: {error}; not retried (fix it, then `engine journal load`)");
            *was_down = true;
        }
        ShipStatus::Shipped(n) if *was_down => {
            eprintln!("database back: backfilled {n} rows from the journal ({} shipped in all)", shipper.shipped);
            *was_down = false;
        }
        _ => {}
    }
}

impl ShipperThread {
    /// Starts following `journal` into the database at `url` (or the PG* variables).
    ///
    /// # Errors
    /// The thread cannot be spawned.
    pub fn spawn(url: Option<String>, journal: PathBuf) -> std::io::Result<Self> {
        let (stop, mut stopped) = spsc::channel::<u8>(2).map_err(std::io::Error::other)?;
        let (durable, mut durable_rx) = spsc::channel::<Position>(64).map_err(std::io::Error::other)?;
        let handle = std::thread::Builder::new().name("db-ship".into()).spawn(move || {
            let mut shipper = Shipper::new(url, journal);
            let mut was_down = false;
            // Only what the journal has made durable is shipped: the database must
            // never hold a record a power cut could take from the journal.
            let mut until = None;
            let latest = |rx: &mut spsc::Consumer<Position>, until: &mut Option<Position>| {
                while let Ok(p) = rx.try_pop() {
                    *until = Some(p);
                }
            };
            while stopped.try_pop().is_err() && !stopped.is_abandoned() {
                latest(&mut durable_rx, &mut until);
                if until.is_some() {
                    let status = shipper.poll(now(), until);
                    note(&status, &mut was_down, &shipper);
                }
                std::thread::sleep(POLL);
            }
            latest(&mut durable_rx, &mut until);
            // Final pass: everything durable, retrying for a while if down.
            let deadline = now() + FINAL_GRACE;
            while until.is_some() {
                let status = shipper.poll(now(), until);
                note(&status, &mut was_down, &shipper);
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

    /// Tells the follower how far the journal is durable.
    pub fn durable(&mut self, position: Position) {
        let _ = self.durable.try_push(position);
    }

    /// Ships what is left and returns the report. Call after the journal's final sync.
    pub fn finish(mut self) -> ShipReport {
        let _ = self.stop.try_push(1);
        self.handle.join().unwrap_or_else(|_| ShipReport {
            behind_at_exit: true,
            last_error: Some("the database follower panicked".into()),
            ..ShipReport::default()
        })
    }
}
