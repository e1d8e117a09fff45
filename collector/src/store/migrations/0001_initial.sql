-- Merchants (tenants) own sites; sites receive complaints.
CREATE TABLE merchants (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE sites (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL REFERENCES merchants(id),
    site_key         TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    -- JSON array of origins such as "https://shop.example".
    allowed_origins  TEXT NOT NULL,
    -- JSON heard_shared::SiteConfig.
    config           TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX sites_merchant ON sites(merchant_id);

-- Times are milliseconds since the Unix epoch, UTC.
CREATE TABLE complaints (
    id                 INTEGER PRIMARY KEY,
    site_id            INTEGER NOT NULL REFERENCES sites(id),
    reference          TEXT NOT NULL UNIQUE,
    -- SHA-256 of the status-page token; the token itself is never stored.
    token_hash         BLOB NOT NULL UNIQUE,
    status             TEXT NOT NULL DEFAULT 'received',
    category           TEXT NOT NULL,
    category_label     TEXT NOT NULL,
    value_orientation  TEXT,
    urgent             INTEGER NOT NULL,
    description        TEXT NOT NULL,
    remedy             TEXT,
    -- JSON array of heard_shared::Outcome.
    outcomes           TEXT NOT NULL,
    severity           TEXT,
    mood               TEXT,
    language           TEXT NOT NULL,
    page_url           TEXT,
    user_agent         TEXT,
    -- JSON object of guided answers.
    answers            TEXT NOT NULL,
    contact_name       TEXT,
    contact_email      TEXT,
    contact_phone      TEXT,
    created_at         INTEGER NOT NULL
);
CREATE INDEX complaints_site_created ON complaints(site_id, created_at DESC);

-- Idempotency-Key replays. Neither the key nor the token is stored in clear:
-- the key as a hash, the token wrapped under a pad only the key can rebuild.
CREATE TABLE idempotency_keys (
    site_id        INTEGER NOT NULL REFERENCES sites(id),
    key_hash       BLOB NOT NULL,
    request_hash   BLOB NOT NULL,
    complaint_id   INTEGER NOT NULL REFERENCES complaints(id),
    wrapped_token  BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (site_id, key_hash)
) WITHOUT ROWID;
