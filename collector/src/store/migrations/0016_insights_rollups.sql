-- Insights at a million complaints (issue 7).
--
-- The handling figure needs, for each complaint of a range, when it was
-- first acknowledged and whether it was ever resolved or reopened: facts
-- of its timeline. Reading the timeline of tens of thousands of complaints
-- cost one seek each into `complaint_events` (and a JSON parse per status
-- change): 150 ms warm, 400 ms cold for 28 days of a large merchant. These
-- columns summarise them, kept by the trigger below whenever an event is
-- written, as the complaint's other columns summarise its timeline.
ALTER TABLE complaints ADD COLUMN acknowledged_at INTEGER;
ALTER TABLE complaints ADD COLUMN resolved_once INTEGER NOT NULL DEFAULT 0;
ALTER TABLE complaints ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER complaints_handling_events AFTER INSERT ON complaint_events
WHEN NEW.kind IN ('acknowledged', 'status_changed')
BEGIN
    UPDATE complaints SET
        acknowledged_at = CASE WHEN NEW.kind = 'acknowledged'
                               THEN min(coalesce(acknowledged_at, NEW.at), NEW.at)
                               ELSE acknowledged_at END,
        resolved_once = resolved_once OR (NEW.kind = 'status_changed'
            AND coalesce(json_extract(NEW.data, '$.to') IN ('resolved', 'closed'), 0)),
        reopened = reopened OR (NEW.kind = 'status_changed'
            AND coalesce(json_extract(NEW.data, '$.from') IN ('resolved', 'closed')
                         AND json_extract(NEW.data, '$.to') NOT IN ('resolved', 'closed'), 0))
    WHERE id = NEW.complaint_id;
END;

-- The complaints stored before this migration.
UPDATE complaints SET
    acknowledged_at = (SELECT min(e.at) FROM complaint_events e
                       WHERE e.complaint_id = complaints.id AND e.kind = 'acknowledged'),
    resolved_once = EXISTS (SELECT 1 FROM complaint_events e
                            WHERE e.complaint_id = complaints.id AND e.kind = 'status_changed'
                              AND json_extract(e.data, '$.to') IN ('resolved', 'closed')),
    reopened = EXISTS (SELECT 1 FROM complaint_events e
                       WHERE e.complaint_id = complaints.id AND e.kind = 'status_changed'
                         AND json_extract(e.data, '$.from') IN ('resolved', 'closed')
                         AND json_extract(e.data, '$.to') NOT IN ('resolved', 'closed'))
WHERE id IN (SELECT complaint_id FROM complaint_events
             WHERE kind IN ('acknowledged', 'status_changed'));

-- The volume, handling and satisfaction figures read every complaint of a
-- range. Through complaints_merchant_created each of them was a row read
-- from the table, pages scattered over the whole file (seconds when they
-- are not cached). This index holds every column those figures read (and
-- `spam`, which keeps suspected spam out of them), so a range is one
-- sequential read of the index alone.
CREATE INDEX complaints_insights ON complaints(
    merchant_id, created_at, site_id, spam, category, category_label, value_orientation,
    severity, mood, outcomes, kind, language,
    first_response_at, resolved_at, first_response_due_at, resolution_due_at, team_id,
    acknowledged_at, resolved_once, reopened
);

-- The volume figure over long ranges: even from the index above, a year of
-- a large merchant is hundreds of thousands of entries to decode (about
-- 300 ms). This table counts the complaints of each UTC day (`created_at /
-- 86400000`) by site and by each dimension of the figure — `category`
-- (with the label last counted), `value_orientation`, `severity`, `mood`,
-- `outcome` (once per wanted outcome), `channel` (the kind), `language` —
-- so a year is a few tens of thousands of small rows. Whole days come from
-- here; the partial days at the ends of a range from the index above.
-- Suspected spam is not counted. The triggers below keep it equal to
-- counting the complaints table, whatever path writes a complaint; rows
-- that fall to zero stay, with a count of 0.
CREATE TABLE insights_daily (
    merchant_id  INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    site_id      INTEGER NOT NULL,
    dimension    TEXT NOT NULL,
    key          TEXT NOT NULL,
    label        TEXT NOT NULL,
    complaints   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, day, site_id, dimension, key)
) WITHOUT ROWID;

-- The counted values of one complaint, as rows (dimension, key, label):
-- written out in each trigger, as SQLite has no table-valued views of NEW.
CREATE TRIGGER insights_daily_insert AFTER INSERT ON complaints
WHEN NEW.spam IS NULL
BEGIN
    INSERT INTO insights_daily (merchant_id, day, site_id, dimension, key, label, complaints)
    SELECT (SELECT merchant_id FROM sites WHERE id = NEW.site_id), NEW.created_at / 86400000,
           NEW.site_id, counted.dimension, counted.key, counted.label, 1
    FROM (
        SELECT 'category' AS dimension, NEW.category AS key, NEW.category_label AS label
        UNION ALL SELECT 'value_orientation', coalesce(NEW.value_orientation, 'none'),
                         coalesce(NEW.value_orientation, 'none')
        UNION ALL SELECT 'severity', coalesce(NEW.severity, 'unrated'), coalesce(NEW.severity, 'unrated')
        UNION ALL SELECT 'mood', coalesce(NEW.mood, 'unrated'), coalesce(NEW.mood, 'unrated')
        UNION ALL SELECT 'channel', NEW.kind, NEW.kind
        UNION ALL SELECT 'language', NEW.language, NEW.language
        UNION ALL SELECT 'outcome', value, value FROM json_each(NEW.outcomes)
    ) AS counted
    WHERE true
    ON CONFLICT (merchant_id, day, site_id, dimension, key)
    DO UPDATE SET complaints = complaints + 1, label = excluded.label;
END;

CREATE TRIGGER insights_daily_uncount AFTER UPDATE OF
    site_id, created_at, spam, category, category_label, value_orientation, severity, mood,
    outcomes, kind, language ON complaints
WHEN OLD.spam IS NULL
BEGIN
    UPDATE insights_daily SET complaints = complaints - 1
    WHERE merchant_id = (SELECT merchant_id FROM sites WHERE id = OLD.site_id)
      AND day = OLD.created_at / 86400000 AND site_id = OLD.site_id
      AND (dimension, key) IN (
          SELECT 'category', OLD.category
          UNION ALL SELECT 'value_orientation', coalesce(OLD.value_orientation, 'none')
          UNION ALL SELECT 'severity', coalesce(OLD.severity, 'unrated')
          UNION ALL SELECT 'mood', coalesce(OLD.mood, 'unrated')
          UNION ALL SELECT 'channel', OLD.kind
          UNION ALL SELECT 'language', OLD.language
          UNION ALL SELECT 'outcome', value FROM json_each(OLD.outcomes));
END;

CREATE TRIGGER insights_daily_recount AFTER UPDATE OF
    site_id, created_at, spam, category, category_label, value_orientation, severity, mood,
    outcomes, kind, language ON complaints
WHEN NEW.spam IS NULL
BEGIN
    INSERT INTO insights_daily (merchant_id, day, site_id, dimension, key, label, complaints)
    SELECT (SELECT merchant_id FROM sites WHERE id = NEW.site_id), NEW.created_at / 86400000,
           NEW.site_id, counted.dimension, counted.key, counted.label, 1
    FROM (
        SELECT 'category' AS dimension, NEW.category AS key, NEW.category_label AS label
        UNION ALL SELECT 'value_orientation', coalesce(NEW.value_orientation, 'none'),
                         coalesce(NEW.value_orientation, 'none')
        UNION ALL SELECT 'severity', coalesce(NEW.severity, 'unrated'), coalesce(NEW.severity, 'unrated')
        UNION ALL SELECT 'mood', coalesce(NEW.mood, 'unrated'), coalesce(NEW.mood, 'unrated')
        UNION ALL SELECT 'channel', NEW.kind, NEW.kind
        UNION ALL SELECT 'language', NEW.language, NEW.language
        UNION ALL SELECT 'outcome', value, value FROM json_each(NEW.outcomes)
    ) AS counted
    WHERE true
    ON CONFLICT (merchant_id, day, site_id, dimension, key)
    DO UPDATE SET complaints = complaints + 1, label = excluded.label;
END;

CREATE TRIGGER insights_daily_delete AFTER DELETE ON complaints
WHEN OLD.spam IS NULL
BEGIN
    UPDATE insights_daily SET complaints = complaints - 1
    WHERE merchant_id = (SELECT merchant_id FROM sites WHERE id = OLD.site_id)
      AND day = OLD.created_at / 86400000 AND site_id = OLD.site_id
      AND (dimension, key) IN (
          SELECT 'category', OLD.category
          UNION ALL SELECT 'value_orientation', coalesce(OLD.value_orientation, 'none')
          UNION ALL SELECT 'severity', coalesce(OLD.severity, 'unrated')
          UNION ALL SELECT 'mood', coalesce(OLD.mood, 'unrated')
          UNION ALL SELECT 'channel', OLD.kind
          UNION ALL SELECT 'language', OLD.language
          UNION ALL SELECT 'outcome', value FROM json_each(OLD.outcomes));
END;

-- The complaints stored before this migration.
INSERT INTO insights_daily (merchant_id, day, site_id, dimension, key, label, complaints)
SELECT s.merchant_id, counted.day, counted.site_id, counted.dimension, counted.key,
       max(counted.label), count(*)
FROM (
    SELECT created_at / 86400000 AS day, site_id, 'category' AS dimension, category AS key,
           category_label AS label
    FROM complaints WHERE spam IS NULL
    UNION ALL SELECT created_at / 86400000, site_id, 'value_orientation',
           coalesce(value_orientation, 'none'), coalesce(value_orientation, 'none')
    FROM complaints WHERE spam IS NULL
    UNION ALL SELECT created_at / 86400000, site_id, 'severity',
           coalesce(severity, 'unrated'), coalesce(severity, 'unrated')
    FROM complaints WHERE spam IS NULL
    UNION ALL SELECT created_at / 86400000, site_id, 'mood',
           coalesce(mood, 'unrated'), coalesce(mood, 'unrated')
    FROM complaints WHERE spam IS NULL
    UNION ALL SELECT created_at / 86400000, site_id, 'channel', kind, kind
    FROM complaints WHERE spam IS NULL
    UNION ALL SELECT created_at / 86400000, site_id, 'language', language, language
    FROM complaints WHERE spam IS NULL
    UNION ALL SELECT created_at / 86400000, site_id, 'outcome', value, value
    FROM complaints, json_each(complaints.outcomes) WHERE spam IS NULL
) AS counted JOIN sites s ON s.id = counted.site_id
GROUP BY s.merchant_id, counted.day, counted.site_id, counted.dimension, counted.key;
