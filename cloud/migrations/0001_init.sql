-- 0001_init.sql — the cloud's first schema: practices, agent tokens, import
-- jobs with their items and batches, and patients.
--
-- Every table that holds a practice's rows has ROW LEVEL SECURITY enabled and
-- forced, with one policy comparing practice_id to the request's
-- app.practice_id (set by `serve` with set_config(..., true) inside each
-- transaction). Without that setting (or with an empty one) the policy sees
-- NULL and hides every row. practices and agent_tokens carry a second policy
-- for the owner role (the role that runs this migration), which administers
-- them from the CLI and through dsc_token_practice(); the data tables have no
-- such escape.
--
-- Runs inside one transaction (dentsync-cloud migrate).

CREATE TABLE practices (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE,
    timezone   text NOT NULL DEFAULT 'UTC',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id  uuid NOT NULL REFERENCES practices (id),
    token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX agent_tokens_practice ON agent_tokens (practice_id);

CREATE TABLE import_jobs (
    id              uuid PRIMARY KEY,
    practice_id     uuid NOT NULL REFERENCES practices (id),
    filename        text NOT NULL,
    import_type     text NOT NULL,
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'completed', 'completed_with_errors')),
    total_rows      integer NOT NULL DEFAULT 0 CHECK (total_rows >= 0),
    processed_rows  integer NOT NULL DEFAULT 0,
    successful_rows integer NOT NULL DEFAULT 0,
    failed_rows     integer NOT NULL DEFAULT 0,
    sha256          text NOT NULL,
    template_id     text,
    agent_id        uuid,
    agent_version   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz
);
CREATE INDEX import_jobs_practice ON import_jobs (practice_id, created_at);

CREATE TABLE import_job_items (
    id                bigserial PRIMARY KEY,
    job_id            uuid NOT NULL REFERENCES import_jobs (id),
    practice_id       uuid NOT NULL REFERENCES practices (id),
    row_number        integer NOT NULL CHECK (row_number >= 1),
    key               text NOT NULL,
    fingerprint       text NOT NULL,
    raw_data          jsonb,
    processed_data    jsonb,
    status            text NOT NULL
                      CHECK (status IN ('created', 'updated', 'unchanged', 'rejected')),
    error_code        text,
    error_message     text,
    created_record_id uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, row_number)
);

CREATE TABLE import_batches (
    job_id         uuid NOT NULL REFERENCES import_jobs (id),
    seq            integer NOT NULL CHECK (seq >= 1),
    practice_id    uuid NOT NULL REFERENCES practices (id),
    request_digest text NOT NULL CHECK (request_digest ~ '^[0-9a-f]{64}$'),
    response       jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE patients (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id          uuid NOT NULL REFERENCES practices (id),
    source_key           text NOT NULL,
    fingerprint          text NOT NULL,
    external_id          text,
    first_name           text,
    last_name            text,
    middle_name          text,
    preferred_name       text,
    date_of_birth        date,
    gender               text,
    email                text,
    phone_mobile         text,
    phone_home           text,
    phone_work           text,
    address_line1        text,
    address_line2        text,
    city                 text,
    state                text,
    postal_code          text,
    country              text,
    status               text,
    provider_external_id text,
    first_visit_date     date,
    last_visit_date      date,
    notes                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (practice_id, source_key)
);
CREATE INDEX patients_external_id ON patients (practice_id, external_id);

-- Recomputes a job's counters from its items. Runs with the caller's rights,
-- so row-level security limits it to the caller's practice.
CREATE FUNCTION update_import_job_progress(job uuid) RETURNS void
LANGUAGE sql AS $$
    UPDATE import_jobs j
       SET processed_rows  = c.processed,
           successful_rows = c.successful,
           failed_rows     = c.failed,
           started_at      = CASE WHEN c.processed > 0
                                  THEN coalesce(j.started_at, now())
                                  ELSE j.started_at END
      FROM (SELECT count(*)::integer AS processed,
                   (count(*) FILTER (WHERE status IN ('created', 'updated', 'unchanged')))::integer
                       AS successful,
                   (count(*) FILTER (WHERE status NOT IN ('created', 'updated', 'unchanged')))::integer
                       AS failed
              FROM import_job_items
             WHERE job_id = job) c
     WHERE j.id = job;
$$;

-- The practice of a live token, looked up by the SHA-256 (lowercase hex) of
-- the token; NULL when unknown or revoked. SECURITY DEFINER so the
-- application role needs no access to agent_tokens at all.
CREATE FUNCTION dsc_token_practice(token_sha256 text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.practice_id
      FROM public.agent_tokens t
     WHERE t.token_sha256 = dsc_token_practice.token_sha256
       AND t.revoked_at IS NULL;
$$;
REVOKE ALL ON FUNCTION dsc_token_practice(text) FROM PUBLIC;

-- Row-level security.
ALTER TABLE practices ENABLE ROW LEVEL SECURITY;
ALTER TABLE practices FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON practices
    USING (id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (id = nullif(current_setting('app.practice_id', true), '')::uuid);
CREATE POLICY owner_admin ON practices TO CURRENT_USER USING (true) WITH CHECK (true);

ALTER TABLE agent_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON agent_tokens
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);
CREATE POLICY owner_admin ON agent_tokens TO CURRENT_USER USING (true) WITH CHECK (true);

ALTER TABLE import_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE import_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON import_jobs
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

ALTER TABLE import_job_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE import_job_items FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON import_job_items
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

ALTER TABLE import_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE import_batches FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON import_batches
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
ALTER TABLE patients FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON patients
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);
