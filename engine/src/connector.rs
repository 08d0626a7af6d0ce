//! A WebSocket's reconnects (a feed's, order entry's), on a thread of their own.
//! Resolving the name, TCP, TLS, the upgrade and subscribing can each take up to the
//! connect timeout; on the hot core they held up every other venue's frames and the
//! orders meanwhile.
//!
//! The thread lives as long as its connection's owner and sleeps between attempts: woken, it is
//! scheduled at once, where a thread started per attempt waited a few milliseconds
//! behind whatever the CPU was running (`reconnect-bench`: 4.2 ms to the first
//! event after a drop, against 0.9 ms).

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};

use feeds::ws::{Inbound, TlsConfig, WsClient};

/// An attempt's outcome: the subscribed connection, or why not; and the receive
/// buffer back if the connection did not take it.
pub(crate) type Attempt = (Result<WsClient, String>, Option<Inbound>);

/// What an attempt is given: a dropped connection's receive buffer, the CPU to run
/// on (the cold core's), and how long each step (TCP, TLS, the upgrade) may take.
struct Request {
    spare: Option<Inbound>,
    cpu: Option<usize>,
    timeout: std::time::Duration,
}

#[derive(Debug)]
pub(crate) struct Connector {
    requests: SyncSender<Request>,
    outcomes: Receiver<Attempt>,
    in_flight: bool,
}

impl Connector {
    /// A thread named `name` that connects to `url` (trusting `tls`), reading into
    /// buffers of `buffer` bytes, and sends `subscribe` on each new connection.
    pub(crate) fn spawn(
        name: &str,
        url: &str,
        tls: &TlsConfig,
        subscribe: Vec<Vec<u8>>,
        buffer: usize,
    ) -> std::io::Result<Self> {
        let (requests, incoming) = sync_channel::<Request>(1);
        let (done, outcomes) = sync_channel::<Attempt>(1);
        let (url, tls) = (url.to_owned(), tls.clone());
        std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            let mut pinned = None;
            while let Ok(Request { mut spare, cpu, timeout }) = incoming.recv() {
                if cpu.is_some() && cpu != pinned {
                    // Best effort: unpinned, it runs wherever the scheduler puts it.
                    pinned = cpu.filter(|cpu| tuning::pin_current_thread(*cpu).is_ok());
                }
                let connected = WsClient::connect_with(&url, timeout, &mut spare, buffer, &tls).and_then(|mut c| {
                    match subscribe.iter().try_for_each(|m| c.send_text(m)) {
                        Ok(()) => Ok(c),
                        Err(e) => {
                            // Its buffer serves the next attempt: reconnecting allocates none.
                            spare = Some(c.into_inbound());
                            Err(e)
                        }
                    }
                });
                if done.send((connected.map_err(|e| e.to_string()), spare)).is_err() {
                    return;
                }
            }
        })?;
        Ok(Self { requests, outcomes, in_flight: false })
    }

    /// Starts an attempt, on `cpu` if given, each step within `timeout`.
    ///
    /// # Errors
    /// The thread is gone (it panicked): why, and `spare` back.
    pub(crate) fn start(
        &mut self,
        spare: Option<Inbound>,
        cpu: Option<usize>,
        timeout: std::time::Duration,
    ) -> Result<(), (String, Option<Inbound>)> {
        // One attempt at a time, so the slot is free.
        match self.requests.try_send(Request { spare, cpu, timeout }) {
            Ok(()) => {
                self.in_flight = true;
                Ok(())
            }
            Err(TrySendError::Full(request) | TrySendError::Disconnected(request)) => {
                Err(("the reconnect thread is gone".into(), request.spare))
            }
        }
    }

    pub(crate) fn is_in_flight(&self) -> bool {
        self.in_flight
    }

    /// The attempt in flight's outcome, once it has one.
    pub(crate) fn poll(&mut self) -> Option<Attempt> {
        if !self.in_flight {
            return None;
        }
        let outcome = match self.outcomes.try_recv() {
            Ok(outcome) => outcome,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => (Err("the reconnect thread is gone".into()), None),
        };
        self.in_flight = false;
        Some(outcome)
    }
}
