//! One account at the simulated exchange: the books its market-data connection
//! serves, the matching of its orders against them, its positions, and the log of
//! every answer it was given (numbered, so a client that reconnects gets what it
//! missed). Shared by the account's feed thread and its order-entry thread under a
//! mutex: the simulator is cold code.

use std::collections::HashMap;

use feeds::{
    Events,
    book::Book,
    event::{Event, InstrumentId, Price, Qty, Side, Trade},
};

use crate::{
    fixed::Bounded,
    gateway::protocol,
    order::{ClientId, ExecKind, ExecReport, Liquidity, NewOrder},
    sim::{FeeSchedule, MarketSim, SimVenue},
};

/// A symbol as the venue lists it.
#[derive(Debug, Clone)]
pub(super) struct Listing {
    pub name: String,
    pub price_scale: u8,
    pub qty_scale: u8,
}

/// Resting orders one account may hold.
const VENUE_CAPACITY: usize = 4096;

/// One account's state at the venue.
#[derive(Debug)]
pub(super) struct Account {
    pub listings: Vec<Listing>,
    books: Vec<Book>,
    venue: SimVenue,
    /// Every answer sent, in order: entry `n` has sequence `n + 1`.
    pub log: Vec<String>,
    /// Each live order's instrument.
    owners: HashMap<u64, InstrumentId>,
    /// Whether a market-data connection keeps the books current.
    pub has_market: bool,
    /// Cancel resting orders when the order-entry connection drops.
    pub cancel_on_disconnect: bool,
    /// Fault injection: never send every Nth ack (0: never).
    pub drop_acks_every: u64,
    /// Fault injection: leave out report number N the first time it is sent (0: never).
    pub skip_report: u64,
    /// Whether it was left out: sent again, it goes out.
    pub skipped: bool,
    /// Fault injection: report every Nth fill at a thousand times its size (0: never).
    pub overfill_every: u64,
    acks: u64,
    fills: u64,
    made: Bounded<ExecReport>,
    scratch: Events,
}

impl Account {
    pub fn new(listings: Vec<Listing>, fees: FeeSchedule) -> Self {
        let books = listings.iter().map(|_| Book::with_depth(64)).collect();
        let n = listings.len();
        Self {
            listings,
            books,
            venue: SimVenue::new(VENUE_CAPACITY, fees).with_instruments(n),
            log: Vec::new(),
            owners: HashMap::new(),
            has_market: false,
            cancel_on_disconnect: false,
            drop_acks_every: 0,
            skip_report: 0,
            skipped: false,
            overfill_every: 0,
            acks: 0,
            fills: 0,
            // One trade can fill every resting order.
            made: Bounded::with_capacity(VENUE_CAPACITY + 16),
            scratch: Events::with_capacity(64),
        }
    }

    /// Follows the market after one of its frames: a new book for the instrument it
    /// changed, and a trade matched against resting orders.
    pub fn follow(&mut self, market: &MarketSim, ts: u64) {
        self.has_market = true;
        let Some((instrument, trade)) = market.last_event() else { return };
        self.refresh(market, instrument, ts);
        if let Some(trade) = trade {
            self.on_trade(&trade, ts);
        }
    }

    /// Takes the market's whole current book of `instrument` (after a snapshot, or
    /// any change).
    pub fn refresh(&mut self, market: &MarketSim, instrument: InstrumentId, ts: u64) {
        self.scratch.clear();
        if !market.snapshot(instrument, ts, &mut self.scratch) {
            return;
        }
        let Some(book) = self.books.get_mut(instrument.0 as usize) else { return };
        for event in self.scratch.as_slice() {
            if let Event::BookDelta(d) = event {
                let _ = book.apply(d);
            }
        }
    }

    fn on_trade(&mut self, trade: &Trade, ts: u64) {
        self.venue.on_trade(trade, ts, &mut self.made);
        self.publish();
    }

    /// The listing an order is in.
    pub fn listing_of(&self, cid: u64) -> Option<&Listing> {
        let instrument = self.owners.get(&cid)?;
        self.listings.get(instrument.0 as usize)
    }

    pub fn instrument(&self, symbol: &str) -> Option<InstrumentId> {
        self.listings.iter().position(|l| l.name == symbol).map(|i| InstrumentId(i as u32))
    }

    /// A new order, already authenticated and parsed. A client id still live here
    /// is refused (`duplicate_cid`): a replayed request, or an id reused too soon.
    pub fn submit(&mut self, cid: u64, order: &NewOrder, ts: u64) {
        if self.venue.resting_orders().any(|(id, ..)| id.0 == cid) {
            return self.reject(cid, "duplicate_cid");
        }
        let Some(book) = self.books.get(order.instrument.0 as usize) else { return };
        self.owners.insert(cid, order.instrument);
        self.venue.submit(ClientId(cid), order, book, ts, &mut self.made);
        self.publish();
    }

    pub fn cancel(&mut self, cid: u64, ts: u64) {
        self.venue.cancel(ClientId(cid), ts, &mut self.made);
        self.publish();
    }

    pub fn replace(&mut self, cid: u64, price: Price, qty: Qty, ts: u64) {
        let instrument = self.owners.get(&cid).copied().unwrap_or(InstrumentId(u32::MAX));
        let Some(book) = self.books.get(instrument.0 as usize) else {
            return self.answer(&format!(r#"{{"type":"replace_reject","seq":{},"cid":{cid}}}"#, self.log.len() + 1));
        };
        self.venue.replace(ClientId(cid), price, qty, book, ts, &mut self.made);
        self.publish();
    }

    /// Refuses an order (bad signature, rate limit, unknown symbol…), with a reason.
    pub fn reject(&mut self, cid: u64, reason: &str) {
        let seq = self.log.len() + 1;
        self.answer(&format!(r#"{{"type":"reject","seq":{seq},"cid":{cid},"reason":"{reason}"}}"#));
    }

    /// Refuses a cancel request it could not accept (bad signature, stale).
    pub fn refuse_cancel(&mut self, cid: u64, reason: &str) {
        let seq = self.log.len() + 1;
        self.answer(&format!(r#"{{"type":"cancel_reject","seq":{seq},"cid":{cid},"reason":"{reason}"}}"#));
    }

    /// Refuses a replace request it could not accept.
    pub fn refuse_replace(&mut self, cid: u64, reason: &str) {
        let seq = self.log.len() + 1;
        self.answer(&format!(r#"{{"type":"replace_reject","seq":{seq},"cid":{cid},"reason":"{reason}"}}"#));
    }

    /// Cancels every resting order (the connection that placed them dropped).
    pub fn cancel_all(&mut self, ts: u64) {
        let ids: Vec<ClientId> = self.venue.resting_orders().map(|(id, ..)| id).collect();
        for id in ids {
            self.venue.cancel(id, ts, &mut self.made);
            self.publish();
        }
    }

    fn answer(&mut self, text: &str) {
        self.log.push(text.to_owned());
    }

    /// Logs what the matching said, books fills into positions.
    fn publish(&mut self) {
        let reports: Vec<ExecReport> = self.made.drain().collect();
        for r in reports {
            let seq = self.log.len() + 1;
            let cid = r.client_id.0;
            let instrument = self.owners.get(&cid).copied().unwrap_or(InstrumentId(0));
            let listing = self.listings.get(instrument.0 as usize).cloned();
            let Some(l) = listing else { continue };
            let fixed = |v: i64, scale: u8| feeds::decimal::format_fixed(v, scale);
            let text = match r.kind {
                ExecKind::Accepted => {
                    self.acks += 1;
                    if self.drop_acks_every > 0 && self.acks.is_multiple_of(self.drop_acks_every) {
                        continue; // lost: never sent, never numbered
                    }
                    format!(r#"{{"type":"ack","seq":{seq},"cid":{cid}}}"#)
                }
                ExecKind::Rejected => {
                    format!(r#"{{"type":"reject","seq":{seq},"cid":{cid},"reason":"venue_refused"}}"#)
                }
                ExecKind::WouldCross => {
                    format!(r#"{{"type":"reject","seq":{seq},"cid":{cid},"reason":"{}"}}"#, protocol::WOULD_CROSS)
                }
                ExecKind::Canceled => format!(r#"{{"type":"canceled","seq":{seq},"cid":{cid}}}"#),
                ExecKind::CancelRejected => format!(r#"{{"type":"cancel_reject","seq":{seq},"cid":{cid}}}"#),
                ExecKind::Expired => format!(r#"{{"type":"expired","seq":{seq},"cid":{cid}}}"#),
                ExecKind::ReplaceRejected => format!(r#"{{"type":"replace_reject","seq":{seq},"cid":{cid}}}"#),
                ExecKind::Replaced { price, qty } => format!(
                    r#"{{"type":"replaced","seq":{seq},"cid":{cid},"symbol":"{}","price":"{}","qty":"{}"}}"#,
                    l.name,
                    fixed(price.0, l.price_scale),
                    fixed(qty.0, l.qty_scale)
                ),
                ExecKind::Fill { price, qty, liquidity, trade_id, fee } => {
                    let liquidity = if liquidity == Liquidity::Maker { "maker" } else { "taker" };
                    self.fills += 1;
                    let over = self.overfill_every > 0 && self.fills.is_multiple_of(self.overfill_every);
                    let qty = if over { Qty(qty.0.saturating_mul(1000)) } else { qty };
                    format!(
                        r#"{{"type":"fill","seq":{seq},"cid":{cid},"symbol":"{}","trade_id":{trade_id},"price":"{}","qty":"{}","liquidity":"{liquidity}","fee":{fee}}}"#,
                        l.name,
                        fixed(price.0, l.price_scale),
                        fixed(qty.0, l.qty_scale)
                    )
                }
            };
            self.log.push(text);
        }
        // Orders that ended leave the owner map (it would otherwise grow forever).
        let venue = &self.venue;
        self.owners.retain(|cid, _| venue.resting_orders().any(|(id, ..)| id.0 == *cid));
    }

    /// The `open_orders` answer.
    pub fn open_orders(&self, id: Option<u64>) -> String {
        let orders: Vec<serde_json::Value> = self
            .venue
            .resting_orders()
            .filter_map(|(id, o, remaining)| {
                let l = self.listings.get(o.instrument.0 as usize)?;
                Some(serde_json::json!({
                    "cid": id.0,
                    "symbol": l.name,
                    "side": if o.side == Side::Buy { "buy" } else { "sell" },
                    "type": protocol::type_name(o.order_type).unwrap_or("limit"),
                    "price": feeds::decimal::format_fixed(o.price.0, l.price_scale),
                    "qty": feeds::decimal::format_fixed(o.qty.0, l.qty_scale),
                    "filled": feeds::decimal::format_fixed(o.qty.0 - remaining, l.qty_scale),
                }))
            })
            .collect();
        serde_json::json!({"type": "open_orders", "id": id, "orders": orders}).to_string()
    }

    /// The `positions` answer.
    pub fn positions(&self, id: Option<u64>) -> String {
        let positions: Vec<serde_json::Value> = self
            .venue
            .positions()
            .iter()
            .zip(&self.listings)
            .filter(|(p, _)| p.net != 0)
            .map(|(p, l)| {
                serde_json::json!({
                    "symbol": l.name,
                    "net": feeds::decimal::format_fixed(p.net, l.qty_scale),
                    "avg_price": feeds::decimal::format_fixed(p.avg_price, l.price_scale),
                })
            })
            .collect();
        serde_json::json!({"type": "positions", "id": id, "positions": positions}).to_string()
    }
}
