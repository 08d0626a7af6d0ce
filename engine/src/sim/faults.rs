//! Feed faults the exchange simulator injects on purpose (`engine sim`), so tests and
//! the reliability report can check how the engine's feed core handles each one.
//!
//! Two layers: faults in a frame's content (a book update that crosses the book, a
//! trade printed far off the market, a skipped update id) are made by
//! [`MarketSim`] itself, since they need its book; faults in what goes on the wire (a
//! frame sent twice, held back, or damaged) are made here by [`FaultyMarket`], which
//! wraps it. Every fault counts depth updates (or trades, for the off-market print),
//! so its period does not depend on the offered rate, and each is counted in
//! [`FaultCounts`] so a test knows what was injected.
//!
//! Cold code: it allocates (a held-back frame is a copy).

use feeds::event::InstrumentId;

use super::{market::MarketSim, rng::SplitMix64};

/// Which faults to inject, each as a period: every Nth depth update (trade, for
/// `absurd_price_every`) gets it. 0 is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Skip one update id (a lost update: a gap).
    pub gap_every: u64,
    /// Send the update twice in a row, same update ids; and every Nth trade twice.
    pub duplicate_every: u64,
    /// Hold the update back and send it right after the next update of its symbol.
    pub reorder_every: u64,
    /// Send the first half of the update's JSON instead of it (the update is lost).
    pub malformed_every: u64,
    /// Print the trade at ten times the market, or a tenth of it, alternately.
    pub absurd_price_every: u64,
    /// Replace the update with one that puts a bid above the best ask (update ids
    /// intact; the simulator's own book is untouched).
    pub crossed_every: u64,
    /// Send the update with one level's size off by one, update ids intact and the
    /// checksum of the simulator's true book: a book gone wrong that only a venue
    /// checksum can expose (OKX's and Kraken's dialects, with a level Kraken's top-ten
    /// checksum covers; ignored in the others, which have none).
    pub corrupt_every: u64,
    /// Each fault at random, with a chance of 1 in N per update (trade) instead of
    /// every Nth, from this seed: the same faults at the same moments run after run.
    pub random_seed: Option<u64>,
}

/// When a fault of period N is due: every Nth time, or at random with a chance of
/// 1 in N (its own generator, so the market's random walk is the same either way).
#[derive(Debug, Clone)]
pub struct FaultTiming {
    rng: Option<SplitMix64>,
}

impl FaultTiming {
    /// Periodic, or random from `seed`.
    pub fn new(random_seed: Option<u64>) -> Self {
        Self { rng: random_seed.map(SplitMix64::new) }
    }

    /// Whether a fault of period `every` (0: off) is due at the `count`th update.
    pub fn due(&mut self, every: u64, count: u64) -> bool {
        match (every, self.rng.as_mut()) {
            (0, _) => false,
            (_, None) => count.is_multiple_of(every),
            (_, Some(rng)) => rng.below(every) == 0,
        }
    }
}

/// Faults injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Update ids skipped.
    pub gaps: u64,
    /// Updates sent twice.
    pub duplicated: u64,
    /// Trades sent twice.
    pub duplicated_trades: u64,
    /// Updates held back behind a later one.
    pub reordered: u64,
    /// Updates replaced by a damaged frame.
    pub malformed: u64,
    /// Trades printed far off the market.
    pub absurd_prices: u64,
    /// Updates that crossed the book.
    pub crossed: u64,
    /// Updates sent with a wrong size under a true checksum.
    pub corrupted: u64,
}

impl std::fmt::Display for FaultCounts {
    /// `key=value` pairs, one per fault: what `engine sim` prints per connection.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gap={} duplicate={} duplicate_trade={} reorder={} malformed={} absurd_price={} crossed={} corrupt={}",
            self.gaps,
            self.duplicated,
            self.duplicated_trades,
            self.reordered,
            self.malformed,
            self.absurd_prices,
            self.crossed,
            self.corrupted
        )
    }
}

/// What a frame [`FaultyMarket::next_frames`] sends carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOf {
    /// Its instrument.
    pub instrument: Option<InstrumentId>,
    /// A trade (or an off-market print); otherwise a book update.
    pub trade: bool,
}

/// A [`MarketSim`] whose frames go out with the wire faults of [`Faults`].
#[derive(Debug)]
pub struct FaultyMarket {
    market: MarketSim,
    faults: Faults,
    /// A depth update held back (its instrument and bytes), sent after the next
    /// update of that instrument.
    held: Option<(InstrumentId, Vec<u8>)>,
    /// Trade frames sent so far.
    trades: u64,
    timing: FaultTiming,
    counts: FaultCounts,
}

impl FaultyMarket {
    /// `market` with `faults` (the content faults are handed to it).
    pub fn new(market: MarketSim, faults: Faults) -> Self {
        // The wire faults draw from their own generator, apart from the market's.
        let timing = FaultTiming::new(faults.random_seed.map(|s| s ^ 0x5eed_fa17));
        Self {
            market: market.with_faults(&faults),
            faults,
            held: None,
            trades: 0,
            timing,
            counts: FaultCounts::default(),
        }
    }

    /// The market (for snapshots, and the venue that follows it).
    pub fn market(&self) -> &MarketSim {
        &self.market
    }

    /// The market, mutably (snapshot frames are built in its buffer).
    pub fn market_mut(&mut self) -> &mut MarketSim {
        &mut self.market
    }

    /// Faults injected so far, both layers.
    pub fn counts(&self) -> FaultCounts {
        let own = self.market.injected();
        FaultCounts {
            duplicated: self.counts.duplicated,
            duplicated_trades: self.counts.duplicated_trades,
            reordered: self.counts.reordered,
            malformed: self.counts.malformed,
            ..own
        }
    }

    /// Makes the market's next frame (venue time `ts`) and hands `send` what goes on
    /// the wire for it, in order: usually that frame; nothing if it is held back; it
    /// twice; a damaged copy; and after it, a frame held back earlier. Each with
    /// what it carries, so a venue sends only what a client subscribed to.
    ///
    /// # Errors
    /// Whatever `send` returns (the rest of this step is not sent).
    pub fn next_frames<E>(&mut self, ts: u64, mut send: impl FnMut(&[u8], FrameOf) -> Result<(), E>) -> Result<(), E> {
        let before = self.market.depth_updates();
        self.market.next_frame(ts);
        let n = self.market.depth_updates();
        let frame = self.market.current_frame();
        let instrument = self.market.last_event().map(|(i, _)| i);
        if n == before {
            let of = FrameOf { instrument, trade: true };
            self.trades += 1;
            send(frame, of)?;
            if self.timing.due(self.faults.duplicate_every, self.trades) {
                self.counts.duplicated_trades += 1;
                send(frame, of)?;
            }
            return Ok(());
        }
        let of = FrameOf { instrument, trade: false };
        let timing = &mut self.timing;
        let mut due = |every: u64| timing.due(every, n);
        if due(self.faults.malformed_every) {
            self.counts.malformed += 1;
            send(frame.get(..frame.len() / 2).unwrap_or_default(), of)?;
        } else if due(self.faults.reorder_every) && self.held.is_none() {
            self.counts.reordered += 1;
            self.held = instrument.map(|i| (i, frame.to_vec()));
            return Ok(());
        } else {
            send(frame, of)?;
            if due(self.faults.duplicate_every) {
                self.counts.duplicated += 1;
                send(frame, of)?;
            }
        }
        if let Some((i, _)) = &self.held
            && Some(*i) == instrument
            && let Some((_, late)) = self.held.take()
        {
            send(&late, of)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use feeds::event::InstrumentId;

    use super::*;
    use crate::sim::SimSymbol;

    fn field(frame: &str, key: &str) -> Option<u64> {
        let at = frame.find(&format!("\"{key}\":"))? + key.len() + 3;
        frame.get(at..)?.split([',', '}']).next()?.parse().ok()
    }

    fn wire(faults: Faults, steps: u64) -> (Vec<String>, FaultCounts) {
        let symbol = SimSymbol::new("BTCUSDT", InstrumentId(0), (2, 5), 6_000_000);
        let mut sim = FaultyMarket::new(MarketSim::new(vec![symbol], 3), faults);
        let mut out = Vec::new();
        for n in 0..steps {
            sim.next_frames(n, |f, _| {
                out.push(String::from_utf8(f.to_vec()).unwrap());
                Ok::<_, ()>(())
            })
            .unwrap();
        }
        (out, sim.counts())
    }

    fn update_ids(frames: &[String]) -> Vec<u64> {
        frames.iter().filter_map(|f| field(f, "U")).collect()
    }

    #[test]
    fn without_faults_update_ids_climb_by_one() {
        let (frames, counts) = wire(Faults::default(), 2_000);
        assert_eq!(counts, FaultCounts::default());
        assert!(update_ids(&frames).windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(
            counts.to_string(),
            "gap=0 duplicate=0 duplicate_trade=0 reorder=0 malformed=0 absurd_price=0 crossed=0 corrupt=0"
        );
    }

    #[test]
    fn a_duplicate_repeats_the_update_right_after_itself() {
        let (frames, counts) = wire(Faults { duplicate_every: 50, ..Faults::default() }, 2_000);
        let ids = update_ids(&frames);
        let repeats = ids.windows(2).filter(|w| w[1] == w[0]).count() as u64;
        assert!(counts.duplicated >= 20 && counts.duplicated_trades >= 5, "{counts:?}");
        assert_eq!(repeats, counts.duplicated);
        let twice = frames.windows(2).filter(|w| w[0] == w[1]).count() as u64;
        assert_eq!(twice, counts.duplicated + counts.duplicated_trades, "byte for byte");
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1 || w[1] == w[0]));
    }

    #[test]
    fn random_timing_strikes_at_uneven_moments_the_same_way_each_run() {
        let random = Faults { duplicate_every: 50, random_seed: Some(7), ..Faults::default() };
        let (frames, counts) = wire(random, 4_000);
        assert_eq!(wire(random, 4_000), (frames.clone(), counts), "the same seed, the same faults");
        // About one update in 50 (of ~3,400 updates), not exactly every 50th.
        assert!((40..=110).contains(&counts.duplicated), "{counts:?}");
        let ids = update_ids(&frames);
        let at: Vec<u64> = ids.windows(2).filter(|w| w[1] == w[0]).map(|w| w[0]).collect();
        let gaps: std::collections::BTreeSet<u64> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() > 10, "uneven spacing: {gaps:?}");
        let (periodic, _) = wire(Faults { random_seed: None, ..random }, 4_000);
        assert_eq!(
            update_ids(&periodic).iter().max(),
            update_ids(&frames).iter().max(),
            "the market itself is the same either way"
        );
    }

    #[test]
    fn a_reordered_update_comes_after_the_next_one() {
        let (frames, counts) = wire(Faults { reorder_every: 50, ..Faults::default() }, 2_000);
        let ids = update_ids(&frames);
        let swaps = ids.windows(2).filter(|w| w[1] + 1 == w[0]).count() as u64;
        assert!(counts.reordered >= 20, "{counts:?}");
        assert_eq!(swaps, counts.reordered, "each held update follows the one after it");
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert!(sorted.windows(2).all(|w| w[1] == w[0] + 1), "nothing lost, nothing repeated");
    }

    #[test]
    fn a_malformed_update_is_cut_short_and_its_id_lost() {
        let (frames, counts) = wire(Faults { malformed_every: 50, ..Faults::default() }, 2_000);
        let broken = frames.iter().filter(|f| !f.ends_with('}')).count() as u64;
        assert!(counts.malformed >= 20, "{counts:?}");
        assert_eq!(broken, counts.malformed);
        let whole: Vec<String> = frames.iter().filter(|f| f.ends_with('}')).cloned().collect();
        let holes = update_ids(&whole).windows(2).filter(|w| w[1] == w[0] + 2).count() as u64;
        assert_eq!(holes, counts.malformed, "the update it replaced is missing from the sequence");
    }
}
