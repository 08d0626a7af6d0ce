//! The hot core's loop: busy-poll the feed, run the fused stage, fetch snapshots the
//! stage asks for, and every so often publish a status (the watchdog's heartbeat)
//! and look for a stop request. Talks to the cold core only through rings.

use feeds::{Events, event::InstrumentId};
use rings::spsc::{Consumer, Producer};

use super::feed::Feed;
use crate::{
    clock::Clock,
    pipeline::{Hop, Pipeline},
};

/// What the cold core may tell the hot core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop feeding, cancel working orders, return.
    Stop,
    /// Trip the kill switch by hand: halt trading, cancel, run on.
    Kill,
    /// Re-arm a tripped kill switch with this plan.
    Rearm(crate::risk::RearmPlan),
}

/// A heartbeat with the numbers the live status line shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// Engine time.
    pub ts: u64,
    /// Events decoded so far.
    pub events: u64,
    /// Orders sent so far.
    pub orders: u64,
    /// Fills so far.
    pub fills: u64,
    /// Risk and venue rejects so far.
    pub rejects: u64,
    /// Gaps so far.
    pub gaps: u64,
    /// Venue answers refusing a request (a subscription) so far.
    pub refused: u64,
    /// Records waiting in the persist ring.
    pub backlog: usize,
    /// Tick-to-order p50 so far (ns).
    pub p50: u64,
    /// Tick-to-order p99 so far (ns).
    pub p99: u64,
    /// Whether the stage halted itself (kill switch).
    pub halted: bool,
    /// Why, as a kill-switch reason code (0: not halted or no code).
    pub halt_code: u16,
}

/// How often (in loop turns) the loop looks at its control ring and the clock for
/// a heartbeat: rare enough to cost nothing, often enough to stop within microseconds.
const HOUSEKEEPING_EVERY: u32 = 256;
const HEARTBEAT_NS: u64 = 100_000_000;
/// Every how many heartbeats the loop reads tick-to-order p50 and p99 afresh: the
/// status line shows them once a second, and a read, its memory cold, costs the hot
/// core up to 10 µs (live runs, 2026-11-29; 1 µs with warm caches). Keeping a total
/// per run of slots cut that to 2-3 µs but added 18 instructions a frame.
const PERCENTILES_EVERY: u32 = 10;

/// Tick-to-order p50 and p99 so far.
fn percentiles(p: &Pipeline) -> [u64; 2] {
    p.latency().values_at_quantiles(Hop::TickToOrder, [0.5, 0.99])
}

/// A heartbeat with percentiles read now.
fn status(p: &Pipeline, now: u64) -> Status {
    status_with(p, now, percentiles(p))
}

fn status_with(p: &Pipeline, now: u64, [p50, p99]: [u64; 2]) -> Status {
    let c = p.counters();
    Status {
        ts: now,
        events: c.events,
        orders: c.orders,
        fills: c.fills,
        rejects: c.risk_rejects + c.venue_rejects,
        gaps: c.gaps,
        refused: c.refused_requests,
        backlog: p.sink().backlog(),
        p50,
        p99,
        halted: p.halt().is_some(),
        halt_code: match p.halt() {
            Some(crate::pipeline::Halt::KillSwitch(t)) => t.reason as u16,
            _ => 0,
        },
    }
}

/// Faults the reliability tests inject into a running hot stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Panic after this many frames.
    pub panic_after: Option<u64>,
    /// Stop making progress (and heartbeats) after this many frames.
    pub stall_after: Option<u64>,
    /// The simulated venue rejects every order after this many.
    pub venue_rejects_after: Option<u64>,
    /// The cold core stops draining for this many milliseconds, once, a second into
    /// the run (a slow disk, a preempted thread): the record ring fills.
    pub persist_stall_ms: Option<u64>,
    /// The hot stage stops for this many milliseconds, once, a second into the run
    /// (a preempted core), then goes on.
    pub pause_ms: Option<u64>,
}

/// One turn of the hot loop: the next due frame through the stage, then any
/// snapshot the stage asked for. `false` if no frame was due.
pub fn step<F: Feed>(
    pipeline: &mut Pipeline,
    feed: &mut F,
    clock: &impl Clock,
    now: u64,
    snapshot: &mut Events,
) -> bool {
    // Every turn, not only when idle: with several venues, one venue's drop must
    // not wait behind the others' frames.
    feed.take_link_changes(
        |venue, up| if up { pipeline.on_connect(venue, now) } else { pipeline.on_disconnect(venue) },
    );
    let Some((venue, frame, ts_recv, arrived)) = feed.poll_venue(now) else { return false };
    pipeline.on_frame(venue, frame, ts_recv, arrived, clock);
    let mut wanted = pipeline.snapshot_requests();
    feed.wanted(wanted);
    while wanted != 0 {
        let i = wanted.trailing_zeros();
        wanted &= wanted - 1;
        snapshot.clear();
        let id = InstrumentId(i);
        // Event time, as for every decision: a replay applies it at the same moment.
        if feed.snapshot(id, ts_recv, snapshot) {
            pipeline.on_snapshot(id, snapshot, ts_recv);
        }
    }
    true
}

/// Where a hot loop's frames come from: a feed read and decoded on this core (fused),
/// or events a feed core decoded and put on a ring (pipelined).
pub trait Input {
    /// One turn: process what is due at `now`; `false` if nothing was.
    fn turn(&mut self, pipeline: &mut Pipeline, now: u64, clock: &impl Clock) -> bool;
    /// Whether the input has ended.
    fn is_done(&self) -> bool;
    /// Whether wall time is event time (see [`Feed::is_live`]).
    fn is_live(&self) -> bool;
}

/// A feed read on the hot core itself, with the buffer snapshots are fetched into.
struct FusedInput<'a, F> {
    feed: &'a mut F,
    snapshot: Events,
}

impl<F: Feed> Input for FusedInput<'_, F> {
    fn turn(&mut self, pipeline: &mut Pipeline, now: u64, clock: &impl Clock) -> bool {
        step(pipeline, self.feed, clock, now, &mut self.snapshot)
    }
    fn is_done(&self) -> bool {
        self.feed.is_done()
    }
    fn is_live(&self) -> bool {
        self.feed.is_live()
    }
}

/// Runs until told to stop, the stage halts itself, or `max_frames` frames.
pub fn run<F: Feed>(
    pipeline: &mut Pipeline,
    feed: &mut F,
    clock: &impl Clock,
    control: &mut Consumer<Control>,
    heartbeat: &mut Producer<Status>,
    max_frames: Option<u64>,
    faults: Faults,
) {
    let mut input = FusedInput { feed, snapshot: Events::with_capacity(64) };
    run_input(pipeline, &mut input, clock, control, heartbeat, max_frames, faults);
}

/// The hot loop on any [`Input`]: busy-polls it, and every few hundred turns looks at
/// the control ring, injected faults, the clock-driven checks and the heartbeat.
pub fn run_input(
    pipeline: &mut Pipeline,
    input: &mut impl Input,
    clock: &impl Clock,
    control: &mut Consumer<Control>,
    heartbeat: &mut Producer<Status>,
    max_frames: Option<u64>,
    mut faults: Faults,
) {
    let mut turn: u32 = 0;
    let (mut last_beat, mut beats, mut last_percentiles) = (0, 0u32, [0; 2]);
    let first_turn = clock.now_ns();
    loop {
        let now = clock.now_ns();
        if input.turn(pipeline, now, clock) {
            if max_frames.is_some_and(|m| pipeline.counters().frames >= m) {
                break;
            }
        } else {
            std::hint::spin_loop();
        }
        turn = turn.wrapping_add(1);
        if !turn.is_multiple_of(HOUSEKEEPING_EVERY) {
            continue;
        }
        let frames = pipeline.counters().frames;
        if faults.panic_after.is_some_and(|n| frames >= n) {
            panic!("injected fault: hot stage panics after {frames} frames");
        }
        if let Some(ms) = faults.pause_ms
            && now.saturating_sub(first_turn) >= 1_000_000_000
        {
            faults.pause_ms = None;
            std::thread::sleep(std::time::Duration::from_millis(ms)); // injected fault
        }
        if faults.stall_after.is_some_and(|n| frames >= n) {
            loop {
                std::hint::spin_loop(); // injected fault: a stage stuck in a loop
            }
        }
        match control.try_pop() {
            Ok(Control::Stop) => break,
            Ok(Control::Kill) => pipeline.kill_switch(crate::risk::TripReason::Manual, pipeline.last_event_time()),
            Ok(Control::Rearm(plan)) => pipeline.rearm_or_count(plan, pipeline.last_event_time()),
            Err(_) => {}
        }
        if pipeline.halt().is_some_and(|h| h.must_stop()) || input.is_done() {
            break;
        }
        if input.is_live() {
            pipeline.on_tick(now);
        }
        if now.saturating_sub(last_beat) >= HEARTBEAT_NS {
            last_beat = now;
            // Also while none were known: the first status lines show them at once
            // (with no samples a read is one load).
            if beats.is_multiple_of(PERCENTILES_EVERY) || last_percentiles == [0; 2] {
                last_percentiles = percentiles(pipeline);
            }
            beats = beats.wrapping_add(1);
            let _ = heartbeat.try_push(status_with(pipeline, now, last_percentiles));
        }
    }
    wind_down(pipeline, input.is_live(), clock, heartbeat);
}

/// Takes the venue's answers while `waiting` holds, for under a second, heartbeats
/// going.
fn await_venue(
    pipeline: &mut Pipeline,
    clock: &impl Clock,
    heartbeat: &mut Producer<Status>,
    waiting: impl Fn(&Pipeline) -> bool,
) {
    for n in 0..800 {
        if !waiting(pipeline) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        pipeline.take_answers(clock.now_ns());
        if n % 100 == 0 {
            let _ = heartbeat.try_push(status(pipeline, clock.now_ns()));
        }
    }
}

/// The hot stage's last act: cancel every working order and collect the venue's
/// answers, so the journal ends with every order's outcome. `live`: wall time is
/// event time (a replay's venue answers on event time instead).
pub fn wind_down(pipeline: &mut Pipeline, live: bool, clock: &impl Clock, heartbeat: &mut Producer<Status>) {
    if live && pipeline.venues_asked() != 0 {
        // A settle question still out is answered first: the orders it settles
        // (lost acks, say) would otherwise be cancelled with their outcome unknown.
        // The other venues' orders are cancelled meanwhile.
        pipeline.cancel_all_but(pipeline.last_event_time(), pipeline.venues_asked());
        await_venue(pipeline, clock, heartbeat, |p| p.venues_asked() != 0);
    }
    pipeline.cancel_all(pipeline.last_event_time());
    if live {
        // A real venue answers later: wait for the answers to requests still out,
        // so the journal ends with every order's outcome.
        await_venue(pipeline, clock, heartbeat, Pipeline::awaiting_venue);
    } else {
        // A replay's venue answers on event time: whatever it still holds is due
        // within a few seconds of the last event, the same in every replay.
        pipeline.take_answers(pipeline.last_event_time().saturating_add(10_000_000_000));
    }
    // Records still held for a cold core that fell behind go into the ring before
    // the stage ends (the cold core drains until it has): none is left behind.
    let mut n = 0u32;
    while pipeline.flush_records() {
        std::thread::sleep(std::time::Duration::from_millis(1));
        n = n.wrapping_add(1);
        if n.is_multiple_of(100) {
            let _ = heartbeat.try_push(status(pipeline, clock.now_ns()));
        }
    }
    let _ = heartbeat.try_push(status(pipeline, clock.now_ns()));
}
