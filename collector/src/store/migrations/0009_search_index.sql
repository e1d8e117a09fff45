-- The full-text index leaves this database (issue 8). Tokenizing every
-- description with the trigram tokenizer was most of the writer's work, on
-- the thread that must answer receipts. The index is derived data now: it
-- lives in its own file next to this one (`<database>-search`), kept by the
-- indexer thread (`store/search.rs`), which reads new complaints and
-- replies from here after they commit and builds the index from scratch
-- when that file is missing.

DROP TRIGGER complaint_events_text;

-- The trigger of 0008_inbox_work.sql without its last statement, the
-- insert into complaint_text. Everything else is unchanged.
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
END;

DROP TABLE complaint_text;

-- Complaints the shopper deleted, for the indexer to remove from the search
-- file. Written in the deletion's own transaction (`store/shopper.rs`); the
-- indexer keeps its own high-water mark over `id`, so a deletion is never
-- missed, even across a crash. Holds ids only, no text.
CREATE TABLE search_forget (
    id            INTEGER PRIMARY KEY,
    complaint_id  INTEGER NOT NULL
);
