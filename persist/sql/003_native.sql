-- Native mode (no TimescaleDB): a default partition per table so no row is ever
-- refused for lack of a partition (the writer adds daily partitions ahead of the
-- data), BRIN indexes on time, and plain views for the one-minute aggregates.

CREATE TABLE IF NOT EXISTS market_trades_default PARTITION OF market_trades DEFAULT;
CREATE TABLE IF NOT EXISTS book_tops_default PARTITION OF book_tops DEFAULT;
CREATE TABLE IF NOT EXISTS order_events_default PARTITION OF order_events DEFAULT;
CREATE TABLE IF NOT EXISTS fills_default PARTITION OF fills DEFAULT;
CREATE TABLE IF NOT EXISTS position_snapshots_default PARTITION OF position_snapshots DEFAULT;
CREATE TABLE IF NOT EXISTS risk_events_default PARTITION OF risk_events DEFAULT;

CREATE INDEX IF NOT EXISTS market_trades_ts_brin ON market_trades USING brin (ts);
CREATE INDEX IF NOT EXISTS book_tops_ts_brin ON book_tops USING brin (ts);
CREATE INDEX IF NOT EXISTS order_events_ts_brin ON order_events USING brin (ts);
CREATE INDEX IF NOT EXISTS fills_ts_brin ON fills USING brin (ts);
CREATE INDEX IF NOT EXISTS position_snapshots_ts_brin ON position_snapshots USING brin (ts);
CREATE INDEX IF NOT EXISTS risk_events_ts_brin ON risk_events USING brin (ts);

CREATE OR REPLACE VIEW trades_1m AS
SELECT date_trunc('minute', ts) AS minute, venue, instrument,
       count(*) AS trades, sum(qty) AS volume, min(price) AS low, max(price) AS high,
       sum(price::numeric * qty) / sum(qty) AS vwap
FROM market_trades GROUP BY 1, 2, 3;

CREATE OR REPLACE VIEW risk_1m AS
SELECT date_trunc('minute', ts) AS minute, venue, instrument,
       count(*) FILTER (WHERE reason = 0) AS accepted,
       count(*) FILTER (WHERE reason <> 0) AS rejected
FROM risk_events GROUP BY 1, 2, 3;

-- The writer calls this before writing a day's rows, so each day gets its own
-- partition; if the default partition already holds rows of that day, the rows stay
-- there (nothing is refused) and the function says so by returning false.
CREATE OR REPLACE FUNCTION engine_ensure_day_partition(parent text, day_start timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    name text := parent || '_p' || to_char(day_start AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN true;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                   name, parent, day_start, day_start + interval '1 day');
    RETURN true;
EXCEPTION WHEN check_violation OR duplicate_table THEN
    RETURN false;
END $$;
