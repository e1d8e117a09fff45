-- Insights (issue 7). The Monday summary counts the survey answers received
-- in a week, whenever their complaint came in: without this index that
-- query reads every complaint of the merchant (EXPLAIN QUERY PLAN: SEARCH c
-- USING COVERING INDEX complaints_merchant_created (merchant_id=?)); with
-- it, only the week's answers. Every other insights query is served by
-- complaints_merchant_created, complaints_merchant_status and the primary
-- keys of complaint_surveys and complaint_events.
CREATE INDEX complaint_surveys_updated ON complaint_surveys(updated_at);
