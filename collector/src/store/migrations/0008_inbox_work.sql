-- What a busy support team adds to the inbox: response targets per site and
-- severity. Times are milliseconds since the Unix epoch, UTC.

-- A site's own targets, per class of complaint: 'urgent' (a safety
-- category, whatever the severity), one row per severity, and 'unrated'
-- (no severity given). A class without a row keeps the default hours that
-- the trigger below and `domain::inbox_work::SlaClass::default_hours`
-- both state. The targets are staff business, so they live here rather
-- than in the site's public widget configuration.
CREATE TABLE site_response_targets (
    site_id               INTEGER NOT NULL REFERENCES sites(id),
    class                 TEXT NOT NULL CHECK (class IN ('urgent', 'serious', 'cost_me',
                              'inconvenience', 'unrated')),
    first_response_hours  INTEGER NOT NULL CHECK (first_response_hours > 0),
    resolution_hours      INTEGER NOT NULL CHECK (resolution_hours >= first_response_hours),
    PRIMARY KEY (site_id, class)
) WITHOUT ROWID;

-- The trigger of 0006_followup.sql, with the due dates taken from the
-- site's targets (one primary-key lookup each) and the old fixed hours as
-- the defaults. Everything else is unchanged.
DROP TRIGGER complaints_inbox_insert;
CREATE TRIGGER complaints_inbox_insert AFTER INSERT ON complaints
BEGIN
    UPDATE complaints SET
        merchant_id = (SELECT merchant_id FROM sites WHERE id = NEW.site_id),
        priority = (CASE WHEN NEW.urgent THEN 1000 ELSE 0 END)
            + (CASE NEW.severity WHEN 'serious' THEN 300 WHEN 'cost_me' THEN 200
                   WHEN 'inconvenience' THEN 100 ELSE 0 END)
            + (CASE NEW.mood WHEN 'furious' THEN 40 WHEN 'upset' THEN 30
                   WHEN 'annoyed' THEN 20 WHEN 'calm' THEN 10 ELSE 0 END),
        first_response_due_at = NEW.created_at + 3600000 * coalesce(
            (SELECT first_response_hours FROM site_response_targets
             WHERE site_id = NEW.site_id AND class = (CASE
                 WHEN NEW.urgent THEN 'urgent'
                 WHEN NEW.severity IN ('serious', 'cost_me', 'inconvenience') THEN NEW.severity
                 ELSE 'unrated' END)),
            CASE
                WHEN NEW.urgent THEN 1
                WHEN NEW.severity = 'serious' THEN 4
                WHEN NEW.severity = 'cost_me' THEN 24
                ELSE 48 END),
        resolution_due_at = NEW.created_at + 3600000 * coalesce(
            (SELECT resolution_hours FROM site_response_targets
             WHERE site_id = NEW.site_id AND class = (CASE
                 WHEN NEW.urgent THEN 'urgent'
                 WHEN NEW.severity IN ('serious', 'cost_me', 'inconvenience') THEN NEW.severity
                 ELSE 'unrated' END)),
            CASE
                WHEN NEW.urgent THEN 24
                WHEN NEW.severity = 'serious' THEN 72
                ELSE 168 END),
        updated_at = NEW.created_at
    WHERE id = NEW.id;
    INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
    VALUES (NEW.id, NEW.created_at, NULL, 'received', 1, NULL, '{}');
    INSERT INTO complaint_text (complaint_id, body)
    VALUES (NEW.id, concat_ws(char(10), NEW.description, NEW.remedy,
        (SELECT group_concat(value, char(10)) FROM json_each(NEW.answers))));
END;

-- Saved views: a name for a list filter (the list page's query string).
-- Personal (owner_user_id set) or shared with the whole merchant (NULL).
-- Names are unique per person and among the shared views.
CREATE TABLE saved_views (
    id             INTEGER PRIMARY KEY,
    merchant_id    INTEGER NOT NULL REFERENCES merchants(id),
    owner_user_id  INTEGER,
    created_by     INTEGER NOT NULL,
    name           TEXT NOT NULL,
    query          TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX saved_views_name ON saved_views(merchant_id, coalesce(owner_user_id, 0), name);

-- Canned replies per merchant and language: owners write them, agents
-- insert them into a reply (which they can still edit before sending).
CREATE TABLE canned_replies (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    language     TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    updated_by   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX canned_replies_title ON canned_replies(merchant_id, language, title);

-- Merging duplicates and linking related complaints (same merchant only,
-- checked by the store). A merged duplicate is closed and points at its
-- primary; both timelines get a 'merged' event. A link is one row per pair,
-- the smaller id first, and a 'linked' event on each side.
ALTER TABLE complaints ADD COLUMN merged_into_id INTEGER REFERENCES complaints(id);
CREATE INDEX complaints_merged_into ON complaints(merged_into_id) WHERE merged_into_id IS NOT NULL;
CREATE TABLE complaint_links (
    complaint_id  INTEGER NOT NULL REFERENCES complaints(id),
    related_id    INTEGER NOT NULL REFERENCES complaints(id),
    created_by    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (complaint_id, related_id),
    CHECK (complaint_id < related_id)
) WITHOUT ROWID;
CREATE INDEX complaint_links_related ON complaint_links(related_id, complaint_id);
