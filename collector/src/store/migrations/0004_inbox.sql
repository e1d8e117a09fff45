-- The staff inbox: the timeline of every complaint, the columns staff work
-- with, tags, full-text search, and the indexes for the inbox's order and
-- filters. Times are milliseconds since the Unix epoch, UTC.

-- What happened to a complaint, in order: the single source of truth for its
-- history. Staff read all of it; the shopper's status page reads the rows
-- with public = 1. actor_user_id is NULL for the shopper or the system and
-- has no foreign key, like audit_log: history outlives accounts. The
-- merchant is the complaint's (complaints.merchant_id).
CREATE TABLE complaint_events (
    id             INTEGER PRIMARY KEY,
    complaint_id   INTEGER NOT NULL REFERENCES complaints(id),
    at             INTEGER NOT NULL,
    actor_user_id  INTEGER,
    kind           TEXT NOT NULL CHECK (kind IN ('received', 'acknowledged', 'assigned',
                       'status_changed', 'public_reply', 'internal_note', 'tagged',
                       'merged', 'linked')),
    -- 1 when the shopper may see it (status page, email); internal notes never.
    public         INTEGER NOT NULL CHECK (public IN (0, 1)),
    body           TEXT,
    -- A JSON object with the particulars (old and new status, assignee, tags).
    data           TEXT NOT NULL DEFAULT '{}',
    CHECK (kind <> 'internal_note' OR public = 0)
);
CREATE INDEX complaint_events_complaint ON complaint_events(complaint_id, id);

-- The merchant, copied from the site so that every inbox query filters on
-- one indexed column; the work state; and the due dates.
ALTER TABLE complaints ADD COLUMN merchant_id INTEGER REFERENCES merchants(id);
ALTER TABLE complaints ADD COLUMN assignee_user_id INTEGER;
-- The part of the inbox priority that does not change with time: urgent
-- (safety) first, then severity, then mood. Waiting time and being overdue
-- are added when the inbox is read.
ALTER TABLE complaints ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE complaints ADD COLUMN first_response_at INTEGER;
ALTER TABLE complaints ADD COLUMN resolved_at INTEGER;
ALTER TABLE complaints ADD COLUMN first_response_due_at INTEGER;
ALTER TABLE complaints ADD COLUMN resolution_due_at INTEGER;
ALTER TABLE complaints ADD COLUMN updated_at INTEGER;

CREATE TABLE complaint_tags (
    complaint_id  INTEGER NOT NULL REFERENCES complaints(id),
    tag           TEXT NOT NULL,
    PRIMARY KEY (complaint_id, tag)
) WITHOUT ROWID;
CREATE INDEX complaint_tags_tag ON complaint_tags(tag, complaint_id);

-- Full-text search over what the shopper wrote and over staff replies and
-- notes. The trigram tokenizer needs no word boundaries, so Chinese and
-- Japanese text is found as well as Latin; queries shorter than three
-- characters fall back to LIKE on the same rows.
CREATE VIRTUAL TABLE complaint_text USING fts5(
    complaint_id UNINDEXED,
    body,
    tokenize = 'trigram'
);

-- Fills in the inbox columns of a new complaint, its first timeline entry
-- and its search text, whichever code path inserted it. Default response
-- targets by urgency and severity; per-site targets can replace them later.
CREATE TRIGGER complaints_inbox_insert AFTER INSERT ON complaints
BEGIN
    UPDATE complaints SET
        merchant_id = (SELECT merchant_id FROM sites WHERE id = NEW.site_id),
        priority = (CASE WHEN NEW.urgent THEN 1000 ELSE 0 END)
            + (CASE NEW.severity WHEN 'serious' THEN 300 WHEN 'cost_me' THEN 200
                   WHEN 'inconvenience' THEN 100 ELSE 0 END)
            + (CASE NEW.mood WHEN 'furious' THEN 40 WHEN 'upset' THEN 30
                   WHEN 'annoyed' THEN 20 WHEN 'calm' THEN 10 ELSE 0 END),
        first_response_due_at = NEW.created_at + (CASE
            WHEN NEW.urgent THEN 3600000
            WHEN NEW.severity = 'serious' THEN 4 * 3600000
            WHEN NEW.severity = 'cost_me' THEN 24 * 3600000
            ELSE 48 * 3600000 END),
        resolution_due_at = NEW.created_at + (CASE
            WHEN NEW.urgent THEN 24 * 3600000
            WHEN NEW.severity = 'serious' THEN 3 * 86400000
            ELSE 7 * 86400000 END),
        updated_at = NEW.created_at
    WHERE id = NEW.id;
    INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
    VALUES (NEW.id, NEW.created_at, NULL, 'received', 1, NULL, '{}');
    INSERT INTO complaint_text (complaint_id, body)
    VALUES (NEW.id, concat_ws(char(10), NEW.description, NEW.remedy,
        (SELECT group_concat(value, char(10)) FROM json_each(NEW.answers))));
END;

-- Replies and notes are searchable too.
CREATE TRIGGER complaint_events_text AFTER INSERT ON complaint_events
WHEN NEW.kind IN ('public_reply', 'internal_note') AND NEW.body IS NOT NULL
BEGIN
    INSERT INTO complaint_text (complaint_id, body) VALUES (NEW.complaint_id, NEW.body);
END;

-- Complaints stored before this migration get the same treatment.
UPDATE complaints SET
    merchant_id = (SELECT merchant_id FROM sites WHERE sites.id = complaints.site_id),
    priority = (CASE WHEN urgent THEN 1000 ELSE 0 END)
        + (CASE severity WHEN 'serious' THEN 300 WHEN 'cost_me' THEN 200
               WHEN 'inconvenience' THEN 100 ELSE 0 END)
        + (CASE mood WHEN 'furious' THEN 40 WHEN 'upset' THEN 30
               WHEN 'annoyed' THEN 20 WHEN 'calm' THEN 10 ELSE 0 END),
    first_response_due_at = created_at + (CASE
        WHEN urgent THEN 3600000
        WHEN severity = 'serious' THEN 4 * 3600000
        WHEN severity = 'cost_me' THEN 24 * 3600000
        ELSE 48 * 3600000 END),
    resolution_due_at = created_at + (CASE
        WHEN urgent THEN 24 * 3600000
        WHEN severity = 'serious' THEN 3 * 86400000
        ELSE 7 * 86400000 END),
    updated_at = created_at;
INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
SELECT id, created_at, NULL, 'received', 1, NULL, '{}' FROM complaints;
INSERT INTO complaint_text (complaint_id, body)
SELECT id, concat_ws(char(10), description, remedy,
    (SELECT group_concat(value, char(10)) FROM json_each(complaints.answers)))
FROM complaints;

-- The inbox reads one merchant at a time: by status, by site, by assignee,
-- newest first. The priority order depends on the time of reading, so it is
-- computed over the rows these indexes select and sorted per request.
CREATE INDEX complaints_merchant_status ON complaints(merchant_id, status, created_at DESC, id DESC);
CREATE INDEX complaints_merchant_created ON complaints(merchant_id, created_at DESC, id DESC);
CREATE INDEX complaints_merchant_assignee ON complaints(merchant_id, assignee_user_id, status);
