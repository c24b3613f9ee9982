-- 0007_item_errors.sql — every error of an item, and the original columns
-- of the rows that did not go through.
--
--  - errors: a JSON array of {"field","code","message"} (field names, codes
--    and fixed messages; never a value): all the problems the rule book
--    finds in a rejected record, else the one problem the ingest found
--    (needs_review, conflict, a rejection for a scheduling conflict).
--    error_code and error_message keep the first, as before.
--  - raw_data (since 0001) now holds the original text of the mapped
--    columns ({"Column header": "text", ...}, as the agent sends them) for
--    the items that are rejected, conflict or needs_review only; NULL for
--    the others.
--
-- Both are written by the server after dsc_ingest_batch(), in the same
-- transaction (cloud/batch.c). The table is under the practice policy of
-- 0001: these columns are the practice's alone.
ALTER TABLE import_job_items ADD COLUMN errors jsonb
    CHECK (errors IS NULL OR jsonb_typeof(errors) = 'array');
