-- The cluster sweep's fingerprints, stored once (issue 8).
--
-- The sweep compares each new complaint with the 200 most recent of its
-- merchant and category within the window. It read those complaints'
-- texts again for every new complaint — every row of the window, sorted
-- by id, since the index it had is in time order — and fingerprinted them
-- again: a quarter of the collector's CPU under a flood. Now it
-- fingerprints each complaint once, when it first compares it, and keeps
-- the result here: the sorted shingle hashes, 4 bytes each, little-endian
-- (`domain::clusters::Fingerprint::to_bytes`).
--
-- A row stands for a complaint the sweep may compare a new one with: it
-- is written by the sweep's writer job, for a complaint neither deleted
-- nor suspected spam, and the triggers below remove it when that changes.
-- merchant_id, category and created_at are the complaint's own, copied so
-- that "the last 200 of this merchant and category" is read from the index
-- alone. shingles NULL: not known, computed from the text when needed.
-- Complaints the sweep had passed before this migration have no row; the
-- sweep reads those from `complaints` (`store/clusters.rs`).
CREATE TABLE cluster_fingerprints (
    complaint_id  INTEGER PRIMARY KEY REFERENCES complaints(id) ON DELETE CASCADE,
    merchant_id   INTEGER,
    category      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    shingles      BLOB
);
CREATE INDEX cluster_fingerprints_recent
    ON cluster_fingerprints(merchant_id, category, complaint_id, created_at);

-- A fingerprint is derived from the shopper's words: when they are erased
-- (the shopper's deletion, retention's anonymisation) or changed, it goes
-- too, and is computed again from what remains if it is ever needed.
CREATE TRIGGER cluster_fingerprints_text AFTER UPDATE OF description, answers ON complaints
BEGIN
    UPDATE cluster_fingerprints SET shingles = NULL WHERE complaint_id = NEW.id;
END;

-- Deleted by the shopper or marked as spam: compared with nothing.
CREATE TRIGGER cluster_fingerprints_left_out AFTER UPDATE OF deleted_at, spam ON complaints
WHEN NEW.deleted_at IS NOT NULL OR NEW.spam IS NOT NULL
BEGIN
    DELETE FROM cluster_fingerprints WHERE complaint_id = NEW.id;
END;

-- Restored from the spam folder after the sweep passed it: comparable
-- again, its fingerprint computed when it is first needed. (A complaint
-- restored before the sweep reaches it gets its row from the sweep.)
CREATE TRIGGER cluster_fingerprints_restored AFTER UPDATE OF spam ON complaints
WHEN OLD.spam IS NOT NULL AND NEW.spam IS NULL AND NEW.deleted_at IS NULL
    AND NEW.id <= (SELECT value FROM sweep_cursors WHERE name = 'clusters')
BEGIN
    INSERT OR IGNORE INTO cluster_fingerprints
        (complaint_id, merchant_id, category, created_at, shingles)
    VALUES (NEW.id, NEW.merchant_id, NEW.category, NEW.created_at, NULL);
END;

-- The copied facts follow the complaint's. (Intake's own trigger sets
-- merchant_id once, from NULL, before the sweep has seen the complaint:
-- nothing to follow then.)
CREATE TRIGGER cluster_fingerprints_facts
AFTER UPDATE OF merchant_id, category, created_at ON complaints
WHEN (OLD.merchant_id IS NOT NULL AND OLD.merchant_id IS NOT NEW.merchant_id)
    OR OLD.category IS NOT NEW.category OR OLD.created_at IS NOT NEW.created_at
BEGIN
    UPDATE cluster_fingerprints
    SET merchant_id = NEW.merchant_id, category = NEW.category, created_at = NEW.created_at
    WHERE complaint_id = NEW.id;
END;
