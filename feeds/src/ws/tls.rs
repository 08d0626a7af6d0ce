//! `wss://`: TLS under the WebSocket client, on rustls (TLS 1.2 and 1.3, the ring
//! provider), trusting the public web's root CAs and any extra ones given.
//!
//! The handshake is done eagerly at connect, so a bad certificate is a connect error
//! with rustls's reason, not a silent stall. After it the socket is non-blocking like
//! a plain one. The cost, measured in `tests/ws.rs`: rustls 0.23 copies every
//! decrypted record into a vector of its own (its unbuffered API too), so reading
//! allocates about twice per TLS record, where `ws://` allocates nothing; sending
//! allocates per frame. A record carries up to 16 KiB, so at high rates many messages
//! share one.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    sync::{Arc, OnceLock},
};

use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};

/// Which servers a `wss://` connection trusts.
#[derive(Debug, Clone)]
pub struct TlsConfig(Arc<ClientConfig>);

fn public_roots() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

fn config(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The ring provider supports the default versions, so this cannot fail; if it
    // ever did, the bare builder's defaults are the same choice.
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| ClientConfig::builder());
    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
}

impl Default for TlsConfig {
    /// The public web's root CAs (Mozilla's list, as webpki-roots ships it). Built
    /// once per process: a reconnect does not rebuild it.
    fn default() -> Self {
        static PUBLIC: OnceLock<TlsConfig> = OnceLock::new();
        PUBLIC.get_or_init(|| Self(config(public_roots()))).clone()
    }
}

impl TlsConfig {
    /// The public roots and every certificate in the PEM file at `path` (a private
    /// CA, a venue's test environment, a test's own CA).
    ///
    /// # Errors
    /// The file cannot be read, holds no certificate, or one is not a valid CA
    /// certificate.
    pub fn with_ca_file(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read TLS CA file {shown}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("TLS CA file {shown}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("TLS CA file {shown} holds no PEM certificate"));
        }
        let mut roots = public_roots();
        for cert in certs {
            roots.add(cert).map_err(|e| format!("TLS CA file {shown}: {e}"))?;
        }
        Ok(Self(config(roots)))
    }
}

/// The byte stream under the WebSocket: a plain socket or TLS over one.
#[derive(Debug)]
pub(super) enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    /// TLS over `sock` to `host`, the handshake completed (blocking, within the
    /// socket's timeouts).
    pub(super) fn tls(sock: TcpStream, host: &str, config: &TlsConfig) -> Result<Self, String> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("`{host}` as a TLS server name: {e}"))?;
        let conn = ClientConnection::new(Arc::clone(&config.0), name).map_err(|e| format!("TLS: {e}"))?;
        let mut stream = StreamOwned::new(conn, sock);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(|e| format!("TLS handshake: {e}"))?;
        }
        Ok(Self::Tls(Box::new(stream)))
    }

    /// The socket underneath.
    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => &s.sock,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            // A peer gone without TLS's close_notify is a dropped connection, as for
            // a plain socket, not an I/O failure.
            Self::Tls(s) => match s.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => {
                let n = s.write(buf)?;
                if n == 0 && !buf.is_empty() {
                    // rustls's send buffer is full (a full socket, the peer still
                    // sending): nothing was taken, so the caller may retry.
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                // rustls holds the encrypted bytes until told to send them. Once
                // taken, they must never be reported as not sent (a retry would send
                // them twice): whatever a full or broken socket leaves here goes out
                // with the next read or write, or fails it.
                let _ = s.flush();
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}
