-- 0002_records.sql — appointments, treatments and payments beside patients;
-- soft deletion; saved import templates; agent heartbeats; the practice's
-- conflict policy; the matching indexes; and dsc_ingest_batch(), which
-- applies one batch of rows as a handful of set-based statements.
--
-- Every new table holds one practice's rows and has ROW LEVEL SECURITY
-- enabled and forced with the same policy as 0001's tables. Records are
-- never removed: a deletion sets deleted_at, and the application role has
-- no DELETE privilege at all.
--
-- Runs inside one transaction (dentsync-cloud migrate).

ALTER TABLE practices ADD COLUMN conflict_policy text NOT NULL DEFAULT 'flag'
    CHECK (conflict_policy IN ('flag', 'reject'));

-- --- patients: soft deletion and the matching indexes ----------------------

ALTER TABLE patients ADD COLUMN deleted_at timestamptz;
CREATE INDEX patients_email ON patients (practice_id, lower(email))
    WHERE email IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX patients_phone_mobile ON patients (practice_id, phone_mobile)
    WHERE phone_mobile IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX patients_phone_home ON patients (practice_id, phone_home)
    WHERE phone_home IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX patients_name_dob ON patients (practice_id, lower(last_name), lower(first_name),
                                            date_of_birth)
    WHERE deleted_at IS NULL;
CREATE INDEX patients_listing ON patients (practice_id, last_name, first_name);

-- --- items: the statuses of the full protocol ------------------------------

ALTER TABLE import_job_items DROP CONSTRAINT import_job_items_status_check;
ALTER TABLE import_job_items ADD CONSTRAINT import_job_items_status_check
    CHECK (status IN ('created', 'updated', 'unchanged', 'deleted', 'conflict', 'needs_review',
                      'rejected'));
ALTER TABLE import_job_items ADD COLUMN candidates uuid[];
ALTER TABLE import_job_items ADD COLUMN conflict_with uuid;
CREATE INDEX import_job_items_status ON import_job_items (job_id, status, row_number);
CREATE INDEX import_jobs_listing ON import_jobs (practice_id, created_at DESC, id DESC);

-- --- the record tables -------------------------------------------------------

CREATE TABLE appointments (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id         uuid NOT NULL REFERENCES practices (id),
    source_key          text NOT NULL,
    fingerprint         text NOT NULL,
    external_id         text,
    patient_id          uuid NOT NULL REFERENCES patients (id),
    patient_external_id text,
    start_at            timestamptz NOT NULL,
    end_at              timestamptz NOT NULL,
    duration_minutes    integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
    status              text NOT NULL
                        CHECK (status IN ('scheduled', 'confirmed', 'completed', 'cancelled',
                                          'no_show', 'unscheduled', 'planned', 'tentative')),
    provider            text,
    operatory           text,
    appointment_type    text,
    notes               text,
    conflict_with       uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    CHECK (end_at > start_at AND end_at <= start_at + interval '24 hours'),
    UNIQUE (practice_id, source_key)
);
CREATE UNIQUE INDEX appointments_external_id ON appointments (practice_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX appointments_listing ON appointments (practice_id, start_at);
CREATE INDEX appointments_patient ON appointments (patient_id);
-- Conflict detection: appointments last at most 24 hours, so an overlap
-- search is a bounded range scan on start_at.
CREATE INDEX appointments_provider_slot ON appointments (practice_id, provider, start_at)
    WHERE provider IS NOT NULL AND deleted_at IS NULL AND status <> 'cancelled';
CREATE INDEX appointments_operatory_slot ON appointments (practice_id, operatory, start_at)
    WHERE operatory IS NOT NULL AND deleted_at IS NULL AND status <> 'cancelled';

CREATE TABLE treatments (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id             uuid NOT NULL REFERENCES practices (id),
    source_key              text NOT NULL,
    fingerprint             text NOT NULL,
    external_id             text,
    patient_id              uuid NOT NULL REFERENCES patients (id),
    patient_external_id     text,
    procedure_code          text NOT NULL CHECK (procedure_code ~ '^D[0-9]{4}$'),
    description             text,
    tooth                   text,
    surface                 text,
    status                  text NOT NULL
                            CHECK (status IN ('planned', 'completed', 'existing', 'referred',
                                              'declined', 'cancelled')),
    fee_cents               integer CHECK (fee_cents >= 0),
    service_date            date,
    provider                text,
    appointment_external_id text,
    appointment_id          uuid REFERENCES appointments (id),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz,
    UNIQUE (practice_id, source_key)
);
CREATE UNIQUE INDEX treatments_external_id ON treatments (practice_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX treatments_listing ON treatments (practice_id, service_date);
CREATE INDEX treatments_patient ON treatments (patient_id);

CREATE TABLE payments (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id         uuid NOT NULL REFERENCES practices (id),
    source_key          text NOT NULL,
    fingerprint         text NOT NULL,
    external_id         text,
    patient_id          uuid NOT NULL REFERENCES patients (id),
    patient_external_id text,
    date                date NOT NULL,
    amount_cents        integer NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('payment', 'refund', 'adjustment', 'charge')),
    method              text CHECK (method IN ('cash', 'check', 'card', 'insurance', 'other')),
    reference           text,
    description         text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    UNIQUE (practice_id, source_key)
);
CREATE UNIQUE INDEX payments_external_id ON payments (practice_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX payments_listing ON payments (practice_id, date);
CREATE INDEX payments_patient ON payments (patient_id);

CREATE TABLE import_templates (
    practice_id      uuid NOT NULL REFERENCES practices (id),
    id               text NOT NULL CHECK (id ~ '^[A-Za-z0-9._-]{1,200}$'),
    name             text NOT NULL,
    import_type      text NOT NULL
                     CHECK (import_type IN ('patients', 'appointments', 'treatments', 'financial')),
    mapping_config   jsonb NOT NULL,
    validation_rules jsonb,
    usage_count      integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, id)
);

-- One row per agent: its latest heartbeat.
CREATE TABLE agent_heartbeats (
    practice_id                uuid NOT NULL REFERENCES practices (id),
    agent_id                   uuid NOT NULL,
    version                    text,
    queue_depth                integer NOT NULL DEFAULT 0,
    oldest_pending_age_seconds integer,
    last_error_code            text,
    first_seen_at              timestamptz NOT NULL DEFAULT now(),
    received_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, agent_id)
);

-- --- row-level security on the new tables ----------------------------------

ALTER TABLE appointments ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointments FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON appointments
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

ALTER TABLE treatments ENABLE ROW LEVEL SECURITY;
ALTER TABLE treatments FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON treatments
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE payments FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON payments
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

ALTER TABLE import_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE import_templates FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON import_templates
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

ALTER TABLE agent_heartbeats ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_heartbeats FORCE ROW LEVEL SECURITY;
CREATE POLICY practice_isolation ON agent_heartbeats
    USING (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid)
    WITH CHECK (practice_id = nullif(current_setting('app.practice_id', true), '')::uuid);

-- --- progress: deleted rows are successful ----------------------------------

CREATE OR REPLACE FUNCTION update_import_job_progress(job uuid) RETURNS void
LANGUAGE sql AS $$
    UPDATE import_jobs j
       SET processed_rows  = c.processed,
           successful_rows = c.successful,
           failed_rows     = c.processed - c.successful,
           started_at      = CASE WHEN c.processed > 0
                                  THEN coalesce(j.started_at, now())
                                  ELSE j.started_at END
      FROM (SELECT count(*)::integer AS processed,
                   (count(*) FILTER (WHERE status IN ('created', 'updated', 'unchanged',
                                                      'deleted')))::integer AS successful
              FROM import_job_items
             WHERE job_id = job) c
     WHERE j.id = job;
$$;

-- --- batch ingest --------------------------------------------------------------
--
-- dsc_ingest_batch(job, seq, digest, rows) applies one batch of the job and
-- stores it with its answer, which it returns as text. rows is a jsonb
-- array of {"row", "key", "fingerprint", "op", "record", "raw",
-- "error_code", "error_message"}: the server's C code has validated every
-- record already and sets error_code/error_message on the rows it rejects.
-- It runs with the caller's rights (row-level security applies) and the
-- practice is app.practice_id. Replay and digest checks are the caller's.
--
-- The rows go into a temporary stage table; then, over the whole stage:
--   1. rows of the same record (same external_id, else same key) form a
--      group; the group's last row is the one stored, its first row gets
--      the outcome against the database, the others updated/unchanged
--      against the row before them;
--   2. the existing record: by key, else by external_id;
--   3. patients without one are matched: external_id -> email -> mobile or
--      home phone -> last + first name + date of birth; the first rule with
--      a candidate decides; one candidate is the record, several are
--      needs_review (AMBIGUOUS_PATIENT) — never a silent merge. A candidate
--      with another external_id, or (for email and phone) another date of
--      birth, is not the same patient;
--   4. other types resolve their patient the same way from
--      patient_external_id, else the patient_* keys;
--   5. two groups that would store the same record, or two new patients
--      that match each other, are one record: the later is needs_review
--      (POSSIBLE_DUPLICATE);
--   6. appointments overlapping a live, non-cancelled one of the same
--      provider or operatory (in the database or earlier in the batch) are
--      a conflict: stored and reported (policy flag) or rejected (reject);
--   7. inserts, updates, deletions, items, counters and the stored answer.
-- A per-practice advisory lock serializes batches of one practice, so
-- matching and conflict detection see every earlier batch.

-- JIT is off for it: its statements are planned as expensive (correlated
-- subqueries over the stage) but run over at most 10 000 rows, where
-- compiling costs more than it saves.
CREATE FUNCTION dsc_ingest_batch(p_job uuid, p_seq integer, p_digest text, p_rows jsonb)
RETURNS text LANGUAGE plpgsql SET jit = off AS $fn$
DECLARE
    pr     uuid := nullif(current_setting('app.practice_id', true), '')::uuid;
    typ    text;
    tbl    text;
    policy text;
    answer text;
    r      record;
    c      uuid[];
BEGIN
    IF pr IS NULL THEN
        RAISE EXCEPTION 'app.practice_id is not set' USING ERRCODE = '42501';
    END IF;
    SELECT j.import_type INTO typ FROM import_jobs j WHERE j.id = p_job;
    IF typ IS NULL THEN
        RAISE EXCEPTION 'no such job' USING ERRCODE = 'P0002';
    END IF;
    SELECT p.conflict_policy INTO policy FROM practices p WHERE p.id = pr;
    tbl := CASE typ WHEN 'financial' THEN 'payments' ELSE typ END;
    PERFORM pg_advisory_xact_lock(7310, hashtext(pr::text));

    IF to_regclass('pg_temp.dsc_stage') IS NULL THEN
    CREATE TEMP TABLE dsc_stage (
        rn            integer PRIMARY KEY,
        key           text NOT NULL,
        fp            text NOT NULL,
        op            text NOT NULL,
        rec           jsonb,
        raw           jsonb,
        status        text,
        error_code    text,
        error_message text,
        record_id     uuid,
        candidates    uuid[],
        conflict_with uuid,
        ext           text,     -- the record's external_id
        grp           text,     -- the record's identity inside the batch
        leader        integer,  -- the group's first row
        winner        integer,  -- the group's last row: the one stored
        prev_fp       text,     -- the fingerprint of the row before in the group
        action        text,     -- 'insert' or 'update' (winners)
        by_key        boolean,  -- found by key or external_id, not by matching
        old_fp        text,
        old_deleted   boolean,
        patient_id    uuid,
        m_ext         text,     -- match keys: of the patient, or of the reference
        m_email       text,
        m_phone1      text,
        m_phone2      text,
        m_last        text,
        m_first       text,
        m_dob         date,
        a_start       timestamptz,
        a_lo          timestamptz, -- a_start - 24 hours: the earliest start that can overlap
        a_end         timestamptz,
        a_status      text,
        a_provider    text,
        a_operatory   text
    ) ON COMMIT DELETE ROWS;
    CREATE INDEX dsc_stage_key ON dsc_stage (key);
    CREATE INDEX dsc_stage_record ON dsc_stage (record_id);
    CREATE INDEX dsc_stage_email ON dsc_stage (m_email);
    CREATE INDEX dsc_stage_phone1 ON dsc_stage (m_phone1);
    CREATE INDEX dsc_stage_phone2 ON dsc_stage (m_phone2);
    CREATE INDEX dsc_stage_name ON dsc_stage (m_last, m_first, m_dob);
    CREATE INDEX dsc_stage_provider ON dsc_stage (a_provider, a_start);
    CREATE INDEX dsc_stage_operatory ON dsc_stage (a_operatory, a_start);
    END IF;
    TRUNCATE dsc_stage;

    INSERT INTO dsc_stage (rn, key, fp, op, rec, raw, status, error_code, error_message, ext,
                           m_ext, m_email, m_phone1, m_phone2, m_last, m_first, m_dob,
                           a_start, a_lo, a_end, a_status, a_provider, a_operatory)
    SELECT x."row", x.key, x.fingerprint, coalesce(x.op, 'upsert'), x.record, x.raw,
           CASE WHEN x.error_code IS NOT NULL THEN 'rejected' END, x.error_code, x.error_message,
           v.ext, v.m_ext, v.m_email, v.m_phone1, v.m_phone2, v.m_last, v.m_first, v.m_dob,
           v.a_start, v.a_start - interval '24 hours',
           CASE WHEN v.a_start IS NOT NULL AND v.a_end IS NULL
                THEN v.a_start + make_interval(mins => (x.record->>'duration_minutes')::int)
                ELSE v.a_end END,
           v.a_status, v.a_provider, v.a_operatory
      FROM jsonb_to_recordset(p_rows) AS x("row" integer, key text, fingerprint text, op text,
                                           record jsonb, raw jsonb, error_code text,
                                           error_message text)
      CROSS JOIN LATERAL (
          SELECT nullif(x.record->>'external_id', '') AS ext,
                 CASE WHEN typ = 'patients' THEN nullif(x.record->>'external_id', '')
                      ELSE nullif(x.record->>'patient_external_id', '') END AS m_ext,
                 lower(nullif(x.record->>CASE WHEN typ = 'patients' THEN 'email'
                                              ELSE 'patient_email' END, '')) AS m_email,
                 nullif(x.record->>CASE WHEN typ = 'patients' THEN 'phone_mobile'
                                        ELSE 'patient_phone' END, '') AS m_phone1,
                 CASE WHEN typ = 'patients' THEN nullif(x.record->>'phone_home', '') END
                     AS m_phone2,
                 lower(nullif(x.record->>CASE WHEN typ = 'patients' THEN 'last_name'
                                              ELSE 'patient_last_name' END, '')) AS m_last,
                 lower(nullif(x.record->>CASE WHEN typ = 'patients' THEN 'first_name'
                                              ELSE 'patient_first_name' END, '')) AS m_first,
                 CASE WHEN x.error_code IS NULL THEN
                     nullif(x.record->>CASE WHEN typ = 'patients' THEN 'date_of_birth'
                                            ELSE 'patient_date_of_birth' END, '')::date
                 END AS m_dob,
                 CASE WHEN typ = 'appointments' AND x.error_code IS NULL
                           AND coalesce(x.op, 'upsert') = 'upsert'
                      THEN (x.record->>'start_at')::timestamptz END AS a_start,
                 CASE WHEN typ = 'appointments' AND x.error_code IS NULL
                           AND coalesce(x.op, 'upsert') = 'upsert'
                      THEN nullif(x.record->>'end_at', '')::timestamptz END AS a_end,
                 x.record->>'status' AS a_status,
                 nullif(x.record->>'provider', '') AS a_provider,
                 nullif(x.record->>'operatory', '') AS a_operatory
      ) v;
    ANALYZE dsc_stage;

    -- 1. Groups.
    UPDATE dsc_stage s
       SET grp = g.grp, leader = g.leader, winner = g.winner, prev_fp = g.prev_fp
      FROM (SELECT rn, grp,
                   min(rn) OVER (PARTITION BY grp) AS leader,
                   max(rn) OVER (PARTITION BY grp) AS winner,
                   lag(fp) OVER (PARTITION BY grp ORDER BY rn) AS prev_fp
              FROM (SELECT rn, fp, coalesce('e:' || ext, 'k:' || key) AS grp
                      FROM dsc_stage
                     WHERE op = 'upsert' AND status IS NULL) q) g
     WHERE s.rn = g.rn;

    -- 2. The existing record of each winner: by key, else by external_id
    --    (patients: by external_id only when it is the one match, below).
    EXECUTE format(
        'UPDATE dsc_stage s SET record_id = t.id, old_fp = t.fingerprint,'
        ' old_deleted = t.deleted_at IS NOT NULL, by_key = true, action = ''update'''
        '  FROM %I t WHERE t.practice_id = $1 AND t.source_key = s.key'
        '   AND s.rn = s.winner AND s.status IS NULL', tbl) USING pr;
    IF typ <> 'patients' THEN
        EXECUTE format(
            'UPDATE dsc_stage s SET record_id = t.id, old_fp = t.fingerprint,'
            ' old_deleted = t.deleted_at IS NOT NULL, by_key = true, action = ''update'''
            '  FROM %I t WHERE t.practice_id = $1 AND t.external_id = s.ext'
            '   AND s.rn = s.winner AND s.status IS NULL AND s.record_id IS NULL', tbl) USING pr;
    END IF;

    -- 3./4. Patient matching: for new patients, and for every record of
    --       another type (its patient).
    UPDATE dsc_stage s SET candidates = m.c
      FROM (SELECT q.rn, coalesce(
                nullif(ARRAY(SELECT p.id FROM patients p
                              WHERE p.practice_id = pr AND p.deleted_at IS NULL
                                AND p.external_id = q.m_ext ORDER BY p.id), '{}'),
                nullif(ARRAY(SELECT p.id FROM patients p
                              WHERE p.practice_id = pr AND p.deleted_at IS NULL
                                AND lower(p.email) = q.m_email
                                AND (typ <> 'patients' OR q.ext IS NULL OR p.external_id IS NULL
                                     OR p.external_id = q.ext)
                                AND (q.m_dob IS NULL OR p.date_of_birth IS NULL
                                     OR p.date_of_birth = q.m_dob)
                              ORDER BY p.id), '{}'),
                nullif(ARRAY(SELECT p.id FROM patients p
                              WHERE p.practice_id = pr AND p.deleted_at IS NULL
                                AND (p.phone_mobile IN (q.m_phone1, q.m_phone2)
                                     OR p.phone_home IN (q.m_phone1, q.m_phone2))
                                AND (typ <> 'patients' OR q.ext IS NULL OR p.external_id IS NULL
                                     OR p.external_id = q.ext)
                                AND (q.m_dob IS NULL OR p.date_of_birth IS NULL
                                     OR p.date_of_birth = q.m_dob)
                              ORDER BY p.id), '{}'),
                nullif(ARRAY(SELECT p.id FROM patients p
                              WHERE p.practice_id = pr AND p.deleted_at IS NULL
                                AND lower(p.last_name) = q.m_last
                                AND lower(p.first_name) = q.m_first
                                AND p.date_of_birth = q.m_dob
                                AND (typ <> 'patients' OR q.ext IS NULL OR p.external_id IS NULL
                                     OR p.external_id = q.ext)
                              ORDER BY p.id), '{}'),
                '{}') AS c
              FROM dsc_stage q
             WHERE q.rn = q.winner AND q.status IS NULL
               AND (typ <> 'patients' OR q.record_id IS NULL)) m
     WHERE s.rn = m.rn;

    IF typ = 'patients' THEN
        UPDATE dsc_stage s
           SET record_id = p.id, old_fp = p.fingerprint, old_deleted = false, by_key = false,
               action = 'update', candidates = NULL
          FROM patients p
         WHERE cardinality(s.candidates) = 1 AND p.id = s.candidates[1];
        UPDATE dsc_stage
           SET status = 'needs_review', error_code = 'AMBIGUOUS_PATIENT',
               error_message = cardinality(candidates) || ' patients match'
         WHERE cardinality(candidates) > 1;
        UPDATE dsc_stage SET candidates = NULL WHERE cardinality(candidates) = 0;
    ELSE
        UPDATE dsc_stage SET patient_id = candidates[1], candidates = NULL
         WHERE cardinality(candidates) = 1;
        UPDATE dsc_stage
           SET status = 'needs_review', error_code = 'AMBIGUOUS_PATIENT',
               error_message = cardinality(candidates) || ' patients match'
         WHERE cardinality(candidates) > 1;
        UPDATE dsc_stage
           SET status = 'needs_review', error_code = 'PATIENT_NOT_FOUND', candidates = NULL,
               error_message = 'no patient matches the patient reference'
         WHERE cardinality(candidates) = 0;
    END IF;

    -- New records get their id now, so that rows can name each other.
    UPDATE dsc_stage SET action = 'insert', record_id = gen_random_uuid()
     WHERE rn = winner AND status IS NULL AND record_id IS NULL;

    -- 5. One record, one group: a record found by key goes first, then the
    --    lowest row; the others are possible duplicates.
    UPDATE dsc_stage s
       SET status = 'needs_review', error_code = 'POSSIBLE_DUPLICATE',
           error_message = 'the record of row ' || d.first_rn || ' of this batch matches',
           candidates = ARRAY[s.record_id], record_id = NULL, action = NULL
      FROM (SELECT rn, first_value(leader) OVER w AS first_rn, row_number() OVER w AS n
              FROM dsc_stage
             WHERE rn = winner AND status IS NULL AND action = 'update'
            WINDOW w AS (PARTITION BY record_id ORDER BY by_key DESC, leader)) d
     WHERE s.rn = d.rn AND d.n > 1;
    IF typ = 'patients' THEN
        -- Rare: handled row by row in row order, so that a row is held only
        -- for a record that is really created.
        FOR r IN
            SELECT s.rn FROM dsc_stage s
             WHERE s.action = 'insert' AND s.status IS NULL
               AND EXISTS (SELECT 1 FROM dsc_stage o
                            WHERE o.action = 'insert' AND o.status IS NULL
                              AND o.leader < s.leader
                              AND (o.ext IS NULL OR s.ext IS NULL OR o.ext = s.ext)
                              AND (((o.m_email = s.m_email
                                     OR o.m_phone1 IN (s.m_phone1, s.m_phone2)
                                     OR o.m_phone2 IN (s.m_phone1, s.m_phone2))
                                    AND (o.m_dob IS NULL OR s.m_dob IS NULL OR o.m_dob = s.m_dob))
                                   OR (o.m_last = s.m_last AND o.m_first = s.m_first
                                       AND o.m_dob = s.m_dob)))
             ORDER BY s.leader
        LOOP
            SELECT array_agg(o.record_id ORDER BY o.record_id) INTO c
              FROM dsc_stage o, dsc_stage s
             WHERE s.rn = r.rn AND o.action = 'insert' AND o.status IS NULL
               AND o.leader < s.leader
               AND (o.ext IS NULL OR s.ext IS NULL OR o.ext = s.ext)
                              AND (((o.m_email = s.m_email
                                     OR o.m_phone1 IN (s.m_phone1, s.m_phone2)
                                     OR o.m_phone2 IN (s.m_phone1, s.m_phone2))
                                    AND (o.m_dob IS NULL OR s.m_dob IS NULL OR o.m_dob = s.m_dob))
                                   OR (o.m_last = s.m_last AND o.m_first = s.m_first
                                       AND o.m_dob = s.m_dob));
            IF c IS NOT NULL THEN
                UPDATE dsc_stage
                   SET status = 'needs_review', error_code = 'POSSIBLE_DUPLICATE',
                       error_message = 'the record of another row of this batch matches',
                       candidates = c, record_id = NULL, action = NULL
                 WHERE rn = r.rn;
            END IF;
        END LOOP;
    END IF;

    -- 6. Scheduling conflicts, before anything is written: against the
    --    database (but the records this batch rewrites) and earlier rows.
    IF typ = 'appointments' THEN
        -- One range scan per rule and row: provider, then operatory
        -- (appointments last at most 24 hours, so start_at > a_lo bounds
        -- the scan from below).
        WITH k AS MATERIALIZED (
            SELECT q.rn, coalesce(
                (SELECT t.id FROM appointments t
                  WHERE t.practice_id = pr AND t.provider = q.a_provider
                    AND t.deleted_at IS NULL AND t.status <> 'cancelled'
                    AND t.start_at > q.a_lo AND t.start_at < q.a_end AND t.end_at > q.a_start
                    AND NOT EXISTS (SELECT 1 FROM dsc_stage u
                                     WHERE u.record_id = t.id AND u.action = 'update')
                  ORDER BY t.start_at, t.id LIMIT 1),
                (SELECT t.id FROM appointments t
                  WHERE t.practice_id = pr AND t.operatory = q.a_operatory
                    AND t.deleted_at IS NULL AND t.status <> 'cancelled'
                    AND t.start_at > q.a_lo AND t.start_at < q.a_end AND t.end_at > q.a_start
                    AND NOT EXISTS (SELECT 1 FROM dsc_stage u
                                     WHERE u.record_id = t.id AND u.action = 'update')
                  ORDER BY t.start_at, t.id LIMIT 1),
                (SELECT o.record_id FROM dsc_stage o
                  WHERE o.a_provider = q.a_provider AND o.a_start > q.a_lo
                    AND o.a_start < q.a_end AND o.a_end > q.a_start AND o.rn < q.rn
                    AND o.rn = o.winner AND o.status IS NULL AND o.action IS NOT NULL
                    AND o.a_status <> 'cancelled'
                  ORDER BY o.a_start, o.rn LIMIT 1),
                (SELECT o.record_id FROM dsc_stage o
                  WHERE o.a_operatory = q.a_operatory AND o.a_start > q.a_lo
                    AND o.a_start < q.a_end AND o.a_end > q.a_start AND o.rn < q.rn
                    AND o.rn = o.winner AND o.status IS NULL AND o.action IS NOT NULL
                    AND o.a_status <> 'cancelled'
                  ORDER BY o.a_start, o.rn LIMIT 1)) AS other
              FROM dsc_stage q
             WHERE q.rn = q.winner AND q.status IS NULL AND q.action IS NOT NULL
               AND q.a_status <> 'cancelled'
               AND NOT (q.action = 'update' AND q.old_fp = q.fp AND NOT q.old_deleted))
        UPDATE dsc_stage s SET conflict_with = k.other
          FROM k WHERE s.rn = k.rn AND k.other IS NOT NULL;
        IF policy = 'reject' THEN
            UPDATE dsc_stage
               SET status = 'rejected', error_code = 'SCHEDULE_CONFLICT',
                   error_message = 'overlaps appointment ' || conflict_with
                                   || ' of the same provider or operatory',
                   record_id = CASE WHEN action = 'update' THEN record_id END, action = NULL
             WHERE conflict_with IS NOT NULL;
        END IF;
    END IF;

    -- 7. Write.
    IF typ = 'patients' THEN
        INSERT INTO patients (id, practice_id, source_key, fingerprint, external_id, first_name,
                              last_name, middle_name, preferred_name, date_of_birth, gender, email,
                              phone_mobile, phone_home, phone_work, address_line1, address_line2,
                              city, state, postal_code, country, status, provider_external_id,
                              first_visit_date, last_visit_date, notes)
        SELECT s.record_id, pr, s.key, s.fp, s.ext, nullif(s.rec->>'first_name', ''),
               nullif(s.rec->>'last_name', ''), nullif(s.rec->>'middle_name', ''),
               nullif(s.rec->>'preferred_name', ''), s.m_dob, nullif(s.rec->>'gender', ''),
               nullif(s.rec->>'email', ''), nullif(s.rec->>'phone_mobile', ''),
               nullif(s.rec->>'phone_home', ''), nullif(s.rec->>'phone_work', ''),
               nullif(s.rec->>'address_line1', ''), nullif(s.rec->>'address_line2', ''),
               nullif(s.rec->>'city', ''), nullif(s.rec->>'state', ''),
               nullif(s.rec->>'postal_code', ''), nullif(s.rec->>'country', ''),
               nullif(s.rec->>'status', ''), nullif(s.rec->>'provider_external_id', ''),
               nullif(s.rec->>'first_visit_date', '')::date,
               nullif(s.rec->>'last_visit_date', '')::date, nullif(s.rec->>'notes', '')
          FROM dsc_stage s WHERE s.action = 'insert' AND s.status IS NULL;
        -- A matched patient keeps an authoritative key (ext:) and takes the
        -- row's key otherwise, so a later deletion of the old hash key
        -- cannot remove it.
        UPDATE patients p
           SET fingerprint = s.fp,
               source_key = CASE WHEN s.by_key OR p.source_key LIKE 'ext:%' THEN p.source_key
                                 ELSE s.key END,
               external_id = coalesce(s.ext, p.external_id),
               first_name = nullif(s.rec->>'first_name', ''),
               last_name = nullif(s.rec->>'last_name', ''),
               middle_name = nullif(s.rec->>'middle_name', ''),
               preferred_name = nullif(s.rec->>'preferred_name', ''),
               date_of_birth = s.m_dob, gender = nullif(s.rec->>'gender', ''),
               email = nullif(s.rec->>'email', ''),
               phone_mobile = nullif(s.rec->>'phone_mobile', ''),
               phone_home = nullif(s.rec->>'phone_home', ''),
               phone_work = nullif(s.rec->>'phone_work', ''),
               address_line1 = nullif(s.rec->>'address_line1', ''),
               address_line2 = nullif(s.rec->>'address_line2', ''),
               city = nullif(s.rec->>'city', ''), state = nullif(s.rec->>'state', ''),
               postal_code = nullif(s.rec->>'postal_code', ''),
               country = nullif(s.rec->>'country', ''), status = nullif(s.rec->>'status', ''),
               provider_external_id = nullif(s.rec->>'provider_external_id', ''),
               first_visit_date = nullif(s.rec->>'first_visit_date', '')::date,
               last_visit_date = nullif(s.rec->>'last_visit_date', '')::date,
               notes = nullif(s.rec->>'notes', ''), deleted_at = NULL, updated_at = now()
          FROM dsc_stage s
         WHERE p.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted);
    ELSIF typ = 'appointments' THEN
        INSERT INTO appointments (id, practice_id, source_key, fingerprint, external_id,
                                  patient_id, patient_external_id, start_at, end_at,
                                  duration_minutes, status, provider, operatory, appointment_type,
                                  notes, conflict_with)
        SELECT s.record_id, pr, s.key, s.fp, s.ext, s.patient_id, s.m_ext, s.a_start, s.a_end,
               coalesce((s.rec->>'duration_minutes')::int,
                        (extract(epoch FROM s.a_end - s.a_start) / 60)::int),
               s.a_status, s.a_provider, s.a_operatory, nullif(s.rec->>'appointment_type', ''),
               nullif(s.rec->>'notes', ''), s.conflict_with
          FROM dsc_stage s WHERE s.action = 'insert' AND s.status IS NULL;
        UPDATE appointments t
           SET fingerprint = s.fp, source_key = s.key, external_id = s.ext,
               patient_id = s.patient_id, patient_external_id = s.m_ext, start_at = s.a_start,
               end_at = s.a_end,
               duration_minutes = coalesce((s.rec->>'duration_minutes')::int,
                                           (extract(epoch FROM s.a_end - s.a_start) / 60)::int),
               status = s.a_status, provider = s.a_provider, operatory = s.a_operatory,
               appointment_type = nullif(s.rec->>'appointment_type', ''),
               notes = nullif(s.rec->>'notes', ''), conflict_with = s.conflict_with,
               deleted_at = NULL, updated_at = now()
          FROM dsc_stage s
         WHERE t.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted);
    ELSIF typ = 'treatments' THEN
        INSERT INTO treatments (id, practice_id, source_key, fingerprint, external_id, patient_id,
                                patient_external_id, procedure_code, description, tooth, surface,
                                status, fee_cents, service_date, provider,
                                appointment_external_id, appointment_id)
        SELECT s.record_id, pr, s.key, s.fp, s.ext, s.patient_id, s.m_ext,
               s.rec->>'procedure_code', nullif(s.rec->>'description', ''),
               nullif(s.rec->>'tooth', ''), nullif(s.rec->>'surface', ''), s.rec->>'status',
               (s.rec->>'fee_cents')::int, nullif(s.rec->>'service_date', '')::date,
               nullif(s.rec->>'provider', ''), nullif(s.rec->>'appointment_external_id', ''),
               (SELECT a.id FROM appointments a
                 WHERE a.practice_id = pr
                   AND a.external_id = nullif(s.rec->>'appointment_external_id', ''))
          FROM dsc_stage s WHERE s.action = 'insert' AND s.status IS NULL;
        UPDATE treatments t
           SET fingerprint = s.fp, source_key = s.key, external_id = s.ext,
               patient_id = s.patient_id, patient_external_id = s.m_ext,
               procedure_code = s.rec->>'procedure_code',
               description = nullif(s.rec->>'description', ''),
               tooth = nullif(s.rec->>'tooth', ''), surface = nullif(s.rec->>'surface', ''),
               status = s.rec->>'status', fee_cents = (s.rec->>'fee_cents')::int,
               service_date = nullif(s.rec->>'service_date', '')::date,
               provider = nullif(s.rec->>'provider', ''),
               appointment_external_id = nullif(s.rec->>'appointment_external_id', ''),
               appointment_id = (SELECT a.id FROM appointments a
                                  WHERE a.practice_id = pr
                                    AND a.external_id
                                        = nullif(s.rec->>'appointment_external_id', '')),
               deleted_at = NULL, updated_at = now()
          FROM dsc_stage s
         WHERE t.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted);
    ELSE
        INSERT INTO payments (id, practice_id, source_key, fingerprint, external_id, patient_id,
                              patient_external_id, date, amount_cents, kind, method, reference,
                              description)
        SELECT s.record_id, pr, s.key, s.fp, s.ext, s.patient_id, s.m_ext,
               (s.rec->>'date')::date, (s.rec->>'amount_cents')::int, s.rec->>'kind',
               nullif(s.rec->>'method', ''), nullif(s.rec->>'reference', ''),
               nullif(s.rec->>'description', '')
          FROM dsc_stage s WHERE s.action = 'insert' AND s.status IS NULL;
        UPDATE payments t
           SET fingerprint = s.fp, source_key = s.key, external_id = s.ext,
               patient_id = s.patient_id, patient_external_id = s.m_ext,
               date = (s.rec->>'date')::date, amount_cents = (s.rec->>'amount_cents')::int,
               kind = s.rec->>'kind', method = nullif(s.rec->>'method', ''),
               reference = nullif(s.rec->>'reference', ''),
               description = nullif(s.rec->>'description', ''),
               deleted_at = NULL, updated_at = now()
          FROM dsc_stage s
         WHERE t.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted);
    END IF;

    -- The winners' outcome, then every row of each group.
    UPDATE dsc_stage
       SET status = CASE WHEN conflict_with IS NOT NULL THEN 'conflict'
                         WHEN action = 'insert' THEN 'created'
                         WHEN old_fp <> fp OR old_deleted THEN 'updated'
                         ELSE 'unchanged' END,
           error_code = CASE WHEN conflict_with IS NOT NULL THEN 'SCHEDULE_CONFLICT' END,
           error_message = CASE WHEN conflict_with IS NOT NULL
                                THEN 'overlaps appointment ' || conflict_with
                                     || ' of the same provider or operatory' END
     WHERE rn = winner AND status IS NULL;
    UPDATE dsc_stage s
       SET status = CASE WHEN s.rn = s.leader THEN w.status
                         WHEN w.status IN ('needs_review', 'rejected') THEN w.status
                         WHEN s.fp = s.prev_fp THEN 'unchanged'
                         ELSE 'updated' END,
           error_code = CASE WHEN s.rn = s.leader OR w.status IN ('needs_review', 'rejected')
                             THEN w.error_code END,
           error_message = CASE WHEN s.rn = s.leader OR w.status IN ('needs_review', 'rejected')
                                THEN w.error_message END,
           candidates = CASE WHEN s.rn = s.leader OR w.status IN ('needs_review', 'rejected')
                             THEN w.candidates END,
           conflict_with = CASE WHEN s.rn = s.leader THEN w.conflict_with END,
           record_id = w.record_id
      FROM dsc_stage w
     WHERE w.rn = s.winner AND s.rn <> s.winner AND s.status IS NULL;
    -- The winner itself, when it is not also the leader, reports against
    -- the row before it.
    UPDATE dsc_stage
       SET status = CASE WHEN fp = prev_fp THEN 'unchanged' ELSE 'updated' END,
           error_code = NULL, error_message = NULL, conflict_with = NULL
     WHERE rn = winner AND rn <> leader AND status IN ('created', 'updated', 'unchanged',
                                                        'conflict');

    -- Deletions, after the upserts (they come after the data rows).
    EXECUTE format(
        'WITH d AS (UPDATE %I t SET deleted_at = now(), updated_at = now()'
        '             WHERE t.practice_id = $1 AND t.deleted_at IS NULL AND t.source_key IN'
        '                   (SELECT key FROM dsc_stage WHERE op = ''delete'' AND status IS NULL)'
        '            RETURNING t.id, t.source_key)'
        ' UPDATE dsc_stage s SET status = ''deleted'', record_id = d.id FROM d'
        '  WHERE s.key = d.source_key AND s.op = ''delete'' AND s.status IS NULL'
        '    AND s.rn = (SELECT min(rn) FROM dsc_stage z WHERE z.key = s.key'
        '                   AND z.op = ''delete'')', tbl) USING pr;
    UPDATE dsc_stage SET status = 'unchanged' WHERE op = 'delete' AND status IS NULL;

    -- Items, counters and the stored answer.
    INSERT INTO import_job_items (job_id, practice_id, row_number, key, fingerprint, raw_data,
                                  processed_data, status, error_code, error_message,
                                  created_record_id, candidates, conflict_with)
    SELECT p_job, pr, s.rn, s.key, s.fp, s.raw, s.rec, s.status, s.error_code, s.error_message,
           s.record_id, s.candidates, s.conflict_with
      FROM dsc_stage s;
    UPDATE import_jobs j
       SET processed_rows = j.processed_rows + c.n,
           successful_rows = j.successful_rows + c.ok,
           failed_rows = j.failed_rows + c.n - c.ok,
           started_at = coalesce(j.started_at, now())
      FROM (SELECT count(*)::integer AS n,
                   (count(*) FILTER (WHERE status IN ('created', 'updated', 'unchanged',
                                                      'deleted')))::integer AS ok
              FROM dsc_stage) c
     WHERE j.id = p_job;
    INSERT INTO import_batches (job_id, seq, practice_id, request_digest, response)
    SELECT p_job, p_seq, pr, p_digest,
           jsonb_build_object(
               'seq', p_seq,
               'results', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                      'row', s.rn, 'status', s.status, 'record_id', s.record_id,
                                      'error', CASE WHEN s.error_code IS NOT NULL THEN
                                                   jsonb_build_object('code', s.error_code,
                                                                      'message', s.error_message)
                                               END,
                                      'candidates', to_jsonb(s.candidates),
                                      'conflict_with', s.conflict_with)) ORDER BY s.rn)
                             FROM dsc_stage s),
               'job', jsonb_build_object('processed_rows', j.processed_rows,
                                         'successful_rows', j.successful_rows,
                                         'failed_rows', j.failed_rows))
      FROM import_jobs j WHERE j.id = p_job
    RETURNING response::text INTO answer;
    TRUNCATE dsc_stage;
    RETURN answer;
END;
$fn$;
