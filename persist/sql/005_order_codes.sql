-- Schema version 3. Order states 10-12 (PendingUpdate, Expired, Triggered) and order
-- types 4-7 (market, FOK, stop, stop-limit) join the ones version 1 knew.
ALTER TABLE order_events DROP CONSTRAINT IF EXISTS order_events_state_check;
ALTER TABLE order_events ADD CONSTRAINT order_events_state_check CHECK (state BETWEEN 1 AND 12);
ALTER TABLE order_events DROP CONSTRAINT IF EXISTS order_events_order_type_check;
ALTER TABLE order_events ADD CONSTRAINT order_events_order_type_check CHECK (order_type BETWEEN 1 AND 7);
