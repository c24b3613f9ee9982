-- 0011_item_key.sql — an item is named by its practice, job and row.
--
-- import_job_items kept a surrogate id (bigserial, 0001) as its primary key,
-- (practice_id, id) since 0005, beside the unique (practice_id, job_id,
-- row_number) of 0004. No statement reads the id: every one names an item
-- by its job and row (the batch path's new-rows check and failed-row
-- details, the job's item listing). Each row of a batch still drew a number
-- from the sequence and was written into both indexes.
--
-- Now (practice_id, job_id, row_number) is the primary key and the id is
-- gone: one index written per item, eight bytes less per row. practice_id
-- stays first, so the table distributes by practice as before
-- (tests/sql/distribution.sql). The new key's index is built over the
-- whole table while the migration holds it: on a large table the
-- migration takes that long.
--
-- Runs inside one transaction (dentsync-cloud migrate).

ALTER TABLE import_job_items
    DROP CONSTRAINT import_job_items_pkey,
    DROP CONSTRAINT import_job_items_job_row,
    ADD CONSTRAINT import_job_items_pkey PRIMARY KEY (practice_id, job_id, row_number);
ALTER TABLE import_job_items DROP COLUMN id;
