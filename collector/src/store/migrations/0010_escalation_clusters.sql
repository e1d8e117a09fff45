-- Escalation of overdue complaints, clusters of similar complaints, and the
-- owners' digests. Times are milliseconds since the Unix epoch, UTC.

-- The timeline learns two kinds: 'escalated' (an overdue response or
-- resolution was escalated to someone; data says which target, which step
-- and who was told) and 'clustered' (the complaint joined a cluster of
-- similar ones). Only the CHECK constraint's list grows, which every stored
-- row already satisfies, so this uses SQLite's documented procedure for
-- loosening a constraint in place: rebuilding the table instead would have
-- to drop it under the foreign keys of attachments and mail_queue.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, '''shopper_reply'', ''survey_received''))',
                       '''shopper_reply'', ''survey_received'', ''escalated'', ''clustered''))')
WHERE type = 'table' AND name = 'complaint_events';
PRAGMA writable_schema = RESET;

-- One row per escalation step taken: target is the overdue promise, step 1
-- told the assignee, 2 the team lead(s), 3 the owners. The primary key makes
-- a step happen at most once per complaint and target.
CREATE TABLE sla_escalations (
    complaint_id  INTEGER NOT NULL REFERENCES complaints(id),
    target        TEXT NOT NULL CHECK (target IN ('first_response', 'resolution')),
    step          INTEGER NOT NULL CHECK (step BETWEEN 1 AND 3),
    at            INTEGER NOT NULL,
    PRIMARY KEY (complaint_id, target, step)
) WITHOUT ROWID;

-- Overdue complaints are found by their due dates; these keep the sweep
-- from reading every open complaint.
CREATE INDEX complaints_first_response_due ON complaints(first_response_due_at)
    WHERE first_response_at IS NULL;
CREATE INDEX complaints_resolution_due ON complaints(resolution_due_at)
    WHERE resolved_at IS NULL;

-- A cluster: similar complaints of one merchant in one category within the
-- time window. size counts its members; alerted_size is the size at the
-- last alert to the owners (0: none yet), so an alert is never repeated
-- for the same size. Holds no shopper text: members are complaint ids.
CREATE TABLE clusters (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants(id),
    category      TEXT NOT NULL,
    safety        INTEGER NOT NULL CHECK (safety IN (0, 1)),
    size          INTEGER NOT NULL,
    first_at      INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    alerted_size  INTEGER NOT NULL DEFAULT 0,
    alerted_at    INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX clusters_merchant ON clusters(merchant_id, last_at DESC);

-- The sweep compares a new complaint with its merchant's recent ones in
-- the same category.
CREATE INDEX complaints_merchant_category ON complaints(merchant_id, category, created_at);

CREATE TABLE cluster_members (
    cluster_id    INTEGER NOT NULL REFERENCES clusters(id),
    complaint_id  INTEGER NOT NULL UNIQUE REFERENCES complaints(id),
    -- The best similarity to an earlier member (1.0 for the first).
    similarity    REAL NOT NULL,
    added_at      INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, complaint_id)
) WITHOUT ROWID;

-- Where the cluster sweep has got to: complaints with a larger id have not
-- been compared yet. It starts after the complaints stored before this
-- migration, so an upgrade raises no alerts about old news.
CREATE TABLE sweep_cursors (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sweep_cursors (name, value)
VALUES ('clusters', coalesce((SELECT max(id) FROM complaints), 0));

-- The digests queued: one per merchant, kind and period, ever.
CREATE TABLE digests (
    merchant_id   INTEGER NOT NULL REFERENCES merchants(id),
    kind          TEXT NOT NULL CHECK (kind IN ('daily', 'weekly')),
    period_end    INTEGER NOT NULL,
    queued_at     INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, kind, period_end)
) WITHOUT ROWID;
