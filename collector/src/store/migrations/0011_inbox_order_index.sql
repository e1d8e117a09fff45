-- The inbox at a million complaints (issue 8). The list's default order
-- puts open complaints first by a score computed at read time; this partial
-- index holds every column that score and the list's join need, plus the
-- two most used filters (assignee, severity), for open complaints only, so
-- the open part of a page is computed from the index alone (no row reads)
-- over the merchant's open complaints, not all of them. Finished complaints
-- follow in `created_at` order from complaints_merchant_created.
CREATE INDEX complaints_open_order ON complaints(
    merchant_id, priority, created_at, first_response_at, first_response_due_at,
    resolution_due_at, status, site_id, assignee_user_id, severity
) WHERE status NOT IN ('resolved', 'closed');
