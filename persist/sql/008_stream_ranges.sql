-- Schema version 6: ranges of a stream stored above its watermark.
--
-- A large batch may be written by several connections at once, each committing a
-- contiguous part of it in a transaction of its own (one backend is the ingest bound
-- on a small host). Each part records here, with its rows, the sequence range it
-- stored. Once every part has committed, the writer folds the ranges that continue
-- the watermark into `stream_watermarks` and deletes them. If the writer dies
-- between the parts' commits, the ranges left here say exactly what is stored above
-- the watermark, and the next writer skips those records.

CREATE TABLE IF NOT EXISTS stream_ranges (
    stream      smallint NOT NULL CHECK (stream >= 0),
    first_seq   bigint   NOT NULL CHECK (first_seq >= 1),
    last_seq    bigint   NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, first_seq),
    CHECK (last_seq >= first_seq)
);
COMMENT ON TABLE stream_ranges IS
    'Sequence ranges of a stream stored above its watermark by one part of a parallel batch; folded into stream_watermarks once contiguous.';
