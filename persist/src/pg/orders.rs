//! The current-state `orders` table: the latest order event per client id, upserted
//! in the batch's own transaction with one statement (arrays through `unnest`), so
//! a batch of a thousand order events costs one round trip, not a thousand.

use std::collections::BTreeMap;

use super::{PgError, copy::small, query};
use crate::{
    Fields,
    record::{OrderFields, Record},
};

/// The latest order event per client id seen in a batch.
#[derive(Debug, Default)]
pub(super) struct Latest(BTreeMap<i64, Record>);

impl Latest {
    /// Keeps `r` if it is the client id's latest event so far: later engine time
    /// first, then the later sequence (the database applies the same order).
    pub(super) fn offer(&mut self, r: &Record) {
        let Some(order) = OrderFields::from_record(r) else { return };
        let key = |r: &Record| (r.ts, r.seq);
        let slot = self.0.entry(order.client_id).or_insert(*r);
        if key(r) > key(slot) {
            *slot = *r;
        }
    }

    /// Writes the kept events into `orders`. A stored row changes only for an event
    /// at least as late as the one it holds, so loading a batch again changes nothing.
    pub(super) fn upsert(&self, tx: &mut postgres::Transaction<'_>) -> Result<(), PgError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let n = self.0.len();
        let (mut id, mut venue, mut instrument, mut state) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut side, mut price, mut qty, mut filled) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut order_type, mut updated, mut stream, mut seq) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for r in self.0.values() {
            let Some(o) = OrderFields::from_record(r) else { continue };
            id.push(o.client_id);
            venue.push(r.venue as i16);
            instrument.push(r.instrument as i32);
            state.push(o.state as i16);
            side.push(small(o.side));
            price.push(o.price);
            qty.push(o.qty);
            filled.push(o.filled);
            order_type.push(small(o.order_type));
            updated.push(r.ts as i64);
            stream.push(r.stream as i16);
            seq.push(r.seq as i64);
        }
        tx.execute(
            "INSERT INTO orders (client_id, venue, instrument, state, side, price, qty, filled, order_type, \
             updated_ns, stream, seq) \
             SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::integer[], $4::smallint[], $5::smallint[], \
             $6::bigint[], $7::bigint[], $8::bigint[], $9::smallint[], $10::bigint[], $11::smallint[], $12::bigint[]) \
             ON CONFLICT (client_id) DO UPDATE SET venue = EXCLUDED.venue, instrument = EXCLUDED.instrument, \
             state = EXCLUDED.state, side = EXCLUDED.side, price = EXCLUDED.price, qty = EXCLUDED.qty, \
             filled = EXCLUDED.filled, order_type = EXCLUDED.order_type, updated_ns = EXCLUDED.updated_ns, \
             stream = EXCLUDED.stream, seq = EXCLUDED.seq \
             WHERE (orders.updated_ns, orders.seq) <= (EXCLUDED.updated_ns, EXCLUDED.seq)",
            &[&id, &venue, &instrument, &state, &side, &price, &qty, &filled, &order_type, &updated, &stream, &seq],
        )
        .map_err(query("updating current orders"))?;
        Ok(())
    }
}
