//! A WebSocket client for the feed core: after a blocking handshake at start-up it
//! reads a non-blocking socket into one fixed buffer and hands out each message as a
//! slice of it, so receiving allocates nothing. It answers pings itself, reports a
//! close or a dropped connection as an error, and refuses what it cannot handle
//! (masked server frames, fragmented messages, messages larger than its buffer)
//! with a clear error rather than guessing.
//!
//! `ws://` and `wss://` (TLS, [`TlsConfig`]): TLS costs an allocation per record,
//! measured and explained in the `tls` module.

mod inbound;
mod tls;

use std::{
    io::{Read, Write},
    net::{TcpStream, ToSocketAddrs},
    time::Duration,
};

pub use inbound::{Control, Inbound};
pub use tls::TlsConfig;
use tls::Transport;

/// Why the connection failed or ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The URL is not a `ws://` or `wss://host[:port][/path]` URL.
    #[error("{0}")]
    Url(String),
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server did not accept the upgrade.
    #[error("WebSocket handshake with {addr} failed: {reason}")]
    Handshake {
        /// host:port.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// The server closed the connection with a close frame.
    #[error("the server closed the WebSocket (code {code:?})")]
    Closed {
        /// The close code, if any.
        code: Option<u16>,
    },
    /// The TCP connection ended without a close frame.
    #[error("the connection was dropped")]
    Disconnected,
    /// A frame this client does not handle.
    #[error("WebSocket protocol: {0}")]
    Protocol(&'static str),
    /// A message larger than the receive buffer.
    #[error("a {len}-byte message does not fit the {capacity}-byte receive buffer")]
    TooLarge {
        /// The message's length.
        len: u64,
        /// The buffer's size.
        capacity: usize,
    },
    /// A socket error.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// The largest frame [`WsClient::send_text`] builds (order-entry requests are a few
/// hundred bytes).
pub const OUT_CAPACITY: usize = 16 * 1024;

/// Attempts [`WsClient::send_text`] makes against a full socket before it gives up.
const SEND_SPINS: u32 = 5_000_000;

/// A connected client.
#[derive(Debug)]
pub struct WsClient {
    stream: Transport,
    inbound: Inbound,
    /// Outgoing frames are built here (sized at connect; never grows).
    out: Vec<u8>,
    /// The last masking key (a xorshift sequence: each frame gets a fresh one).
    mask: u32,
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            let c =
                if i <= chunk.len() { T.get((n >> (18 - 6 * i) & 63) as usize).copied().unwrap_or(b'=') } else { b'=' };
            out.push(char::from(c));
        }
    }
    out
}

/// A parsed `ws://` or `wss://` URL.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, WsError> {
    let (tls, rest) = match (url.strip_prefix("wss://"), url.strip_prefix("ws://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(WsError::Url(format!("`{url}`: expected ws:// or wss://host[:port][/path]"))),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| WsError::Url(format!("`{url}`: bad port `{p}`")))?),
        None => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(WsError::Url(format!("`{url}`: no host")));
    }
    let path = if path.is_empty() { "/".to_owned() } else { path.to_owned() };
    Ok(Target { tls, host: host.to_owned(), port, path })
}

impl WsClient {
    /// Connects and upgrades (blocking, each step within `timeout`), then switches
    /// the socket to non-blocking with `TCP_NODELAY`. `buffer` bounds the largest
    /// message.
    ///
    /// # Errors
    /// A bad URL, a refused connection, or a refused upgrade.
    pub fn connect(url: &str, timeout: Duration, buffer: usize) -> Result<Self, WsError> {
        Self::connect_reusing(url, timeout, &mut None, buffer)
    }

    /// [`WsClient::connect`], taking the receive buffer from `spare` (a dropped
    /// connection's, from [`WsClient::into_inbound`]) if there is one, and only once
    /// connected: a reconnect then allocates no new buffer, and a failed attempt
    /// leaves the spare for the next.
    ///
    /// # Errors
    /// As [`WsClient::connect`].
    pub fn connect_reusing(
        url: &str,
        timeout: Duration,
        spare: &mut Option<Inbound>,
        buffer: usize,
    ) -> Result<Self, WsError> {
        Self::connect_with(url, timeout, spare, buffer, &TlsConfig::default())
    }

    /// [`WsClient::connect_reusing`], trusting `tls`'s roots for a `wss://` URL.
    ///
    /// # Errors
    /// As [`WsClient::connect`], and a TLS handshake that fails (an untrusted
    /// certificate, a name that does not match it) with rustls's reason.
    pub fn connect_with(
        url: &str,
        timeout: Duration,
        spare: &mut Option<Inbound>,
        buffer: usize,
        tls: &TlsConfig,
    ) -> Result<Self, WsError> {
        let (stream, mask) = Self::handshake(url, timeout, tls)?;
        let mut inbound = spare.take().unwrap_or_else(|| Inbound::new(buffer));
        inbound.clear();
        Ok(Self { stream, inbound, out: Vec::with_capacity(OUT_CAPACITY), mask })
    }

    /// The receive buffer, for the next connection to reuse.
    pub fn into_inbound(self) -> Inbound {
        self.inbound
    }

    /// Connects and upgrades: the non-blocking stream and the first masking key.
    fn handshake(url: &str, timeout: Duration, tls: &TlsConfig) -> Result<(Transport, u32), WsError> {
        let Target { tls: secure, host, port, path } = parse_url(url)?;
        let addr = format!("{host}:{port}");
        let connect_error = |source| WsError::Connect { addr: addr.clone(), source };
        let target = addr.to_socket_addrs().map_err(connect_error)?.next().ok_or_else(|| {
            connect_error(std::io::Error::new(std::io::ErrorKind::NotFound, "the name resolves to no address"))
        })?;
        let socket = TcpStream::connect_timeout(&target, timeout).map_err(connect_error)?;
        socket.set_read_timeout(Some(timeout))?;
        socket.set_write_timeout(Some(timeout))?;
        let mut stream = if secure {
            Transport::tls(socket, &host, tls).map_err(|reason| WsError::Handshake { addr: addr.clone(), reason })?
        } else {
            Transport::Plain(socket)
        };
        let nonce = std::process::id().to_le_bytes().into_iter().chain(target.port().to_le_bytes());
        let key = base64(&nonce.chain(*b"engine-ws!").take(16).collect::<Vec<u8>>());
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes())?;
        // Byte by byte, so no frame that follows the response is swallowed.
        let mut response = Vec::new();
        let mut byte = [0u8; 1];
        while !response.ends_with(b"\r\n\r\n") {
            if response.len() > 16 * 1024 {
                return Err(WsError::Handshake { addr, reason: "response headers over 16 KiB".into() });
            }
            match stream.read(&mut byte) {
                Ok(0) => {
                    return Err(WsError::Handshake { addr, reason: "connection closed during the handshake".into() });
                }
                Ok(_) => response.push(byte[0]),
                Err(e) => return Err(WsError::Handshake { addr, reason: e.to_string() }),
            }
        }
        let text = String::from_utf8_lossy(&response);
        let status = text.lines().next().unwrap_or_default().to_owned();
        if !status.starts_with("HTTP/1.1 101") {
            return Err(WsError::Handshake { addr, reason: format!("server answered `{status}`") });
        }
        let expected = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let accepted = text.lines().any(|l| {
            l.split_once(':')
                .is_some_and(|(k, v)| k.eq_ignore_ascii_case("sec-websocket-accept") && v.trim() == expected)
        });
        if !accepted {
            return Err(WsError::Handshake { addr, reason: "missing or wrong Sec-WebSocket-Accept".into() });
        }
        stream.tcp().set_nonblocking(true)?;
        stream.tcp().set_nodelay(true)?;
        // Seeded from the handshake key; never zero (xorshift would stay there).
        let mask = key.bytes().fold(0x9e37_79b9u32, |m, b| m.rotate_left(5) ^ u32::from(b)) | 1;
        Ok((stream, mask))
    }

    /// Sends `payload` as one masked text frame, waiting out a full socket. Builds the
    /// frame in a buffer sized at connect, so over `ws://` sending allocates nothing
    /// (over `wss://` rustls allocates per frame, and may still hold the frame's
    /// bytes when this returns: they go out with the next read or write).
    ///
    /// # Errors
    /// A payload over [`OUT_CAPACITY`] − 14 bytes, a dropped connection or a socket error.
    pub fn send_text(&mut self, payload: &[u8]) -> Result<(), WsError> {
        let len = payload.len();
        if len + 14 > self.out.capacity() {
            return Err(WsError::TooLarge { len: len as u64, capacity: self.out.capacity() - 14 });
        }
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        let mask = self.mask.to_le_bytes();
        self.out.clear();
        self.out.push(0x81);
        match len {
            0..=125 => self.out.push(0x80 | len as u8),
            126..=0xffff => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&mask);
        self.out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        let mut sent = 0;
        // A peer that stops reading must not hang the caller: after this many
        // attempts against a full socket (milliseconds), the connection is given up.
        let mut full = 0u32;
        while sent < self.out.len() {
            match self.stream.write(self.out.get(sent..).unwrap_or_default()) {
                Ok(0) => return Err(WsError::Disconnected),
                Ok(k) => sent += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    full += 1;
                    if full > SEND_SPINS {
                        return Err(WsError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the peer stopped reading: the send buffer stayed full",
                        )));
                    }
                    std::hint::spin_loop();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WsError::Io(e)),
            }
        }
        Ok(())
    }

    /// The next complete text or binary message, `None` if none has arrived yet.
    ///
    /// # Errors
    /// A close frame, a dropped connection, a socket error or a frame this client
    /// refuses; the client is then unusable (reconnect).
    pub fn poll(&mut self) -> Result<Option<&[u8]>, WsError> {
        Ok(if self.advance()? { Some(self.message()) } else { None })
    }

    /// The message the last successful [`WsClient::advance`] found.
    pub fn message(&self) -> &[u8] {
        self.inbound.message()
    }

    /// Moves to the next complete text or binary message (then read it with
    /// [`WsClient::message`]); `false` if none has arrived yet. Answers pings and
    /// echoes a close on the way.
    ///
    /// # Errors
    /// As [`WsClient::poll`].
    pub fn advance(&mut self) -> Result<bool, WsError> {
        self.inbound.advance(&mut self.stream, |stream, control| match control {
            Control::Ping(payload) => send_control(stream, 0xA, payload),
            Control::Close(code) => send_control(stream, 0x8, &code.unwrap_or(1000).to_be_bytes()),
        })
    }
}

/// Sends a masked control frame (clients must mask), waiting out a full socket.
fn send_control(stream: &mut impl Write, opcode: u8, payload: &[u8]) -> Result<(), WsError> {
    let mask = [0x5a, 0xc3, 0x17, 0x8e];
    let mut frame = [0u8; 2 + 4 + 125];
    let n = payload.len().min(125);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | n as u8;
    frame[2..6].copy_from_slice(&mask);
    for ((slot, b), m) in frame.iter_mut().skip(6).zip(payload.iter().take(n)).zip(mask.iter().cycle()) {
        *slot = b ^ m;
    }
    let mut out = frame.get(..6 + n).unwrap_or_default();
    while !out.is_empty() {
        match stream.write(out) {
            Ok(0) => return Err(WsError::Disconnected),
            Ok(k) => out = out.get(k..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WsError::Io(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_each_scheme_s_default_port() {
        let target = |tls, host: &str, port, path: &str| Target { tls, host: host.into(), port, path: path.into() };
        assert_eq!(parse_url("ws://127.0.0.1:9443/ws").unwrap(), target(false, "127.0.0.1", 9443, "/ws"));
        assert_eq!(parse_url("ws://example.com").unwrap(), target(false, "example.com", 80, "/"));
        assert_eq!(
            parse_url("wss://stream.binance.com:9443/ws").unwrap(),
            target(true, "stream.binance.com", 9443, "/ws")
        );
        assert_eq!(
            parse_url("wss://ws.okx.com/ws/v5/public").unwrap(),
            target(true, "ws.okx.com", 443, "/ws/v5/public")
        );
        assert!(parse_url("http://x").unwrap_err().to_string().contains("expected ws://"));
        assert!(parse_url("ws://x:port").unwrap_err().to_string().contains("bad port"));
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}
