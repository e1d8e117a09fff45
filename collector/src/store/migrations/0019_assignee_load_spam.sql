-- Least-loaded routing leaves spam out of a staff member's load.
--
-- The router counts each eligible member's open complaints in
-- complaints_merchant_assignee (0004_inbox.sql) alone. A complaint in the
-- spam folder (suspected at intake, or marked by staff, which keeps its
-- assignee) is nobody's work, so the count now has `spam IS NULL` too; the
-- index holds `spam` after its old columns, so the count stays a search of
-- the index without reading a row, and every query that used the old
-- columns as a prefix still can.
DROP INDEX complaints_merchant_assignee;
CREATE INDEX complaints_merchant_assignee ON complaints(merchant_id, assignee_user_id, status, spam);

-- Complaints restored from the spam folder, for the cluster sweep to
-- compare. The sweep walks complaints by id past its cursor and leaves
-- suspected spam out; one restored after the sweep passed it (or while
-- the sweep's read half had it as spam) was never compared with the
-- complaints around it, so it could join a cluster only if a similar one
-- arrived after the restore. "Not spam" (`store/spam.rs`) queues it here in
-- the restore's own writer job, for the sweep to compare with its
-- neighbours and then remove. Restores are few: this stays small.
CREATE TABLE cluster_rechecks (
    complaint_id  INTEGER PRIMARY KEY REFERENCES complaints(id) ON DELETE CASCADE,
    queued_at     INTEGER NOT NULL
);
