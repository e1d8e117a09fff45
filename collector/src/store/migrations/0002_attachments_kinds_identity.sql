-- What kind of message each complaint is, a callback's time window, and the
-- identity the merchant's page passed in (JSON, without its signature).
ALTER TABLE complaints ADD COLUMN kind TEXT NOT NULL DEFAULT 'complaint';
ALTER TABLE complaints ADD COLUMN callback_window TEXT;
ALTER TABLE complaints ADD COLUMN identity TEXT;
ALTER TABLE complaints ADD COLUMN identity_verified INTEGER NOT NULL DEFAULT 0;

-- Each site's secret for verifying identities signed by the merchant's server.
ALTER TABLE sites ADD COLUMN identity_secret BLOB;
UPDATE sites SET identity_secret = randomblob(32) WHERE identity_secret IS NULL;

-- Photos, uploaded before the complaint that lists them. complaint_id stays
-- NULL until a complaint claims the photo; the image is stored re-encoded.
CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    site_id       INTEGER NOT NULL REFERENCES sites(id),
    complaint_id  INTEGER REFERENCES complaints(id),
    content_type  TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    data          BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX attachments_complaint ON attachments(complaint_id);
CREATE INDEX attachments_unclaimed ON attachments(created_at) WHERE complaint_id IS NULL;
