-- 0007_job_binding.sql — how the agent read the file of a job.
--
-- import_jobs.binding is the optional "binding" member of POST /v1/jobs
-- (docs/protocol.md): which header column fed which canonical field, and
-- whether the agent's template or a synonym chose it; header and field
-- names only, never a value. NULL when the agent did not send it (an older
-- agent).
ALTER TABLE import_jobs ADD COLUMN binding jsonb;
