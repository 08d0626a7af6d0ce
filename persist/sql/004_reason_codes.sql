-- Schema version 2. Risk reason codes 1-99 are reserved for pre-trade rejects (version
-- 1 allowed only the 13 codes it knew), 100-199 for kill-switch trips, so a new check
-- or trip reason needs no schema change. The engine validates codes before writing.
ALTER TABLE risk_events DROP CONSTRAINT IF EXISTS risk_events_reason_check;
ALTER TABLE risk_events ADD CONSTRAINT risk_events_reason_check CHECK (reason BETWEEN 0 AND 199);
