//! The pipelined topology: a feed core reads and decodes frames and hands the events
//! over an SPSC ring to the trading core (books, strategy, risk, OMS, venue), which
//! asks for book snapshots over a second ring. Each core writes only its own state.
//!
//! Books stay on the trading core: the strategy reads the whole ladder on every
//! update, so keeping them beside it costs one ring hop per frame, where books on the
//! feed core would have to publish their state across cores on every change.

use feeds::{
    Events,
    event::{Event, InstrumentId, UnixNanos},
};
use rings::{
    PushError,
    spsc::{Consumer, Producer},
};

use super::{feed::Feed, hot::Input};
use crate::{
    clock::Clock,
    pipeline::{Decoders, Pipeline},
};

/// What the feed core hands the trading core, in order.
#[derive(Debug, Clone, Copy)]
pub enum FeedMsg {
    /// One decoded event of the frame being assembled.
    Event(Event),
    /// The frame whose events came before is complete: its receive (event) time, the
    /// instant latency is measured from, and when the feed core had decoded it.
    Frame {
        /// The venue whose feed it came from.
        venue: u8,
        /// Receive (event) time.
        ts_recv: u64,
        /// Due or arrival time: where tick-to-order starts.
        arrived: u64,
        /// When the feed core finished decoding it.
        parsed: u64,
    },
    /// A frame failed to decode (counted on the trading core with the rest).
    DecodeError {
        /// The venue whose feed it came from.
        venue: u8,
        /// Its receive time.
        ts_recv: u64,
        /// Why (a venue's refusal is counted apart from malformed frames).
        error: feeds::DecodeError,
    },
    /// One `BookDelta` of the snapshot being assembled.
    SnapshotEvent(Event),
    /// The snapshot events that came before are `instrument`'s book at `ts`.
    Snapshot {
        /// The instrument.
        instrument: InstrumentId,
        /// Event time it applies at.
        ts: u64,
    },
    /// A venue's connection dropped: its books are stale until resynced.
    Disconnect {
        /// The venue.
        venue: u8,
    },
    /// A venue's connection was made (at start, or a reconnect).
    Connect {
        /// The venue.
        venue: u8,
        /// When.
        ts: u64,
    },
}

/// Items in the feed ring: a few thousand frames of slack.
pub const FEED_RING: usize = 1 << 14;
/// How often the feed core tells the cold core it is alive.
const FEED_BEAT_NS: u64 = 100_000_000;
/// How often the trading core repeats an unanswered snapshot request.
const REQUEST_AGAIN_NS: u64 = 50_000_000;

/// What the feed core did, for the report.
#[derive(Debug, Clone, Default)]
pub struct FeedStageReport {
    /// Frames read.
    pub frames: u64,
    /// Times the feed ring was full and the feed core had to wait for the trading core.
    pub ring_full: u64,
}

/// The feed core: reads frames, decodes them, hands the events on.
#[derive(Debug)]
pub struct FeedStage {
    decoders: Decoders,
    events: Events,
    snapshot: Events,
    tx: Producer<FeedMsg>,
    requests: Consumer<u64>,
    beat: Producer<u64>,
    last_ts: u64,
    report: FeedStageReport,
}

impl FeedStage {
    /// A feed stage decoding with `decoders` into `tx`, serving snapshot requests from
    /// `requests` and beating on `beat`.
    pub fn new(decoders: Decoders, tx: Producer<FeedMsg>, requests: Consumer<u64>, beat: Producer<u64>) -> Self {
        Self {
            decoders,
            events: Events::with_capacity(256),
            snapshot: Events::with_capacity(256),
            tx,
            requests,
            beat,
            last_ts: 0,
            report: FeedStageReport::default(),
        }
    }

    /// Runs until the trading core lets go of the ring or the feed ends.
    pub fn run<F: Feed>(&mut self, feed: &mut F, clock: &impl Clock) -> FeedStageReport {
        let mut turn: u32 = 0;
        let mut last_beat = 0;
        loop {
            let now = clock.now_ns();
            if !self.turn(feed, now, clock) {
                std::hint::spin_loop();
            }
            turn = turn.wrapping_add(1);
            if !turn.is_multiple_of(256) {
                continue;
            }
            if self.tx.is_abandoned() || feed.is_done() {
                break;
            }
            if now.saturating_sub(last_beat) >= FEED_BEAT_NS {
                last_beat = now;
                let _ = self.beat.try_push(now);
            }
        }
        self.report.clone()
    }

    /// Any snapshots asked for, then one frame if due; `false` if idle.
    ///
    /// Requests first: the fused stage fetches a snapshot right after the frame that
    /// asked for it, before the next one, and this keeps the two topologies' books
    /// (and so their decisions) the same.
    pub fn turn<F: Feed>(&mut self, feed: &mut F, now: u64, clock: &impl Clock) -> bool {
        let mut busy = false;
        while let Ok(mut wanted) = self.requests.try_pop() {
            busy = true;
            feed.wanted(wanted);
            while wanted != 0 {
                let id = InstrumentId(wanted.trailing_zeros());
                wanted &= wanted - 1;
                self.snapshot.clear();
                if feed.snapshot(id, self.last_ts, &mut self.snapshot) {
                    for n in 0..self.snapshot.len() {
                        let Some(event) = self.snapshot.as_slice().get(n).copied() else { break };
                        self.push(FeedMsg::SnapshotEvent(event));
                    }
                    self.push(FeedMsg::Snapshot { instrument: id, ts: self.last_ts });
                }
            }
        }
        // Before the next frame, as the fused stage does.
        feed.take_link_changes(|venue, up| {
            busy = true;
            let venue = venue as u8;
            self.push(if up { FeedMsg::Connect { venue, ts: now } } else { FeedMsg::Disconnect { venue } });
        });
        if let Some((venue, frame, ts_recv, arrived)) = feed.poll_venue(now) {
            busy = true;
            self.last_ts = ts_recv;
            self.report.frames += 1;
            self.events.clear();
            match self.decoders.decode(venue, frame, UnixNanos(ts_recv), &mut self.events) {
                Ok(_) => {
                    let parsed = clock.now_ns();
                    for n in 0..self.events.len() {
                        let Some(event) = self.events.as_slice().get(n).copied() else { break };
                        self.push(FeedMsg::Event(event));
                    }
                    self.push(FeedMsg::Frame { venue: venue as u8, ts_recv, arrived, parsed });
                }
                Err(error) => self.push(FeedMsg::DecodeError { venue: venue as u8, ts_recv, error }),
            }
        }
        busy
    }

    /// Waits for room (counted): market data is never dropped here, so a slow trading
    /// core shows as latency from each frame's due time, not as a silent gap.
    fn push(&mut self, msg: FeedMsg) {
        let mut msg = msg;
        let mut waited = false;
        loop {
            match self.tx.try_push(msg) {
                Ok(()) => return,
                Err(PushError::Full(back)) => {
                    if !waited {
                        waited = true;
                        self.report.ring_full += 1;
                    }
                    if self.tx.is_abandoned() {
                        return; // the trading core is gone; the run is ending
                    }
                    msg = back;
                    std::hint::spin_loop();
                }
            }
        }
    }
}

/// The trading core's input in the pipelined topology: the feed ring, and the ring it
/// asks for snapshots on.
#[derive(Debug)]
pub struct RingInput {
    rx: Consumer<FeedMsg>,
    requests: Producer<u64>,
    snapshot: Events,
    asked: u64,
    asked_at: u64,
    /// Books that synced since the feed core was last told (it paces its asks to
    /// the venue by that): told before anything else, even if they want a snapshot
    /// again by then.
    synced: u64,
}

impl RingInput {
    /// Reads `rx`, asks on `requests`.
    pub fn new(rx: Consumer<FeedMsg>, requests: Producer<u64>) -> Self {
        Self { rx, requests, snapshot: Events::with_capacity(256), asked: 0, asked_at: 0, synced: 0 }
    }

    /// Asks the feed core for the snapshots the stage wants, once per change and again
    /// while unanswered.
    fn ask(&mut self, pipeline: &Pipeline, now: u64) {
        let wanted = pipeline.snapshot_requests();
        self.synced |= self.asked & !wanted;
        if self.synced != 0 {
            // A mask without them; one that is wanted again goes in the next.
            let told = wanted & !self.synced;
            if self.requests.try_push(told).is_ok() {
                (self.asked, self.asked_at, self.synced) = (told, now, 0);
            }
            return;
        }
        if wanted == 0 {
            return;
        }
        if (wanted != self.asked || now.saturating_sub(self.asked_at) >= REQUEST_AGAIN_NS)
            && self.requests.try_push(wanted).is_ok()
        {
            self.asked = wanted;
            self.asked_at = now;
        }
    }
}

impl Input for RingInput {
    fn turn(&mut self, pipeline: &mut Pipeline, now: u64, clock: &impl Clock) -> bool {
        loop {
            let Ok(msg) = self.rx.try_pop() else {
                self.ask(pipeline, now);
                return false;
            };
            match msg {
                FeedMsg::Event(e) => {
                    let _ = pipeline.decoded_events().push(e);
                }
                FeedMsg::Frame { venue, ts_recv, arrived, parsed } => {
                    pipeline.on_decoded(usize::from(venue), ts_recv, (arrived, parsed, clock.now_ns()), clock);
                    pipeline.decoded_events().clear();
                    self.ask(pipeline, now);
                    return true;
                }
                FeedMsg::DecodeError { venue, ts_recv, error } => {
                    pipeline.on_decode_error(usize::from(venue), ts_recv, Some(error));
                    pipeline.decoded_events().clear();
                    return true;
                }
                FeedMsg::SnapshotEvent(e) => {
                    let _ = self.snapshot.push(e);
                }
                FeedMsg::Snapshot { instrument, ts } => {
                    pipeline.on_snapshot(instrument, &self.snapshot, ts);
                    self.snapshot.clear();
                    return true;
                }
                FeedMsg::Disconnect { venue } => {
                    pipeline.on_disconnect(usize::from(venue));
                    return true;
                }
                FeedMsg::Connect { venue, ts } => {
                    pipeline.on_connect(usize::from(venue), ts);
                    return true;
                }
            }
        }
    }

    fn is_done(&self) -> bool {
        self.rx.is_abandoned() && self.rx.is_empty()
    }

    fn is_live(&self) -> bool {
        true
    }
}
