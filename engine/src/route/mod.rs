//! Smart order routing: which venue (or venues) an order goes to, decided from each
//! venue's live book, fees, measured ack latency and circuit-breaker state.
//!
//! Three policies:
//! - [`Policy::BestPrice`]: the one venue with the best average executable price for
//!   the order's size.
//! - [`Policy::LowestFee`]: the same, net of the venue's fee for the order's role
//!   (maker if it will rest, taker if it crosses).
//! - [`Policy::SmartRoute`]: every eligible venue's levels merged into one ladder,
//!   ranked by price net of fee and of a latency and breaker penalty, taken best
//!   first; the order is split into one child per venue it took from.
//!
//! Venues whose book is invalid or stale or whose circuit is open are skipped, with the
//! reason. Every decision keeps each venue's score, so a child order can say why it
//! went where it went. Nothing allocates: decisions live in fixed arrays.

#[cfg(test)]
mod tests;

use feeds::{
    book::Book,
    event::{BookSide, Price, Side},
};

use crate::{order::NewOrder, order::OrderType, risk::BreakerState, sim::FeeSchedule};

/// The most venues one decision considers.
pub const MAX_VENUES: usize = 8;
/// The most levels per venue a decision looks at.
pub const ROUTE_DEPTH: usize = 5;
/// Prices are compared × 10 000 so basis-point adjustments stay exact.
const BPS: i128 = 10_000;

/// How to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Best average executable price for the size, one venue.
    BestPrice,
    /// Best price net of fee, one venue.
    LowestFee,
    /// Net price with latency and breaker penalties; splits across venues.
    SmartRoute(SmartWeights),
}

/// What SmartRoute charges a venue beyond its price and fee, in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmartWeights {
    /// Per millisecond of measured ack latency (a slow venue's price is stale sooner).
    pub latency_bps_per_ms: i64,
    /// For a venue whose breaker is half-open (it was failing a moment ago).
    pub half_open_bps: i64,
    /// The smallest child worth sending, in lots (a smaller share is folded into the
    /// venue with the best score).
    pub min_child: i64,
}

impl Default for SmartWeights {
    fn default() -> Self {
        Self { latency_bps_per_ms: 1, half_open_bps: 5, min_child: 1 }
    }
}

/// One venue as the router sees it.
#[derive(Debug, Clone, Copy)]
pub struct VenueView<'a> {
    /// The venue's id (what children carry).
    pub venue: u8,
    /// Its book of the order's instrument.
    pub book: &'a Book,
    /// Its fees.
    pub fees: FeeSchedule,
    /// Its measured order-ack latency (EWMA, ns; 0: none measured yet).
    pub ack_ns: u64,
    /// Its circuit breaker.
    pub breaker: BreakerState,
    /// Its book has not been updated for longer than a price may be trusted.
    pub stale: bool,
    /// Its own risk limits would refuse the order there (the instrument restricted
    /// at that venue, or the size outside its bounds).
    pub barred: bool,
}

/// Why a venue took no part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Its book is invalid (a gap, a failed checksum, a crossed book).
    InvalidBook,
    /// Its circuit breaker is open.
    CircuitOpen,
    /// Its book is valid but old: its feed has gone quiet.
    StaleBook,
    /// Its own limits would refuse the order (restricted there, or a size outside
    /// that venue's bounds).
    Barred,
    /// A crossing order found nothing at or better than its limit there.
    NoLiquidity,
    /// Eligible, but another venue scored better (single-venue policies) or the
    /// order was filled before reaching it (SmartRoute).
    Outscored,
}

/// What the router saw at one venue: the explanation of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueScore {
    /// Venue id.
    pub venue: u8,
    /// Why it was not used (`None`: it got a child).
    pub skipped: Option<Skip>,
    /// Size available at or better than the order's limit in the levels looked at.
    pub available: i64,
    /// Displayed size on the far side's top levels (liquidity, whatever the limit).
    pub displayed: i64,
    /// Fee for the expected role, in bps.
    pub fee_bps: i64,
    /// Penalty charged (latency, breaker), in bps.
    pub penalty_bps: i64,
    /// Size it could take of the order now (0 for a venue where it would only rest).
    pub fillable: i64,
    /// What taking `fillable` costs there: Σ price × size (limit × the whole size
    /// for a venue where it would rest).
    pub cost: i128,
    side: Side,
}

impl Default for VenueScore {
    fn default() -> Self {
        Self {
            venue: 0,
            skipped: None,
            available: 0,
            displayed: 0,
            fee_bps: 0,
            penalty_bps: 0,
            fillable: 0,
            cost: 0,
            side: Side::Buy,
        }
    }
}

impl VenueScore {
    /// The size `cost` is for: what fills now, or (resting) the whole order.
    fn sized(&self) -> i128 {
        i128::from(if self.fillable > 0 { self.fillable } else { self.available }.max(1))
    }

    /// The average price of the fillable size (the limit, for a resting order),
    /// truncated to a tick.
    pub fn avg_price(&self) -> i64 {
        i64::try_from(self.cost / self.sized()).unwrap_or(i64::MAX)
    }

    /// The ranking key: the average price in thousandths of a tick × 10 000, plus fee
    /// and penalty in bps, signed so that lower is better on either side.
    pub fn score(&self) -> i128 {
        key(self.side, self.cost * MILLI / self.sized(), self.fee_bps.saturating_add(self.penalty_bps))
    }

    /// The net cost (price plus fee and penalty, ×10 000, lower is better) of the
    /// fillable size: what [`score`](Self::score) is per unit, without a division.
    fn net_cost(&self) -> i128 {
        key(self.side, self.cost, self.fee_bps.saturating_add(self.penalty_bps))
    }

    /// Whether its average net price beats `other`'s (compared by cross-multiplying).
    fn cheaper_than(&self, other: &Self) -> bool {
        self.net_cost() * other.sized() < other.net_cost() * self.sized()
    }
}

/// One child order of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child {
    /// Venue id.
    pub venue: u8,
    /// The order to send there: the parent's, with this child's size and, for a
    /// crossing child, a limit at the worst level it means to take.
    pub order: NewOrder,
    /// Index of its venue's entry in [`Route::scores`].
    pub score: usize,
}

/// A routing decision.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    children: [Option<Child>; MAX_VENUES],
    /// How many of `children` this decision set (the rest are an earlier one's).
    children_len: usize,
    scores: [VenueScore; MAX_VENUES],
    venues: usize,
    /// Scratch: each venue's levels the order may take. Kept here, not built per
    /// decision, so a decision does not clear 700 bytes first.
    ladders: [Ladder; MAX_VENUES],
}

impl Default for Route {
    fn default() -> Self {
        Self {
            children: [None; MAX_VENUES],
            children_len: 0,
            scores: [VenueScore::default(); MAX_VENUES],
            venues: 0,
            ladders: [Ladder::default(); MAX_VENUES],
        }
    }
}

impl Route {
    /// The child orders, best venue first (none: nowhere to go).
    pub fn children(&self) -> impl Iterator<Item = &Child> {
        self.children.iter().take(self.children_len).map_while(Option::as_ref)
    }

    /// The `k`-th child (a copy, so the caller may go on to change what owns the
    /// decision without copying all of it).
    pub fn child(&self, k: usize) -> Option<Child> {
        self.children().nth(k).copied()
    }

    /// What the router saw at each venue, in the order the venues were given.
    pub fn scores(&self) -> &[VenueScore] {
        self.scores.get(..self.venues).unwrap_or(&[])
    }
}

/// An order-ack latency estimate: an EWMA with weight 1/8 on the newest sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckLatency(u64);

impl AckLatency {
    /// Adds a measured ack latency.
    pub fn record(&mut self, ns: u64) {
        self.0 = if self.0 == 0 { ns } else { self.0 - self.0 / 8 + ns / 8 };
    }

    /// The estimate (0: nothing measured).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Routes `order` over `venues` (at most [`MAX_VENUES`]; more are ignored) by `policy`
/// into `route`.
pub fn route(order: &NewOrder, venues: &[VenueView<'_>], policy: Policy, route: &mut Route) {
    route.children_len = 0;
    let venues = venues.get(..venues.len().min(MAX_VENUES)).unwrap_or(venues);
    route.venues = venues.len();
    let weights = match policy {
        Policy::SmartRoute(w) => w,
        _ => SmartWeights { latency_bps_per_ms: 0, half_open_bps: 0, min_child: 1 },
    };
    let with_fee = !matches!(policy, Policy::BestPrice);
    for ((slot, ladder), v) in route.scores.iter_mut().zip(&mut route.ladders).zip(venues) {
        *slot = score(order, v, with_fee, &weights, ladder);
    }
    match policy {
        // A FOK cannot be split: one venue must fill it whole.
        _ if order.order_type == OrderType::Fok => pick_one(order, route),
        Policy::BestPrice | Policy::LowestFee => pick_one(order, route),
        Policy::SmartRoute(w) => split(order, route, &w),
    }
}

/// One venue's levels an order may take (at or better than its limit), best first,
/// as (price, size).
#[derive(Debug, Clone, Copy, Default)]
struct Ladder {
    levels: [(i64, i64); ROUTE_DEPTH],
    len: usize,
}

impl Ladder {
    fn get(&self, at: usize) -> Option<(i64, i64)> {
        self.levels.get(..self.len)?.get(at).copied()
    }
}

/// Average prices are scored in thousandths of a tick, so 102.5 shows as better than 102.6.
const MILLI: i128 = 1_000;

/// The ranking key of one unit at `milli_price` (thousandths of a tick) with
/// `adjust_bps` added to its cost.
fn key(side: Side, milli_price: i128, adjust_bps: i64) -> i128 {
    let adjust = i128::from(adjust_bps);
    match side {
        // A buyer pays price + fee: lower is better.
        Side::Buy => milli_price * (BPS + adjust),
        // A seller receives price − fee: higher is better, so negate.
        Side::Sell => -(milli_price * (BPS - adjust)),
    }
}

/// Scores one venue and fills its ladder (left empty for a resting order or a
/// skipped venue).
fn score(order: &NewOrder, v: &VenueView<'_>, with_fee: bool, w: &SmartWeights, ladder: &mut Ladder) -> VenueScore {
    let mut s = VenueScore { venue: v.venue, side: order.side, ..VenueScore::default() };
    let (limit, buy) = (order.price.0, order.side == Side::Buy);
    let side = if buy { BookSide::Ask } else { BookSide::Bid };
    // Sums in locals (registers), written once: accumulating in the returned
    // struct kept them in memory, a store-to-load chain per level.
    let (mut displayed, mut available, mut fillable, mut cost, mut len) = (0i64, 0i64, 0i64, 0i128, 0usize);
    for l in v.book.levels(side).take(ROUTE_DEPTH) {
        displayed = displayed.saturating_add(l.qty.0);
        let within = if buy { l.price.0 <= limit } else { l.price.0 >= limit };
        if within && let Some(slot) = ladder.levels.get_mut(len) {
            *slot = (l.price.0, l.qty.0);
            len += 1;
            available = available.saturating_add(l.qty.0);
            let take = (order.qty.0 - fillable).min(l.qty.0);
            fillable += take;
            cost += i128::from(l.price.0) * i128::from(take);
        }
    }
    (s.displayed, s.available, s.fillable, s.cost, ladder.len) = (displayed, available, fillable, cost, len);
    let skip = match () {
        () if !v.book.is_valid() => Some(Skip::InvalidBook),
        () if v.breaker == BreakerState::Open => Some(Skip::CircuitOpen),
        () if v.stale => Some(Skip::StaleBook),
        () if v.barred => Some(Skip::Barred),
        () => None,
    };
    if skip.is_some() {
        s.skipped = skip;
        (s.available, s.fillable, s.cost, ladder.len) = (0, 0, 0, 0);
        return s;
    }
    let resting = order.order_type == OrderType::PostOnly || ladder.len == 0;
    s.fee_bps = match (with_fee, resting) {
        (false, _) => 0,
        (true, true) => v.fees.maker_bps,
        (true, false) => v.fees.taker_bps,
    };
    let latency = i64::try_from(v.ack_ns / 1_000_000).unwrap_or(i64::MAX).saturating_mul(w.latency_bps_per_ms);
    let breaker = if v.breaker == BreakerState::HalfOpen { w.half_open_bps } else { 0 };
    s.penalty_bps = latency.saturating_add(breaker);
    if resting {
        ladder.len = 0;
        if order.order_type.is_immediate() {
            s.skipped = Some(Skip::NoLiquidity);
            return s;
        }
        (s.available, s.fillable) = (order.qty.0, 0);
        s.cost = i128::from(limit) * i128::from(order.qty.0);
    }
    s
}

/// Single-venue policies: the venue that fills the most of the size (a venue that
/// fills it all beats one that cannot), then the best score, then the first given.
fn pick_one(order: &NewOrder, route: &mut Route) {
    let mut best: Option<usize> = None;
    for (i, s) in route.scores().iter().enumerate() {
        if s.skipped.is_some() {
            continue;
        }
        let better = best
            .and_then(|b| route.scores.get(b))
            .is_none_or(|b| s.fillable > b.fillable || (s.fillable == b.fillable && s.cheaper_than(b)));
        if better {
            best = Some(i);
        }
    }
    for (i, s) in route.scores.iter_mut().enumerate().take(route.venues) {
        if s.skipped.is_none() && Some(i) != best {
            s.skipped = Some(Skip::Outscored);
        }
    }
    if let Some(i) = best
        && let Some(s) = route.scores.get_mut(i)
    {
        // A FOK goes nowhere that cannot fill all of it at once.
        if order.order_type == OrderType::Fok && s.fillable < order.qty.0 {
            s.skipped = Some(Skip::NoLiquidity);
            return;
        }
        route.children[0] = Some(Child { venue: s.venue, order: *order, score: i });
        route.children_len = 1;
    }
}

/// SmartRoute: merge the eligible venues' ladders by net price and take the best
/// first; a resting order goes whole to the best-scored venue.
fn split(order: &NewOrder, route: &mut Route, w: &SmartWeights) {
    let n = route.venues;
    if route.ladders.iter().take(n).all(|l| l.len == 0) {
        return pick_one(order, route);
    }
    let adjust: [i64; MAX_VENUES] =
        std::array::from_fn(|i| route.scores.get(i).map_or(0, |s| s.fee_bps.saturating_add(s.penalty_bps)));
    let (mut taken, left) = merge::<i64>(order, &route.ladders, &adjust, n)
        .or_else(|| merge::<i128>(order, &route.ladders, &adjust, n))
        .unwrap_or(([(0, 0); MAX_VENUES], order.qty.0));
    // Children best-scored first; a share under `min_child` folds into the best.
    // Only venues that take something are ordered (by the net price of what each
    // takes, each venue's cost computed once; at most a few: insertion sort).
    let mut order_of = [0usize; MAX_VENUES];
    let mut m = 0;
    for (i, t) in taken.iter().enumerate().take(n) {
        if t.0 > 0
            && let Some(slot) = order_of.get_mut(m)
        {
            *slot = i;
            m += 1;
        }
    }
    let costs: [(i128, i128); MAX_VENUES] =
        std::array::from_fn(|i| route.scores.get(i).map_or((0, 1), |s| (s.net_cost(), s.sized())));
    let cheaper = |a: usize, b: usize| match (costs.get(a), costs.get(b)) {
        (Some(a), Some(b)) => a.0 * b.1 < b.0 * a.1,
        _ => false,
    };
    if let Some(slice) = order_of.get_mut(..m) {
        for k in 1..slice.len() {
            let mut j = k;
            while j > 0 && cheaper(slice.get(j).copied().unwrap_or(0), slice.get(j - 1).copied().unwrap_or(0)) {
                slice.swap(j, j - 1);
                j -= 1;
            }
        }
    }
    let first = order_of.first().copied().filter(|_| m > 0);
    let mut spare = left;
    for &i in order_of.iter().take(m) {
        if let Some(t) = taken.get_mut(i)
            && t.0 < w.min_child
            && Some(i) != first
        {
            spare += t.0;
            t.0 = 0;
        }
    }
    for (i, s) in route.scores.iter_mut().enumerate().take(n) {
        if taken.get(i).is_none_or(|t| t.0 == 0) && s.skipped.is_none() {
            s.skipped = Some(Skip::Outscored);
        }
    }
    let mut k = 0;
    for &i in order_of.iter().take(m) {
        let (qty, worst) = taken.get(i).copied().unwrap_or_default();
        let Some(s) = route.scores.get_mut(i) else { continue };
        if qty == 0 {
            continue;
        }
        // The unfilled rest rides with the best child at the parent's limit.
        let (qty, limit) = if Some(i) == first && spare > 0 { (qty + spare, order.price.0) } else { (qty, worst) };
        let child = NewOrder { qty: feeds::event::Qty(qty), price: Price(limit), ..*order };
        if let Some(slot) = route.children.get_mut(k) {
            *slot = Some(Child { venue: s.venue, order: child, score: i });
            k += 1;
        }
    }
    route.children_len = k;
}

/// A merge key: a level's price net of its venue's fee and penalty, lower is better
/// (as [`key`]). An `i64` when every key of the decision fits, as they do for any
/// real price: comparing those is half the work of `i128` ones.
trait MergeKey: Copy + Ord {
    /// Above every key: a venue with no levels left.
    const USED_UP: Self;
    /// The key of a unit at `price`; `None` if it does not fit.
    fn of(side: Side, price: i64, adjust_bps: i64) -> Option<Self>;
}

impl MergeKey for i64 {
    const USED_UP: Self = i64::MAX;

    fn of(side: Side, price: i64, adjust_bps: i64) -> Option<Self> {
        let bps = BPS as i64;
        let k = match side {
            Side::Buy => price.checked_mul(bps.checked_add(adjust_bps)?)?,
            Side::Sell => price.checked_mul(bps.checked_sub(adjust_bps)?)?.checked_neg()?,
        };
        Some(k).filter(|&k| k != Self::USED_UP)
    }
}

impl MergeKey for i128 {
    const USED_UP: Self = i128::MAX;

    fn of(side: Side, price: i64, adjust_bps: i64) -> Option<Self> {
        Some(key(side, i128::from(price), adjust_bps))
    }
}

/// Takes `order`'s size from the first `n` ladders, best key first. Returns, per
/// venue, the size taken and the worst price taken, and the size left untaken;
/// `None` if a key does not fit `K`.
fn merge<K: MergeKey>(
    order: &NewOrder,
    ladders: &[Ladder; MAX_VENUES],
    adjust: &[i64; MAX_VENUES],
    n: usize,
) -> Option<([(i64, i64); MAX_VENUES], i64)> {
    // Each venue's next level's key, kept as its levels are taken, so a step compares
    // n keys instead of computing them (as a fold, which compiles to selects).
    let head = |i: usize, at: usize| match (ladders.get(i).and_then(|l| l.get(at)), adjust.get(i)) {
        (Some((price, _)), Some(&adjust)) => K::of(order.side, price, adjust),
        _ => Some(K::USED_UP),
    };
    let mut heads = [K::USED_UP; MAX_VENUES];
    for (i, h) in heads.iter_mut().enumerate().take(n) {
        *h = head(i, 0)?;
    }
    let mut cursor = [0usize; MAX_VENUES];
    let mut taken = [(0i64, 0i64); MAX_VENUES];
    let mut left = order.qty.0;
    while left > 0 {
        let (i, best) = heads
            .iter()
            .take(n)
            .enumerate()
            .fold((0, K::USED_UP), |(bi, bk), (i, &k)| if k < bk { (i, k) } else { (bi, bk) });
        let level = ladders.get(i).zip(cursor.get(i)).and_then(|(l, &at)| l.get(at));
        let (Some((price, qty)), false) = (level, best == K::USED_UP) else { break };
        let take = left.min(qty);
        if let (Some(t), Some(c), Some(h)) = (taken.get_mut(i), cursor.get_mut(i), heads.get_mut(i)) {
            *t = (t.0 + take, price);
            *c += 1;
            *h = head(i, *c)?;
        }
        left -= take;
    }
    Some((taken, left))
}
