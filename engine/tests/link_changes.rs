//! How the feed reports its connections going up and down, against real WebSocket
//! servers on loopback: per venue, in the order they happened, and never a
//! connection nobody saw.
#![allow(clippy::disallowed_methods, reason = "the feed is polled at wall-clock times, with deadlines")]

use std::{
    net::TcpListener,
    sync::mpsc,
    time::{Duration, Instant},
};

use engine::{
    pipeline::VenueLayout,
    run::{Feed, MultiFeed, Session, WsFeed},
};
use feeds::{event::Venue, ws::TlsConfig};
use tungstenite::Message;

/// A venue on loopback that serves its connections by `script`: for each accepted
/// connection in turn, how many text frames to send, then whether to hang up (or
/// hold the connection until the test ends). Returns its URL.
fn venue(script: &'static [(usize, bool)]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (stream, &(frames, hang_up)) in listener.incoming().flatten().zip(script) {
            let Ok(mut ws) = tungstenite::accept(stream) else { continue };
            for n in 0..frames {
                let _ = ws.send(Message::text(format!("frame {n}")));
            }
            if !hang_up {
                held.push(ws);
            }
        }
        // Hold the last connections open until the test process ends.
        std::thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    url
}

fn connect(url: &str) -> WsFeed {
    WsFeed::connect(url, &TlsConfig::default(), Session::new(Venue::Binance, &["BTCUSDT"], 0)).unwrap()
}

fn changes(feed: &mut impl Feed) -> Vec<(usize, bool)> {
    let mut seen = Vec::new();
    feed.take_link_changes(|venue, up| seen.push((venue, up)));
    seen
}

fn now_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap()
}

/// Polls until each venue delivered `frames[v]` frames, taking no link changes.
fn poll_frames(feed: &mut impl Feed, frames: &[usize], start: Instant) {
    let mut seen = vec![0; frames.len()];
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen != frames {
        assert!(Instant::now() < deadline, "frames seen per venue {seen:?}, wanted {frames:?}");
        if let Some((venue, _, _, _)) = feed.poll_venue(now_ns(start)) {
            seen[venue] += 1;
        }
    }
}

/// Two venues drop in the same stretch and both rejoin before the hot loop looks:
/// it learns of both drops, then both connects, each naming its venue. (Before,
/// one drop a turn was reported and the connects came as one venue-less flag, so a
/// venue could be reported up before it was reported down.)
#[test]
fn drops_and_rejoins_of_several_venues_are_each_reported_drops_first() {
    // One frame, hang up; then one frame and hold.
    static SCRIPT: [(usize, bool); 2] = [(1, true), (1, false)];
    let start = Instant::now();
    let feeds = vec![connect(&venue(&SCRIPT)), connect(&venue(&SCRIPT))];
    let mut feed = MultiFeed::new(feeds, VenueLayout { venues: 2, per_venue: 1 });
    assert_eq!(changes(&mut feed), [(0, true), (1, true)], "both connected at start");
    poll_frames(&mut feed, &[2, 2], start);
    assert_eq!(changes(&mut feed), [(0, false), (1, false), (0, true), (1, true)]);
    assert_eq!(changes(&mut feed), [], "each change is reported once");
}

/// A connection the venue closes before the hot loop saw it made is reported as
/// neither up nor down: the engine never held it up. (Reported as a drop and a
/// connect, drops first, it would leave a venue that refuses every reconnect
/// looking up.)
#[test]
fn a_connection_lost_before_it_was_seen_is_not_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (accepted, was_accepted) = mpsc::channel();
    std::thread::spawn(move || {
        // One connection, hung up at once; then the port is closed: every
        // reconnect is refused.
        let (stream, _) = listener.accept().unwrap();
        drop(tungstenite::accept(stream));
        drop(listener);
        accepted.send(()).unwrap();
    });
    let start = Instant::now();
    let mut feed = connect(&url);
    was_accepted.recv_timeout(Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while feed.disconnects == 0 {
        assert!(feed.poll(now_ns(start)).is_none());
        assert!(Instant::now() < deadline, "the hang-up was never read");
    }
    // Then long enough for a retry (the first waits at most 100 ms), which is refused.
    let lost_at = Instant::now();
    while lost_at.elapsed() < Duration::from_millis(300) {
        assert!(feed.poll(now_ns(start)).is_none());
    }
    assert_eq!(changes(&mut feed), [], "connected and lost unseen, then refused: nothing to report");
}

/// A venue that drops and then stalls the reconnect's handshake (it accepts the TCP
/// connection and never answers the upgrade): meanwhile the other venue's frames
/// keep coming. The reconnect runs on its own thread; on the hot core, it held
/// every venue until the handshake timed out.
#[test]
fn a_stalled_reconnect_does_not_hold_up_the_other_venue() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let stalling = format!("ws://{}/", listener.local_addr().unwrap());
    let (stalled, stall_started) = mpsc::channel();
    let (ask, asked) = mpsc::channel::<()>();
    let (answer, still_pending) = mpsc::channel();
    std::thread::spawn(move || {
        // Frames enough for a working connection (retried at once), hang up; then
        // hold the next connection without a word.
        let (first, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(first).unwrap();
        for _ in 0..32 {
            ws.send(Message::text("frame")).unwrap();
        }
        drop(ws);
        let (mut held, _) = listener.accept().unwrap();
        stalled.send(()).unwrap();
        asked.recv().unwrap();
        // Is the client still waiting on its upgrade, or has it hung up?
        held.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        let pending = loop {
            match std::io::Read::read(&mut held, &mut buf) {
                Ok(0) => break false,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                Err(_) => break false,
            }
        };
        answer.send(pending).unwrap();
    });
    static STREAMING: [(usize, bool); 1] = [(20_000, false)];
    let start = Instant::now();
    // The handshake may take 30 s, so the frames come well within it; waited on,
    // the first poll would return only after 30 s, past the deadline below.
    let stalled_feed = connect(&stalling).with_connect_timeout(Duration::from_secs(30));
    let mut feed =
        MultiFeed::new(vec![stalled_feed, connect(&venue(&STREAMING))], VenueLayout { venues: 2, per_venue: 1 });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut other_frames_since_stall = None;
    while other_frames_since_stall.is_none_or(|n| n < 100) {
        assert!(
            Instant::now() < deadline,
            "frames from the other venue during the stall: {other_frames_since_stall:?}"
        );
        let venue = feed.poll_venue(now_ns(start)).map(|(venue, ..)| venue);
        if other_frames_since_stall.is_none() && stall_started.try_recv().is_ok() {
            other_frames_since_stall = Some(0);
        }
        if let (Some(1), Some(n)) = (venue, other_frames_since_stall.as_mut()) {
            *n += 1;
        }
    }
    ask.send(()).unwrap();
    assert!(
        still_pending.recv_timeout(Duration::from_secs(10)).unwrap(),
        "100 frames from the other venue came only after the stalled handshake was given up"
    );
    assert_eq!(feed.feeds()[0].disconnects, 1);
}
