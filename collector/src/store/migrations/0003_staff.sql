-- Staff accounts, their sessions, sign-in throttling, invitations and the
-- audit log. Times are milliseconds since the Unix epoch, UTC.

-- One row per staff member. The email is stored trimmed and lower-cased and
-- is unique across all merchants: sign-in asks only for email and password,
-- so the address alone must name one account.
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    merchant_id          INTEGER NOT NULL REFERENCES merchants(id),
    email                TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('owner', 'agent', 'viewer')),
    -- Argon2id in the PHC string format; the parameters travel with the hash.
    password_hash        TEXT NOT NULL,
    disabled             INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    password_changed_at  INTEGER NOT NULL
);
CREATE INDEX users_merchant_role ON users(merchant_id, role);

-- Signed-in browsers. Only a SHA-256 of the session token is stored, so a
-- copy of the database cannot be replayed as a cookie. The CSRF token is
-- derived from the session token (a different hash), so it is not stored at all.
CREATE TABLE sessions (
    id_hash       BLOB PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    -- The absolute end; the idle limit is checked against last_seen_at.
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- Failed sign-ins per subject ('email:…' or 'ip:…'): kept in the database
-- so a restart does not reset the delays an attacker has earned.
CREATE TABLE login_attempts (
    subject          TEXT PRIMARY KEY,
    failures         INTEGER NOT NULL,
    last_failure_at  INTEGER NOT NULL,
    locked_until     INTEGER NOT NULL
) WITHOUT ROWID;

-- Who did what. user_id names the acting staff member (NULL for the command
-- line) and has no foreign key: entries outlive the accounts they mention.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    user_id      INTEGER,
    action       TEXT NOT NULL,
    -- A JSON object.
    detail       TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX audit_log_merchant ON audit_log(merchant_id, id DESC);

-- One-time invitation links; the token itself is never stored, only its hash.
CREATE TABLE invites (
    token_hash   BLOB PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'agent', 'viewer')),
    invited_by   INTEGER,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) WITHOUT ROWID;
CREATE INDEX invites_merchant ON invites(merchant_id);
