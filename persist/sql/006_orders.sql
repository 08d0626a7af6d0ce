-- Schema version 4: the current state of every order, beside the append-only
-- order_events. The sink upserts it in the same transaction as each batch's COPY,
-- and an event never overwrites a later one (engine time, then stream sequence), so
-- a replayed or re-loaded batch leaves it as it was.
--
-- Client ids are unique within a journal: each run numbers its orders in a client-id
-- epoch above every id the journal already holds. A database follows one journal (its
-- stream watermarks assume that too). Before this version, runs on the simulated venue
-- all used epoch 0, so the backfill below keeps the latest event per id, which for
-- those runs is the last run's order.

CREATE TABLE IF NOT EXISTS orders (
    client_id   bigint   PRIMARY KEY,
    venue       smallint NOT NULL,
    instrument  integer  NOT NULL,
    state       smallint NOT NULL CHECK (state BETWEEN 1 AND 12),
    side        smallint NOT NULL CHECK (side IN (1, 2)),
    price       bigint   NOT NULL CHECK (price >= 0),
    qty         bigint   NOT NULL CHECK (qty > 0),
    filled      bigint   NOT NULL CHECK (filled >= 0 AND filled <= qty),
    order_type  smallint NOT NULL CHECK (order_type BETWEEN 1 AND 7),
    updated_ns  bigint   NOT NULL,
    stream      smallint NOT NULL,
    seq         bigint   NOT NULL CHECK (seq > 0)
);
COMMENT ON TABLE orders IS
    'Current state per client order id (its latest order event); the history is in order_events.';

INSERT INTO orders
SELECT DISTINCT ON (client_id)
       client_id, venue, instrument, state, side, price, qty, filled, order_type, ts_ns, stream, seq
  FROM order_events
 ORDER BY client_id, ts_ns DESC, seq DESC
ON CONFLICT (client_id) DO NOTHING;
