//! Arbitrary bytes as a venue's answer on the order-entry connection: the decoder
//! returns an answer or a typed error pointing inside the message, never a panic;
//! a fill it accepts has a positive price and size and a trade id, and a replace a
//! positive price and size (a venue cannot push a zero or negative fill into the
//! positions).
#![no_main]

use engine::{
    gateway::protocol::{Answer, WireSymbol, decode_answer},
    order::ExecKind,
};
use libfuzzer_sys::fuzz_target;

const SYMBOLS: [WireSymbol<'static>; 2] = [
    WireSymbol { name: "BTCUSDT", price_scale: 2, qty_scale: 5 },
    WireSymbol { name: "ETHUSDT", price_scale: 2, qty_scale: 4 },
];

fuzz_target!(|msg: &[u8]| {
    match decode_answer(msg, &SYMBOLS) {
        Ok(Answer::Report { kind: ExecKind::Fill { price, qty, trade_id, .. }, .. }) => {
            assert!(price.0 > 0 && qty.0 > 0 && trade_id != 0, "fill {price:?} {qty:?} {trade_id}");
        }
        Ok(Answer::Report { kind: ExecKind::Replaced { price, qty }, .. }) => {
            assert!(price.0 > 0 && qty.0 > 0, "replaced {price:?} {qty:?}");
        }
        Ok(Answer::Report { reason, .. } | Answer::Login { reason, .. } | Answer::Error { reason, .. }) => {
            assert!(reason.len() <= msg.len());
        }
        Ok(Answer::Query { .. }) => {}
        Err(e) => assert!(e.offset as usize <= msg.len(), "error offset {} past the message ({})", e.offset, msg.len()),
    }
});
