//! The opened feed source and what runs a hot loop on it: the fused stage (feed read
//! and decoded beside the books) or the pipelined feed core. Either may record the
//! frames into a capture on the way.

use std::path::PathBuf;

use feeds::event::Venue;

use super::{
    Feed, MultiFeed, Recording, ReplayFeed, SimFeed, WsFeed,
    hot::{self, Control, Faults, Status},
    pipelined::{FeedStage, FeedStageReport},
};
use crate::{
    clock::LiveClock,
    pipeline::{Pipeline, VenueLayout},
};
use rings::spsc;

/// The opened source, moved into the thread that reads it.
#[allow(clippy::large_enum_variant, reason = "one per run, made once and never moved on the hot path")]
pub(super) enum Source {
    Sim,
    Replay(ReplayFeed),
    Ws(WsFeed),
    /// Several venues' WebSocket feeds.
    WsVenues(MultiFeed<WsFeed>),
}

/// What a feed has to say after a run.
pub(super) trait FeedReport {
    fn warning(&self) -> Option<String> {
        None
    }
}

impl FeedReport for SimFeed {}

impl FeedReport for WsFeed {
    fn warning(&self) -> Option<String> {
        (self.disconnects > 0).then(|| {
            format!(
                "the feed connection dropped {} time(s); last error: {}",
                self.disconnects,
                self.last_error.as_deref().unwrap_or("?")
            )
        })
    }
}

impl FeedReport for ReplayFeed {
    fn warning(&self) -> Option<String> {
        match (&self.error, self.unrequested_snapshots) {
            (Some(e), _) => Some(format!("replay ended early: {e}")),
            (None, 0) => None,
            (None, n) => Some(format!(
                "replay skipped {n} snapshot(s) it did not ask for: this run's configuration differs from the recording's"
            )),
        }
    }
}

impl<F: Feed + FeedReport> FeedReport for MultiFeed<F> {
    fn warning(&self) -> Option<String> {
        let each: Vec<String> = self
            .feeds()
            .iter()
            .enumerate()
            .filter_map(|(v, f)| f.warning().map(|w| format!("venue {v}: {w}")))
            .collect();
        (!each.is_empty()).then(|| each.join("; "))
    }
}

impl<F: Feed + FeedReport> FeedReport for Recording<F> {
    fn warning(&self) -> Option<String> {
        self.error.clone().or_else(|| self.inner().warning())
    }
}

/// Runs a hot loop on a feed until it stops; returns a warning about the feed, if any.
pub(super) trait Driver {
    fn drive<F: Feed + FeedReport>(&mut self, feed: &mut F) -> Option<String>;
}

/// Drives `source` (the simulator: venue `v`'s feed built by `sim(v)`, one per
/// venue of the layout), recorded into `record` if given.
pub(super) fn drive_source(
    driver: &mut impl Driver,
    source: Source,
    (sim, layout): (&dyn Fn(usize) -> SimFeed, VenueLayout),
    record: Option<(PathBuf, Venue)>,
) -> Option<String> {
    match source {
        Source::Sim if layout.venues == 1 => drive(driver, sim(0), record),
        Source::Sim => drive(driver, MultiFeed::new((0..layout.venues).map(sim).collect(), layout), record),
        Source::Replay(feed) => drive(driver, feed, record),
        Source::Ws(feed) => drive(driver, feed, record),
        Source::WsVenues(feed) => drive(driver, feed, record),
    }
}

fn drive<F: Feed + FeedReport>(
    driver: &mut impl Driver,
    mut feed: F,
    record: Option<(PathBuf, Venue)>,
) -> Option<String> {
    match record {
        None => driver.drive(&mut feed),
        Some((path, dialect)) => match Recording::new(feed, &path, dialect) {
            Ok(mut recording) => {
                // Both: a feed's warning must not hide a capture cut short.
                match (driver.drive(&mut recording), recording.finish().err()) {
                    (Some(feed), Some(capture)) => Some(format!("{feed}; {capture}")),
                    (feed, capture) => feed.or(capture),
                }
            }
            Err(e) => Some(e),
        },
    }
}

/// The hot loop's rings and limits.
pub(super) struct HotIo {
    pub control: spsc::Consumer<Control>,
    pub heartbeat: spsc::Producer<Status>,
    pub max_frames: Option<u64>,
    pub faults: Faults,
}

/// The fused stage on a feed read on its own core.
pub(super) struct Fused<'a> {
    pub io: &'a mut HotIo,
    pub pipeline: &'a mut Pipeline,
    pub clock: &'a LiveClock,
}

impl Driver for Fused<'_> {
    fn drive<F: Feed + FeedReport>(&mut self, feed: &mut F) -> Option<String> {
        let io = &mut *self.io;
        hot::run(self.pipeline, feed, self.clock, &mut io.control, &mut io.heartbeat, io.max_frames, io.faults);
        feed.warning()
    }
}

/// The pipelined topology's feed core.
pub(super) struct FeedCore<'a> {
    pub stage: &'a mut FeedStage,
    pub clock: &'a LiveClock,
    pub report: FeedStageReport,
}

impl Driver for FeedCore<'_> {
    fn drive<F: Feed + FeedReport>(&mut self, feed: &mut F) -> Option<String> {
        self.report = self.stage.run(feed, self.clock);
        feed.warning()
    }
}
