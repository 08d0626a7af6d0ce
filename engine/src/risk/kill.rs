//! The automatic kill switch: trip conditions watched on the hot core, each with its
//! own persisted reason code. Tripping is sticky: nothing here ever re-arms it.

/// Why the kill switch tripped. Codes are persisted with risk events (100+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum TripReason {
    /// An operator asked (SIGUSR1).
    Manual = 100,
    /// Realised plus unrealised P&L below the daily loss limit.
    DailyLoss = 101,
    /// Equity fell too far below its high-water mark.
    Drawdown = 102,
    /// Too many venue rejects (or hard risk rejects) per second.
    RejectRate = 103,
    /// A book stayed invalid (gap not recovered, feed down) too long.
    StaleFeed = 104,
    /// A venue filled more than we ordered.
    OverFill = 105,
    /// Fills took gross exposure over its limit.
    ExposureBreach = 106,
    /// More messages (orders + cancels) per second than allowed.
    MessageRate = 107,
    /// After fills, a position's value exceeds its limit.
    PositionBreach = 108,
    /// At start-up the venue's positions differed from the journal's.
    ReconcileMismatch = 109,
    /// Every venue was unusable (circuit open or disconnected) too long.
    VenueDown = 110,
    /// The hot stage failed (panicked): its state cannot be trusted, its orders are
    /// cancelled and the engine stops.
    StageFailed = 111,
    /// The cold core fell behind and records had to be held (`--on-persist-backlog
    /// halt`).
    PersistBacklog = 112,
    /// A venue report took its place in the sequence without being applied (one
    /// that cannot be read, or a fill naming another symbol than its order's): a
    /// position may have moved unseen (`--on-mismatch`).
    UnappliedReport = 113,
}

impl TripReason {
    /// The reason stored under `code`.
    pub fn from_code(code: u16) -> Option<Self> {
        [
            Self::Manual,
            Self::DailyLoss,
            Self::Drawdown,
            Self::RejectRate,
            Self::StaleFeed,
            Self::OverFill,
            Self::ExposureBreach,
            Self::MessageRate,
            Self::PositionBreach,
            Self::ReconcileMismatch,
            Self::VenueDown,
            Self::StageFailed,
            Self::PersistBacklog,
            Self::UnappliedReport,
        ]
        .into_iter()
        .find(|r| *r as u16 == code)
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::DailyLoss => "daily_loss",
            Self::Drawdown => "drawdown",
            Self::RejectRate => "reject_rate",
            Self::StaleFeed => "stale_feed",
            Self::OverFill => "over_fill",
            Self::ExposureBreach => "exposure_breach",
            Self::MessageRate => "message_rate",
            Self::PositionBreach => "position_breach",
            Self::ReconcileMismatch => "reconcile_mismatch",
            Self::VenueDown => "venue_down",
            Self::StageFailed => "stage_failed",
            Self::PersistBacklog => "persist_backlog",
            Self::UnappliedReport => "unapplied_report",
        }
    }
}

/// How an operator re-arms a tripped kill switch. Never automatic; each re-arm is a
/// persisted risk event with its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum RearmPlan {
    /// Trade again, reduce-only: positions may shrink, none may grow.
    Standard = 150,
    /// Trade again normally.
    Aggressive = 151,
}

impl RearmPlan {
    /// A short name for reports and the control file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Aggressive => "aggressive",
        }
    }
}

/// A trip: the reason, the limit and what was observed (persisted for audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trip {
    /// Why.
    pub reason: TripReason,
    /// The limit crossed (0 if none).
    pub limit: i64,
    /// The value that crossed it.
    pub observed: i64,
}

/// Trip limits, in fixed point (P&L in price ticks × size lots); 0 disables one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillLimits {
    /// Trip when total P&L falls below minus this.
    pub max_daily_loss: i128,
    /// Starting equity, for the drawdown check.
    pub equity: i128,
    /// Trip when equity falls this many percent below its high-water mark.
    pub max_drawdown_pct: i128,
    /// Trip on more rejects than this within one second.
    pub max_rejects_per_sec: u32,
    /// Trip when a book has been invalid this long (ns).
    pub max_book_invalid_ns: u64,
    /// Trip when every venue has been unusable (circuit open, or disconnected) this
    /// long (ns; 0: never).
    pub max_venue_down_ns: u64,
    /// Trip on more messages (orders + cancels) than this within one second.
    pub max_messages_per_sec: u32,
}

/// The watcher.
#[derive(Debug, Clone)]
pub struct KillSwitch {
    limits: KillLimits,
    high_water: i128,
    /// Equity below this trips the drawdown check (`None`: the check is off). Kept
    /// with the high-water mark, so a P&L check, run on every book change, does no
    /// 128-bit division.
    drawdown_floor: Option<i128>,
    window_start: u64,
    window_rejects: u32,
    message_window_start: u64,
    window_messages: u32,
}

/// The equity below which a drawdown from `high_water` trips, if the check is on.
fn drawdown_floor(l: &KillLimits, high_water: i128) -> Option<i128> {
    (l.max_drawdown_pct > 0 && l.equity > 0).then(|| high_water - high_water * l.max_drawdown_pct / 100)
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl KillSwitch {
    /// A watcher with these limits.
    pub fn new(limits: KillLimits) -> Self {
        Self {
            limits,
            high_water: limits.equity,
            drawdown_floor: drawdown_floor(&limits, limits.equity),
            window_start: 0,
            window_rejects: 0,
            message_window_start: 0,
            window_messages: 0,
        }
    }

    /// After P&L changed: total realised + unrealised across instruments.
    pub fn on_pnl(&mut self, pnl: i128) -> Option<Trip> {
        let l = &self.limits;
        if l.max_daily_loss > 0 && pnl < -l.max_daily_loss {
            return Some(Trip { reason: TripReason::DailyLoss, limit: clamp(-l.max_daily_loss), observed: clamp(pnl) });
        }
        let equity = l.equity + pnl;
        if equity > self.high_water {
            self.high_water = equity;
            self.drawdown_floor = drawdown_floor(l, equity);
        }
        match self.drawdown_floor {
            Some(floor) if equity < floor => {
                Some(Trip { reason: TripReason::Drawdown, limit: clamp(floor), observed: clamp(equity) })
            }
            _ => None,
        }
    }

    /// Starting equity plus `pnl`.
    pub fn equity(&self, pnl: i128) -> i128 {
        self.limits.equity + pnl
    }

    /// After fills moved the book's gross exposure: a breach of `limit` trips (fills
    /// can take it over a limit that every order passed, e.g. several fills at once).
    pub fn on_exposure(&self, gross: i128, limit: i128) -> Option<Trip> {
        (limit > 0 && gross > limit).then_some(Trip {
            reason: TripReason::ExposureBreach,
            limit: clamp(limit),
            observed: clamp(gross),
        })
    }

    /// Forgets the reject and message windows (on re-arm: the storm that tripped it
    /// is over).
    pub fn reset_windows(&mut self) {
        self.window_start = 0;
        self.window_rejects = 0;
        self.message_window_start = 0;
        self.window_messages = 0;
    }

    /// After a message (order or cancel) went to the venue.
    pub fn on_message(&mut self, now: u64) -> Option<Trip> {
        if now.saturating_sub(self.message_window_start) >= 1_000_000_000 {
            self.message_window_start = now;
            self.window_messages = 0;
        }
        self.window_messages += 1;
        let max = self.limits.max_messages_per_sec;
        (max > 0 && self.window_messages > max).then_some(Trip {
            reason: TripReason::MessageRate,
            limit: i64::from(max),
            observed: i64::from(self.window_messages),
        })
    }

    /// After a reject that counts toward the rate (venue rejects, hard risk rejects).
    pub fn on_reject(&mut self, now: u64) -> Option<Trip> {
        if now.saturating_sub(self.window_start) >= 1_000_000_000 {
            self.window_start = now;
            self.window_rejects = 0;
        }
        self.window_rejects += 1;
        let max = self.limits.max_rejects_per_sec;
        (max > 0 && self.window_rejects > max).then_some(Trip {
            reason: TripReason::RejectRate,
            limit: i64::from(max),
            observed: i64::from(self.window_rejects),
        })
    }

    /// With the time every venue became unusable (circuit open or disconnected).
    pub fn on_venue_down(&self, now: u64, down_since: u64) -> Option<Trip> {
        let (max, age) = (self.limits.max_venue_down_ns, now.saturating_sub(down_since));
        (max > 0 && age > max).then_some(Trip {
            reason: TripReason::VenueDown,
            limit: clamp(max.into()),
            observed: clamp(age.into()),
        })
    }

    /// With the time the oldest invalid book became invalid.
    pub fn on_invalid_book(&self, now: u64, invalid_since: u64) -> Option<Trip> {
        let (max, age) = (self.limits.max_book_invalid_ns, now.saturating_sub(invalid_since));
        (max > 0 && age > max).then_some(Trip {
            reason: TripReason::StaleFeed,
            limit: clamp(max.into()),
            observed: clamp(age.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> KillLimits {
        KillLimits {
            max_daily_loss: 1_000,
            equity: 10_000,
            max_drawdown_pct: 15,
            max_rejects_per_sec: 3,
            max_book_invalid_ns: 500,
            max_venue_down_ns: 0,
            max_messages_per_sec: 4,
        }
    }

    #[test]
    fn a_message_burst_over_the_rate_trips_and_a_new_second_starts_over() {
        let mut k = KillSwitch::new(limits());
        for t in 0..4 {
            assert_eq!(k.on_message(t), None);
        }
        let trip = k.on_message(4).unwrap();
        assert_eq!((trip.reason, trip.limit, trip.observed), (TripReason::MessageRate, 4, 5));
        assert_eq!(k.on_message(1_000_000_004), None, "a new second");
        assert_eq!(KillSwitch::new(KillLimits { max_messages_per_sec: 0, ..limits() }).on_message(0), None);
    }

    #[test]
    fn loss_and_drawdown_trip_at_their_boundaries() {
        let mut k = KillSwitch::new(limits());
        assert_eq!(k.on_pnl(-1_000), None, "at the limit is not past it");
        assert_eq!(k.on_pnl(-1_001).map(|t| t.reason), Some(TripReason::DailyLoss));
        let mut k = KillSwitch::new(KillLimits { max_daily_loss: 0, ..limits() });
        assert_eq!(k.on_pnl(10_000), None); // equity 20,000: the high-water mark
        assert_eq!(k.on_pnl(7_000), None); // 17,000 = exactly 15% down
        let trip = k.on_pnl(6_999).unwrap();
        assert_eq!((trip.reason, trip.limit, trip.observed), (TripReason::Drawdown, 17_000, 16_999));
    }

    #[test]
    fn rejects_trip_on_rate_within_a_second_and_stale_books_on_age() {
        let mut k = KillSwitch::new(limits());
        for t in [1, 2, 3] {
            assert_eq!(k.on_reject(t), None);
        }
        assert_eq!(k.on_reject(4).map(|t| t.reason), Some(TripReason::RejectRate));
        let mut k = KillSwitch::new(limits());
        for t in [0, 900_000_000, 1_000_000_001, 1_500_000_000] {
            assert_eq!(k.on_reject(t), None, "a new window each second");
        }
        assert_eq!(k.on_invalid_book(1_000, 600), None);
        assert_eq!(k.on_invalid_book(1_101, 600).map(|t| t.reason), Some(TripReason::StaleFeed));
    }
}
