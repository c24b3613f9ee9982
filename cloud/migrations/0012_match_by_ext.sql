-- 0012_match_by_ext.sql — a batch whose rows all name an existing patient
-- by patient_external_id is planned without the other matching rules.
--
-- dsc_ingest_batch() stages a batch with one statement (0003), run with
-- EXECUTE, so it is planned anew for every batch. Of that planning, the
-- patient matching — seven subqueries, the first rule with a candidate
-- deciding — was most: 12 to 20 ms of a 400-row appointment batch whose
-- whole statement ran in 11 ms (EXPLAIN of the statement as the function
-- builds it; 2.5 to 3 ms with the first rule only). Exports name a row's
-- patient by its id (PatNum and the like) nearly always.
--
-- So before the statement, after the practice's lock, one query checks
-- whether every row that may be matched names an existing, undeleted
-- patient by patient_external_id. When it does, that first rule decides
-- every row and the statement is built with it alone: each row gets the
-- candidates the full rules would give it, since they stop at the first
-- rule with one. Otherwise it is built as before. tests/sql/match_ext.sql
-- holds both to the same outcomes. A patients batch always takes the full rules: a new patient is
-- matched by e-mail, phone or name when its id is new.
--
-- The statement text is one of two constant texts; values still go in as
-- parameters only. The function is otherwise 0010's.

DROP FUNCTION dsc_ingest_batch(uuid, uuid, integer, text, jsonb);
CREATE FUNCTION dsc_ingest_batch(p_practice uuid, p_job uuid, p_seq integer, p_digest text,
                                 p_rows jsonb)
RETURNS text LANGUAGE plpgsql SET jit = off AS $fn$
DECLARE
    pr     uuid := p_practice;
    rls    uuid := nullif(current_setting('app.practice_id', true), '')::uuid;
    typ    text;
    policy text;
    span   interval; -- the practice's longest appointment before this batch
    bspan  interval; -- the longest appointment of this batch
    byname boolean;  -- the practice matches name-only references
    answer text;
    r      record;
    c      uuid[];
    by_ext boolean;  -- every row to match names an existing patient by external_id
BEGIN
    IF pr IS NULL THEN
        RAISE EXCEPTION 'no practice given' USING ERRCODE = '42501';
    END IF;
    -- Row-level security stays the defense: a session that set its
    -- practice may not write another's.
    IF rls IS NOT NULL AND rls <> pr THEN
        RAISE EXCEPTION 'the practice is not the session''s (app.practice_id)'
            USING ERRCODE = '42501';
    END IF;
    SELECT j.import_type INTO typ FROM import_jobs j
     WHERE j.practice_id = pr AND j.id = p_job;
    IF typ IS NULL THEN
        RAISE EXCEPTION 'no such job' USING ERRCODE = 'P0002';
    END IF;
    PERFORM pg_advisory_xact_lock(7310, hashtext(pr::text));
    SELECT p.conflict_policy, make_interval(mins => p.max_appointment_minutes),
           p.name_only_match
      INTO policy, span, byname FROM practices p WHERE p.id = pr;

    -- The stage: one row per row of the batch. A new name (0003's was
    -- dsc_rows), so that a session that ran 0003's function keeps working.
    IF to_regclass('pg_temp.dsc_staged') IS NULL THEN
        CREATE TEMP TABLE dsc_staged (
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
            leader        integer,  -- the group's first row
            winner        integer,  -- the group's last row: the one stored
            prev_fp       text,     -- the fingerprint of the row before in the group
            action        text,     -- 'insert' or 'update' (winners)
            by_key        boolean,  -- found by key or external_id, not by matching
            old_fp        text,
            old_deleted   boolean,
            patient_id    uuid,
            m_email       text,     -- match keys of new patients (duplicates in the batch)
            m_phone1      text,
            m_phone2      text,
            m_last        text,
            m_first       text,
            m_dob         date,
            m_ext         text,     -- of the patient, or of the reference
            a_start       timestamptz,
            a_lo          timestamptz, -- a_start - the practice's longest appointment
            a_end         timestamptz,
            a_status      text,
            a_provider    text,
            a_operatory   text,
            m_appt        text,     -- a treatment's appointment_external_id
            p_match       text      -- 'name_only' or 'appointment': how the patient was found
        ) ON COMMIT DELETE ROWS;
        CREATE INDEX dsc_staged_record ON dsc_staged (record_id) WHERE action = 'update';
        CREATE INDEX dsc_staged_provider ON dsc_staged (a_provider, a_start)
            WHERE a_provider IS NOT NULL;
        CREATE INDEX dsc_staged_operatory ON dsc_staged (a_operatory, a_start)
            WHERE a_operatory IS NOT NULL;
    ELSIF EXISTS (SELECT 1 FROM dsc_staged) THEN
        TRUNCATE dsc_staged; -- an earlier batch of the same transaction
    END IF;

    -- Every row that may be matched to a patient (a record of another type,
    -- not rejected, not a deletion) names one by patient_external_id who is
    -- there: the first matching rule decides each row and the others are
    -- never asked. The statement below is then planned with that rule only;
    -- the other rules' subqueries were most of its planning time, which
    -- every batch paid. After the practice's lock, so what is checked here
    -- is what the statement sees.
    -- (The OR keeps the check a lookup per row in the external_id index;
    -- as an anti-join it compared every row with every patient.)
    by_ext := typ <> 'patients' AND NOT EXISTS (
        SELECT 1
          FROM (SELECT nullif(x.record->>'patient_external_id', '') AS ext
                  FROM jsonb_to_recordset(p_rows) AS x(record jsonb, op text, error_code text)
                 WHERE x.error_code IS NULL AND coalesce(x.op, 'upsert') = 'upsert') v
         WHERE v.ext IS NULL
            OR NOT EXISTS (SELECT 1 FROM patients p
                            WHERE p.practice_id = pr AND p.external_id = v.ext
                              AND p.deleted_at IS NULL));

    -- 1. Stage, group, look up, match: one statement. The matching is one
    --    of two texts (above); the statement is otherwise the same.
    EXECUTE replace($q$
    INSERT INTO dsc_staged (rn, key, fp, op, rec, raw, status, error_code, error_message,
                          record_id, candidates, ext, leader, winner, prev_fp, action, by_key,
                          old_fp, old_deleted, patient_id, m_email, m_phone1, m_phone2, m_last,
                          m_first, m_dob, m_ext, a_start, a_lo, a_end, a_status, a_provider,
                          a_operatory, m_appt, p_match)
    SELECT b.rn, b.key, b.fp, b.op, b.rec, b.raw,
           CASE WHEN b.error_code IS NOT NULL THEN 'rejected'
                WHEN cardinality(m.c) > 1 THEN 'needs_review'
                WHEN $2 <> 'patients' AND cardinality(m.c) = 0 THEN 'needs_review' END,
           CASE WHEN b.error_code IS NOT NULL THEN b.error_code
                WHEN cardinality(m.c) > 1 THEN 'AMBIGUOUS_PATIENT'
                WHEN $2 <> 'patients' AND cardinality(m.c) = 0 THEN 'PATIENT_NOT_FOUND' END,
           CASE WHEN b.error_code IS NOT NULL THEN b.error_message
                WHEN cardinality(m.c) > 1 THEN cardinality(m.c) || ' patients match'
                WHEN $2 <> 'patients' AND cardinality(m.c) = 0
                THEN 'no patient matches the patient reference' END,
           -- record_id: the existing record, the one matched patient, or a
           -- new id for a record to insert
           CASE WHEN e.id IS NOT NULL THEN e.id
                WHEN $2 = 'patients' AND cardinality(m.c) = 1 THEN m.c[1]
                WHEN b.rn = b.winner AND b.error_code IS NULL
                     AND NOT coalesce(cardinality(m.c) > 1
                                      OR ($2 <> 'patients' AND cardinality(m.c) = 0), false)
                THEN gen_random_uuid() END,
           CASE WHEN cardinality(m.c) > 1 THEN m.c END,
           b.ext, b.leader, b.winner, b.prev_fp,
           CASE WHEN e.id IS NOT NULL THEN 'update'
                WHEN $2 = 'patients' AND cardinality(m.c) = 1 THEN 'update'
                WHEN b.rn = b.winner AND b.error_code IS NULL
                     AND NOT coalesce(cardinality(m.c) > 1
                                      OR ($2 <> 'patients' AND cardinality(m.c) = 0), false)
                THEN 'insert' END,
           CASE WHEN e.id IS NOT NULL THEN true
                WHEN $2 = 'patients' AND cardinality(m.c) = 1 THEN false END,
           CASE WHEN e.id IS NOT NULL THEN e.fingerprint
                WHEN $2 = 'patients' AND cardinality(m.c) = 1
                THEN (SELECT p.fingerprint FROM patients p WHERE p.id = m.c[1]) END,
           CASE WHEN e.id IS NOT NULL THEN e.deleted
                WHEN $2 = 'patients' AND cardinality(m.c) = 1 THEN false END,
           CASE WHEN $2 <> 'patients' AND cardinality(m.c) = 1 THEN m.c[1] END,
           b.m_email, b.m_phone1, b.m_phone2, b.m_last, b.m_first, b.m_dob, b.m_ext,
           b.a_start, b.a_start - $4,
           CASE WHEN b.a_start IS NOT NULL AND b.a_end IS NULL
                THEN b.a_start + make_interval(mins => (b.rec->>'duration_minutes')::int)
                ELSE b.a_end END,
           b.a_status, b.a_provider, b.a_operatory, b.m_appt,
           -- how the one patient of a record was found, when by a weak
           -- reference (the record carries nothing else to match on)
           CASE WHEN $2 <> 'patients' AND cardinality(m.c) = 1 AND b.m_ext IS NULL
                     AND b.m_email IS NULL AND b.m_phone1 IS NULL AND b.m_dob IS NULL
                THEN CASE WHEN b.m_last IS NOT NULL AND b.m_first IS NOT NULL
                          THEN 'name_only'
                          WHEN b.m_appt IS NOT NULL THEN 'appointment' END END
      FROM (SELECT v.*,
                   CASE WHEN v.grp IS NOT NULL THEN min(v.rn) OVER g END AS leader,
                   CASE WHEN v.grp IS NOT NULL THEN max(v.rn) OVER g END AS winner,
                   CASE WHEN v.grp IS NOT NULL THEN lag(v.fp) OVER (g ORDER BY v.rn) END
                       AS prev_fp
              FROM (SELECT x."row" AS rn, x.key, x.fingerprint AS fp,
                           coalesce(x.op, 'upsert') AS op, x.record AS rec, x.raw,
                           x.error_code, x.error_message,
                           nullif(x.record->>'external_id', '') AS ext,
                           CASE WHEN x.error_code IS NULL AND coalesce(x.op, 'upsert') = 'upsert'
                                THEN coalesce('e:' || nullif(x.record->>'external_id', ''),
                                              'k:' || x.key) END AS grp,
                           CASE WHEN $2 = 'patients' THEN nullif(x.record->>'external_id', '')
                                ELSE nullif(x.record->>'patient_external_id', '') END AS m_ext,
                           lower(nullif(x.record->>CASE WHEN $2 = 'patients' THEN 'email'
                                                        ELSE 'patient_email' END, '')) AS m_email,
                           nullif(x.record->>CASE WHEN $2 = 'patients' THEN 'phone_mobile'
                                                  ELSE 'patient_phone' END, '') AS m_phone1,
                           CASE WHEN $2 = 'patients' THEN nullif(x.record->>'phone_home', '') END
                               AS m_phone2,
                           lower(nullif(x.record->>CASE WHEN $2 = 'patients' THEN 'last_name'
                                                        ELSE 'patient_last_name' END, '')) AS m_last,
                           lower(nullif(x.record->>CASE WHEN $2 = 'patients' THEN 'first_name'
                                                        ELSE 'patient_first_name' END, ''))
                               AS m_first,
                           CASE WHEN x.error_code IS NULL THEN
                               nullif(x.record->>CASE WHEN $2 = 'patients' THEN 'date_of_birth'
                                                      ELSE 'patient_date_of_birth' END, '')::date
                           END AS m_dob,
                           CASE WHEN $2 = 'appointments' AND x.error_code IS NULL
                                     AND coalesce(x.op, 'upsert') = 'upsert'
                                THEN (x.record->>'start_at')::timestamptz END AS a_start,
                           CASE WHEN $2 = 'appointments' AND x.error_code IS NULL
                                     AND coalesce(x.op, 'upsert') = 'upsert'
                                THEN nullif(x.record->>'end_at', '')::timestamptz END AS a_end,
                           x.record->>'status' AS a_status,
                           nullif(x.record->>'provider', '') AS a_provider,
                           nullif(x.record->>'operatory', '') AS a_operatory,
                           CASE WHEN $2 = 'treatments'
                                THEN nullif(x.record->>'appointment_external_id', '') END
                               AS m_appt
                      FROM jsonb_to_recordset($3)
                           AS x("row" integer, key text, fingerprint text, op text, record jsonb,
                                raw jsonb, error_code text, error_message text)) v
            WINDOW g AS (PARTITION BY v.grp)) b
      -- The existing record of a winner: by key (a deleted one too), else
      -- (not patients) by external_id. At most one row per branch (unique
      -- indexes); the branches of other types are skipped.
      LEFT JOIN LATERAL (
          SELECT t.id, t.fingerprint, t.deleted_at IS NOT NULL AS deleted
            FROM patients t
           WHERE $2 = 'patients' AND b.rn = b.winner AND t.practice_id = $1
             AND t.source_key = b.key
          UNION ALL
          SELECT t.id, t.fingerprint, t.deleted_at IS NOT NULL
            FROM appointments t
           WHERE $2 = 'appointments' AND b.rn = b.winner AND t.practice_id = $1
             AND t.source_key = b.key
          UNION ALL
          SELECT t.id, t.fingerprint, t.deleted_at IS NOT NULL
            FROM appointments t
           WHERE $2 = 'appointments' AND b.rn = b.winner AND b.ext IS NOT NULL
             AND t.practice_id = $1 AND t.external_id = b.ext
          UNION ALL
          SELECT t.id, t.fingerprint, t.deleted_at IS NOT NULL
            FROM treatments t
           WHERE $2 = 'treatments' AND b.rn = b.winner AND t.practice_id = $1
             AND t.source_key = b.key
          UNION ALL
          SELECT t.id, t.fingerprint, t.deleted_at IS NOT NULL
            FROM treatments t
           WHERE $2 = 'treatments' AND b.rn = b.winner AND b.ext IS NOT NULL
             AND t.practice_id = $1 AND t.external_id = b.ext
          UNION ALL
          SELECT t.id, t.fingerprint, t.deleted_at IS NOT NULL
            FROM payments t
           WHERE $2 = 'financial' AND b.rn = b.winner AND t.practice_id = $1
             AND t.source_key = b.key
          UNION ALL
          SELECT t.id, t.fingerprint, t.deleted_at IS NOT NULL
            FROM payments t
           WHERE $2 = 'financial' AND b.rn = b.winner AND b.ext IS NOT NULL
             AND t.practice_id = $1 AND t.external_id = b.ext
          LIMIT 1) e ON true
      /*MATCH*/
    $q$, '/*MATCH*/', CASE WHEN by_ext THEN $m$
      -- Patient matching when by_ext: the patient of that external id.
      LEFT JOIN LATERAL (
          SELECT ARRAY(SELECT p.id FROM patients p
                        WHERE p.practice_id = $1 AND p.external_id = b.m_ext
                          AND p.deleted_at IS NULL ORDER BY p.id) AS c
           WHERE b.rn = b.winner) m ON true
    $m$ ELSE $m$
      -- Patient matching: new patients, and the patient of every other
      -- record. The first rule with a candidate decides.
      LEFT JOIN LATERAL (
          SELECT CASE WHEN $2 = 'patients' AND b.ext IS NOT NULL THEN coalesce(
                   nullif(ARRAY(SELECT p.id FROM patients p
                                 WHERE p.practice_id = $1 AND p.external_id = b.ext
                                   AND p.deleted_at IS NULL ORDER BY p.id), '{}'),
                   nullif(ARRAY(SELECT p.id FROM patients p
                                 WHERE p.practice_id = $1 AND p.email_key = b.m_email
                                   AND p.email_key IS NOT NULL AND p.external_id IS NULL
                                   AND p.deleted_at IS NULL
                                   AND (b.m_dob IS NULL OR p.date_of_birth IS NULL
                                        OR p.date_of_birth = b.m_dob)
                                 ORDER BY p.id), '{}'),
                   nullif(ARRAY(SELECT q.id
                                  FROM (SELECT p.id, p.date_of_birth FROM patients p
                                         WHERE p.practice_id = $1
                                           AND p.phone_mobile IN (b.m_phone1, b.m_phone2)
                                           AND p.phone_mobile IS NOT NULL
                                           AND p.external_id IS NULL AND p.deleted_at IS NULL
                                        UNION
                                        SELECT p.id, p.date_of_birth FROM patients p
                                         WHERE p.practice_id = $1
                                           AND p.phone_home IN (b.m_phone1, b.m_phone2)
                                           AND p.phone_home IS NOT NULL
                                           AND p.external_id IS NULL AND p.deleted_at IS NULL) q
                                 WHERE b.m_dob IS NULL OR q.date_of_birth IS NULL
                                    OR q.date_of_birth = b.m_dob
                                 ORDER BY q.id), '{}'),
                   nullif(ARRAY(SELECT p.id FROM patients p
                                 WHERE p.practice_id = $1 AND p.last_name_key = b.m_last
                                   AND p.first_name_key = b.m_first
                                   AND p.last_name_key IS NOT NULL
                                   AND p.date_of_birth = b.m_dob
                                   AND p.external_id IS NULL AND p.deleted_at IS NULL
                                 ORDER BY p.id), '{}'),
                   '{}')
                 ELSE coalesce(
                   nullif(ARRAY(SELECT p.id FROM patients p
                                 WHERE p.practice_id = $1 AND p.external_id = b.m_ext
                                   AND p.deleted_at IS NULL ORDER BY p.id), '{}'),
                   nullif(ARRAY(SELECT p.id FROM patients p
                                 WHERE p.practice_id = $1 AND p.email_key = b.m_email
                                   AND p.email_key IS NOT NULL AND p.deleted_at IS NULL
                                   AND (b.m_dob IS NULL OR p.date_of_birth IS NULL
                                        OR p.date_of_birth = b.m_dob)
                                 ORDER BY p.id), '{}'),
                   nullif(ARRAY(SELECT q.id
                                  FROM (SELECT p.id, p.date_of_birth FROM patients p
                                         WHERE p.practice_id = $1
                                           AND p.phone_mobile IN (b.m_phone1, b.m_phone2)
                                           AND p.phone_mobile IS NOT NULL
                                           AND p.deleted_at IS NULL
                                        UNION
                                        SELECT p.id, p.date_of_birth FROM patients p
                                         WHERE p.practice_id = $1
                                           AND p.phone_home IN (b.m_phone1, b.m_phone2)
                                           AND p.phone_home IS NOT NULL
                                           AND p.deleted_at IS NULL) q
                                 WHERE b.m_dob IS NULL OR q.date_of_birth IS NULL
                                    OR q.date_of_birth = b.m_dob
                                 ORDER BY q.id), '{}'),
                   nullif(ARRAY(SELECT p.id FROM patients p
                                 WHERE p.practice_id = $1 AND p.last_name_key = b.m_last
                                   AND p.first_name_key = b.m_first
                                   AND p.last_name_key IS NOT NULL
                                   AND p.date_of_birth = b.m_dob AND p.deleted_at IS NULL
                                 ORDER BY p.id), '{}'),
                   -- A name-only reference (last + first name and nothing
                   -- else): the patients of that name, when the practice
                   -- allows it; one links, several are AMBIGUOUS_PATIENT.
                   nullif(ARRAY(SELECT p.id FROM patients p
                                 WHERE $5 AND b.m_dob IS NULL AND b.m_ext IS NULL
                                   AND b.m_email IS NULL AND b.m_phone1 IS NULL
                                   AND p.practice_id = $1 AND p.last_name_key = b.m_last
                                   AND p.first_name_key = b.m_first
                                   AND p.last_name_key IS NOT NULL AND p.deleted_at IS NULL
                                 ORDER BY p.id), '{}'),
                   -- A treatment naming its appointment only: that
                   -- appointment's patient.
                   nullif(ARRAY(SELECT DISTINCT a.patient_id FROM appointments a
                                 WHERE b.m_appt IS NOT NULL AND b.m_ext IS NULL
                                   AND b.m_email IS NULL AND b.m_phone1 IS NULL
                                   AND b.m_last IS NULL AND a.practice_id = $1
                                   AND a.external_id = b.m_appt AND a.deleted_at IS NULL
                                   AND a.patient_id IS NOT NULL
                                 ORDER BY a.patient_id), '{}'),
                   '{}') END AS c
           WHERE b.rn = b.winner AND ($2 <> 'patients' OR e.id IS NULL)) m ON true
    $m$ END) USING pr, typ, p_rows, span, byname;

    -- 2a. One record, one group: a record found by key goes first, then
    --     the lowest row; the others are possible duplicates.
    UPDATE dsc_staged s
       SET status = 'needs_review', error_code = 'POSSIBLE_DUPLICATE',
           error_message = 'the record of row ' || d.first_rn || ' of this batch matches',
           candidates = ARRAY[s.record_id], record_id = NULL, action = NULL
      FROM (SELECT rn, first_value(leader) OVER w AS first_rn, row_number() OVER w AS n
              FROM dsc_staged
             WHERE rn = winner AND status IS NULL AND action = 'update'
            WINDOW w AS (PARTITION BY record_id ORDER BY by_key DESC, leader)) d
     WHERE s.rn = d.rn AND d.n > 1;

    -- 2b. Two new patients of the batch that match each other: the later
    --     is a possible duplicate. The rows that share a match key with a
    --     row whose external id does not rule it out are found by sorting
    --     (window counts); those rare rows are then checked one by one in
    --     row order, so that a row is held only for a record that is
    --     really created.
    IF typ = 'patients' THEN
        FOR r IN
            WITH n AS MATERIALIZED (
                SELECT rn, leader, ext, m_email, m_phone1, m_phone2, m_last, m_first, m_dob
                  FROM dsc_staged WHERE action = 'insert' AND status IS NULL),
            k AS (
                SELECT rn, leader, ext, 'e' || m_email AS k FROM n WHERE m_email IS NOT NULL
                UNION ALL
                SELECT rn, leader, ext, 'p' || m_phone1 FROM n WHERE m_phone1 IS NOT NULL
                UNION ALL
                SELECT rn, leader, ext, 'p' || m_phone2 FROM n
                 WHERE m_phone2 IS NOT NULL AND m_phone2 IS DISTINCT FROM m_phone1
                UNION ALL
                SELECT rn, leader, ext, 'n' || m_last || chr(9) || m_first || chr(9) || m_dob
                  FROM n
                 WHERE m_last IS NOT NULL AND m_first IS NOT NULL AND m_dob IS NOT NULL),
            c AS (
                SELECT rn, leader, ext, count(*) OVER (PARTITION BY k) AS same_key,
                       count(*) FILTER (WHERE ext IS NULL) OVER (PARTITION BY k) AS no_ext,
                       count(*) OVER (PARTITION BY k, ext) AS same_ext
                  FROM k)
            SELECT rn, leader FROM c
             WHERE CASE WHEN ext IS NULL THEN same_key > 1 ELSE same_ext > 1 OR no_ext > 0 END
             GROUP BY rn, leader
             ORDER BY leader
        LOOP
            SELECT array_agg(o.record_id ORDER BY o.record_id) INTO c
              FROM dsc_staged o, dsc_staged s
             WHERE s.rn = r.rn AND o.action = 'insert' AND o.status IS NULL
               AND o.leader < s.leader
               AND (o.ext IS NULL OR s.ext IS NULL OR o.ext = s.ext)
               AND (((o.m_email = s.m_email
                      OR o.m_phone1 IN (s.m_phone1, s.m_phone2)
                      OR o.m_phone2 IN (s.m_phone1, s.m_phone2))
                     AND (o.m_dob IS NULL OR s.m_dob IS NULL OR o.m_dob = s.m_dob))
                    OR (o.m_last = s.m_last AND o.m_first = s.m_first AND o.m_dob = s.m_dob));
            IF c IS NOT NULL THEN
                UPDATE dsc_staged
                   SET status = 'needs_review', error_code = 'POSSIBLE_DUPLICATE',
                       error_message = 'the record of another row of this batch matches',
                       candidates = c, record_id = NULL, action = NULL
                 WHERE rn = r.rn;
            END IF;
        END LOOP;
    END IF;

    -- 2c. Scheduling conflicts, before anything is written: against the
    --     database (but the records this batch rewrites) and earlier rows.
    --     Overlapping appointments began less than the longest one before.
    IF typ = 'appointments' THEN
        SELECT max(a_end - a_start) INTO bspan FROM dsc_staged WHERE a_start IS NOT NULL;
    EXECUTE $q$
        WITH k AS MATERIALIZED (
            SELECT q.rn, coalesce(
                (SELECT t.id FROM appointments t
                  WHERE t.practice_id = $1 AND t.provider = q.a_provider
                    AND t.deleted_at IS NULL AND t.status <> 'cancelled'
                    AND t.start_at > q.a_lo AND t.start_at < q.a_end
                    AND t.end_at > q.a_start
                    AND NOT EXISTS (SELECT 1 FROM dsc_staged u
                                     WHERE u.record_id = t.id AND u.action = 'update')
                  ORDER BY t.start_at, t.id LIMIT 1),
                (SELECT t.id FROM appointments t
                  WHERE t.practice_id = $1 AND t.operatory = q.a_operatory
                    AND t.location IS NOT DISTINCT FROM nullif(q.rec->>'location', '')
                    AND t.deleted_at IS NULL AND t.status <> 'cancelled'
                    AND t.start_at > q.a_lo AND t.start_at < q.a_end
                    AND t.end_at > q.a_start
                    AND NOT EXISTS (SELECT 1 FROM dsc_staged u
                                     WHERE u.record_id = t.id AND u.action = 'update')
                  ORDER BY t.start_at, t.id LIMIT 1),
                (SELECT o.record_id FROM dsc_staged o
                  WHERE o.a_provider = q.a_provider AND o.a_start > q.a_start - $2
                    AND o.a_start < q.a_end AND o.a_end > q.a_start AND o.rn < q.rn
                    AND o.rn = o.winner AND o.status IS NULL AND o.action IS NOT NULL
                    AND o.a_status <> 'cancelled'
                  ORDER BY o.a_start, o.rn LIMIT 1),
                (SELECT o.record_id FROM dsc_staged o
                  WHERE o.a_operatory = q.a_operatory AND o.a_start > q.a_start - $2
                    AND nullif(o.rec->>'location', '') IS NOT DISTINCT FROM
                        nullif(q.rec->>'location', '')
                    AND o.a_start < q.a_end AND o.a_end > q.a_start AND o.rn < q.rn
                    AND o.rn = o.winner AND o.status IS NULL AND o.action IS NOT NULL
                    AND o.a_status <> 'cancelled'
                  ORDER BY o.a_start, o.rn LIMIT 1)) AS other
              FROM dsc_staged q
             WHERE q.rn = q.winner AND q.status IS NULL AND q.action IS NOT NULL
               AND q.a_status <> 'cancelled'
               AND NOT (q.action = 'update' AND q.old_fp = q.fp AND NOT q.old_deleted))
        UPDATE dsc_staged s SET conflict_with = k.other
          FROM k WHERE s.rn = k.rn AND k.other IS NOT NULL
    $q$ USING pr, bspan;
        IF policy = 'reject' THEN
            UPDATE dsc_staged
               SET status = 'rejected', error_code = 'SCHEDULE_CONFLICT',
                   error_message = 'overlaps appointment ' || conflict_with
                                   || ' of the same provider or operatory',
                   record_id = CASE WHEN action = 'update' THEN record_id END, action = NULL
             WHERE conflict_with IS NOT NULL;
        END IF;
    END IF;

    -- 3. Write.
    IF typ = 'patients' THEN
    EXECUTE $q$
        INSERT INTO patients (id, practice_id, source_key, fingerprint, external_id, first_name,
                              last_name, middle_name, preferred_name, date_of_birth, gender, email,
                              phone_mobile, phone_home, phone_work, address_line1, address_line2,
                              city, state, postal_code, country, status, provider_external_id,
                              first_visit_date, last_visit_date, notes, location)
        SELECT s.record_id, $1, s.key, s.fp, s.ext, nullif(s.rec->>'first_name', ''),
               nullif(s.rec->>'last_name', ''), nullif(s.rec->>'middle_name', ''),
               nullif(s.rec->>'preferred_name', ''), s.m_dob, nullif(s.rec->>'gender', ''),
               nullif(s.rec->>'email', ''), nullif(s.rec->>'phone_mobile', ''),
               nullif(s.rec->>'phone_home', ''), nullif(s.rec->>'phone_work', ''),
               nullif(s.rec->>'address_line1', ''), nullif(s.rec->>'address_line2', ''),
               nullif(s.rec->>'city', ''), nullif(s.rec->>'state', ''),
               nullif(s.rec->>'postal_code', ''), nullif(s.rec->>'country', ''),
               nullif(s.rec->>'status', ''), nullif(s.rec->>'provider_external_id', ''),
               nullif(s.rec->>'first_visit_date', '')::date,
               nullif(s.rec->>'last_visit_date', '')::date, nullif(s.rec->>'notes', ''),
               nullif(s.rec->>'location', '')
          FROM dsc_staged s WHERE s.action = 'insert' AND s.status IS NULL
    $q$ USING pr;
        -- A matched patient keeps an authoritative key (ext:) and takes the
        -- row's key otherwise, so a later deletion of the old hash key
        -- cannot remove it.
    EXECUTE $q$
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
               notes = nullif(s.rec->>'notes', ''), location = nullif(s.rec->>'location', ''),
               deleted_at = NULL, updated_at = now()
          FROM dsc_staged s
         WHERE p.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted)
    $q$ USING pr;
    ELSIF typ = 'appointments' THEN
    EXECUTE $q$
        INSERT INTO appointments (id, practice_id, source_key, fingerprint, external_id,
                                  patient_id, patient_external_id, start_at, end_at,
                                  duration_minutes, status, provider, operatory, appointment_type,
                                  notes, conflict_with, location)
        SELECT s.record_id, $1, s.key, s.fp, s.ext, s.patient_id, s.m_ext, s.a_start, s.a_end,
               coalesce((s.rec->>'duration_minutes')::int,
                        (extract(epoch FROM s.a_end - s.a_start) / 60)::int),
               s.a_status, s.a_provider, s.a_operatory, nullif(s.rec->>'appointment_type', ''),
               nullif(s.rec->>'notes', ''), s.conflict_with, nullif(s.rec->>'location', '')
          FROM dsc_staged s WHERE s.action = 'insert' AND s.status IS NULL
    $q$ USING pr;
    EXECUTE $q$
        UPDATE appointments t
           SET fingerprint = s.fp, source_key = s.key, external_id = s.ext,
               patient_id = s.patient_id, patient_external_id = s.m_ext, start_at = s.a_start,
               end_at = s.a_end,
               duration_minutes = coalesce((s.rec->>'duration_minutes')::int,
                                           (extract(epoch FROM s.a_end - s.a_start) / 60)::int),
               status = s.a_status, provider = s.a_provider, operatory = s.a_operatory,
               appointment_type = nullif(s.rec->>'appointment_type', ''),
               notes = nullif(s.rec->>'notes', ''), conflict_with = s.conflict_with,
               location = nullif(s.rec->>'location', ''), deleted_at = NULL, updated_at = now()
          FROM dsc_staged s
         WHERE t.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted)
    $q$ USING pr;
    ELSIF typ = 'treatments' THEN
    EXECUTE $q$
        INSERT INTO treatments (id, practice_id, source_key, fingerprint, external_id, patient_id,
                                patient_external_id, procedure_code, description, tooth, surface,
                                status, fee_cents, service_date, provider,
                                appointment_external_id, appointment_id, location)
        SELECT s.record_id, $1, s.key, s.fp, s.ext, s.patient_id, s.m_ext,
               s.rec->>'procedure_code', nullif(s.rec->>'description', ''),
               nullif(s.rec->>'tooth', ''), nullif(s.rec->>'surface', ''), s.rec->>'status',
               (s.rec->>'fee_cents')::int, nullif(s.rec->>'service_date', '')::date,
               nullif(s.rec->>'provider', ''), nullif(s.rec->>'appointment_external_id', ''),
               (SELECT a.id FROM appointments a
                 WHERE a.practice_id = $1
                   AND a.external_id = nullif(s.rec->>'appointment_external_id', '')),
               nullif(s.rec->>'location', '')
          FROM dsc_staged s WHERE s.action = 'insert' AND s.status IS NULL
    $q$ USING pr;
    EXECUTE $q$
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
                                  WHERE a.practice_id = $1
                                    AND a.external_id
                                        = nullif(s.rec->>'appointment_external_id', '')),
               location = nullif(s.rec->>'location', ''), deleted_at = NULL, updated_at = now()
          FROM dsc_staged s
         WHERE t.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted)
    $q$ USING pr;
    ELSE
    EXECUTE $q$
        INSERT INTO payments (id, practice_id, source_key, fingerprint, external_id, patient_id,
                              patient_external_id, date, amount_cents, kind, method, reference,
                              description, location)
        SELECT s.record_id, $1, s.key, s.fp, s.ext, s.patient_id, s.m_ext,
               (s.rec->>'date')::date, (s.rec->>'amount_cents')::int, s.rec->>'kind',
               nullif(s.rec->>'method', ''), nullif(s.rec->>'reference', ''),
               nullif(s.rec->>'description', ''), nullif(s.rec->>'location', '')
          FROM dsc_staged s WHERE s.action = 'insert' AND s.status IS NULL
    $q$ USING pr;
    EXECUTE $q$
        UPDATE payments t
           SET fingerprint = s.fp, source_key = s.key, external_id = s.ext,
               patient_id = s.patient_id, patient_external_id = s.m_ext,
               date = (s.rec->>'date')::date, amount_cents = (s.rec->>'amount_cents')::int,
               kind = s.rec->>'kind', method = nullif(s.rec->>'method', ''),
               reference = nullif(s.rec->>'reference', ''),
               description = nullif(s.rec->>'description', ''),
               location = nullif(s.rec->>'location', ''), deleted_at = NULL, updated_at = now()
          FROM dsc_staged s
         WHERE t.id = s.record_id AND s.action = 'update' AND s.status IS NULL
           AND (s.old_fp <> s.fp OR s.old_deleted)
    $q$ USING pr;
    END IF;

    -- Deletions, after the upserts (they come after the data rows): the
    -- first deletion row of a key with a live record is deleted.
    IF EXISTS (SELECT 1 FROM dsc_staged WHERE op = 'delete') THEN
        EXECUTE format(
            'WITH d AS (UPDATE %I t SET deleted_at = now(), updated_at = now()'
            '             WHERE t.practice_id = $1 AND t.deleted_at IS NULL AND t.source_key IN'
            '                   (SELECT key FROM dsc_staged WHERE op = ''delete'')'
            '            RETURNING t.id, t.source_key)'
            ' UPDATE dsc_staged s SET status = ''deleted'', record_id = d.id FROM d'
            '  WHERE s.key = d.source_key AND s.op = ''delete'''
            '    AND s.rn = (SELECT min(rn) FROM dsc_staged z WHERE z.key = s.key'
            '                   AND z.op = ''delete'')',
            CASE typ WHEN 'financial' THEN 'payments' ELSE typ END) USING pr;
    END IF;

    -- 4. Each row's answer: a row of a group answers from its winner (the
    --    first row the group's outcome against the database, a later row
    --    updated or unchanged against the row before it — unless the group
    --    is needs_review or rejected); other rows answer for themselves.
    --    Then the items, the counters and the stored answer.
    WITH w AS (
        SELECT s.rn, s.leader, s.winner, s.fp, s.prev_fp, s.status, s.error_code,
               s.error_message, s.candidates, s.conflict_with, s.record_id,
               CASE WHEN s.status IS NULL THEN s.p_match END AS wmatch,
               CASE WHEN s.status IS NOT NULL THEN s.status
                    WHEN s.conflict_with IS NOT NULL THEN 'conflict'
                    WHEN s.action = 'insert' THEN 'created'
                    WHEN s.old_fp <> s.fp OR s.old_deleted THEN 'updated'
                    ELSE 'unchanged' END AS ws,
               CASE WHEN s.status IS NOT NULL THEN s.error_code
                    WHEN s.conflict_with IS NOT NULL THEN 'SCHEDULE_CONFLICT' END AS wcode,
               CASE WHEN s.status IS NOT NULL THEN s.error_message
                    WHEN s.conflict_with IS NOT NULL
                    THEN 'overlaps appointment ' || s.conflict_with
                         || ' of the same provider or operatory' END AS wmsg
          FROM dsc_staged s),
    f AS MATERIALIZED (
        SELECT s.rn, o.*
          FROM w s
          LEFT JOIN w g ON g.rn = s.winner
         CROSS JOIN LATERAL (
             SELECT CASE WHEN s.winner IS NULL THEN coalesce(s.status, 'unchanged')
                         WHEN s.rn = s.leader THEN g.ws
                         WHEN g.ws IN ('needs_review', 'rejected') THEN g.ws
                         WHEN s.fp = s.prev_fp THEN 'unchanged'
                         ELSE 'updated' END AS status,
                    CASE WHEN s.winner IS NULL THEN s.error_code
                         WHEN s.rn = s.leader OR g.ws IN ('needs_review', 'rejected')
                         THEN g.wcode END AS error_code,
                    CASE WHEN s.winner IS NULL THEN s.error_message
                         WHEN s.rn = s.leader OR g.ws IN ('needs_review', 'rejected')
                         THEN g.wmsg END AS error_message,
                    CASE WHEN s.winner IS NULL THEN s.candidates
                         WHEN s.rn = s.leader OR g.ws IN ('needs_review', 'rejected')
                         THEN g.candidates END AS candidates,
                    CASE WHEN s.winner IS NULL THEN s.conflict_with
                         WHEN s.rn = s.leader
                              OR (s.rn = s.winner AND g.ws IN ('needs_review', 'rejected'))
                         THEN g.conflict_with END AS conflict_with,
                    CASE WHEN s.winner IS NULL THEN s.record_id
                         ELSE g.record_id END AS record_id,
                    CASE WHEN s.winner IS NOT NULL
                              AND g.ws NOT IN ('needs_review', 'rejected')
                         THEN g.wmatch END AS patient_match) o),
    i AS (
        INSERT INTO import_job_items (job_id, practice_id, row_number, key, fingerprint,
                                      raw_data, processed_data, status, error_code,
                                      error_message, created_record_id, candidates,
                                      conflict_with, patient_match)
        SELECT p_job, pr, f.rn, x.key, x.fp, x.raw,
               CASE WHEN f.status NOT IN ('created', 'updated', 'unchanged') THEN x.rec END,
               f.status, f.error_code,
               f.error_message, f.record_id, f.candidates, f.conflict_with, f.patient_match
          FROM f JOIN dsc_staged x ON x.rn = f.rn),
    j AS (
        UPDATE import_jobs j
           SET processed_rows = j.processed_rows + c.n,
               successful_rows = j.successful_rows + c.ok,
               failed_rows = j.failed_rows + c.n - c.ok,
               started_at = coalesce(j.started_at, now())
          FROM (SELECT count(*)::integer AS n,
                       (count(*) FILTER (WHERE f.status IN ('created', 'updated', 'unchanged',
                                                            'deleted')))::integer AS ok
                  FROM f) c
         WHERE j.id = p_job
        RETURNING j.processed_rows, j.successful_rows, j.failed_rows)
    INSERT INTO import_batches (job_id, seq, practice_id, request_digest, response)
    SELECT p_job, p_seq, pr, p_digest,
           jsonb_build_object(
               'seq', p_seq,
               'results', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                      'row', f.rn, 'status', f.status,
                                      'record_id', f.record_id,
                                      'error', CASE WHEN f.error_code IS NOT NULL THEN
                                                   jsonb_build_object('code', f.error_code,
                                                                      'message', f.error_message)
                                               END,
                                      'candidates', to_jsonb(f.candidates),
                                      'conflict_with', f.conflict_with,
                                      'patient_match', f.patient_match)) ORDER BY f.rn)
                             FROM f),
               'job', jsonb_build_object('processed_rows', j.processed_rows,
                                         'successful_rows', j.successful_rows,
                                         'failed_rows', j.failed_rows))
      FROM j
    RETURNING response::text INTO answer;
    RETURN answer;
END;
$fn$;
