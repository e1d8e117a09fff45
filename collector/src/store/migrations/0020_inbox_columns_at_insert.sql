-- A new complaint's inbox columns are written by its insert (issue 8).
--
-- `complaints_inbox_insert` derived them (merchant, priority, the two due
-- dates, updated_at) by updating the row it had just inserted: a second
-- write of every complaint, which rewrote the row and moved its entries in
-- every inbox index keyed on those columns, on the writer thread that
-- every acknowledgement waits for. Intake's insert (`store/complaints.rs`,
-- `insert`) now writes them itself, with the same expressions, and the
-- trigger only records the `received` event.
--
-- An insert that leaves `merchant_id` out (a tool, an older build's code,
-- a test that writes rows by hand) still gets the columns derived as
-- before, by `complaints_inbox_derive`. A test holds intake's expressions
-- to this trigger's for every urgency, severity and mood, with and without
-- a site's own targets (`store/complaints.rs`).
DROP TRIGGER complaints_inbox_insert;
CREATE TRIGGER complaints_inbox_insert AFTER INSERT ON complaints
BEGIN
    INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
    VALUES (NEW.id, NEW.created_at, NULL, 'received', 1, NULL, '{}');
END;

CREATE TRIGGER complaints_inbox_derive AFTER INSERT ON complaints
WHEN NEW.merchant_id IS NULL
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
END;
