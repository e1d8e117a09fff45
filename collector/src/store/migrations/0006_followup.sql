-- The follow-up loop on the shopper's status page: the shopper's replies,
-- the satisfaction survey, and email to the shopper about every status
-- change and staff reply. Times are milliseconds since the Unix epoch, UTC.

-- complaint_events learns two kinds: 'shopper_reply' (what the shopper wrote
-- through their link; public, searchable) and 'survey_received' (public, no
-- text: the answers live in complaint_surveys). A status change made by the
-- shopper stays a 'status_changed' row with actor_user_id NULL and
-- data.by = 'shopper'. SQLite cannot change a CHECK constraint, so the table
-- is rebuilt; the trigger on complaints that writes its first row is dropped
-- and created again around the rebuild, unchanged.
DROP TRIGGER complaints_inbox_insert;

CREATE TABLE complaint_events_new (
    id             INTEGER PRIMARY KEY,
    complaint_id   INTEGER NOT NULL REFERENCES complaints(id),
    at             INTEGER NOT NULL,
    actor_user_id  INTEGER,
    kind           TEXT NOT NULL CHECK (kind IN ('received', 'acknowledged', 'assigned',
                       'status_changed', 'public_reply', 'internal_note', 'tagged',
                       'merged', 'linked', 'shopper_reply', 'survey_received')),
    public         INTEGER NOT NULL CHECK (public IN (0, 1)),
    body           TEXT,
    data           TEXT NOT NULL DEFAULT '{}',
    CHECK (kind <> 'internal_note' OR public = 0),
    -- The shopper's own words are always theirs to see.
    CHECK (kind NOT IN ('shopper_reply', 'survey_received') OR public = 1)
);
INSERT INTO complaint_events_new (id, complaint_id, at, actor_user_id, kind, public, body, data)
SELECT id, complaint_id, at, actor_user_id, kind, public, body, data FROM complaint_events;
DROP TABLE complaint_events;
ALTER TABLE complaint_events_new RENAME TO complaint_events;
CREATE INDEX complaint_events_complaint ON complaint_events(complaint_id, id);

-- Replies, notes and the shopper's replies are searchable.
CREATE TRIGGER complaint_events_text AFTER INSERT ON complaint_events
WHEN NEW.kind IN ('public_reply', 'internal_note', 'shopper_reply') AND NEW.body IS NOT NULL
BEGIN
    INSERT INTO complaint_text (complaint_id, body) VALUES (NEW.complaint_id, NEW.body);
END;

-- As in 0004_inbox.sql, unchanged.
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

-- mail_queue learns the kind 'update': a status change or a staff reply,
-- named by event_id. Its link is minted when the message is first sent (a
-- fresh receipt_tokens row per message), so status_url is NULL until then:
-- the staff action that queues it never needs the collector's address.
CREATE TABLE mail_queue_new (
    id               INTEGER PRIMARY KEY,
    complaint_id     INTEGER NOT NULL REFERENCES complaints(id),
    kind             TEXT NOT NULL CHECK (kind IN ('acknowledgement', 'recovery', 'update')),
    recipient        TEXT NOT NULL,
    status_url       TEXT,
    event_id         INTEGER REFERENCES complaint_events(id),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    parked_at        INTEGER,
    created_at       INTEGER NOT NULL,
    CHECK (kind = 'update' OR status_url IS NOT NULL),
    CHECK (kind <> 'update' OR event_id IS NOT NULL)
);
INSERT INTO mail_queue_new (id, complaint_id, kind, recipient, status_url, attempts,
    next_attempt_at, last_error, parked_at, created_at)
SELECT id, complaint_id, kind, recipient, status_url, attempts,
    next_attempt_at, last_error, parked_at, created_at FROM mail_queue;
DROP TABLE mail_queue;
ALTER TABLE mail_queue_new RENAME TO mail_queue;
CREATE INDEX mail_queue_due ON mail_queue(next_attempt_at) WHERE parked_at IS NULL;
CREATE INDEX mail_queue_complaint ON mail_queue(complaint_id);

-- The shopper's answer to the satisfaction survey: one per complaint,
-- changeable until the complaint is closed. A deletion by the shopper clears
-- the comment and keeps the three answers, which are anonymous counts.
CREATE TABLE complaint_surveys (
    complaint_id   INTEGER PRIMARY KEY REFERENCES complaints(id),
    satisfaction   INTEGER NOT NULL CHECK (satisfaction BETWEEN 1 AND 5),
    quick_enough   INTEGER NOT NULL CHECK (quick_enough IN (0, 1)),
    would_return   INTEGER NOT NULL CHECK (would_return IN (0, 1)),
    comment        TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Photos the shopper added to a reply: claimed by the complaint, and by the
-- reply's event.
ALTER TABLE attachments ADD COLUMN event_id INTEGER REFERENCES complaint_events(id);
