-- TimescaleDB mode: hypertables with one-day chunks, compression after a week, and
-- continuous one-minute aggregates of trades and risk decisions.

SELECT create_hypertable('market_trades', 'ts', chunk_time_interval => interval '1 day', if_not_exists => true);
SELECT create_hypertable('book_tops', 'ts', chunk_time_interval => interval '1 day', if_not_exists => true);
SELECT create_hypertable('order_events', 'ts', chunk_time_interval => interval '1 day', if_not_exists => true);
SELECT create_hypertable('fills', 'ts', chunk_time_interval => interval '1 day', if_not_exists => true);
SELECT create_hypertable('position_snapshots', 'ts', chunk_time_interval => interval '1 day', if_not_exists => true);
SELECT create_hypertable('risk_events', 'ts', chunk_time_interval => interval '1 day', if_not_exists => true);

ALTER TABLE market_trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'venue, instrument');
ALTER TABLE book_tops SET (timescaledb.compress, timescaledb.compress_segmentby = 'venue, instrument');
SELECT add_compression_policy('market_trades', interval '7 days', if_not_exists => true);
SELECT add_compression_policy('book_tops', interval '7 days', if_not_exists => true);

CREATE MATERIALIZED VIEW IF NOT EXISTS trades_1m WITH (timescaledb.continuous) AS
SELECT time_bucket(interval '1 minute', ts) AS minute, venue, instrument,
       count(*) AS trades, sum(qty) AS volume, min(price) AS low, max(price) AS high,
       sum(price::numeric * qty) / sum(qty) AS vwap
FROM market_trades GROUP BY 1, 2, 3 WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS risk_1m WITH (timescaledb.continuous) AS
SELECT time_bucket(interval '1 minute', ts) AS minute, venue, instrument,
       count(*) FILTER (WHERE reason = 0) AS accepted,
       count(*) FILTER (WHERE reason <> 0) AS rejected
FROM risk_events GROUP BY 1, 2, 3 WITH NO DATA;

SELECT add_continuous_aggregate_policy('trades_1m', start_offset => interval '1 hour',
    end_offset => interval '1 minute', schedule_interval => interval '1 minute', if_not_exists => true);
SELECT add_continuous_aggregate_policy('risk_1m', start_offset => interval '1 hour',
    end_offset => interval '1 minute', schedule_interval => interval '1 minute', if_not_exists => true);
