-- Routing: teams, ordered rules per merchant, webhook endpoints, and the
-- notification outbox. Times are milliseconds since the Unix epoch, UTC.

-- A team shares work. strategy says how a rule's "assign to this team"
-- picks a member: round_robin (the member after the last one given work)
-- or least_loaded (fewest open complaints). One team per merchant may be
-- the default: complaints no rule assigns go there.
CREATE TABLE teams (
    id                     INTEGER PRIMARY KEY,
    merchant_id            INTEGER NOT NULL REFERENCES merchants(id),
    name                   TEXT NOT NULL,
    strategy               TEXT NOT NULL DEFAULT 'round_robin'
                               CHECK (strategy IN ('round_robin', 'least_loaded')),
    is_default             INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    -- The member who received the last round-robin assignment.
    last_assigned_user_id  INTEGER,
    created_at             INTEGER NOT NULL,
    UNIQUE (merchant_id, name)
);
CREATE UNIQUE INDEX teams_one_default ON teams(merchant_id) WHERE is_default = 1;

CREATE TABLE team_members (
    team_id   INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The team lead is told first when the team's work escalates.
    is_lead   INTEGER NOT NULL DEFAULT 0 CHECK (is_lead IN (0, 1)),
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
CREATE INDEX team_members_user ON team_members(user_id);

-- Ordered routing rules. conditions and actions are JSON checked by
-- domain::routing before they are stored; stop = 1 ends evaluation at this
-- rule when it matches ("first match"), stop = 0 continues ("all matches").
CREATE TABLE routing_rules (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    position     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    conditions   TEXT NOT NULL,
    actions      TEXT NOT NULL,
    stop         INTEGER NOT NULL CHECK (stop IN (0, 1)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX routing_rules_merchant ON routing_rules(merchant_id, position, id);

-- Where webhooks go. Secrets are the raw bytes of a Standard Webhooks
-- `whsec_` secret; during a rotation the previous one keeps signing (as a
-- second signature) until previous_secret_until.
CREATE TABLE webhook_endpoints (
    id                      INTEGER PRIMARY KEY,
    merchant_id             INTEGER NOT NULL REFERENCES merchants(id),
    name                    TEXT NOT NULL,
    url                     TEXT NOT NULL,
    format                  TEXT NOT NULL CHECK (format IN ('standard', 'slack')),
    -- 1 lets the URL resolve to loopback, private or link-local addresses.
    allow_private           INTEGER NOT NULL DEFAULT 0 CHECK (allow_private IN (0, 1)),
    enabled                 INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    secret                  BLOB NOT NULL,
    previous_secret         BLOB,
    previous_secret_until   INTEGER,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints(merchant_id);

-- Notifications to staff and to webhooks, written in the same transaction
-- as their cause and delivered by the notify worker. A row is never
-- deleted by delivery: it becomes 'delivered', or 'dead' after the last
-- attempt, visible in the dead-letter list until retried. message_id is the
-- Standard Webhooks `webhook-id`, the same on every attempt. The payload
-- holds facts about the complaint (reference, category, severity…), never
-- the shopper's words or contact details.
CREATE TABLE notification_outbox (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL REFERENCES merchants(id),
    complaint_id     INTEGER REFERENCES complaints(id),
    kind             TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
    -- The endpoint for a webhook (looked up again at each attempt, so a
    -- rotated secret or a corrected URL applies), the staff member for email.
    webhook_id       INTEGER,
    user_id          INTEGER,
    -- The URL or address when the row was written, for the dead-letter list.
    target           TEXT NOT NULL,
    event            TEXT NOT NULL,
    message_id       TEXT NOT NULL UNIQUE,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    CHECK ((kind = 'webhook') = (webhook_id IS NOT NULL)),
    CHECK ((kind = 'email') = (user_id IS NOT NULL))
);
CREATE INDEX notification_outbox_due ON notification_outbox(next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX notification_outbox_merchant ON notification_outbox(merchant_id, state, id DESC);

-- Which team a complaint was routed to, and when it was escalated (by a rule
-- now; by an overdue response target later).
ALTER TABLE complaints ADD COLUMN team_id INTEGER;
ALTER TABLE complaints ADD COLUMN escalated_at INTEGER;

-- The language a staff member reads notifications in; NULL means English.
ALTER TABLE users ADD COLUMN language TEXT;
