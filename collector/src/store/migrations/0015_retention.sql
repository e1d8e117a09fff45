-- Retention per merchant (issue 9): finished complaints lose the shopper's
-- text, photos and contact details some days after they were finished.
-- Times are milliseconds since the Unix epoch, UTC.

-- How many days after a complaint was finished (resolved or closed) it is
-- anonymised; NULL keeps everything forever (the default).
ALTER TABLE merchants ADD COLUMN retention_days INTEGER
    CHECK (retention_days IS NULL OR retention_days BETWEEN 30 AND 3650);

-- When retention anonymised the complaint; NULL while it keeps its text.
-- (A shopper's own deletion is `deleted_at`; both erase the same columns.)
ALTER TABLE complaints ADD COLUMN anonymized_at INTEGER;

-- The janitor's batches find what is due from this index alone: finished
-- complaints that still hold text, by merchant and by when they finished.
CREATE INDEX complaints_retention
    ON complaints(merchant_id, coalesce(resolved_at, created_at))
    WHERE anonymized_at IS NULL AND deleted_at IS NULL AND status IN ('resolved', 'closed');

-- The timeline learns the kind 'anonymized' (staff only, no text; data
-- says after how many days). Only the CHECK constraint's list grows, in
-- place, as in 0010_escalation_clusters.sql; the new kind goes at the head
-- of the list so this does not depend on how the list ends.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (kind IN (''received'', ',
                       'CHECK (kind IN (''received'', ''anonymized'', ')
WHERE type = 'table' AND name = 'complaint_events';
PRAGMA writable_schema = RESET;
