-- The inbox's spam folder (issue 9).
--
-- Staff may mark a complaint that got through as spam ('staff'), and the
-- timeline learns two kinds: 'marked_spam' (staff moved the complaint to the
-- spam folder) and 'spam_restored' (staff said it is not spam; routing and
-- the acknowledgement it was spared then run). Only CHECK lists grow, which
-- every stored row already satisfies, so this loosens them in place as
-- 0010_escalation_clusters.sql does.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'spam IN (''honeypot'', ''too_fast'')',
                       'spam IN (''honeypot'', ''too_fast'', ''staff'')')
WHERE type = 'table' AND name = 'complaints';
UPDATE sqlite_schema
SET sql = replace(sql, '''escalated'', ''clustered''))',
                       '''escalated'', ''clustered'', ''marked_spam'', ''spam_restored''))')
WHERE type = 'table' AND name = 'complaint_events';
PRAGMA writable_schema = RESET;

-- Suspected spam is out of the inbox order until restored. The open part of
-- the list reads this partial index alone (0011_inbox_order_index.sql); it
-- now leaves spam out too, so the list's `spam IS NULL` needs no row reads.
DROP INDEX complaints_open_order;
CREATE INDEX complaints_open_order ON complaints(
    merchant_id, priority, created_at, first_response_at, first_response_due_at,
    resolution_due_at, status, site_id, assignee_user_id, severity
) WHERE status NOT IN ('resolved', 'closed') AND spam IS NULL;

-- The spam folder: a merchant's suspected spam, newest first. Spam is the
-- few, so this stays small however large the inbox grows.
CREATE INDEX complaints_spam_folder ON complaints(merchant_id, created_at DESC, id DESC)
    WHERE spam IS NOT NULL;
