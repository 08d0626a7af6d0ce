//! `engine run` end to end on the simulator, checked against its own journal: every
//! order sent has its risk decision and order events persisted, every fill is
//! persisted and the persisted positions are exactly what the fills add up to, and
//! every order ends in a terminal state after the orderly stop.

use std::collections::{BTreeMap, HashMap};

use engine::{
    cli::{Cli, Command},
    oms::{OrderState, Position},
    run::run,
    run_cli::options,
};
use feeds::event::Side;
use persist::{
    Fields, RecordKind,
    journal::{JournalReader, summarize},
    record::{FillFields, OrderFields, PositionFields, RiskFields},
};

fn run_args(extra: &[&str]) -> engine::cli::RunArgs {
    let mut argv = vec!["engine", "run", "--quiet"];
    argv.extend_from_slice(extra);
    let Command::Run(args) = <Cli as clap::Parser>::parse_from(argv).command else { panic!("not a run") };
    *args
}

/// Reads a run's journal back and checks it against the run's own report.
fn check_journal(dir: &std::path::Path, summary: &engine::run::RunSummary) {
    let reader = JournalReader::open(dir).unwrap();
    let journal = summarize(&reader).unwrap();
    assert!(journal.sequences_intact(), "{:?}", journal.streams);
    assert_eq!(journal.records, summary.journaled);
    let (records, _) = reader.read_all().unwrap();

    let mut last_state: HashMap<i64, u16> = HashMap::new();
    let mut risk_accepted: HashMap<i64, bool> = HashMap::new();
    let (mut sent, mut denied, mut fill_count) = (0, 0, 0);
    let mut positions: BTreeMap<u32, Position> = BTreeMap::new();
    let mut snapshots: BTreeMap<u32, PositionFields> = BTreeMap::new();
    for r in &records {
        match r.kind() {
            Some(RecordKind::Risk) => {
                let f = RiskFields::from_record(r).unwrap();
                // Pre-trade decisions are codes 0-99; trips, stop-outs and feed
                // status (100+) are audit records about no one order.
                if f.reason < 100 {
                    risk_accepted.insert(f.client_id, f.reason == 0);
                    denied += u64::from(f.reason != 0);
                }
            }
            Some(RecordKind::Order) => {
                let f = OrderFields::from_record(r).unwrap();
                if f.state == OrderState::Submitted as u16 {
                    sent += 1;
                    assert_eq!(
                        risk_accepted.get(&f.client_id),
                        Some(&true),
                        "order {} sent without a risk accept",
                        f.client_id
                    );
                }
                last_state.insert(f.client_id, f.state);
            }
            Some(RecordKind::Fill) => {
                let f = FillFields::from_record(r).unwrap();
                assert!(last_state.contains_key(&f.client_id), "a fill for an order never persisted");
                let side = if f.side == 1 { Side::Buy } else { Side::Sell };
                let p = positions.entry(r.instrument).or_default();
                p.apply_fill(side, f.price, f.qty);
                p.add_fee(f.fee);
                fill_count += 1;
            }
            Some(RecordKind::Position) => {
                snapshots.insert(r.instrument, PositionFields::from_record(r).unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(sent, summary.orders, "every order sent has its Submitted event journaled");
    assert_eq!(fill_count, summary.fills);
    assert_eq!(denied, summary.counters.risk_rejects, "every risk decision is journaled");
    let terminal =
        [OrderState::Filled, OrderState::Canceled, OrderState::Rejected, OrderState::Denied].map(|s| s as u16);
    let open: Vec<_> = last_state.iter().filter(|(_, s)| !terminal.contains(s)).collect();
    assert!(open.is_empty(), "orders left working after the stop: {open:?}");
    assert!(!snapshots.is_empty());
    for (instrument, snapshot) in &snapshots {
        let p = positions[instrument];
        assert_eq!((snapshot.net_qty, snapshot.avg_price), (p.net, p.avg_price), "instrument {instrument}");
        assert_eq!(i128::from(snapshot.realised), p.realised, "instrument {instrument}");
        assert_eq!(i128::from(snapshot.fees), p.fees, "instrument {instrument}: fees are the sum of the fills' fees");
    }
}

#[test]
fn every_order_and_fill_is_journaled_and_positions_add_up() {
    for strategy in ["mm", "taker:cooldown_us=100,threshold_pct=40"] {
        let dir = tempfile::tempdir().unwrap();
        let persist = format!("journal:{}", dir.path().display());
        let args = run_args(&[
            "--persist",
            &persist,
            "--frames",
            "150000",
            "--rate",
            "400000",
            "--duration",
            "60s",
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--strategy",
            strategy,
            "--sim-gap-every",
            "5000",
            "--maker-fee-bps",
            "-1",
            "--taker-fee-bps",
            "7",
        ]);
        let outcome = run(&options(&args).unwrap()).unwrap();
        let s = &outcome.summary;
        assert!(s.halt.is_none(), "{:?}", s.halt);
        assert!(s.orders > 20 && s.fills > 5, "{strategy}: too quiet to prove anything: {s:?}");
        assert!(s.gaps > 5 && s.counters.resyncs > s.gaps / 2, "{strategy}: gaps must be found and recovered");
        assert_eq!(s.counters.decode_errors + s.counters.oms_errors, 0);
        assert_eq!(s.hops["tick_to_order"].count, s.orders);
        check_journal(dir.path(), s);
    }
}

/// The best quote of each venue's instrument, as the journal last recorded it.
#[derive(Debug, Clone, Copy)]
struct Top {
    bid: (i64, i64),
    ask: (i64, i64),
}

#[test]
fn several_venues_keep_positions_apart_and_the_router_takes_the_best_price() {
    const VENUES: u32 = 3;
    const SYMBOLS: u32 = 2;
    let dir = tempfile::tempdir().unwrap();
    let persist = format!("journal:{}", dir.path().display());
    let args = run_args(&[
        "--feed",
        "sim,sim,sim",
        "--route",
        "best-price",
        "--persist",
        &persist,
        "--frames",
        "150000",
        "--rate",
        "200000",
        "--duration",
        "60s",
        "--symbols",
        "BTCUSDT,ETHUSDT",
        "--strategy",
        "taker:cooldown_us=100,threshold_pct=40",
    ]);
    let outcome = run(&options(&args).unwrap()).unwrap();
    let s = &outcome.summary;
    assert!(s.halt.is_none(), "{:?}", s.halt);
    assert_eq!(s.dropped_market_records, 0, "the book tops below must all be in the journal");
    assert!(s.counters.routed_children > 20, "too few routed orders to prove anything: {s:?}");
    assert_eq!(s.counters.oms_errors, 0);
    check_journal(dir.path(), s);

    // Positions are kept per (instrument, venue), and the report names each.
    let venues: std::collections::BTreeSet<usize> = s.positions.iter().map(|p| p.venue).collect();
    assert!(venues.len() >= 2, "orders should reach several venues: {:?}", s.positions);
    for p in &s.positions {
        assert_eq!(p.instrument, format!("{}@{}", p.symbol, p.venue));
    }

    // Every routed child went to the venue its decision names, and with best-price
    // to the venue quoting the best price whenever its size fits every venue's top.
    let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
    let mut tops: HashMap<u32, Top> = HashMap::new();
    let mut routed: HashMap<i64, (u32, u32)> = HashMap::new();
    let mut checked = 0;
    for r in &records {
        match r.kind() {
            Some(RecordKind::BookTop) => {
                let f = persist::record::BookTopFields::from_record(r).unwrap();
                tops.insert(r.instrument, Top { bid: (f.bid, f.bid_qty), ask: (f.ask, f.ask_qty) });
            }
            Some(RecordKind::Risk) => {
                let f = RiskFields::from_record(r).unwrap();
                if f.reason != engine::pipeline::ROUTED {
                    continue;
                }
                let venue = f.limit as u32;
                assert_eq!(r.instrument / SYMBOLS, venue, "a child's instrument is its venue's");
                routed.insert(f.client_id, (r.instrument, venue));
                let symbol = r.instrument % SYMBOLS;
                let quotes: Vec<Option<Top>> =
                    (0..VENUES).map(|v| tops.get(&(v * SYMBOLS + symbol)).copied()).collect();
                let Some(quotes) = quotes.into_iter().collect::<Option<Vec<Top>>>() else { continue };
                let buy = f.side == 1;
                let touch = |t: &Top| if buy { t.ask } else { t.bid };
                if quotes.iter().any(|t| touch(t).1 < f.qty) {
                    continue; // the size walks a book: the top alone does not say which is best
                }
                let chosen = touch(&quotes[venue as usize]).0;
                let best = quotes.iter().map(|t| touch(t).0);
                let best = if buy { best.min() } else { best.max() }.unwrap();
                assert_eq!(
                    chosen, best,
                    "child {} went to venue {venue} quoting {chosen}, not the best {best}",
                    f.client_id
                );
                assert_eq!(f.observed, chosen, "the decision records the price it expected");
                checked += 1;
            }
            Some(RecordKind::Order) => {
                let f = OrderFields::from_record(r).unwrap();
                if let Some((instrument, _)) = routed.get(&f.client_id) {
                    assert_eq!(r.instrument, *instrument, "order {} left for another venue than routed", f.client_id);
                }
            }
            _ => {}
        }
    }
    assert!(checked > 10, "only {checked} routing decisions could be checked against the tops");
}

#[test]
fn smart_routing_splits_across_venues_in_both_topologies_and_leaves_fired_stops_alone() {
    for (topology, cores, strategy) in [
        ("fused", "1,0", "taker:cooldown_us=100,threshold_pct=40"),
        // A 2-CPU host: the cold core shares the feed core.
        ("pipelined", "0,1,0", "taker:cooldown_us=100,threshold_pct=40"),
        ("fused", "1,0", "taker:cooldown_us=100,threshold_pct=40,entry=stop"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let persist = format!("journal:{}", dir.path().display());
        let args = run_args(&[
            "--feed",
            "sim,sim,sim",
            "--route",
            "smart",
            "--topology",
            topology,
            "--cores",
            cores,
            "--force-cpu0",
            "--persist",
            &persist,
            "--frames",
            "150000",
            "--rate",
            "200000",
            "--duration",
            "60s",
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--strategy",
            strategy,
        ]);
        let outcome = run(&options(&args).unwrap()).unwrap();
        let s = &outcome.summary;
        let what = format!("{topology} {strategy}");
        assert!(s.halt.is_none(), "{what}: {:?}", s.halt);
        assert_eq!(s.counters.oms_errors + s.counters.decode_errors, 0, "{what}");
        if strategy.contains("entry=stop") {
            // A stop entry is routed by no one: it fires at its own venue's trade,
            // already past `Initialized`, and goes there.
            assert!(s.counters.stops_triggered > 5, "{what}: stops must fire to prove they are left alone");
            assert_eq!(s.counters.routed_children, 0, "{what}");
        } else {
            assert!(s.counters.routed_children > 20, "{what}: too few routed orders: {s:?}");
        }
        check_journal(dir.path(), s);
        let venues: std::collections::BTreeSet<usize> = s.positions.iter().map(|p| p.venue).collect();
        assert!(venues.len() >= 2, "{what}: orders should reach several venues: {:?}", s.positions);
        // Every child left for the venue its decision names.
        let (records, _) = JournalReader::open(dir.path()).unwrap().read_all().unwrap();
        let mut routed: HashMap<i64, u32> = HashMap::new();
        for r in &records {
            match r.kind() {
                Some(RecordKind::Risk) => {
                    let f = RiskFields::from_record(r).unwrap();
                    if f.reason == engine::pipeline::ROUTED {
                        assert_eq!(r.instrument / 2, f.limit as u32, "{what}: a child's instrument is its venue's");
                        routed.insert(f.client_id, r.instrument);
                    }
                }
                Some(RecordKind::Order) => {
                    let f = OrderFields::from_record(r).unwrap();
                    if let Some(instrument) = routed.get(&f.client_id) {
                        assert_eq!(r.instrument, *instrument, "{what}: order {} moved venue", f.client_id);
                    }
                }
                _ => {}
            }
        }
        assert_eq!(routed.len() as u64, s.counters.routed_children, "{what}: every child's decision is journaled");
    }
}
