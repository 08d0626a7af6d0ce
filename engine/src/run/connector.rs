//! A WebSocket feed's reconnects, on a thread of their own. Resolving the name, TCP,
//! TLS, the upgrade and subscribing can each take up to the connect timeout; on the
//! hot core they held up every other venue's frames and the orders meanwhile.
//!
//! The thread lives as long as its feed and sleeps between attempts: woken, it is
//! scheduled at once, where a thread started per attempt waited a few milliseconds
//! behind whatever the CPU was running (`reconnect-bench`: 4.2 ms to the first
//! event after a drop, against 0.8 ms).

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};

use feeds::ws::{Inbound, TlsConfig, WsClient};

/// An attempt's outcome: the subscribed connection, or why not; and the receive
/// buffer back if the connection did not take it.
pub(super) type Attempt = (Result<WsClient, String>, Option<Inbound>);

/// What an attempt is given: a dropped connection's receive buffer, and the CPU to
/// run on (the cold core's).
struct Request {
    spare: Option<Inbound>,
    cpu: Option<usize>,
}

#[derive(Debug)]
pub(super) struct Connector {
    requests: SyncSender<Request>,
    outcomes: Receiver<Attempt>,
    in_flight: bool,
}

impl Connector {
    /// A thread that connects to `url` (trusting `tls`), reading into buffers of
    /// `buffer` bytes, and sends `subscribe` on each new connection.
    pub(super) fn spawn(url: &str, tls: &TlsConfig, subscribe: Vec<Vec<u8>>, buffer: usize) -> std::io::Result<Self> {
        let (requests, incoming) = sync_channel::<Request>(1);
        let (done, outcomes) = sync_channel::<Attempt>(1);
        let (url, tls) = (url.to_owned(), tls.clone());
        std::thread::Builder::new().name("feed-connect".into()).spawn(move || {
            while let Ok(Request { mut spare, cpu }) = incoming.recv() {
                if let Some(cpu) = cpu {
                    // Best effort: unpinned, it runs wherever the scheduler puts it.
                    let _ = tuning::pin_current_thread(cpu);
                }
                let timeout = std::time::Duration::from_secs(1);
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

    /// Starts an attempt, on `cpu` if given.
    ///
    /// # Errors
    /// The thread is gone (it panicked): why, and `spare` back.
    pub(super) fn start(
        &mut self,
        spare: Option<Inbound>,
        cpu: Option<usize>,
    ) -> Result<(), (String, Option<Inbound>)> {
        // One attempt at a time, so the slot is free.
        match self.requests.try_send(Request { spare, cpu }) {
            Ok(()) => {
                self.in_flight = true;
                Ok(())
            }
            Err(TrySendError::Full(request) | TrySendError::Disconnected(request)) => {
                Err(("the reconnect thread is gone".into(), request.spare))
            }
        }
    }

    pub(super) fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// The attempt in flight's outcome, once it has one.
    pub(super) fn poll(&mut self) -> Option<Attempt> {
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
