-- Mail to shoppers: written in the same transaction as its cause (a new
-- complaint, a recovery request), delivered later by the mail worker, and
-- deleted once the SMTP server has accepted it. A row whose delivery keeps
-- failing is parked (parked_at set) after the last attempt, never dropped.
-- status_url holds the private link only while the mail waits.
CREATE TABLE mail_queue (
    id               INTEGER PRIMARY KEY,
    complaint_id     INTEGER NOT NULL REFERENCES complaints(id),
    -- 'acknowledgement' or 'recovery'.
    kind             TEXT NOT NULL CHECK (kind IN ('acknowledgement', 'recovery')),
    recipient        TEXT NOT NULL,
    status_url       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    parked_at        INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX mail_queue_due ON mail_queue(next_attempt_at) WHERE parked_at IS NULL;
CREATE INDEX mail_queue_complaint ON mail_queue(complaint_id);

-- Further status links for a complaint, issued by lost-link recovery. The
-- first link's hash stays in complaints.token_hash; every link keeps working
-- until the shopper deletes the complaint. Only SHA-256 hashes are stored.
CREATE TABLE receipt_tokens (
    token_hash    BLOB PRIMARY KEY,
    complaint_id  INTEGER NOT NULL REFERENCES complaints(id),
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX receipt_tokens_complaint ON receipt_tokens(complaint_id);

-- When the shopper deleted their complaint: the text, contact details and
-- identity are gone; the anonymous counts remain.
ALTER TABLE complaints ADD COLUMN deleted_at INTEGER;

-- A deleted complaint's words must leave the search index at once, not at
-- the next merge of its segments.
INSERT INTO complaint_text (complaint_text, rank) VALUES ('secure-delete', 1);
