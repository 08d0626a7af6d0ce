//! Where the hot core's frames come from: the simulator paced at an offered rate, a
//! capture replayed as fast as the core takes it, or either of them recorded into a
//! capture as it goes.

use std::{fs::File, io::BufWriter, path::Path};

use feeds::{
    Events,
    capture::{CaptureReader, CaptureWriter, Item, snapshot_events},
    event::{InstrumentId, Venue},
};

use feeds::ws::WsClient;

use crate::sim::MarketSim;

/// A source of frames for the hot loop.
pub trait Feed {
    /// The next frame if one is due at `now`: its bytes, its receive (event) time,
    /// and the instant latency is measured from.
    fn poll(&mut self, now: u64) -> Option<(&[u8], u64, u64)>;
    /// A book snapshot for `instrument`, as its `BookDelta` events; `false` if none.
    fn snapshot(&mut self, instrument: InstrumentId, now: u64, out: &mut Events) -> bool;
    /// The books that want a snapshot now (bit `i`: instrument `i`), told after every
    /// frame (a bit that clears is a book that synced), before [`Feed::snapshot`] is
    /// called for each of them. A source that asks a venue for snapshots paces its
    /// asks by it.
    fn wanted(&mut self, _books: u64) {}
    /// Whether the source has ended (a replay at its end).
    fn is_done(&self) -> bool {
        false
    }
    /// [`Feed::poll`], with the venue the frame came from (its index among the
    /// run's feeds): a single feed is venue 0.
    fn poll_venue(&mut self, now: u64) -> Option<(usize, &[u8], u64, u64)> {
        self.poll(now).map(|(frame, ts, arrived)| (0, frame, ts, arrived))
    }
    /// A venue whose connection dropped since the last call, if one did (its books
    /// are then stale). Call until `None`: several venues may have dropped.
    fn take_disconnect(&mut self) -> Option<usize> {
        None
    }
    /// A venue whose connection was made since the last call (at start, or a
    /// reconnect), if one was. Call until `None`.
    fn take_connect(&mut self) -> Option<usize> {
        None
    }
    /// Every connection change since the last call, in the order they happened for
    /// each venue: `changed(venue, up)`. Drops come first: a feed reports at most a
    /// drop then a connect between two calls, never a connect then a drop (a
    /// connection lost before anyone saw it made is not reported at all).
    fn take_link_changes(&mut self, mut changed: impl FnMut(usize, bool))
    where
        Self: Sized,
    {
        while let Some(venue) = self.take_disconnect() {
            changed(venue, false);
        }
        while let Some(venue) = self.take_connect() {
            changed(venue, true);
        }
    }
    /// Whether wall time is event time (a live feed), so checks may run between
    /// frames; a replay's time moves only with its frames.
    fn is_live(&self) -> bool {
        true
    }
}

/// A paced simulated feed.
#[derive(Debug)]
pub struct SimFeed {
    market: MarketSim,
    interval_ns: u64,
    next_due: u64,
    ready: bool,
}

impl SimFeed {
    /// Frames at `rate` per second from `start` (0: unpaced, as fast as polled).
    pub fn new(market: MarketSim, rate: u64, start: u64) -> Self {
        let interval_ns = 1_000_000_000u64.checked_div(rate).map_or(0, |ns| ns.max(1));
        Self { market, interval_ns, next_due: start, ready: false }
    }
}

impl Feed for SimFeed {
    /// Each frame is generated ahead of its due time and stamped with that time, so
    /// generating it is not latency unless the engine is already behind, and a stall
    /// shows up as latency instead of silently lowering the offered load.
    fn poll(&mut self, now: u64) -> Option<(&[u8], u64, u64)> {
        if self.interval_ns == 0 {
            return Some((self.market.next_frame(now), now, now));
        }
        if !self.ready {
            self.market.next_frame(self.next_due);
            self.ready = true;
        }
        if now < self.next_due {
            return None;
        }
        let due = self.next_due;
        self.next_due += self.interval_ns;
        self.ready = false;
        Some((self.market.current_frame(), due, due))
    }

    fn snapshot(&mut self, instrument: InstrumentId, now: u64, out: &mut Events) -> bool {
        self.market.snapshot(instrument, now, out)
    }
}

/// A capture replayed as fast as the hot core takes it.
#[derive(Debug)]
pub struct ReplayFeed {
    bytes: Vec<u8>,
    at: usize,
    done: bool,
    /// Snapshots in the capture that the replay did not ask for (the replay is not
    /// running the recorded configuration).
    pub unrequested_snapshots: u64,
    /// Why the replay ended early, if it did.
    pub error: Option<String>,
}

impl ReplayFeed {
    /// Loads a capture file whose frames are to be decoded as `dialect`'s.
    ///
    /// # Errors
    /// The file cannot be read or is not a capture, or it says it was recorded
    /// from another venue's feed (it would decode to nothing but errors).
    pub fn open(path: &Path, dialect: Venue) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let at = CaptureReader::new(&bytes).map_err(|e| format!("{}: {e}", path.display()))?.position();
        // A first record cut short says nothing: the replay reports where it ends.
        let recorded = feeds::capture::recorded_venue(&bytes).ok().flatten();
        if let Some(recorded) = recorded.filter(|v| *v != dialect as u16) {
            let ours =
                crate::cli::Dialect::of(dialect as u16).map_or_else(|| "other".to_owned(), crate::cli::Dialect::name);
            return Err(match crate::cli::Dialect::of(recorded) {
                Some(theirs) => format!(
                    "{}: recorded from {} frames, but this run decodes {ours} frames: replay it with --dialect {}",
                    path.display(),
                    theirs.name(),
                    theirs.name()
                ),
                None => {
                    format!("{}: recorded from frames of venue id {recorded}, which no --dialect reads", path.display())
                }
            });
        }
        Ok(Self { bytes, at, done: false, unrequested_snapshots: 0, error: None })
    }
}

impl Feed for ReplayFeed {
    fn poll(&mut self, now: u64) -> Option<(&[u8], u64, u64)> {
        loop {
            let mut reader = CaptureReader::resume(&self.bytes, self.at);
            match reader.next_item() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.error = Some(e.to_string());
                    self.done = true;
                    return None;
                }
                Some(Ok(Item::Snapshot { .. })) => {
                    self.unrequested_snapshots += 1;
                    self.at = reader.position();
                }
                Some(Ok(Item::Venue { .. })) => self.at = reader.position(),
                Some(Ok(Item::Frame { ts_recv, .. })) => {
                    let start = self.at;
                    self.at = reader.position();
                    let bytes = self.bytes.get(start + 13..self.at)?;
                    return Some((bytes, ts_recv, now));
                }
            }
        }
    }

    fn snapshot(&mut self, instrument: InstrumentId, _now: u64, out: &mut Events) -> bool {
        let mut reader = CaptureReader::resume(&self.bytes, self.at);
        if let Some(Ok(Item::Snapshot { instrument: i, raw, .. })) = reader.next_item()
            && i == instrument
        {
            self.at = reader.position();
            return snapshot_events(raw, out);
        }
        false
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn is_live(&self) -> bool {
        false
    }
}

/// Any feed, with every frame and snapshot written to a capture file as it passes.
/// Recording is a buffered file write on the hot core: use it to capture, not to
/// measure latency.
#[derive(Debug)]
pub struct Recording<F> {
    inner: F,
    out: CaptureWriter<BufWriter<File>>,
    /// The first write error (recording stops; the run goes on).
    pub error: Option<String>,
}

impl<F: Feed> Recording<F> {
    /// Records `inner`, whose frames are in `dialect`'s format, into a new file at
    /// `path`.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn new(inner: F, path: &Path, dialect: Venue) -> Result<Self, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("--record {}: {e}", path.display()))?;
        let mut out = CaptureWriter::new(BufWriter::with_capacity(1 << 20, file)).map_err(|e| e.to_string())?;
        out.venue(dialect).map_err(|e| e.to_string())?;
        Ok(Self { inner, out, error: None })
    }

    /// The feed being recorded.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// Flushes the capture.
    ///
    /// # Errors
    /// The flush failed, or an earlier write did.
    pub fn finish(self) -> Result<(), String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.finish().map(|_| ()).map_err(|e| e.to_string())
    }
}

impl<F: Feed> Feed for Recording<F> {
    fn poll(&mut self, now: u64) -> Option<(&[u8], u64, u64)> {
        self.poll_venue(now).map(|(_, frame, ts, arrived)| (frame, ts, arrived))
    }

    /// A capture holds one venue's frames (`engine run` refuses --record with
    /// several feeds); the venue is passed through so decoding stays right.
    fn poll_venue(&mut self, now: u64) -> Option<(usize, &[u8], u64, u64)> {
        let (venue, frame, ts, arrived) = self.inner.poll_venue(now)?;
        if self.error.is_none()
            && let Err(e) = self.out.frame(ts, frame)
        {
            self.error = Some(format!("recording stopped: {e}"));
        }
        Some((venue, frame, ts, arrived))
    }

    fn snapshot(&mut self, instrument: InstrumentId, now: u64, out: &mut Events) -> bool {
        // The hot loop hands over an empty buffer: what is in it after is the snapshot.
        let ok = self.inner.snapshot(instrument, now, out);
        if ok
            && self.error.is_none()
            && let Err(e) = self.out.snapshot(now, instrument, out)
        {
            self.error = Some(format!("recording stopped: {e}"));
        }
        ok
    }

    fn wanted(&mut self, books: u64) {
        self.inner.wanted(books);
    }

    fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    fn take_disconnect(&mut self) -> Option<usize> {
        self.inner.take_disconnect()
    }

    fn take_connect(&mut self) -> Option<usize> {
        self.inner.take_connect()
    }

    fn is_live(&self) -> bool {
        self.inner.is_live()
    }
}

/// Messages a connection must deliver, beyond the answers its subscriptions may
/// draw ([`Session::answers_bound`]), before its loss is retried at once: a venue
/// that answers the subscription (with an error, say) and closes is backed off
/// from, not reconnected to in a loop.
const HEALTHY_AFTER: u32 = 16;

/// A venue WebSocket (or `engine sim`) read on the hot core. Book snapshots arrive
/// in the stream (Binance partial depth in the combined-stream wrapper). A dropped
/// connection is reported once. If it had delivered data (more than its
/// subscriptions' answers) it is retried at once;
/// otherwise (a failed attempt, or a venue that accepts and then drops before any
/// data) the next attempt waits a random time up to a bound that starts at 100 ms and
/// doubles to a cap, 5 s unless set (exponential backoff with full jitter, so many
/// clients dropped together do not return together, and a venue that keeps dropping
/// is not hammered).
/// Each attempt runs on the feed's reconnect thread (on the cold core when told),
/// so a slow handshake never stalls the hot core.
#[derive(Debug)]
pub struct WsFeed {
    /// What the venue's protocol asks of a client beyond reading: subscribing,
    /// re-subscribing for a snapshot, a heartbeat (nothing for Binance).
    session: Session,
    client: Option<WsClient>,
    /// A dropped connection's receive buffer, for the next one.
    spare: Option<feeds::ws::Inbound>,
    /// Reconnects run on its thread, off the hot core.
    connector: crate::connector::Connector,
    /// Where reconnects run (the cold core); unset, on the CPUs of the thread that
    /// called [`WsFeed::connect`].
    connect_cpu: Option<usize>,
    /// How long each step of a reconnect (TCP, TLS, the upgrade) may take.
    connect_timeout: std::time::Duration,
    retry_at: u64,
    backoff_ns: u64,
    /// The cap on `backoff_ns`.
    max_backoff_ns: u64,
    /// Random state for the jitter (xorshift), seeded by the clock at the first drop.
    jitter: u64,
    /// The current connection has delivered data (past [`HEALTHY_AFTER`] messages
    /// beyond its subscriptions' answers): its loss is retried at once, and the
    /// backoff starts over.
    healthy: bool,
    /// Messages the current connection delivered, until it counts as healthy.
    delivered: u32,
    dropped: bool,
    /// A connection was made that no one has heard of yet.
    connected: bool,
    /// Connections lost.
    pub disconnects: u64,
    /// The last connection error.
    pub last_error: Option<String>,
}

const WS_BUFFER: usize = 1 << 20;

fn send_all(client: &mut WsClient, messages: &[Vec<u8>]) -> Result<(), feeds::ws::WsError> {
    messages.iter().try_for_each(|m| client.send_text(m))
}

/// What a venue's feed protocol asks of the client, its requests built at start-up
/// so sending them allocates nothing. Bybit v5: subscribe on every connect; a book
/// whose sequence broke gets a fresh snapshot by unsubscribing and subscribing its
/// topic again (Bybit sends one only after a subscribe); and `{"op":"ping"}` every
/// 20 s, as its documentation asks. OKX v5 the same, in its own words: `{"op":
/// "subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}`, a re-subscription
/// for a book whose chain or checksum broke, and the text `ping` (it closes a
/// connection silent for 30 s). Binance: none of it (its streams are in the URL and
/// the server pings).
#[derive(Debug, Clone, Default)]
pub struct Session {
    subscribe: Vec<Vec<u8>>,
    /// Per instrument (from `first`): unsubscribe then subscribe its book topic.
    resubscribe: Vec<[Vec<u8>; 2]>,
    first: u32,
    /// Per instrument (from `first`): when its snapshot may be asked for again.
    pacing: Vec<SnapshotPacing>,
    /// The books (bit `i`: instrument `i`) last told as wanting a snapshot.
    wanted: u64,
    ping: Option<Vec<u8>>,
    pinged_at: u64,
    /// Where the venue caps the subscribe and unsubscribe requests a connection may
    /// send (OKX: 480 an hour), each book's share of the cap beyond the
    /// subscriptions: a book that never syncs (a symbol the venue refused) spends its
    /// own share, never the others'.
    limits: Vec<RequestWindow>,
    /// Connected, and not yet polled: the clocks above start at the first poll (the
    /// start-up that follows a first connect can take longer than a snapshot wait).
    fresh: bool,
}

/// The send times of a connection's last `N` requests, so a client can keep to a
/// venue's "at most N requests an hour per connection": a request may go once the
/// oldest of the last N is more than an hour old. Fixed size: nothing allocated
/// after start-up.
#[derive(Debug, Clone)]
struct RequestWindow {
    sent: Vec<u64>,
    next: usize,
    window_ns: u64,
}

impl RequestWindow {
    fn new(n: usize, window_ns: u64) -> Self {
        Self { sent: vec![0; n], next: 0, window_ns }
    }

    /// A new connection: nothing sent on it yet.
    fn reset(&mut self) {
        self.sent.fill(0);
    }

    /// Whether `n` more requests may go at `now`, and if so counts them as sent.
    fn take(&mut self, n: usize, now: u64) -> bool {
        let len = self.sent.len();
        // The n-th oldest of the last `len`: its slot is overwritten by the n-th send.
        let slot = (self.next + n.saturating_sub(1)) % len.max(1);
        let free =
            n <= len && self.sent.get(slot).is_some_and(|&at| at == 0 || now.saturating_sub(at) >= self.window_ns);
        if free {
            for _ in 0..n {
                if let Some(at) = self.sent.get_mut(self.next) {
                    *at = now.max(1);
                }
                self.next = (self.next + 1) % len;
            }
        }
        free
    }
}

/// OKX's cap on subscribe, unsubscribe and login requests: 480 an hour per connection.
const OKX_REQUESTS_PER_HOUR: usize = 480;
const HOUR_NS: u64 = 3_600_000_000_000;

/// How often a Bybit, OKX or Kraken client pings.
const PING_EVERY_NS: u64 = 20_000_000_000;
/// How long a snapshot request (a subscription, or a re-subscription) is given to be
/// answered before a book still waiting asks again; the wait then doubles (see
/// [`SnapshotPacing`]).
const RESUBSCRIBE_EVERY_NS: u64 = 250_000_000;
/// The longest wait between asks for a book that stays unsynced (a symbol the venue
/// refused keeps being refused: asking every 250 ms would only load the venue). Well
/// inside `--max-book-invalid`'s default of 5 s, so a venue slow to answer is still
/// asked several times before the kill switch gives up on the book.
const RESUBSCRIBE_AT_MOST_NS: u64 = 2_000_000_000;

/// When one book's snapshot may be asked for: [`RESUBSCRIBE_EVERY_NS`] after the last
/// ask (after a connect, the subscription was that ask), the wait doubling with each
/// ask while the book stays unsynced, up to [`RESUBSCRIBE_AT_MOST_NS`]. A book that
/// syncs starts its next break from the shortest wait again.
#[derive(Debug, Clone, Copy)]
struct SnapshotPacing {
    asked_at: u64,
    wait_ns: u64,
}

impl Default for SnapshotPacing {
    fn default() -> Self {
        Self { asked_at: 0, wait_ns: RESUBSCRIBE_EVERY_NS }
    }
}

impl SnapshotPacing {
    /// A new connection at `now`: its subscription asked for every snapshot.
    fn connected(&mut self, now: u64) {
        *self = Self { asked_at: now, wait_ns: RESUBSCRIBE_EVERY_NS };
    }

    /// The book synced.
    fn synced(&mut self) {
        self.wait_ns = RESUBSCRIBE_EVERY_NS;
    }

    /// Whether an ask is due at `now`.
    fn due(&self, now: u64) -> bool {
        now.saturating_sub(self.asked_at) >= self.wait_ns
    }

    /// An ask went at `now`.
    fn asked(&mut self, now: u64) {
        self.asked_at = now;
        self.wait_ns = (self.wait_ns * 2).min(RESUBSCRIBE_AT_MOST_NS);
    }
}

impl Session {
    /// The session `dialect` needs for `symbols` (the engine's names), whose
    /// instrument ids start at `first`. Bybit's subscriptions carry at most 10 topics
    /// a request (its spot limit); OKX's are kept to 50 channels a request, far inside
    /// its 64 KB request limit.
    pub fn new(dialect: feeds::event::Venue, symbols: &[&str], first: u32) -> Self {
        use feeds::event::Venue;
        let request =
            |op: &str, topics: &[String]| format!(r#"{{"op":"{op}","args":[{}]}}"#, topics.join(",")).into_bytes();
        // A symbol's book and trade subscriptions, in the venue's words.
        type Topic = fn(&str) -> String;
        let (book, trades, per_request, ping): (Topic, Topic, usize, &[u8]) = match dialect {
            Venue::Bybit => {
                (|s| format!("\"orderbook.50.{s}\""), |s| format!("\"publicTrade.{s}\""), 10, br#"{"op":"ping"}"#)
            }
            Venue::Okx => (
                |s| format!(r#"{{"channel":"books","instId":"{s}"}}"#),
                |s| format!(r#"{{"channel":"trades","instId":"{s}"}}"#),
                50,
                b"ping",
            ),
            Venue::Coinbase => return Self::coinbase(symbols, first),
            Venue::Kraken => return Self::kraken(symbols, first),
            _ => return Self::default(),
        };
        let names: Vec<String> = symbols.iter().map(|s| crate::pipeline::venue_symbol(dialect, s)).collect();
        let topics: Vec<String> = names.iter().flat_map(|s| [book(s), trades(s)]).collect();
        let subscribe: Vec<Vec<u8>> = topics.chunks(per_request).map(|c| request("subscribe", c)).collect();
        // Whole re-subscriptions (2 requests each) a book may send an hour.
        let share = (OKX_REQUESTS_PER_HOUR.saturating_sub(subscribe.len()) / names.len().max(1) / 2 * 2).max(2);
        let limits = if dialect == Venue::Okx {
            names.iter().map(|_| RequestWindow::new(share, HOUR_NS)).collect()
        } else {
            Vec::new()
        };
        Self {
            subscribe,
            resubscribe: names
                .iter()
                .map(|s| [request("unsubscribe", &[book(s)]), request("subscribe", &[book(s)])])
                .collect(),
            first,
            pacing: vec![SnapshotPacing::default(); symbols.len()],
            ping: Some(ping.to_vec()),
            limits,
            ..Self::default()
        }
    }

    /// Coinbase Exchange: one `subscribe` for every product's `level2_batch` (the
    /// unauthenticated level 2 channel: a snapshot, then `l2update`s) and `matches`;
    /// a book is resynced by unsubscribing and resubscribing its `level2_batch`, which
    /// sends a fresh snapshot. No client ping: Coinbase keeps a subscribed connection
    /// open by itself.
    fn coinbase(symbols: &[&str], first: u32) -> Self {
        use feeds::event::Venue;
        let products: Vec<String> =
            symbols.iter().map(|s| format!("\"{}\"", crate::pipeline::venue_symbol(Venue::Coinbase, s))).collect();
        let request = |kind: &str, products: &[String], channels: &str| {
            format!(r#"{{"type":"{kind}","product_ids":[{}],"channels":[{channels}]}}"#, products.join(","))
                .into_bytes()
        };
        Self {
            subscribe: vec![request("subscribe", &products, r#""level2_batch","matches""#)],
            resubscribe: products
                .chunks(1)
                .map(|p| [request("unsubscribe", p, r#""level2_batch""#), request("subscribe", p, r#""level2_batch""#)])
                .collect(),
            first,
            pacing: vec![SnapshotPacing::default(); symbols.len()],
            ..Self::default()
        }
    }

    /// Kraken v2: one `subscribe` for every symbol's `book` at [`KRAKEN_DEPTH`] (a
    /// snapshot, then updates with checksums) and one for their `trade`s (without the
    /// recent trades Kraken would otherwise send first); a book is resynced by
    /// unsubscribing and resubscribing it, which sends a fresh snapshot. A
    /// `{"method":"ping"}` every 20 s, though Kraken's heartbeats keep the connection
    /// open too.
    ///
    /// [`KRAKEN_DEPTH`]: crate::pipeline::KRAKEN_DEPTH
    fn kraken(symbols: &[&str], first: u32) -> Self {
        use feeds::event::Venue;
        let names: Vec<String> =
            symbols.iter().map(|s| format!("\"{}\"", crate::pipeline::venue_symbol(Venue::Kraken, s))).collect();
        let depth = crate::pipeline::KRAKEN_DEPTH;
        let book = |method: &str, names: &[String]| {
            let names = names.join(",");
            format!(r#"{{"method":"{method}","params":{{"channel":"book","symbol":[{names}],"depth":{depth}}}}}"#)
                .into_bytes()
        };
        let trades = format!(
            r#"{{"method":"subscribe","params":{{"channel":"trade","symbol":[{}],"snapshot":false}}}}"#,
            names.join(",")
        );
        Self {
            subscribe: vec![book("subscribe", &names), trades.into_bytes()],
            resubscribe: names.chunks(1).map(|n| [book("unsubscribe", n), book("subscribe", n)]).collect(),
            first,
            pacing: vec![SnapshotPacing::default(); symbols.len()],
            ping: Some(br#"{"method":"ping"}"#.to_vec()),
            ..Self::default()
        }
    }

    /// A new connection: subscribe (which asks for every book's snapshot).
    fn start(&mut self, client: &mut WsClient) -> Result<(), feeds::ws::WsError> {
        send_all(client, &self.subscribe)?;
        self.started();
        Ok(())
    }

    /// A connection subscribed (by [`Session::start`] or a reconnect's thread).
    /// The most answers a connect's subscriptions may draw: one per request sent and
    /// up to four per instrument (OKX answers each argument, and an instrument has
    /// a book and a trade topic, and maybe a ticker).
    fn answers_bound(&self) -> u32 {
        u32::try_from(self.subscribe.len() + 4 * self.resubscribe.len()).unwrap_or(u32::MAX)
    }

    fn started(&mut self) {
        self.fresh = true;
        // The venue counts per connection: a new one starts with none sent.
        self.limits.iter_mut().for_each(RequestWindow::reset);
    }

    /// Pings when due.
    fn tick(&mut self, client: &mut WsClient, now: u64) -> Result<(), feeds::ws::WsError> {
        if std::mem::take(&mut self.fresh) {
            self.pinged_at = now;
            self.pacing.iter_mut().for_each(|p| p.connected(now));
        }
        match &self.ping {
            Some(ping) if now.saturating_sub(self.pinged_at) >= PING_EVERY_NS => {
                self.pinged_at = now;
                client.send_text(ping)
            }
            _ => Ok(()),
        }
    }

    /// Asks for a fresh snapshot of `instrument`'s book, unless its
    /// [`SnapshotPacing`] says to wait, or the book's share of the venue's request
    /// cap is spent (the book then waits, refusing orders, rather than have the venue
    /// drop the connection; the stale-book kill switch bounds the wait).
    fn resync(&mut self, client: &mut WsClient, instrument: InstrumentId, now: u64) -> Result<(), feeds::ws::WsError> {
        let k = instrument.0.wrapping_sub(self.first) as usize;
        let (Some(requests), Some(pacing)) = (self.resubscribe.get(k), self.pacing.get_mut(k)) else { return Ok(()) };
        if !pacing.due(now) {
            return Ok(());
        }
        if let Some(limit) = self.limits.get_mut(k)
            && !limit.take(requests.len(), now)
        {
            return Ok(());
        }
        pacing.asked(now);
        send_all(client, requests)
    }

    /// The books that want a snapshot now: each of ours that no longer does synced.
    fn wanted(&mut self, books: u64) {
        let synced = self.wanted & !books;
        self.wanted = books;
        if synced == 0 {
            return;
        }
        for (k, pacing) in self.pacing.iter_mut().enumerate() {
            let id = u64::from(self.first) + k as u64;
            if id < 64 && synced & (1 << id) != 0 {
                pacing.synced();
            }
        }
    }
}
const MIN_BACKOFF_NS: u64 = 100_000_000;
const MAX_BACKOFF_NS: u64 = 5_000_000_000;

impl WsFeed {
    /// Connects now (start-up: an unreachable feed is an error, not a silent wait).
    ///
    /// # Errors
    /// The URL is bad or the server refuses.
    pub fn connect(url: &str, tls: &feeds::ws::TlsConfig, mut session: Session) -> Result<Self, String> {
        let timeout = std::time::Duration::from_secs(2);
        let mut client = WsClient::connect_with(url, timeout, &mut None, WS_BUFFER, tls).map_err(|e| e.to_string())?;
        session.start(&mut client).map_err(|e| format!("subscribing: {e}"))?;
        let connector =
            crate::connector::Connector::spawn("feed-connect", url, tls, session.subscribe.clone(), WS_BUFFER)
                .map_err(|e| format!("starting the reconnect thread: {e}"))?;
        Ok(Self {
            session,
            client: Some(client),
            spare: None,
            connector,
            connect_cpu: None,
            connect_timeout: std::time::Duration::from_secs(1),
            retry_at: 0,
            backoff_ns: MIN_BACKOFF_NS,
            max_backoff_ns: MAX_BACKOFF_NS,
            jitter: 0,
            healthy: false,
            delivered: 0,
            dropped: false,
            connected: true,
            disconnects: 0,
            last_error: None,
        })
    }

    fn lost(&mut self, now: u64, error: String) {
        // Its receive buffer serves the next connection: reconnecting allocates none.
        self.spare = self.client.take().map(WsClient::into_inbound);
        // A connection lost before its connect was reported was never seen: the
        // engine still holds the venue down, so neither is reported, and a pending
        // change is never a connect followed by a drop.
        if !std::mem::take(&mut self.connected) {
            self.dropped = true;
        }
        self.disconnects += 1;
        self.last_error = Some(error);
        if self.jitter == 0 {
            self.jitter = now | 1;
        }
        self.delivered = 0;
        if std::mem::take(&mut self.healthy) {
            // At once: a venue that dropped a working connection usually takes the next.
            self.backoff_ns = MIN_BACKOFF_NS.min(self.max_backoff_ns);
            self.retry_at = now;
        } else {
            self.retry_at = now.saturating_add(self.jittered());
            self.backoff();
        }
    }

    /// The next wait's bound doubles, to the cap.
    fn backoff(&mut self) {
        self.backoff_ns = self.backoff_ns.saturating_mul(2).min(self.max_backoff_ns);
    }

    /// Runs reconnects on `cpu` (the cold core), off the hot cores' CPUs; `None`:
    /// wherever the scheduler puts them.
    #[must_use]
    pub fn with_connect_cpu(mut self, cpu: Option<usize>) -> Self {
        self.connect_cpu = cpu;
        self
    }

    /// Gives each step of a reconnect (TCP, TLS, the upgrade) this long (1 s unless set).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Starts a reconnect on the connector's thread.
    fn start_connect(&mut self, now: u64) {
        if let Err((error, spare)) = self.connector.start(self.spare.take(), self.connect_cpu, self.connect_timeout) {
            self.spare = spare;
            self.failed(now, error);
        }
    }

    /// A reconnect that finished: the connection, or the next attempt scheduled.
    fn finish_connect(&mut self, (connected, spare): crate::connector::Attempt, now: u64) {
        if spare.is_some() {
            self.spare = spare;
        }
        match connected {
            Ok(client) => {
                self.session.started();
                self.client = Some(client);
                self.connected = true;
            }
            Err(e) => self.failed(now, e),
        }
    }

    /// A reconnect attempt failed: the next waits.
    fn failed(&mut self, now: u64, error: String) {
        self.last_error = Some(error);
        self.retry_at = now.saturating_add(self.jittered());
        self.backoff();
    }

    /// Caps the wait between reconnect attempts (5 s unless set): a venue back
    /// after an outage is rejoined within this long.
    #[must_use]
    pub fn with_max_backoff(mut self, max: std::time::Duration) -> Self {
        self.max_backoff_ns = super::nanos(max).max(1);
        self.backoff_ns = self.backoff_ns.min(self.max_backoff_ns);
        self
    }

    /// A random wait in `0..=backoff_ns` (full jitter).
    fn jittered(&mut self) -> u64 {
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        self.jitter % self.backoff_ns.saturating_add(1)
    }
}

impl Feed for WsFeed {
    fn poll(&mut self, now: u64) -> Option<(&[u8], u64, u64)> {
        if self.client.is_none() {
            // The connect runs on its own thread; this core only looks in on it.
            if let Some(attempt) = self.connector.poll() {
                self.finish_connect(attempt, now);
            } else if !self.connector.is_in_flight() && now >= self.retry_at {
                self.start_connect(now);
            }
            // A new connection is reported before its first frame.
            return None;
        }
        let client = self.client.as_mut()?;
        let ready = self.session.tick(client, now).and_then(|()| client.advance());
        match ready {
            Ok(true) => {
                if !self.healthy {
                    self.delivered += 1;
                    self.healthy = self.delivered >= HEALTHY_AFTER.saturating_add(self.session.answers_bound());
                }
                self.client.as_ref().map(|c| (c.message(), now, now))
            }
            Ok(false) => None,
            Err(e) => {
                self.lost(now, e.to_string());
                None
            }
        }
    }

    fn snapshot(&mut self, instrument: InstrumentId, now: u64, _out: &mut Events) -> bool {
        // Snapshots come in the stream; where the venue sends one only on request,
        // request it (answered in the stream too).
        if let Some(client) = self.client.as_mut()
            && let Err(e) = self.session.resync(client, instrument, now)
        {
            self.lost(now, e.to_string());
        }
        false
    }

    fn wanted(&mut self, books: u64) {
        self.session.wanted(books);
    }

    fn take_disconnect(&mut self) -> Option<usize> {
        std::mem::take(&mut self.dropped).then_some(0)
    }

    fn take_connect(&mut self) -> Option<usize> {
        std::mem::take(&mut self.connected).then_some(0)
    }
}

/// One feed per venue, read in turn: venue `v`'s frames are decoded with its
/// symbols and snapshots come from its own feed.
#[derive(Debug)]
pub struct MultiFeed<F> {
    feeds: Vec<F>,
    layout: crate::pipeline::VenueLayout,
    /// Where the next turn starts, so no venue's frames wait behind another's.
    next: usize,
}

impl<F: Feed> MultiFeed<F> {
    /// `feeds[v]` is venue `v`'s feed.
    pub fn new(feeds: Vec<F>, layout: crate::pipeline::VenueLayout) -> Self {
        Self { feeds, layout, next: 0 }
    }

    /// Each venue's feed.
    pub fn feeds(&self) -> &[F] {
        &self.feeds
    }
}

impl<F: Feed> Feed for MultiFeed<F> {
    fn poll(&mut self, now: u64) -> Option<(&[u8], u64, u64)> {
        self.poll_venue(now).map(|(_, frame, ts, arrived)| (frame, ts, arrived))
    }

    fn poll_venue(&mut self, now: u64) -> Option<(usize, &[u8], u64, u64)> {
        let n = self.feeds.len();
        let start = self.next.min(n);
        self.next = if start + 1 >= n { 0 } else { start + 1 };
        let (before, after) = self.feeds.split_at_mut(start);
        for (k, feed) in after.iter_mut().chain(before.iter_mut()).enumerate() {
            if let Some((frame, ts, arrived)) = feed.poll(now) {
                return Some(((start + k) % n, frame, ts, arrived));
            }
        }
        None
    }

    fn snapshot(&mut self, instrument: InstrumentId, now: u64, out: &mut Events) -> bool {
        let venue = self.layout.venue_of(instrument);
        self.feeds.get_mut(venue).is_some_and(|feed| feed.snapshot(instrument, now, out))
    }

    fn wanted(&mut self, books: u64) {
        self.feeds.iter_mut().for_each(|feed| feed.wanted(books));
    }

    fn is_done(&self) -> bool {
        self.feeds.iter().all(Feed::is_done)
    }

    fn take_disconnect(&mut self) -> Option<usize> {
        self.feeds.iter_mut().enumerate().find_map(|(v, feed)| feed.take_disconnect().map(|_| v))
    }

    fn take_connect(&mut self) -> Option<usize> {
        self.feeds.iter_mut().enumerate().find_map(|(v, feed)| feed.take_connect().map(|_| v))
    }

    fn is_live(&self) -> bool {
        self.feeds.iter().all(Feed::is_live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_window_keeps_to_n_an_hour() {
        let mut w = RequestWindow::new(4, HOUR_NS);
        let t0 = 5 * HOUR_NS;
        assert!(w.take(3, t0));
        assert!(!w.take(2, t0 + 1), "3 sent, 2 more would make 5 within the hour");
        assert!(w.take(1, t0 + 2));
        assert!(!w.take(1, t0 + HOUR_NS - 1), "the oldest is not an hour old yet");
        assert!(w.take(2, t0 + HOUR_NS), "the first 3 have aged out together");
        assert!(!w.take(2, t0 + HOUR_NS), "only one of them is left");
        assert!(!w.take(5, t0 + 10 * HOUR_NS), "never more than the window holds at once");
        w.reset();
        assert!(w.take(4, t0 + HOUR_NS + 1), "a new connection starts with none sent");
    }

    #[test]
    fn okx_subscribes_in_its_own_words_and_counts_its_requests() {
        let s = Session::new(feeds::event::Venue::Okx, &["BTCUSDT", "ETHUSDT"], 0);
        assert_eq!(
            String::from_utf8_lossy(&s.subscribe[0]),
            r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"books","instId":"ETH-USDT"},{"channel":"trades","instId":"ETH-USDT"}]}"#
        );
        assert_eq!(
            String::from_utf8_lossy(&s.resubscribe[1][0]),
            r#"{"op":"unsubscribe","args":[{"channel":"books","instId":"ETH-USDT"}]}"#
        );
        assert_eq!(s.ping.as_deref(), Some(&b"ping"[..]));
        // 480 an hour, less the one subscription, shared by the two books in whole
        // re-subscriptions.
        assert_eq!(s.limits.iter().map(|l| l.sent.len()).collect::<Vec<_>>(), [238, 238]);
        assert!(Session::new(feeds::event::Venue::Bybit, &["BTCUSDT"], 0).limits.is_empty());
    }

    #[test]
    fn coinbase_subscribes_every_product_at_once_and_resyncs_one_book() {
        let s = Session::new(feeds::event::Venue::Coinbase, &["BTCUSD", "ETHUSDT"], 4);
        assert_eq!(
            String::from_utf8_lossy(&s.subscribe[0]),
            r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USDT"],"channels":["level2_batch","matches"]}"#
        );
        let [unsubscribe, subscribe] = &s.resubscribe[1];
        assert_eq!(
            String::from_utf8_lossy(unsubscribe),
            r#"{"type":"unsubscribe","product_ids":["ETH-USDT"],"channels":["level2_batch"]}"#
        );
        assert_eq!(
            String::from_utf8_lossy(subscribe),
            r#"{"type":"subscribe","product_ids":["ETH-USDT"],"channels":["level2_batch"]}"#
        );
        assert_eq!((s.subscribe.len(), s.first, s.ping.is_none(), s.limits.is_empty()), (1, 4, true, true));
    }

    /// A book that stays unsynced (its symbol refused) is asked for ever less often,
    /// however often it is said to want a snapshot; a book that syncs and breaks
    /// again is asked for as soon as the shortest wait allows, every time.
    #[test]
    fn snapshot_asks_back_off_only_while_a_book_stays_unsynced() {
        const MS: u64 = 1_000_000;
        let mut s = Session::new(feeds::event::Venue::Kraken, &["BTCUSD", "DOGEUSD"], 2);
        let (btc, doge) = (1u64 << 2, 1u64 << 3);
        // What `resync` decides, without a socket.
        let ask = |s: &mut Session, k: usize, now: u64| {
            let pacing = &mut s.pacing[k];
            pacing.due(now) && {
                pacing.asked(now);
                true
            }
        };
        s.pacing.iter_mut().for_each(|p| p.connected(0));
        let (mut doge_asks, mut btc_asks) = (Vec::new(), 0);
        // Told every 50 ms (the pipelined topology's cadence) for 10 s: DOGE never
        // syncs; BTC breaks every 300 ms and syncs 20 ms after each ask.
        let mut btc_broken_at = Some(300 * MS);
        let mut btc_synced_at = None;
        for t in (0..10_000).step_by(5).map(|t| t * MS) {
            if btc_synced_at.is_some_and(|at| t >= at) {
                btc_synced_at = None;
                btc_broken_at = Some(t + 300 * MS);
            }
            let btc_wants = btc_broken_at.is_some_and(|at| t >= at);
            s.wanted(doge | if btc_wants { btc } else { 0 });
            if t % (50 * MS) == 0 && ask(&mut s, 1, t) {
                doge_asks.push(t / MS);
            }
            if btc_wants && ask(&mut s, 0, t) {
                btc_asks += 1;
                btc_broken_at = None;
                btc_synced_at = Some(t + 20 * MS);
            }
        }
        assert_eq!(doge_asks, [250, 750, 1_750, 3_750, 5_750, 7_750, 9_750], "doubling from 250 ms, at most 2 s");
        // Each break 300 ms after the last sync, asked for at once: 10 s / 320 ms.
        assert_eq!(btc_asks, 31, "a book that syncs is never backed off");
    }

    #[test]
    fn kraken_subscribes_books_at_its_depth_and_trades_without_history() {
        let s = Session::new(feeds::event::Venue::Kraken, &["BTCUSD", "ETHUSDT"], 2);
        let texts: Vec<_> = s.subscribe.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect();
        assert_eq!(
            texts,
            [
                r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD","ETH/USDT"],"depth":25}}"#,
                r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USDT"],"snapshot":false}}"#,
            ]
        );
        let [unsubscribe, subscribe] = &s.resubscribe[1];
        assert_eq!(
            String::from_utf8_lossy(unsubscribe),
            r#"{"method":"unsubscribe","params":{"channel":"book","symbol":["ETH/USDT"],"depth":25}}"#
        );
        assert_eq!(
            String::from_utf8_lossy(subscribe),
            r#"{"method":"subscribe","params":{"channel":"book","symbol":["ETH/USDT"],"depth":25}}"#
        );
        assert_eq!(s.ping.as_deref(), Some(&br#"{"method":"ping"}"#[..]));
        assert_eq!((s.first, s.limits.is_empty()), (2, true));
    }
}
