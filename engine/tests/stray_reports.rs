//! Reports for orders this engine does not hold (a venue's stray or replayed
//! answers): counted as unknown, and none of them may open the venue's circuit
//! breaker, trip the reject-storm kill switch or count as a venue reject.

use engine::{
    cli::{Cli, Command},
    fixed::Bounded,
    gateway::{GatewayError, VenueGateway, VenueOrder, VenuePosition},
    order::{ClientId, ExecKind, ExecReport, NewOrder},
    pipeline::{Pipeline, RecordSink},
    run_cli::options,
};
use feeds::{
    book::Book,
    event::{InstrumentId, Price, Qty},
};

/// A venue that answers every poll with a reject for an order never sent.
#[derive(Debug)]
struct StrayRejects;

impl VenueGateway for StrayRejects {
    fn submit(&mut self, _: ClientId, _: &NewOrder, _: &Book, _: u64) -> Result<(), GatewayError> {
        Ok(())
    }
    fn cancel(&mut self, _: ClientId, _: InstrumentId, _: u64) -> Result<(), GatewayError> {
        Ok(())
    }
    fn replace(&mut self, _: ClientId, _: InstrumentId, _: (Price, Qty), _: &Book, _: u64) -> Result<(), GatewayError> {
        Ok(())
    }
    fn poll(&mut self, now: u64, out: &mut Bounded<ExecReport>) -> Result<(), GatewayError> {
        let _ = out.push(ExecReport { client_id: ClientId(987_654_321), kind: ExecKind::Rejected, ts: now });
        Ok(())
    }
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, GatewayError> {
        Ok(Vec::new())
    }
    fn positions(&mut self) -> Result<Vec<VenuePosition>, GatewayError> {
        Ok(Vec::new())
    }
}

#[test]
fn rejects_for_orders_never_sent_open_no_breaker_and_trip_no_switch() {
    let args = ["engine", "run", "--symbols", "BTCUSDT", "--persist", "none"];
    let Command::Run(args) = <Cli as clap::Parser>::parse_from(args).command else { panic!() };
    let config = options(&args).unwrap().pipeline;
    let mut p = Pipeline::with_gateway(&config, RecordSink::new(None, 1, 0), Box::new(StrayRejects));
    // 5,000 in half a second: a reject storm, were they ours.
    for i in 0..5_000u64 {
        p.on_tick(1_700_000_000_000_000_000 + i * 100_000);
    }
    assert_eq!(p.counters().venue_rejects, 0, "{:?}", p.counters());
    assert!(p.counters().oms_errors >= 5_000, "each counted: {:?}", p.counters());
    assert_eq!(p.oms().counters().unknown_orders, p.counters().oms_errors);
    assert!(p.halt().is_none(), "no kill switch: {:?}", p.halt().map(|h| h.to_string()));
    let breaker = &p.breakers()[0];
    assert_eq!(format!("{:?}", breaker.state()), "Closed", "the venue's breaker stays closed");
}
