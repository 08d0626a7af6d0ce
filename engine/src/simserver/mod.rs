//! `engine sim`: the exchange simulator on its own, so another terminal (or a test)
//! can run the engine against it over real sockets.
//!
//! - Market data at `ws://127.0.0.1:PORT/` in Binance's format: each connection gets
//!   its own market (first a partial-depth snapshot per symbol, then depth updates
//!   and trades at the offered rate, and a fresh snapshot every `--snapshot-every`,
//!   which is how a client that saw a gap resyncs). With the feed-fault flags
//!   (`--gap-every`, `--duplicate-every`, ...; see [`crate::sim::Faults`]) some of
//!   those frames are damaged on purpose; each connection prints what it injected on
//!   stderr when it ends.
//! - Order entry at `ws://127.0.0.1:PORT/orders` in the protocol of
//!   [`crate::gateway::protocol`], for the account whose API key and secret are in
//!   `ENGINE_API_KEY` and `ENGINE_API_SECRET`. Orders match against the market of the
//!   account's market-data connection: open it as `ws://127.0.0.1:PORT/?account=KEY`.
//!
//! Cold code: it allocates freely.

mod account;
mod bybit;
mod coinbase;
mod kraken;
mod okx;
mod orders;

use std::{
    collections::HashMap,
    io::Write,
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    time::Duration,
};

use tungstenite::Message;

use crate::{
    cli::SimArgs,
    gateway::protocol::Credentials,
    sim::{Faults, FaultyMarket, FeeSchedule, MarketSim, SimSymbol},
};
use account::{Account, Listing};

#[allow(clippy::disallowed_methods, reason = "the simulator paces itself by wall time")]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

#[allow(clippy::disallowed_methods, reason = "the simulator stamps its own venue time")]
fn unix_ns() -> u64 {
    std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos() as u64)
}

/// The server's accounts (by API key) and the credentials it checks logins against.
#[derive(Debug)]
struct Registry {
    credentials: Option<Credentials>,
    accounts: Mutex<HashMap<String, Arc<Mutex<Account>>>>,
}

impl Registry {
    /// The account of `key`, opened on first use.
    fn account(&self, key: &str, args: &SimArgs) -> Arc<Mutex<Account>> {
        let mut accounts = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let account = accounts.entry(key.to_owned()).or_insert_with(|| {
            let listings = args
                .symbols
                .iter()
                .map(|name| {
                    let (price_scale, qty_scale) = crate::run::symbol_scales(name, &args.scales);
                    Listing { name: name.clone(), price_scale, qty_scale }
                })
                .collect();
            let fees = FeeSchedule { maker_bps: args.maker_fee_bps, taker_bps: args.taker_fee_bps };
            let mut account = Account::new(listings, fees);
            account.drop_acks_every = args.drop_acks_every;
            account.skip_report = args.skip_report;
            account.overfill_every = args.overfill_every;
            Arc::new(Mutex::new(account))
        });
        Arc::clone(account)
    }
}

fn market(args: &SimArgs) -> FaultyMarket {
    let symbols = args
        .symbols
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (ps, qs) = crate::run::symbol_scales(name, &args.scales);
            SimSymbol::new(name, feeds::event::InstrumentId(i as u32), (ps, qs), crate::run::sim_start_ticks(name, ps))
        })
        .collect();
    let faults = Faults {
        gap_every: args.gap_every,
        duplicate_every: args.duplicate_every,
        reorder_every: args.reorder_every,
        malformed_every: args.malformed_every,
        absurd_price_every: args.absurd_price_every,
        crossed_every: args.crossed_every,
        corrupt_every: args.corrupt_every,
        random_seed: (args.fault_timing == crate::cli::FaultTiming::Random).then_some(args.seed),
    };
    FaultyMarket::new(MarketSim::new(symbols, args.seed).with_dialect(args.dialect.venue()), faults)
}

fn lock(account: &Arc<Mutex<Account>>) -> std::sync::MutexGuard<'_, Account> {
    // A thread that panicked holding it leaves the data as it was: keep serving.
    account.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn text(bytes: &[u8]) -> Message {
    Message::text(String::from_utf8_lossy(bytes).into_owned())
}

/// Serves market data on one connection until the client goes away (the error says
/// how), then prints the faults it injected. With an account, the account's venue
/// follows this market.
fn serve_feed<S: Socket>(
    ws: tungstenite::WebSocket<S>,
    args: &SimArgs,
    account: Option<Arc<Mutex<Account>>>,
) -> Result<(), String> {
    let peer = ws.get_ref().tcp().peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut market = market(args);
    let mut stream = Streamed { started: now(), sent: 0 };
    let ended = stream_market(ws, args, account.as_ref(), &mut market, &mut stream, &peer);
    // Tests and the reliability report read this line for what was injected.
    eprintln!("sim: faults injected on {peer}: {} {stream}", market.counts());
    ended
}

/// How much a connection has streamed: the soak test divides one by the other for
/// the rate it offered while connected, outages aside.
struct Streamed {
    started: std::time::Instant,
    /// Market updates made (each one frame, before faults).
    sent: u64,
}

impl std::fmt::Display for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sent={} connected_ms={}", self.sent, self.started.elapsed().as_millis())
    }
}

fn stream_market<S: Socket>(
    mut ws: tungstenite::WebSocket<S>,
    args: &SimArgs,
    account: Option<&Arc<Mutex<Account>>>,
    market: &mut FaultyMarket,
    stream: &mut Streamed,
    peer: &str,
) -> Result<(), String> {
    let e = |e: tungstenite::Error| e.to_string();
    // All but Binance: nothing until the client subscribes, and a book snapshot only
    // when it subscribes to the book (never on a timer).
    let subscribes = market.market().dialect() != feeds::event::Venue::Binance;
    let kraken = market.market().dialect() == feeds::event::Venue::Kraken;
    let mut subscriptions = Subscriptions::new(market.market().symbols().len(), !subscribes);
    if kraken {
        ws.send(Message::text(kraken::STATUS)).map_err(e)?;
    }
    if subscribes {
        let wait = Duration::from_secs(10);
        loop {
            let Some(request) = client_request(&mut ws, Some(wait))? else {
                return Err(format!("no subscribe request within {wait:?}"));
            };
            if answer_request(&mut ws, &request, market, &mut subscriptions)? {
                break;
            }
        }
    }
    let ids: Vec<_> = market.market().symbols().iter().map(|s| s.instrument).collect();
    let started = now();
    stream.started = started;
    let mut next_snapshot = Duration::ZERO;
    let mut next_tally = Duration::from_secs(1);
    loop {
        let elapsed = started.elapsed();
        if !args.drop_every.is_zero() && elapsed >= args.drop_every {
            // Abruptly, as a restarting gateway does: no close handshake.
            let _ = ws.get_ref().tcp().shutdown(std::net::Shutdown::Both);
            return Err(format!("dropped after {:?} (--drop-every)", args.drop_every));
        }
        if elapsed >= next_tally {
            // A running tally, for whoever kills the simulator rather than let the
            // connection end (the soak test): the last one stands for the connection.
            eprintln!("sim: faults so far on {peer}: {} {stream}", market.counts());
            next_tally = elapsed + Duration::from_secs(1);
            if kraken {
                ws.write(Message::text(kraken::HEARTBEAT)).map_err(e)?;
            }
        }
        if subscribes {
            while let Some(request) = client_request(&mut ws, None)? {
                let _ = answer_request(&mut ws, &request, market, &mut subscriptions)?;
            }
        }
        if elapsed >= next_snapshot {
            for id in &ids {
                if !subscribes {
                    ws.write(text(market.market_mut().snapshot_frame(*id))).map_err(e)?;
                }
                if let Some(a) = account {
                    lock(a).refresh(market.market(), *id, unix_ns());
                }
            }
            next_snapshot = elapsed + args.snapshot_every;
        }
        let due = (elapsed.as_nanos() * u128::from(args.rate) / 1_000_000_000) as u64;
        let ts = unix_ns();
        while stream.sent < due {
            market.next_frames(
                ts,
                |frame, of| if subscriptions.wants(of) { ws.write(text(frame)).map_err(e) } else { Ok(()) },
            )?;
            if let Some(a) = account {
                lock(a).follow(market.market(), ts);
            }
            stream.sent += 1;
        }
        ws.flush().map_err(e)?;
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A connection's byte stream: plain, or TLS over the socket.
pub(super) trait Socket: std::io::Read + std::io::Write {
    /// The socket underneath.
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Socket for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

/// The server side of --tls-cert and --tls-key.
fn tls_config(args: &SimArgs) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else { return Ok(None) };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    Ok(Some(Arc::new(config)))
}

/// A subscribing client's next request, if one has come: waiting up to `wait` for
/// it, or, with no `wait`, only taking one already there.
fn client_request<S: Socket>(
    ws: &mut tungstenite::WebSocket<S>,
    wait: Option<Duration>,
) -> Result<Option<String>, String> {
    let tcp = ws.get_ref().tcp();
    let set = match wait {
        Some(wait) => tcp.set_read_timeout(Some(wait)),
        None => tcp.set_nonblocking(true),
    };
    set.map_err(|e| e.to_string())?;
    // Control frames (a ping, a pong) are no requests: read on past them.
    let read = loop {
        match ws.read() {
            Ok(Message::Text(t)) => break Ok(t),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    ws.get_ref().tcp().set_nonblocking(false).map_err(|e| e.to_string())?;
    match read {
        Ok(t) => Ok(Some(t.as_str().to_owned())),
        Err(tungstenite::Error::Io(e))
            if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// What one connection is subscribed to, per symbol (in the market's order): its
/// book, its trades. A Binance connection gets everything (its streams are in the
/// URL); the others only what they subscribed to and have not unsubscribed.
struct Subscriptions {
    books: Vec<bool>,
    trades: Vec<bool>,
}

impl Subscriptions {
    fn new(symbols: usize, everything: bool) -> Self {
        Self { books: vec![everything; symbols], trades: vec![everything; symbols] }
    }

    fn set(&mut self, symbols: &[String], change: &bybit::Change) {
        let Some(k) = symbols.iter().position(|s| *s == change.symbol) else { return };
        let side = if change.book { &mut self.books } else { &mut self.trades };
        if let Some(on) = side.get_mut(k) {
            *on = change.on;
        }
    }

    /// Whether a frame of `of` goes to this connection.
    fn wants(&self, of: crate::sim::FrameOf) -> bool {
        let side = if of.trade { &self.trades } else { &self.books };
        of.instrument.and_then(|i| side.get(i.0 as usize)).copied().unwrap_or(false)
    }
}

/// Answers a Bybit, OKX, Coinbase or Kraken client's request in its venue's words, and sends the book
/// snapshots a subscription asks for; whether it was a subscription that succeeded.
fn answer_request<S: Socket>(
    ws: &mut tungstenite::WebSocket<S>,
    request: &str,
    market: &mut FaultyMarket,
    subscriptions: &mut Subscriptions,
) -> Result<bool, String> {
    let symbols: Vec<String> = market.market().symbols().iter().map(|s| s.venue_name.clone()).collect();
    let answer = match market.market().dialect() {
        feeds::event::Venue::Okx => okx::answer(request, &symbols),
        feeds::event::Venue::Coinbase => coinbase::answer(request, &symbols),
        feeds::event::Venue::Kraken => kraken::answer(request, &symbols),
        _ => bybit::answer(request, &symbols),
    };
    for change in &answer.changes {
        subscriptions.set(&symbols, change);
    }
    for reply in answer.replies {
        ws.write(Message::text(reply)).map_err(|e| e.to_string())?;
    }
    for name in answer.snapshots {
        let id = market.market().symbols().iter().find(|s| s.venue_name == name).map(|s| s.instrument);
        if let Some(id) = id {
            ws.write(text(market.market_mut().snapshot_frame(id))).map_err(|e| e.to_string())?;
        }
    }
    ws.flush().map_err(|e| e.to_string())?;
    Ok(answer.subscribed)
}

/// Routes one connection by its path: `/orders` is order entry, anything else
/// market data (`?account=KEY` ties it to that account's venue).
fn serve(
    stream: TcpStream,
    args: &SimArgs,
    registry: &Registry,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<(), String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    match tls {
        Some(config) => {
            let conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
            serve_ws(rustls::StreamOwned::new(conn, stream), args, registry)
        }
        None => serve_ws(stream, args, registry),
    }
}

fn serve_ws<S: Socket>(stream: S, args: &SimArgs, registry: &Registry) -> Result<(), String> {
    let mut target = String::new();
    #[allow(clippy::result_large_err, reason = "tungstenite's callback type; it never fails here")]
    let remember = |request: &tungstenite::handshake::server::Request, response| {
        target = request.uri().to_string();
        Ok(response)
    };
    let ws = tungstenite::accept_hdr(stream, remember).map_err(|e| e.to_string())?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path.trim_end_matches('/') == "/orders" {
        return orders::serve(ws, registry, args);
    }
    let account = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("account="))
        .filter(|key| registry.credentials.as_ref().is_some_and(|c| c.key() == *key))
        .map(|key| registry.account(key, args));
    serve_feed(ws, args, account)
}

/// Runs the simulator server until killed.
///
/// # Errors
/// A fault the dialect cannot carry, a bad certificate, or the port cannot be bound.
pub fn run(args: &SimArgs) -> Result<std::process::ExitCode, String> {
    use crate::cli::Dialect;
    crate::run::check_scales(&args.scales, &args.symbols)?;
    if args.corrupt_every > 0 && !matches!(args.dialect, Dialect::Okx | Dialect::Kraken) {
        return Err(
            "--corrupt-every needs --dialect okx or kraken: only their books carry a checksum that can expose it"
                .into(),
        );
    }
    if matches!(args.dialect, Dialect::Coinbase | Dialect::Kraken) {
        let unseen = [
            ("--gap-every", args.gap_every),
            ("--duplicate-every", args.duplicate_every),
            ("--reorder-every", args.reorder_every),
            ("--malformed-every", args.malformed_every),
        ];
        if let Some((flag, _)) = unseen.iter().find(|(_, n)| *n > 0) {
            let (venue, updates) = match args.dialect {
                Dialect::Kraken => ("Kraken", "book updates"),
                _ => ("Coinbase", "level 2 updates"),
            };
            return Err(format!(
                "{flag} needs a dialect whose book updates carry a sequence: {venue}'s {updates} have none, \
                 so no client could be sure to see the fault"
            ));
        }
    }
    let tls = tls_config(args)?;
    let listener =
        TcpListener::bind(("127.0.0.1", args.port)).map_err(|e| format!("cannot listen on port {}: {e}", args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let credentials = Credentials::from_env().ok();
    let registry = Arc::new(Registry { credentials, accounts: Mutex::new(HashMap::new()) });
    // The first line says where: tests and scripts read it.
    outln!("listening on {scheme}://{addr}/");
    if registry.credentials.is_none() {
        eprintln!("sim: order entry is off: set ENGINE_API_KEY and ENGINE_API_SECRET to open {scheme}://{addr}/orders");
    }
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let (args, registry, tls) = (args.clone(), Arc::clone(&registry), tls.clone());
        std::thread::spawn(move || match serve(stream, &args, &registry, tls) {
            Ok(()) => {}
            Err(e) => eprintln!("sim: connection {peer} ended: {e}"),
        });
    }
    Ok(std::process::ExitCode::SUCCESS)
}
