//! The feed core's WebSocket client against a real WebSocket server (tungstenite) on
//! loopback: every length encoding, pings answered, close codes, frames split across
//! reads, refusals with reasons, and zero allocations per message after warm-up. Then
//! the same over TLS (`wss://`, a rustls server with a test CA made by rcgen):
//! messages intact, an untrusted or misnamed certificate refused with the reason, and
//! what TLS costs in allocations.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

use feeds::ws::{TlsConfig, WsClient, WsError};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

mod common {
    pub mod pki;
}
use tungstenite::{Message, protocol::CloseFrame, protocol::frame::coding::CloseCode};

struct Counting;
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}
// SAFETY: forwards to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|on| on.get().then(|| ALLOCS.try_with(|n| n.set(n.get() + 1))));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

/// A one-connection tungstenite server running `serve`, and its URL.
fn server(serve: impl FnOnce(tungstenite::WebSocket<TcpStream>) + Send + 'static) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/stream", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        serve(tungstenite::accept(stream).unwrap());
    });
    (url, handle)
}

fn next(client: &mut WsClient) -> Result<Vec<u8>, WsError> {
    for _ in 0..20_000 {
        if let Some(m) = client.poll()? {
            return Ok(m.to_vec());
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    panic!("no message within 2 s");
}

#[test]
fn every_length_encoding_arrives_intact_pings_are_answered_and_close_is_reported() {
    let sizes = [0usize, 1, 125, 126, 65_535, 65_536, 200_000];
    let (url, server) = server(move |mut ws| {
        for (i, n) in sizes.iter().enumerate() {
            let body: String = (0..*n).map(|k| char::from(b'a' + ((k + i) % 26) as u8)).collect();
            ws.send(Message::text(body)).unwrap();
        }
        ws.send(Message::Ping(b"are you there".to_vec().into())).unwrap();
        ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
        // The client's pong must come back before anything else it sends.
        match ws.read().unwrap() {
            Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
            other => panic!("expected a pong, got {other:?}"),
        }
        ws.close(Some(CloseFrame { code: CloseCode::Away, reason: "bye".into() })).unwrap();
        while ws.read().is_ok() {}
    });
    let mut client = WsClient::connect(&url, Duration::from_secs(2), 256 * 1024).unwrap();
    for (i, n) in sizes.iter().enumerate() {
        let m = next(&mut client).unwrap();
        assert_eq!(m.len(), *n);
        assert!(m.iter().enumerate().all(|(k, b)| *b == b'a' + ((k + i) % 26) as u8), "message {i} corrupted");
    }
    assert_eq!(next(&mut client).unwrap(), [1, 2, 3]);
    let err = next(&mut client).unwrap_err();
    assert!(matches!(err, WsError::Closed { code: Some(1001) }), "{err}");
    server.join().unwrap();
}

#[test]
fn frames_split_across_reads_are_reassembled() {
    let (url, server) = server(|mut ws: tungstenite::WebSocket<TcpStream>| {
        // One 300-byte text frame, written a few bytes at a time.
        let mut frame = vec![0x81u8, 126, 0x01, 0x2c];
        frame.extend(std::iter::repeat_n(b'x', 300));
        for piece in frame.chunks(7) {
            ws.get_mut().write_all(piece).unwrap();
            ws.get_mut().flush().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(200));
    });
    let mut client = WsClient::connect(&url, Duration::from_secs(2), 4096).unwrap();
    assert_eq!(next(&mut client).unwrap(), vec![b'x'; 300]);
    server.join().unwrap();
}

#[test]
fn what_the_client_cannot_handle_is_refused_with_a_reason() {
    let (url, big) = server(|mut ws| {
        ws.send(Message::text("y".repeat(5_000))).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    });
    let mut client = WsClient::connect(&url, Duration::from_secs(2), 4096).unwrap();
    let err = next(&mut client).unwrap_err();
    assert!(matches!(err, WsError::TooLarge { len: 5_004, capacity: 4096 }), "{err}");
    big.join().unwrap();

    let (url, fragmented) = server(|mut ws: tungstenite::WebSocket<TcpStream>| {
        ws.get_mut().write_all(&[0x01, 3, b'a', b'b', b'c']).unwrap(); // text, FIN clear
        std::thread::sleep(Duration::from_millis(200));
    });
    let mut client = WsClient::connect(&url, Duration::from_secs(2), 4096).unwrap();
    assert!(matches!(next(&mut client).unwrap_err(), WsError::Protocol(m) if m.contains("fragmented")));
    fragmented.join().unwrap();

    let (url, dropped) = server(drop);
    let mut client = WsClient::connect(&url, Duration::from_secs(2), 4096).unwrap();
    dropped.join().unwrap();
    assert!(matches!(next(&mut client).unwrap_err(), WsError::Disconnected));
}

#[test]
fn refused_connections_and_upgrades_name_the_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = WsClient::connect(&format!("ws://{addr}/"), Duration::from_secs(1), 4096).unwrap_err();
    assert!(matches!(err, WsError::Connect { .. }) && err.to_string().contains(&addr.to_string()), "{err}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let http = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = [0u8; 1024];
        let _ = s.read(&mut req).unwrap();
        s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").unwrap();
    });
    let err = WsClient::connect(&format!("ws://{addr}/nope"), Duration::from_secs(1), 4096).unwrap_err();
    assert!(err.to_string().contains("HTTP/1.1 404 Not Found"), "{err}");
    http.join().unwrap();
}

/// Receives `messages`, counting this thread's allocations after the first `warm_up`:
/// (allocations, bytes received after warm-up).
fn receive_counting(client: &mut WsClient, messages: u32, warm_up: u32) -> (u64, usize) {
    let (mut seen, mut total) = (0u32, 0usize);
    let before = ALLOCS.with(Cell::get);
    while seen < messages {
        if seen == warm_up {
            COUNTING.with(|c| c.set(true));
        }
        match client.poll().unwrap() {
            Some(m) => {
                if seen >= warm_up {
                    total += m.len();
                }
                seen += 1;
            }
            None => std::hint::spin_loop(),
        }
    }
    COUNTING.with(|c| c.set(false));
    (ALLOCS.with(Cell::get) - before, total)
}

#[test]
fn receiving_allocates_nothing_after_warm_up() {
    let (url, server) = server(|mut ws| {
        for i in 0..20_000u32 {
            ws.write(Message::text(format!("{{\"e\":\"trade\",\"t\":{i},\"p\":\"100.{:02}\"}}", i % 100))).unwrap();
            if i % 100 == 0 {
                ws.send(Message::Ping(vec![1].into())).unwrap();
            }
        }
        ws.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });
    let mut client = WsClient::connect(&url, Duration::from_secs(2), 64 * 1024).unwrap();
    let (allocs, total) = receive_counting(&mut client, 20_000, 1_000);
    assert!(total > 19_000 * 20);
    assert_eq!(allocs, 0, "allocations while receiving");
    server.join().unwrap();
}

/// What the client sends arrives intact at a real server in every length encoding the
/// send buffer allows (masking included), allocates nothing, and an oversized
/// payload is refused with its size rather than sent in part.
#[test]
fn sent_text_frames_arrive_intact_without_allocating() {
    let sizes = [0usize, 1, 125, 126, 4_000, feeds::ws::OUT_CAPACITY - 14];
    let (url, handle) = server(move |mut ws| {
        for size in sizes {
            let Message::Text(text) = ws.read().unwrap() else { panic!("not text") };
            assert_eq!(text.len(), size);
            assert!(text.bytes().enumerate().all(|(i, b)| b == b'a' + (i % 26) as u8), "payload of {size} corrupted");
            ws.send(Message::text(format!("got {size}"))).unwrap();
        }
    });
    let mut client = WsClient::connect(&url, Duration::from_secs(2), 1 << 16).unwrap();
    let payloads: Vec<Vec<u8>> = sizes.iter().map(|&n| (0..n).map(|i| b'a' + (i % 26) as u8).collect()).collect();
    for (size, payload) in sizes.iter().zip(&payloads) {
        COUNTING.with(|c| c.set(true));
        let before = ALLOCS.with(Cell::get);
        client.send_text(payload).unwrap();
        assert_eq!(ALLOCS.with(Cell::get), before, "sending allocated");
        COUNTING.with(|c| c.set(false));
        assert_eq!(next(&mut client).unwrap(), format!("got {size}").into_bytes());
    }
    let too_big = vec![b'x'; feeds::ws::OUT_CAPACITY];
    assert!(matches!(client.send_text(&too_big), Err(WsError::TooLarge { .. })));
    handle.join().unwrap();
}

/// A server config for a fresh test PKI, and the CA's PEM file for the client to trust.
fn test_server_config() -> (Arc<rustls::ServerConfig>, tempfile::NamedTempFile) {
    let pki = common::pki::test_pki();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(pki.cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(pki.key.as_bytes()).unwrap(),
        )
        .unwrap();
    let mut pem = tempfile::NamedTempFile::new().unwrap();
    pem.write_all(pki.ca.as_bytes()).unwrap();
    (Arc::new(config), pem)
}

type TlsWs = tungstenite::WebSocket<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>;

/// A one-connection `wss://` server running `serve` on loopback address `host`
/// (`localhost` is 127.0.0.1), its URL and the CA file that makes it trusted.
fn tls_server(
    host: &str,
    serve: impl FnOnce(TlsWs) + Send + 'static,
) -> (String, tempfile::NamedTempFile, JoinHandle<()>) {
    let (config, ca) = test_server_config();
    let listener = TcpListener::bind((if host == "localhost" { "127.0.0.1" } else { host }, 0)).unwrap();
    let url = format!("wss://{host}:{}/stream", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), socket);
        // A refused handshake ends here: the client's side is what the test checks.
        if let Ok(ws) = tungstenite::accept(tls) {
            serve(ws);
        }
    });
    (url, ca, handle)
}

fn connect_tls(url: &str, ca: &std::path::Path, buffer: usize) -> Result<WsClient, WsError> {
    let tls = TlsConfig::with_ca_file(ca).unwrap();
    WsClient::connect_with(url, Duration::from_secs(2), &mut None, buffer, &tls)
}

#[test]
fn over_tls_every_size_arrives_intact_and_pings_are_answered() {
    let sizes = [0usize, 1, 125, 126, 16_383, 16_385, 65_536, 200_000];
    let (url, ca, server) = tls_server("127.0.0.1", move |mut ws| {
        for (i, n) in sizes.iter().enumerate() {
            let body: String = (0..*n).map(|k| char::from(b'a' + ((k + i) % 26) as u8)).collect();
            ws.send(Message::text(body)).unwrap();
        }
        ws.send(Message::Ping(b"are you there".to_vec().into())).unwrap();
        ws.send(Message::text("after the ping")).unwrap();
        match ws.read().unwrap() {
            Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
            other => panic!("expected a pong, got {other:?}"),
        }
        ws.close(Some(CloseFrame { code: CloseCode::Away, reason: "bye".into() })).unwrap();
        while ws.read().is_ok() {}
    });
    let mut client = connect_tls(&url, ca.path(), 256 * 1024).unwrap();
    for (i, n) in sizes.iter().enumerate() {
        let m = next(&mut client).unwrap();
        assert_eq!(m.len(), *n);
        assert!(m.iter().enumerate().all(|(k, b)| *b == b'a' + ((k + i) % 26) as u8), "message {i} corrupted");
    }
    assert_eq!(next(&mut client).unwrap(), b"after the ping");
    assert!(matches!(next(&mut client), Err(WsError::Closed { code: Some(1001) })));
    server.join().unwrap();
}

#[test]
fn over_tls_an_untrusted_or_misnamed_certificate_is_refused_with_the_reason() {
    // Only the public roots: the test CA is unknown.
    let (url, _ca, server) = tls_server("127.0.0.1", |_| {});
    let err = WsClient::connect(&url, Duration::from_secs(2), 4096).unwrap_err().to_string();
    assert!(err.contains("TLS handshake") && err.contains("UnknownIssuer"), "{err}");
    server.join().unwrap();
    // Trusted, but the certificate is for 127.0.0.1 and localhost, not 127.0.0.2.
    let (url, ca, server) = tls_server("127.0.0.2", |_| {});
    let err = connect_tls(&url, ca.path(), 4096).unwrap_err().to_string();
    assert!(err.contains("not valid for name \"127.0.0.2\""), "{err}");
    server.join().unwrap();
    // A CA file that is not one.
    let mut junk = tempfile::NamedTempFile::new().unwrap();
    junk.write_all(b"not a certificate").unwrap();
    let err = TlsConfig::with_ca_file(junk.path()).unwrap_err();
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let err = TlsConfig::with_ca_file(std::path::Path::new("/nonexistent/ca.pem")).unwrap_err();
    assert!(err.contains("cannot read TLS CA file"), "{err}");
}

/// What TLS costs: rustls copies each decrypted record into a vector of its own, so
/// receiving allocates per TLS record (up to 16 KiB: 92 allocations for 709 KB of
/// 35-byte messages here, two per record), never per message.
#[test]
fn over_tls_receiving_allocates_per_record_not_per_message() {
    const MESSAGES: u32 = 20_000;
    let (url, ca, server) = tls_server("localhost", |mut ws| {
        for i in 0..MESSAGES {
            ws.write(Message::text(format!("{{\"e\":\"trade\",\"t\":{i},\"p\":\"100.{:02}\"}}", i % 100))).unwrap();
        }
        ws.flush().unwrap();
        while ws.read().is_ok() {}
    });
    let mut client = connect_tls(&url, ca.path(), 64 * 1024).unwrap();
    let (allocs, total) = receive_counting(&mut client, MESSAGES, 1_000);
    eprintln!("{allocs} allocations for {} messages, {total} bytes", MESSAGES - 1_000);
    // At most four per full 16 KiB record (two were measured): far from one per message.
    assert!(allocs as usize <= total / 4_096, "{allocs} allocations for {total} bytes: more than four per record");
    drop(client);
    server.join().unwrap();
}
