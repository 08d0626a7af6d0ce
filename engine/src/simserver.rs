//! `engine sim`: the exchange simulator on its own, serving Binance-format market
//! data over WebSocket so another terminal (or a test) can run
//! `engine run --feed ws://127.0.0.1:PORT`. Each connection gets its own market:
//! first a partial-depth snapshot per symbol, then depth updates and trades at the
//! offered rate, and a fresh snapshot every `--snapshot-every` (how a client that
//! saw a gap resyncs). Cold code: it allocates freely.

use std::{
    io::Write,
    net::{TcpListener, TcpStream},
    time::Duration,
};

use tungstenite::Message;

use crate::{
    cli::SimArgs,
    run::sim_symbol_spec,
    sim::{MarketSim, SimSymbol},
};

#[allow(clippy::disallowed_methods, reason = "the simulator paces itself by wall time")]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

fn market(args: &SimArgs) -> MarketSim {
    let symbols = args
        .symbols
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (ps, qs, start) = sim_symbol_spec(name);
            SimSymbol::new(name, feeds::event::InstrumentId(i as u32), (ps, qs), start)
        })
        .collect();
    MarketSim::new(symbols, args.seed).with_gap_every(args.gap_every)
}

fn text(bytes: &[u8]) -> Message {
    Message::text(String::from_utf8_lossy(bytes).into_owned())
}

/// Serves one connection until the client goes away (the error says how).
fn serve(stream: TcpStream, args: &SimArgs) -> Result<(), String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut ws = tungstenite::accept(stream).map_err(|e| e.to_string())?;
    let e = |e: tungstenite::Error| e.to_string();
    let mut market = market(args);
    let ids: Vec<_> = market.symbols().iter().map(|s| s.instrument).collect();
    let started = now();
    let mut sent = 0u64;
    let mut next_snapshot = Duration::ZERO;
    loop {
        let elapsed = started.elapsed();
        if elapsed >= next_snapshot {
            for id in &ids {
                ws.write(text(market.snapshot_frame(*id))).map_err(e)?;
            }
            next_snapshot = elapsed + args.snapshot_every;
        }
        let due = (elapsed.as_nanos() * u128::from(args.rate) / 1_000_000_000) as u64;
        let ts = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos() as u64);
        while sent < due {
            ws.write(text(market.next_frame(ts))).map_err(e)?;
            sent += 1;
        }
        ws.flush().map_err(e)?;
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs the simulator server until killed.
///
/// # Errors
/// The port cannot be bound.
pub fn run(args: &SimArgs) -> Result<std::process::ExitCode, String> {
    let listener =
        TcpListener::bind(("127.0.0.1", args.port)).map_err(|e| format!("cannot listen on port {}: {e}", args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // The first line says where: tests and scripts read it.
    println!("listening on ws://{addr}/");
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let args = args.clone();
        std::thread::spawn(move || match serve(stream, &args) {
            Ok(_) => {}
            Err(e) => eprintln!("sim: connection {peer} ended: {e}"),
        });
    }
    Ok(std::process::ExitCode::SUCCESS)
}
