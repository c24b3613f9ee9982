-- 0004_job_ids_per_practice.sql — a job id is unique within its practice,
-- not across practices.
--
-- The agent chooses its job ids. With id alone as the key, a practice that
-- created a job with another practice's id got 409 JOB_CONFLICT ("job id
-- already in use") where an unused id gets 201: one practice could learn
-- that an id exists elsewhere, and could block an id another practice had
-- not used yet. Keyed by (practice_id, id), the two practices' jobs are
-- unrelated rows and row-level security keeps each out of the other's
-- sight, so creating, reading and sending batches behave as for any new
-- id. The items and batches of a job point at (practice_id, job_id), and
-- their own keys lead with practice_id.
--
-- Every statement of the server runs as the application role with
-- app.practice_id set, under the practice_isolation policies, so a lookup
-- by job id alone (dsc_ingest_batch, update_import_job_progress, the
-- handlers) sees the one job of the request's practice.

ALTER TABLE import_job_items DROP CONSTRAINT import_job_items_job_fkey;
ALTER TABLE import_batches DROP CONSTRAINT import_batches_job_id_fkey;
ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_id_practice;
ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_pkey;
ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_pkey PRIMARY KEY (practice_id, id);

ALTER TABLE import_job_items
    DROP CONSTRAINT import_job_items_job_id_row_number_key,
    ADD CONSTRAINT import_job_items_job_row UNIQUE (practice_id, job_id, row_number),
    ADD CONSTRAINT import_job_items_job_fkey FOREIGN KEY (practice_id, job_id)
        REFERENCES import_jobs (practice_id, id);

ALTER TABLE import_batches
    DROP CONSTRAINT import_batches_pkey,
    ADD CONSTRAINT import_batches_pkey PRIMARY KEY (practice_id, job_id, seq),
    ADD CONSTRAINT import_batches_job_fkey FOREIGN KEY (practice_id, job_id)
        REFERENCES import_jobs (practice_id, id);

DROP INDEX import_job_items_status;
CREATE INDEX import_job_items_status ON import_job_items (practice_id, job_id, status, row_number);
