//! Order-to-trade and cancel-to-new ratios over a sliding window: two fixed windows,
//! the previous one weighted by how much of it the sliding window still covers. All
//! integer arithmetic, compared by cross-multiplication (no division on the hot path).

/// Messages and fills in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    new: u64,
    cancels: u64,
    fills: u64,
}

/// The ratio limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatioLimits {
    /// The sliding window.
    pub window_ns: u64,
    /// Messages (new orders + cancels) per fill at most (0: off).
    pub max_order_to_trade: u64,
    /// Cancels per 100 new orders at most (0: off).
    pub max_cancel_to_new_pct: u64,
    /// Ratios apply once the window holds at least this many messages.
    pub min_messages: u64,
}

impl Default for RatioLimits {
    fn default() -> Self {
        Self { window_ns: 10_000_000_000, max_order_to_trade: 100, max_cancel_to_new_pct: 0, min_messages: 500 }
    }
}

/// Which ratio a new order would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatioBreach {
    /// Too many messages per fill: (limit, observed messages per fill).
    OrderToTrade(u64, u64),
    /// Too many cancels per new order: (limit %, observed %).
    CancelToNew(u64, u64),
}

/// The sliding window of one venue's messages.
#[derive(Debug, Clone)]
pub struct MessageWindow {
    limits: RatioLimits,
    start: u64,
    current: Counts,
    previous: Counts,
}

impl MessageWindow {
    /// An empty window.
    pub fn new(limits: RatioLimits) -> Self {
        Self { limits, start: 0, current: Counts::default(), previous: Counts::default() }
    }

    fn roll(&mut self, now: u64) {
        let w = self.limits.window_ns.max(1);
        let elapsed = now.saturating_sub(self.start);
        if elapsed < w {
            return;
        }
        self.previous = if elapsed < 2 * w { self.current } else { Counts::default() };
        self.current = Counts::default();
        self.start = now - elapsed % w;
    }

    /// A new order went out.
    pub fn on_new(&mut self, now: u64) {
        self.roll(now);
        self.current.new += 1;
    }

    /// A cancel went out.
    pub fn on_cancel(&mut self, now: u64) {
        self.roll(now);
        self.current.cancels += 1;
    }

    /// A fill came back.
    pub fn on_fill(&mut self, now: u64) {
        self.roll(now);
        self.current.fills += 1;
    }

    /// The window's counts, each scaled by the window length (the previous window
    /// weighted by the share the sliding window still covers), in u128: no overflow.
    fn scaled(&self, now: u64) -> [u128; 3] {
        let w = u128::from(self.limits.window_ns.max(1));
        let keep = w - u128::from(now.saturating_sub(self.start)).min(w);
        let mix = |p: u64, c: u64| u128::from(p) * keep + u128::from(c) * w;
        [
            mix(self.previous.new, self.current.new),
            mix(self.previous.cancels, self.current.cancels),
            mix(self.previous.fills, self.current.fills),
        ]
    }

    /// Whether one more new order would break a ratio.
    pub fn check_new(&mut self, now: u64) -> Option<RatioBreach> {
        self.roll(now);
        let l = self.limits;
        let w = u128::from(l.window_ns.max(1));
        let [new, cancels, fills] = self.scaled(now);
        let new = new + w; // with this order
        let messages = new + cancels;
        if messages < u128::from(l.min_messages) * w {
            return None;
        }
        let fills = fills.max(w); // at least one fill's worth
        let narrow = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        if l.max_order_to_trade > 0 && messages > u128::from(l.max_order_to_trade) * fills {
            return Some(RatioBreach::OrderToTrade(l.max_order_to_trade, narrow(messages / fills)));
        }
        if l.max_cancel_to_new_pct > 0 && cancels * 100 > u128::from(l.max_cancel_to_new_pct) * new {
            return Some(RatioBreach::CancelToNew(l.max_cancel_to_new_pct, narrow(cancels * 100 / new)));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn limits() -> RatioLimits {
        RatioLimits { window_ns: 10 * S, max_order_to_trade: 10, max_cancel_to_new_pct: 80, min_messages: 20 }
    }

    #[test]
    fn order_to_trade_applies_after_enough_messages_and_fills_lift_it() {
        let mut w = MessageWindow::new(RatioLimits { max_cancel_to_new_pct: 0, ..limits() });
        for _ in 0..18 {
            assert_eq!(w.check_new(S), None, "under min_messages, or 10 per fill at most");
            w.on_new(S);
        }
        w.on_new(S);
        // 19 messages, no fill (counted as one): the 20th would be 20 per fill.
        assert_eq!(w.check_new(S), Some(RatioBreach::OrderToTrade(10, 20)));
        w.on_fill(S);
        assert!(w.check_new(S).is_some(), "20 messages per fill");
        w.on_fill(S);
        assert_eq!(w.check_new(S), None, "20 messages per 2 fills");
    }

    #[test]
    fn cancel_to_new_counts_cancels_per_hundred_orders() {
        let mut w = MessageWindow::new(RatioLimits { max_order_to_trade: 0, ..limits() });
        for _ in 0..10 {
            w.on_new(S);
            w.on_cancel(S);
        }
        // 10 new (11 with this one), 10 cancels: 90% > 80%.
        assert_eq!(w.check_new(S), Some(RatioBreach::CancelToNew(80, 90)));
        w.on_new(S);
        w.on_new(S);
        assert_eq!(w.check_new(S), None, "10 cancels per 13 new: 76%");
    }

    #[test]
    fn the_window_slides_old_messages_out() {
        let mut w = MessageWindow::new(RatioLimits { max_cancel_to_new_pct: 0, ..limits() });
        for _ in 0..30 {
            w.on_new(S);
        }
        assert!(w.check_new(S).is_some());
        // Half of the previous window still counts 15 s later (15 of 30): under min.
        assert_eq!(w.check_new(15 * S), None);
        assert_eq!(w.check_new(40 * S), None, "two windows later nothing is left");
    }
}
