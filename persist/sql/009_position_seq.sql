-- Schema version 7: the current position remembers which snapshot it is.
--
-- Two position snapshots of one drain share a time. Rows are upserted only forward
-- in time, and with `<=` on time alone a snapshot written later but older in the
-- journal (a failed part of a split batch written again after a later part had
-- committed) would win a tie. The sequence breaks it, as it already does for
-- `orders`.

ALTER TABLE positions ADD COLUMN IF NOT EXISTS as_of_seq bigint NOT NULL DEFAULT 0;

-- Rows already there take their snapshot's sequence (the latest at their time).
UPDATE positions p SET as_of_seq = s.seq
FROM (
    SELECT DISTINCT ON (venue, instrument) venue, instrument, ts_ns, seq
    FROM position_snapshots
    ORDER BY venue, instrument, ts_ns DESC, seq DESC
) s
WHERE p.venue = s.venue AND p.instrument = s.instrument AND p.as_of_ns = s.ts_ns;
