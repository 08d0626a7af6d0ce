//! Kraken keeps a subscriber's book at the subscribed depth: a level an insert pushes
//! out of it gets no delete, a level that comes back into it is sent again, and a
//! level that changes or goes while outside it is never mentioned. A client that
//! does not trim its book to the depth after each update keeps such levels stale,
//! and once one rises into the top ten the checksum fails. Here a model of Kraken's
//! side sends thousands of random updates to the real pipeline, each with the
//! checksum of Kraken's top ten, and the engine's books must agree every time.

use std::collections::BTreeMap;

use engine::{
    cli::{Cli, Command},
    clock::ReplayClock,
    pipeline::{KRAKEN_DEPTH, Pipeline, RecordSink},
    run_cli::options,
};
use feeds::event::{Level, Price, Qty};

use super::T0;

/// Kraken's whole book of one symbol, and what it has told the subscriber.
struct VenueBook {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    scale: (u8, u8),
}

/// The best `KRAKEN_DEPTH` levels of a side, best first.
fn window(side: &BTreeMap<i64, i64>, bids: bool) -> Vec<(i64, i64)> {
    let levels: Box<dyn Iterator<Item = (&i64, &i64)>> =
        if bids { Box::new(side.iter().rev()) } else { Box::new(side.iter()) };
    levels.take(KRAKEN_DEPTH).map(|(p, q)| (*p, *q)).collect()
}

/// What Kraken sends a subscriber when its window goes from `old` to `new`: every
/// level new or changed in the window first, then a delete for each level that left
/// the book (not one that was only pushed out of the window).
fn changes(old: &[(i64, i64)], new: &[(i64, i64)], book: &BTreeMap<i64, i64>) -> Vec<(i64, i64)> {
    let mut sent: Vec<(i64, i64)> = new.iter().filter(|level| !old.contains(level)).copied().collect();
    sent.extend(old.iter().filter(|(p, _)| !book.contains_key(p)).map(|(p, _)| (*p, 0)));
    sent
}

impl VenueBook {
    fn levels_json(&self, levels: &[(i64, i64)]) -> String {
        let mut out = Vec::new();
        for (n, (price, qty)) in levels.iter().enumerate() {
            out.extend_from_slice(if n == 0 { br#"{"price":"# } else { br#",{"price":"# });
            feeds::decimal::write_fixed(&mut out, *price, self.scale.0);
            out.extend_from_slice(br#","qty":"#);
            feeds::decimal::write_fixed(&mut out, *qty, self.scale.1);
            out.push(b'}');
        }
        String::from_utf8(out).unwrap()
    }

    fn checksum(&self) -> u32 {
        let level = |(p, q): (i64, i64)| Level { price: Price(p), qty: Qty(q) };
        let asks = window(&self.asks, false).into_iter().map(level);
        let bids = window(&self.bids, true).into_iter().map(level);
        feeds::checksum::kraken_levels(asks, bids, self.scale, self.scale).unwrap()
    }

    fn frame(&self, kind: &str, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> String {
        format!(
            r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USDT","bids":[{}],"asks":[{}],"checksum":{},"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}"#,
            self.levels_json(bids),
            self.levels_json(asks),
            self.checksum()
        )
    }
}

#[test]
fn a_kraken_book_trimmed_to_its_depth_agrees_with_every_checksum() {
    let args = ["engine", "run", "--dialect", "kraken", "--symbols", "BTCUSDT", "--persist", "none"];
    let Command::Run(args) = <Cli as clap::Parser>::parse_from(args).command else { panic!() };
    let config = options(&args).unwrap().pipeline;
    let (_, price_scale, qty_scale) = config.instruments[0].clone();
    let clock = ReplayClock::starting_at(T0);
    let mut p = Pipeline::new(&config, RecordSink::new(None, 1, 0));
    let mut venue = VenueBook { bids: BTreeMap::new(), asks: BTreeMap::new(), scale: (price_scale, qty_scale) };
    // Bids in [1000, 1080) ticks and asks in [1100, 1180): never crossed, and deep
    // enough that levels leave the window, change outside it and come back.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |below: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % below
    };
    for k in 0..60 {
        venue.bids.insert(1_000 + k, 1 + k);
        venue.asks.insert(1_100 + k, 1 + k);
    }
    let snapshot = venue.frame("snapshot", &window(&venue.bids, true), &window(&venue.asks, false));
    let mut at = 0;
    let mut send = |p: &mut Pipeline, frame: &str| {
        at += 1_000;
        clock.advance_to(T0 + at);
        p.on_frame(0, frame.as_bytes(), T0 + at, T0 + at, &clock);
        p.counters()
    };
    assert_eq!(send(&mut p, &snapshot).resyncs, 1);
    let mut updates = 0;
    for step in 0..20_000 {
        let bid_side = next(2) == 0;
        let (old_bids, old_asks) = (window(&venue.bids, true), window(&venue.asks, false));
        let (side, base) = if bid_side { (&mut venue.bids, 1_000) } else { (&mut venue.asks, 1_100) };
        let price = base + next(80) as i64;
        // Phases that grow the book well past the window (levels pushed out of it,
        // some deleted out there), then thin it to a few levels (what was past the
        // window rises into the top ten).
        let growing = (step / 400) % 2 == 0;
        if next(10) < if growing { 3 } else { 8 } && side.len() > 3 {
            side.remove(&price);
        } else {
            side.insert(price, 1 + next(1_000) as i64);
        }
        let bids = changes(&old_bids, &window(&venue.bids, true), &venue.bids);
        let asks = changes(&old_asks, &window(&venue.asks, false), &venue.asks);
        if bids.is_empty() && asks.is_empty() {
            continue; // a change outside the window: Kraken says nothing
        }
        let c = send(&mut p, &venue.frame("update", &bids, &asks));
        updates += 1;
        assert_eq!((c.checksum_mismatches, c.decode_errors, c.book_errors), (0, 0, 0), "update {updates}");
    }
    assert!(updates > 5_000, "{updates} updates reached the window");
    assert_eq!(p.counters().resyncs, 1, "never lost sync");
}
