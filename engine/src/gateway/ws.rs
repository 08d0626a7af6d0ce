//! Order entry over a WebSocket, in the exchange simulator's protocol
//! ([`super::protocol`]). Requests are built and signed in one reused buffer and
//! answers are read in place, so the hot path allocates nothing. Every answer
//! carries the account's report sequence; after a reconnect the gateway logs in with
//! the last sequence it applied and the venue sends what it missed, so a fill during
//! an outage is not lost, and a report seen twice is dropped, not applied twice.

use std::{collections::VecDeque, time::Duration};

use feeds::{
    book::Book,
    event::{InstrumentId, Price, Qty, Side},
    ws::{WsClient, WsError},
};

use super::{
    GatewayCounters, GatewayError, VenueGateway, VenueOrder, VenuePosition,
    protocol::{self, Answer, Credentials, WireSymbol},
};
use crate::{
    clock::{Clock, LiveClock},
    fixed::Bounded,
    order::{ClientId, ExecKind, ExecReport, NewOrder},
};

/// How long a login or a query may wait for its answer. On the trading core nothing
/// waits: a reconnect's login ([`WsGateway::await_login`]) and the open-orders
/// question that settles orders ([`VenueGateway::ask_open_orders`]) are answered on
/// later steps. Only start-up's login and queries wait for their answers.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(800);

/// Messages a pending login's answer is looked for among per call.
const LOGIN_MESSAGES_PER_CALL: usize = 16;

/// The receive buffer: the largest answer (a query's list of open orders).
const INBOUND: usize = 1 << 20;

/// A WebSocket order-entry session.
#[derive(Debug)]
pub struct WsGateway {
    url: String,
    /// Whom a wss:// venue must be vouched for by.
    tls: feeds::ws::TlsConfig,
    creds: Credentials,
    /// Instrument id − `first` → (symbol, price scale, size scale).
    symbols: Vec<(String, u8, u8)>,
    /// The engine's id of this venue's first instrument (one venue among several
    /// trades a range of ids; see `VenueLayout`).
    first: u32,
    client: Option<WsClient>,
    request: Vec<u8>,
    /// The symbol of each order sent (client id, index in `symbols` + 1; 0: none),
    /// slot by client id modulo its length, a newer order taking an older one's
    /// place: a fill or replace naming another symbol is caught while its order is
    /// still here.
    sent: Vec<(u64, u32)>,
    cancel_on_disconnect: bool,
    /// The last report sequence applied.
    last_seq: u64,
    /// Whether a login ever succeeded (a later one is a reconnect).
    logged_in_before: bool,
    /// A login sent and not answered yet: when to give up on it (ns, `clock`).
    /// Until it is answered the connection takes no orders and its reports wait.
    login_deadline: Option<u64>,
    /// Reports that arrived while a query waited for its answer.
    held: VecDeque<ExecReport>,
    /// An open-orders question out: when to give up on it (ns, `clock`), and its id.
    question: Option<(u64, u64)>,
    /// The question's answer, read and not taken yet. Until it is taken, nothing
    /// after it is read, so the settle it feeds sees exactly the reports before it.
    answer: Option<Result<Vec<VenueOrder>, GatewayError>>,
    /// The id of the last query sent. The venue echoes a query's id in its answer
    /// (or the error in its place), so the answer to a question given up on, when
    /// it comes late, is told from a later question's and dropped: it never
    /// settles that one's orders. A slow venue keeps its session (and with
    /// cancel-on-disconnect, its resting orders).
    query_id: u64,
    /// Reconnects are made on its thread, off the hot core; the login that follows
    /// is sent from the hot core and its answer read there without waiting.
    connector: crate::connector::Connector,
    /// Where reconnects run (the cold core); unset, on the CPUs of the thread that
    /// called [`WsGateway::connect`].
    connect_cpu: Option<usize>,
    clock: LiveClock,
    counters: GatewayCounters,
}

impl WsGateway {
    /// Connects to `url` and logs in. `symbols` maps instrument ids (their index) to
    /// the venue's symbols and scales.
    ///
    /// # Errors
    /// The connection or the login failed.
    pub fn connect(
        url: &str,
        creds: Credentials,
        symbols: Vec<(String, u8, u8)>,
        cancel_on_disconnect: bool,
    ) -> Result<Self, GatewayError> {
        Self::connect_with(url, creds, (symbols, cancel_on_disconnect), feeds::ws::TlsConfig::default())
    }

    /// [`WsGateway::connect`], a wss:// venue vouched for by `tls`'s roots.
    ///
    /// # Errors
    /// As [`WsGateway::connect`].
    pub fn connect_with(
        url: &str,
        creds: Credentials,
        (symbols, cancel_on_disconnect): (Vec<(String, u8, u8)>, bool),
        tls: feeds::ws::TlsConfig,
    ) -> Result<Self, GatewayError> {
        let connector = crate::connector::Connector::spawn("venue-connect", url, &tls, Vec::new(), INBOUND)
            .map_err(|e| GatewayError::Unreachable(format!("starting the reconnect thread: {e}")))?;
        let mut gateway = Self {
            url: url.to_owned(),
            tls,
            creds,
            symbols,
            first: 0,
            client: None,
            request: Vec::with_capacity(1024),
            sent: vec![(0, 0); SENT_SLOTS],
            cancel_on_disconnect,
            last_seq: 0,
            logged_in_before: false,
            login_deadline: None,
            held: VecDeque::with_capacity(1024),
            question: None,
            answer: None,
            query_id: 0,
            connector,
            connect_cpu: None,
            clock: LiveClock::new(),
            counters: GatewayCounters::default(),
        };
        gateway.login()?;
        Ok(gateway)
    }

    /// Makes reconnects on `cpu` (the cold core), off the hot cores' CPUs; `None`:
    /// wherever the scheduler puts them.
    #[must_use]
    pub fn with_connect_cpu(mut self, cpu: Option<usize>) -> Self {
        self.connect_cpu = cpu;
        self
    }

    /// Numbers this venue's instruments from `first` (its `symbols[0]` is the
    /// engine's instrument `first`): one venue among several.
    #[must_use]
    pub fn with_first_instrument(mut self, first: u32) -> Self {
        self.first = first;
        self
    }

    /// Drops the connection (tests, and a controlled shutdown without a goodbye).
    pub fn disconnect(&mut self) {
        self.client = None;
        self.forget_question();
        self.login_deadline = None;
    }

    /// A connection ends: a question out on it fails (the caller takes that as
    /// its answer).
    fn forget_question(&mut self) {
        if self.question.take().is_some() {
            self.answer = Some(Err(GatewayError::Disconnected(WsError::Disconnected)));
        }
    }

    /// The last report sequence applied.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn ts_ms(&self) -> u64 {
        self.clock.now_ns() / 1_000_000
    }

    /// Logs in on a new connection (at start-up, waiting for the answer). A first
    /// login starts from the venue's current sequence (an earlier run's answers are
    /// not ours to apply); a reconnect asks for everything after the last answer
    /// applied. Any failure leaves the gateway disconnected.
    fn login(&mut self) -> Result<(), GatewayError> {
        let client = WsClient::connect_with(&self.url, ANSWER_TIMEOUT, &mut None, INBOUND, &self.tls)?;
        self.send_login(client)?;
        loop {
            match self.await_login() {
                Err(GatewayError::Connecting) => std::thread::sleep(Duration::from_micros(200)),
                done => return done,
            }
        }
    }

    /// Sends the login on `client`, a new connection; [`WsGateway::await_login`]
    /// reads the answer.
    fn send_login(&mut self, mut client: WsClient) -> Result<(), GatewayError> {
        let ts = self.ts_ms();
        let resume_from = if self.logged_in_before { self.last_seq } else { u64::MAX };
        protocol::encode_login(&mut self.request, &self.creds, ts, self.cancel_on_disconnect, resume_from);
        client.send_text(&self.request)?;
        self.client = Some(client);
        self.forget_question();
        self.login_deadline = Some(self.clock.now_ns() + ANSWER_TIMEOUT.as_nanos() as u64);
        Ok(())
    }

    /// Reads what has arrived on a connection whose login is unanswered, without
    /// waiting: `Ok` once logged in, [`GatewayError::Connecting`] while the answer
    /// has not come and its deadline has not passed. Any failure (a refusal, no
    /// answer in time, a lost connection) leaves the gateway disconnected.
    fn await_login(&mut self) -> Result<(), GatewayError> {
        let outcome = self.read_login_answer();
        if !matches!(outcome, Err(GatewayError::Connecting)) {
            self.login_deadline = None;
        }
        if outcome.is_err() && self.login_deadline.is_none() {
            self.client = None;
        }
        outcome
    }

    fn read_login_answer(&mut self) -> Result<(), GatewayError> {
        let deadline = self.login_deadline.ok_or(GatewayError::Disconnected(WsError::Disconnected))?;
        let first = !self.logged_in_before;
        // A few messages per call: a venue chattering without answering the login
        // neither holds the trading core here nor outlives the deadline. (Each one
        // read is copied: this runs once per reconnect, not per order.)
        for _ in 0..LOGIN_MESSAGES_PER_CALL {
            if self.clock.now_ns() >= deadline {
                return Err(GatewayError::Timeout(ANSWER_TIMEOUT));
            }
            let client = self.client.as_mut().ok_or(GatewayError::Disconnected(WsError::Disconnected))?;
            let Some(answer) = client.poll()?.map(<[u8]>::to_vec) else { return Err(GatewayError::Connecting) };
            let symbols = self.wire_symbols();
            match protocol::decode_answer(&answer, &symbols) {
                Ok(Answer::Login { ok: true, seq, .. }) => {
                    // First login: start at the venue's sequence. A reconnect to a
                    // venue whose sequence went backwards (it restarted) starts over
                    // there too; what it lost is settled by an open-orders query.
                    if first || seq < self.last_seq {
                        self.last_seq = seq;
                    }
                    self.logged_in_before = true;
                    return Ok(());
                }
                Ok(Answer::Login { ok: false, reason, .. }) => {
                    return Err(GatewayError::Login(String::from_utf8_lossy(reason).into_owned()));
                }
                Ok(Answer::Report { seq, cid, kind, reason, symbol }) => {
                    self.hold(Decoded::of(seq, cid, kind, reason, symbol));
                }
                Ok(Answer::Error { reason, .. }) => {
                    return Err(GatewayError::Protocol(String::from_utf8_lossy(reason).into_owned()));
                }
                Ok(Answer::Query { .. }) => self.counters.bad_messages += 1,
                Err(_) => self.unreadable(protocol::seq_and_cid_of(&answer)),
            }
        }
        Err(GatewayError::Connecting)
    }

    fn wire_symbols(&self) -> Vec<WireSymbol<'_>> {
        self.symbols.iter().map(|(name, p, q)| WireSymbol { name, price_scale: *p, qty_scale: *q }).collect()
    }

    /// Keeps a report that arrived while a cold exchange waited (dropping repeats).
    fn hold(&mut self, report: Decoded) {
        if let Some(report) = self.accept(report, self.clock.now_ns()) {
            self.held.push_back(report);
        }
    }

    /// The report for a venue answer, or `None` for one already applied.
    fn accept(&mut self, Decoded { seq, cid, kind, rate_limited, symbol }: Decoded, now: u64) -> Option<ExecReport> {
        if seq != 0 && seq <= self.last_seq {
            self.counters.duplicates_dropped += 1;
            return None;
        }
        // The venue numbers its reports one by one. Past one skipped, applying this
        // one would make every report in between look like a repeat when it comes:
        // drop the connection instead, and the reconnect resumes after the last one
        // applied (a bogus number costs a reconnect, not every later report).
        if self.logged_in_before && seq > self.last_seq.saturating_add(1) {
            self.counters.sequence_gaps += 1;
            self.client = None;
            return None;
        }
        // A fill or replace naming another symbol than its order's would be read at
        // that symbol's scales: a size off by powers of ten. Not applied; it keeps
        // its place in the sequence, as any report that cannot be read.
        let sent = self.sent.get((cid.0 % SENT_SLOTS as u64) as usize).copied().unwrap_or_default();
        if let Some(index) = symbol
            && sent.0 == cid.0
            && sent.1 != 0
            && sent.1 as usize != index + 1
        {
            self.unreadable((Some(seq), Some(cid.0)));
            return None;
        }
        self.last_seq = self.last_seq.max(seq);
        if kind == ExecKind::Rejected && rate_limited {
            self.counters.rate_limited += 1;
        }
        Some(ExecReport { client_id: cid, kind, ts: now })
    }

    /// A venue message that cannot be read is counted. If it is the next numbered
    /// report (`seq`, from [`protocol::seq_and_cid_of`]), it takes its place in the
    /// sequence: asking for it again would bring the same bytes, and the reports
    /// after it would look like a gap forever. It is counted as unapplied (a position
    /// may have moved unseen) when it is about one of our orders, or does not say
    /// whose: another session's report on the same account (a fill in a symbol this
    /// session does not trade) moves nothing this engine holds.
    fn unreadable(&mut self, (seq, cid): (Option<u64>, Option<u64>)) {
        self.counters.bad_messages += 1;
        if let Some(next) = self.last_seq.checked_add(1)
            && seq == Some(next)
        {
            self.last_seq = next;
            if cid.is_none_or(|cid| self.sent_by_us(cid)) {
                self.counters.unapplied_reports += 1;
            }
        }
    }

    /// Whether `cid` is an order this gateway sent and still remembers (the last
    /// 4,096 by slot; an older order's unreadable report is taken for another
    /// session's).
    fn sent_by_us(&self, cid: u64) -> bool {
        self.sent.get((cid % SENT_SLOTS as u64) as usize).is_some_and(|(id, symbol)| *id == cid && *symbol != 0)
    }

    /// The next message, waiting until `deadline` (cold path: copies it out).
    fn next_cold(&mut self, deadline: u64) -> Result<Vec<u8>, GatewayError> {
        loop {
            let client = self.client.as_mut().ok_or(GatewayError::Disconnected(WsError::Disconnected))?;
            match client.poll() {
                Ok(Some(message)) => return Ok(message.to_vec()),
                Ok(None) if self.clock.now_ns() < deadline => std::thread::sleep(Duration::from_micros(200)),
                Ok(None) => return Err(GatewayError::Timeout(ANSWER_TIMEOUT)),
                Err(e) => {
                    self.client = None;
                    return Err(e.into());
                }
            }
        }
    }

    /// Sends a query and returns its answer as JSON, holding reports met on the way.
    fn query(&mut self, op: &str) -> Result<serde_json::Value, GatewayError> {
        let id = self.send_query(op)?;
        let deadline = self.clock.now_ns() + ANSWER_TIMEOUT.as_nanos() as u64;
        loop {
            let message = self.next_cold(deadline)?;
            let symbols = self.wire_symbols();
            match protocol::decode_answer(&message, &symbols) {
                Ok(Answer::Query { id: Some(got) }) if got == id => {
                    let json: serde_json::Value =
                        serde_json::from_slice(&message).map_err(|e| GatewayError::Protocol(e.to_string()))?;
                    if json["type"] == op {
                        return Ok(json);
                    }
                    self.counters.bad_messages += 1;
                }
                Ok(Answer::Error { reason, id: Some(got) }) if got == id => {
                    return Err(GatewayError::Protocol(String::from_utf8_lossy(reason).into_owned()));
                }
                Ok(Answer::Report { seq, cid, kind, reason, symbol }) => {
                    self.hold(Decoded::of(seq, cid, kind, reason, symbol));
                }
                // A late answer to an earlier query.
                Ok(answer) if answer.query_id().is_some() => {}
                Ok(_) => self.counters.bad_messages += 1,
                Err(_) => self.unreadable(protocol::seq_and_cid_of(&message)),
            }
        }
    }

    /// Sends query `op` with a new id (returned), if no question is out.
    fn send_query(&mut self, op: &str) -> Result<u64, GatewayError> {
        if self.question.is_some() || self.answer.is_some() {
            return Err(GatewayError::Protocol("a question to the venue is already out".into()));
        }
        let ts = self.ts_ms();
        self.query_id += 1;
        protocol::encode_query(&mut self.request, &self.creds, ts, op, self.query_id);
        self.send()?;
        Ok(self.query_id)
    }

    /// The orders of an open-orders answer. `only_ours`: those in symbols this
    /// session does not trade (another run's, say) are left out, not an error: a
    /// settle looks only for its own orders, and must not fail for good on them.
    fn read_open_orders(&self, json: &serde_json::Value, only_ours: bool) -> Result<Vec<VenueOrder>, GatewayError> {
        let orders = json["orders"].as_array().ok_or_else(|| GatewayError::Protocol("no orders array".into()))?;
        orders
            .iter()
            .filter_map(|o| match self.instrument_of(o["symbol"].as_str().unwrap_or_default()) {
                Err(_) if only_ours => None,
                listed => Some((o, listed)),
            })
            .map(|(o, listed)| {
                let (instrument, ps, qs) = listed?;
                let side = if o["side"] == "sell" { Side::Sell } else { Side::Buy };
                Ok(VenueOrder {
                    id: ClientId(o["cid"].as_u64().ok_or_else(|| GatewayError::Protocol("order without cid".into()))?),
                    instrument,
                    side,
                    price: Price(self.fixed(&o["price"], ps)?),
                    qty: Qty(self.fixed(&o["qty"], qs)?),
                    filled: self.fixed(&o["filled"], qs)?,
                })
            })
            .collect()
    }

    /// The answer to the question out (its orders, or an error in their place).
    fn read_question_answer(&mut self, message: &[u8]) {
        let answer = match serde_json::from_slice::<serde_json::Value>(message) {
            Ok(json) if json["type"] == "open_orders" => self.read_open_orders(&json, true),
            Ok(json) if json["type"] == "error" => {
                Err(GatewayError::Protocol(json["reason"].as_str().unwrap_or_default().to_owned()))
            }
            Ok(json) => Err(GatewayError::Protocol(format!("not an open-orders answer: {json}"))),
            Err(e) => Err(GatewayError::Protocol(e.to_string())),
        };
        self.answer = Some(answer);
    }

    fn send(&mut self) -> Result<(), GatewayError> {
        let client = self
            .client
            .as_mut()
            .filter(|_| self.login_deadline.is_none())
            .ok_or(GatewayError::Disconnected(WsError::Disconnected))?;
        client.send_text(&self.request).map_err(|e| {
            self.client = None;
            GatewayError::Disconnected(e)
        })
    }

    /// The engine's instrument for a venue symbol, and its price and size scales.
    fn instrument_of(&self, symbol: &str) -> Result<(InstrumentId, u8, u8), GatewayError> {
        self.symbols
            .iter()
            .enumerate()
            .find(|(_, (name, ..))| name == symbol)
            .map(|(i, (_, ps, qs))| (InstrumentId(self.first + i as u32), *ps, *qs))
            .ok_or_else(|| GatewayError::Protocol(format!("unknown symbol {symbol:?}")))
    }

    fn fixed(&self, value: &serde_json::Value, scale: u8) -> Result<i64, GatewayError> {
        let text = value.as_str().ok_or_else(|| GatewayError::Protocol(format!("not a decimal string: {value}")))?;
        feeds::decimal::parse_fixed(text.as_bytes(), scale).map_err(|e| GatewayError::Protocol(e.to_string()))
    }
}

impl VenueGateway for WsGateway {
    fn submit(&mut self, id: ClientId, order: &NewOrder, _book: &Book, _now: u64) -> Result<(), GatewayError> {
        let order_type = protocol::type_name(order.order_type).ok_or(GatewayError::StopAtVenue)?;
        let ts = self.ts_ms();
        let wire = symbol(&self.symbols, self.first, order.instrument)?;
        protocol::encode_new(
            &mut self.request,
            &self.creds,
            ts,
            id,
            wire,
            order.side,
            order_type,
            (order.price, order.qty),
        );
        self.send()?;
        // Sent: its symbol is remembered (a send that failed keeps an older order's).
        if let Some(slot) = self.sent.get_mut((id.0 % SENT_SLOTS as u64) as usize) {
            *slot = (id.0, order.instrument.0 - self.first + 1);
        }
        Ok(())
    }

    fn cancel(&mut self, id: ClientId, _instrument: InstrumentId, _now: u64) -> Result<(), GatewayError> {
        let ts = self.ts_ms();
        protocol::encode_cancel(&mut self.request, &self.creds, ts, id);
        self.send()
    }

    fn replace(
        &mut self,
        id: ClientId,
        instrument: InstrumentId,
        terms: (Price, Qty),
        _book: &Book,
        _now: u64,
    ) -> Result<(), GatewayError> {
        let ts = self.ts_ms();
        let wire = symbol(&self.symbols, self.first, instrument)?;
        protocol::encode_replace(&mut self.request, &self.creds, ts, id, wire, terms);
        self.send()
    }

    fn poll(&mut self, now: u64, out: &mut Bounded<ExecReport>) -> Result<(), GatewayError> {
        while out.room() > 0
            && let Some(report) = self.held.pop_front()
        {
            let _ = out.push(report);
        }
        // A question's answer not taken yet: what follows it waits behind it.
        while out.room() > 0 && self.answer.is_none() {
            // Down: reported once, when it was found; reconnect() brings it back.
            // Logging in: the login's answer is reconnect()'s to read.
            let Some(client) = self.client.as_mut().filter(|_| self.login_deadline.is_none()) else { return Ok(()) };
            match client.advance() {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => {
                    self.client = None;
                    return Err(e.into());
                }
            }
            let Some(client) = self.client.as_ref() else { break };
            match decode_in_place(client.message(), &self.symbols) {
                Some(report) => {
                    if let Some(report) = self.accept(report, now) {
                        let _ = out.push(report);
                    }
                }
                // Not a report: the question's answer (copied out, once per
                // question), a late answer to one given up on (dropped), or
                // unreadable (counted). Only the first allocates.
                None => match protocol::decode_answer(client.message(), &[]).ok().and_then(|a| a.query_id()) {
                    Some(id) if self.question.is_some_and(|(_, asked)| asked == id) => {
                        let message = client.message().to_vec();
                        self.read_question_answer(&message);
                    }
                    Some(_) => {}
                    None => {
                        let numbered = protocol::seq_and_cid_of(client.message());
                        self.unreadable(numbered);
                    }
                },
            }
        }
        Ok(())
    }

    fn ask_open_orders(&mut self, _venue: usize) -> Result<Option<Vec<VenueOrder>>, GatewayError> {
        let id = self.send_query("open_orders")?;
        self.question = Some((self.clock.now_ns() + ANSWER_TIMEOUT.as_nanos() as u64, id));
        Ok(None)
    }

    fn open_orders_answer(&mut self, _venue: usize) -> Option<Result<Vec<VenueOrder>, GatewayError>> {
        if let Some(answer) = self.answer.take() {
            self.question = None;
            return Some(answer);
        }
        let (deadline, _) = self.question?;
        if !self.is_connected() {
            self.question = None;
            return Some(Err(GatewayError::Disconnected(WsError::Disconnected)));
        }
        if self.clock.now_ns() >= deadline {
            // Its answer may still come: dropped then, by its id.
            self.question = None;
            self.counters.unanswered_questions += 1;
            return Some(Err(GatewayError::Timeout(ANSWER_TIMEOUT)));
        }
        None
    }

    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, GatewayError> {
        let json = self.query("open_orders")?;
        self.read_open_orders(&json, false)
    }

    fn positions(&mut self) -> Result<Vec<VenuePosition>, GatewayError> {
        let json = self.query("positions")?;
        let positions =
            json["positions"].as_array().ok_or_else(|| GatewayError::Protocol("no positions array".into()))?;
        positions
            .iter()
            .map(|p| {
                let (instrument, ps, qs) = self.instrument_of(p["symbol"].as_str().unwrap_or_default())?;
                Ok(VenuePosition {
                    instrument,
                    net: self.fixed(&p["net"], qs)?,
                    avg_price: self.fixed(&p["avg_price"], ps)?,
                })
            })
            .collect()
    }

    fn counters(&self) -> GatewayCounters {
        self.counters
    }

    fn unapplied_reports(&self) -> u64 {
        self.counters.unapplied_reports
    }

    fn is_connected(&self) -> bool {
        self.client.is_some() && self.login_deadline.is_none()
    }

    /// Starts a new connection off the hot core, and once it is made, sends the
    /// login on it, asking for every report after the last one applied. Its answer
    /// is looked for on each later call, never waited for: a venue slow to answer
    /// (or silent) does not hold up the trading core.
    fn reconnect(&mut self) -> Result<(), GatewayError> {
        if self.login_deadline.is_none() {
            self.client = None;
            let Some((connected, _)) = self.connector.poll() else {
                if !self.connector.is_in_flight() {
                    self.connector
                        .start(None, self.connect_cpu, ANSWER_TIMEOUT)
                        .map_err(|(e, _)| GatewayError::Unreachable(e))?;
                }
                return Err(GatewayError::Connecting);
            };
            self.send_login(connected.map_err(GatewayError::Unreachable)?)?;
        }
        self.await_login()?;
        self.counters.reconnects += 1;
        Ok(())
    }

    fn is_reconnecting(&self) -> bool {
        self.connector.is_in_flight() || self.login_deadline.is_some()
    }
}

/// The wire view of an instrument's symbol (`symbols[0]` is instrument `first`).
fn symbol(symbols: &[(String, u8, u8)], first: u32, instrument: InstrumentId) -> Result<WireSymbol<'_>, GatewayError> {
    let (name, price_scale, qty_scale) = instrument
        .0
        .checked_sub(first)
        .and_then(|i| symbols.get(i as usize))
        .ok_or(GatewayError::UnknownInstrument(instrument))?;
    Ok(WireSymbol { name, price_scale: *price_scale, qty_scale: *qty_scale })
}

/// Order-entry slots remembering the symbol of each order sent (see `WsGateway::sent`).
const SENT_SLOTS: usize = 4096;

/// A report as read off the wire.
#[derive(Debug, Clone, Copy)]
struct Decoded {
    seq: u64,
    cid: ClientId,
    kind: ExecKind,
    /// A reject for the venue's rate limit.
    rate_limited: bool,
    /// A fill's or replace's symbol, as an index in the session's symbols.
    symbol: Option<usize>,
}

impl Decoded {
    fn of(seq: u64, cid: ClientId, kind: ExecKind, reason: &[u8], symbol: Option<usize>) -> Self {
        Self { seq, cid, kind, rate_limited: reason == b"rate_limited", symbol }
    }
}

/// Decodes a report against `symbols` without allocating. `None` for anything that
/// is not a readable report.
fn decode_in_place(message: &[u8], symbols: &[(String, u8, u8)]) -> Option<Decoded> {
    // As many symbols as the engine trades: a fixed array of borrowed views.
    let mut wire = [WireSymbol { name: "", price_scale: 0, qty_scale: 0 }; crate::pipeline::MAX_INSTRUMENTS];
    for (slot, (name, p, q)) in wire.iter_mut().zip(symbols) {
        *slot = WireSymbol { name, price_scale: *p, qty_scale: *q };
    }
    let views = wire.get(..symbols.len().min(crate::pipeline::MAX_INSTRUMENTS))?;
    match protocol::decode_answer(message, views).ok()? {
        Answer::Report { seq, cid, kind, reason, symbol } => Some(Decoded::of(seq, cid, kind, reason, symbol)),
        _ => None,
    }
}
