-- Tables every mode shares: exactly-once watermarks, instruments, current positions.

CREATE TABLE IF NOT EXISTS stream_watermarks (
    stream      smallint PRIMARY KEY CHECK (stream >= 0),
    last_seq    bigint   NOT NULL CHECK (last_seq >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stream_watermarks IS
    'Highest record sequence persisted per ring stream, written in the same transaction as the rows: the resume point after a crash.';

CREATE TABLE IF NOT EXISTS positions (
    venue       smallint NOT NULL,
    instrument  integer  NOT NULL,
    net_qty     bigint   NOT NULL,
    avg_price   bigint   NOT NULL CHECK (avg_price >= 0),
    realised    bigint   NOT NULL,
    unrealised  bigint   NOT NULL,
    fees        bigint   NOT NULL,
    mark        bigint   NOT NULL,
    as_of_ns    bigint   NOT NULL,
    PRIMARY KEY (venue, instrument)
);
COMMENT ON TABLE positions IS 'Current position per venue and instrument (the latest snapshot); history is in position_snapshots.';
