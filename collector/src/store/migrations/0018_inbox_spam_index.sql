-- The inbox's filters at a million complaints (issue 8).
--
-- The open part of the list reads complaints_open_order alone, but its
-- `spam IS NULL` (0014_spam_folder.sql) names a column the index did not
-- hold, so every open complaint of the merchant was read from the table
-- again; a filter on category, mood, language or value orientation did the
-- same. The index now holds them all: the open part of any filter but
-- outcome and tag is computed from the index alone. It stays small (the
-- open complaints only).
DROP INDEX complaints_open_order;
CREATE INDEX complaints_open_order ON complaints(
    merchant_id, priority, created_at, first_response_at, first_response_due_at,
    resolution_due_at, status, site_id, assignee_user_id, severity,
    category, mood, language, value_orientation, spam
) WHERE status NOT IN ('resolved', 'closed') AND spam IS NULL;

-- The finished part of the list is newest first and stops after a page,
-- but it walked complaints_merchant_created reading every row to check the
-- filter: for a rare combination ("one site, serious, unassigned": one
-- finished complaint in seventy) that was some 2 000 row reads, 20 ms at a
-- million. This partial index holds the finished complaints in that order
-- with the same filter columns, so the walk reads index entries only and
-- the page's rows alone are read in full. Intake does not write it (a new
-- complaint is open); finishing a complaint adds its entry.
CREATE INDEX complaints_finished_order ON complaints(
    merchant_id, created_at DESC, id DESC, status, site_id, assignee_user_id, severity,
    category, mood, language, value_orientation, spam
) WHERE status IN ('resolved', 'closed') AND spam IS NULL;
