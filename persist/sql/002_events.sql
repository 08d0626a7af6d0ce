-- Append-only event tables. Prices and sizes are the engine's fixed-point integers
-- (the instrument's scale); ts is the engine time as timestamptz (the partition and
-- chunk key) and ts_ns the same instant to the nanosecond. {PARTITION} is replaced
-- by 'PARTITION BY RANGE (ts)' in native mode and by '' in TimescaleDB mode.

CREATE TABLE IF NOT EXISTS market_trades (
    ts              timestamptz NOT NULL,
    ts_ns           bigint   NOT NULL,
    stream          smallint NOT NULL,
    seq             bigint   NOT NULL CHECK (seq > 0),
    venue           smallint NOT NULL,
    instrument      integer  NOT NULL,
    ts_exchange_ns  bigint   NOT NULL,
    trade_id        bigint   NOT NULL,
    price           bigint   NOT NULL CHECK (price > 0),
    qty             bigint   NOT NULL CHECK (qty > 0),
    aggressor       smallint NOT NULL CHECK (aggressor IN (0, 1, 2))
) {PARTITION};

CREATE TABLE IF NOT EXISTS book_tops (
    ts              timestamptz NOT NULL,
    ts_ns           bigint   NOT NULL,
    stream          smallint NOT NULL,
    seq             bigint   NOT NULL CHECK (seq > 0),
    venue           smallint NOT NULL,
    instrument      integer  NOT NULL,
    update_id       bigint   NOT NULL,
    bid             bigint   NOT NULL CHECK (bid > 0),
    bid_qty         bigint   NOT NULL CHECK (bid_qty >= 0),
    ask             bigint   NOT NULL CHECK (ask > 0),
    ask_qty         bigint   NOT NULL CHECK (ask_qty >= 0)
) {PARTITION};

CREATE TABLE IF NOT EXISTS order_events (
    ts              timestamptz NOT NULL,
    ts_ns           bigint   NOT NULL,
    stream          smallint NOT NULL,
    seq             bigint   NOT NULL CHECK (seq > 0),
    venue           smallint NOT NULL,
    instrument      integer  NOT NULL,
    client_id       bigint   NOT NULL,
    state           smallint NOT NULL CHECK (state BETWEEN 1 AND 9),
    side            smallint NOT NULL CHECK (side IN (1, 2)),
    price           bigint   NOT NULL CHECK (price >= 0),
    qty             bigint   NOT NULL CHECK (qty > 0),
    filled          bigint   NOT NULL CHECK (filled >= 0 AND filled <= qty),
    order_type      smallint NOT NULL CHECK (order_type BETWEEN 1 AND 3)
) {PARTITION};

CREATE TABLE IF NOT EXISTS fills (
    ts              timestamptz NOT NULL,
    ts_ns           bigint   NOT NULL,
    stream          smallint NOT NULL,
    seq             bigint   NOT NULL CHECK (seq > 0),
    venue           smallint NOT NULL,
    instrument      integer  NOT NULL,
    client_id       bigint   NOT NULL,
    venue_trade_id  bigint   NOT NULL,
    side            smallint NOT NULL CHECK (side IN (1, 2)),
    price           bigint   NOT NULL CHECK (price > 0),
    qty             bigint   NOT NULL CHECK (qty > 0),
    fee             bigint   NOT NULL,
    liquidity       smallint NOT NULL CHECK (liquidity IN (1, 2))
) {PARTITION};

CREATE TABLE IF NOT EXISTS position_snapshots (
    ts              timestamptz NOT NULL,
    ts_ns           bigint   NOT NULL,
    stream          smallint NOT NULL,
    seq             bigint   NOT NULL CHECK (seq > 0),
    venue           smallint NOT NULL,
    instrument      integer  NOT NULL,
    net_qty         bigint   NOT NULL,
    avg_price       bigint   NOT NULL CHECK (avg_price >= 0),
    realised        bigint   NOT NULL,
    unrealised      bigint   NOT NULL,
    fees            bigint   NOT NULL,
    mark            bigint   NOT NULL
) {PARTITION};

CREATE TABLE IF NOT EXISTS risk_events (
    ts              timestamptz NOT NULL,
    ts_ns           bigint   NOT NULL,
    stream          smallint NOT NULL,
    seq             bigint   NOT NULL CHECK (seq > 0),
    venue           smallint NOT NULL,
    instrument      integer  NOT NULL,
    client_id       bigint   NOT NULL,
    reason          smallint NOT NULL CHECK (reason BETWEEN 0 AND 13 OR reason BETWEEN 100 AND 199),
    side            smallint NOT NULL CHECK (side IN (0, 1, 2)),
    price           bigint   NOT NULL,
    qty             bigint   NOT NULL,
    limit_value     bigint   NOT NULL,
    observed        bigint   NOT NULL
) {PARTITION};
