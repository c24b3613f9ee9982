-- name_only.sql — weak patient references in dsc_ingest_batch() (migration
-- 0006): a name-only reference links to the one patient of that name and
-- says so, several of that name are AMBIGUOUS_PATIENT with candidates, none
-- PATIENT_NOT_FOUND; practices.name_only_match = false turns it off; a
-- treatment naming its appointment only takes that appointment's patient.
-- Synthetic data only. Runs as the owner inside one transaction, as
-- dentsync_app where it ingests; rolled back at the end.
BEGIN;
SELECT * FROM no_plan();

INSERT INTO practices (id, name) VALUES ('bbbbbbbb-0000-4000-8000-000000000001', 'sql practice N');
INSERT INTO import_jobs (id, practice_id, filename, import_type, sha256, total_rows)
SELECT ('bbbbbbbb-0000-4000-8000-00000000010' || n)::uuid,
       'bbbbbbbb-0000-4000-8000-000000000001', t || '.csv', t, repeat('0', 64), 100
  FROM (VALUES (1, 'patients'), (2, 'financial'), (3, 'appointments'), (4, 'treatments'),
               (5, 'financial')) v(n, t);

SET ROLE dentsync_app;
SELECT set_config('app.practice_id', 'bbbbbbbb-0000-4000-8000-000000000001', true);
CREATE TEMP TABLE ans (seq integer PRIMARY KEY, a jsonb);
CREATE FUNCTION pg_temp.res(s integer, n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT r FROM ans, jsonb_array_elements(ans.a->'results') r
     WHERE ans.seq = s AND (r->>'row')::int = n $$;

INSERT INTO ans SELECT 1, dsc_ingest_batch('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000101', 1, repeat('1', 64), '[
 {"row":1,"key":"ext:P1","fingerprint":"p1","record":{"external_id":"P1","first_name":"Solo","last_name":"Only"}},
 {"row":2,"key":"ext:P2","fingerprint":"p2","record":{"external_id":"P2","first_name":"Twin","last_name":"Same"}},
 {"row":3,"key":"ext:P3","fingerprint":"p3","record":{"external_id":"P3","first_name":"Twin","last_name":"Same"}}
]')::jsonb;

INSERT INTO ans SELECT 2, dsc_ingest_batch('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000102', 1, repeat('2', 64), '[
 {"row":1,"key":"h:f1","fingerprint":"f1","record":{"patient_last_name":"ONLY","patient_first_name":"solo","date":"2024-03-01","amount_cents":-100,"kind":"payment"}},
 {"row":2,"key":"h:f2","fingerprint":"f2","record":{"patient_last_name":"Same","patient_first_name":"Twin","date":"2024-03-01","amount_cents":-200,"kind":"payment"}},
 {"row":3,"key":"h:f3","fingerprint":"f3","record":{"patient_last_name":"Nobody","patient_first_name":"Here","date":"2024-03-01","amount_cents":-300,"kind":"payment"}},
 {"row":4,"key":"h:f4","fingerprint":"f4","record":{"patient_external_id":"P1","date":"2024-03-01","amount_cents":-400,"kind":"payment"}}
]')::jsonb;
SELECT is(pg_temp.res(2, 1)->>'status', 'created', 'a name-only reference to the one patient of that name is created');
SELECT is(pg_temp.res(2, 1)->>'patient_match', 'name_only', '… and its result says it was matched by name only');
SELECT is((SELECT p.external_id FROM payments t JOIN patients p ON p.id = t.patient_id WHERE t.amount_cents = -100),
          'P1', '… linked to that patient');
SELECT is((SELECT patient_match FROM import_job_items WHERE job_id = 'bbbbbbbb-0000-4000-8000-000000000102' AND row_number = 1),
          'name_only', '… and so does its item');
SELECT is(pg_temp.res(2, 2)->>'status', 'needs_review', 'two patients of that name: needs_review');
SELECT is(pg_temp.res(2, 2)#>>'{error,code}', 'AMBIGUOUS_PATIENT', '… AMBIGUOUS_PATIENT');
SELECT is(jsonb_array_length(pg_temp.res(2, 2)->'candidates'), 2, '… listing both candidates');
SELECT is(pg_temp.res(2, 3)#>>'{error,code}', 'PATIENT_NOT_FOUND', 'no patient of that name: PATIENT_NOT_FOUND');
SELECT ok(pg_temp.res(2, 4)->>'status' = 'created' AND NOT pg_temp.res(2, 4) ? 'patient_match',
          'a reference by external id says nothing of how it matched');

INSERT INTO ans SELECT 3, dsc_ingest_batch('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000103', 1, repeat('3', 64), '[
 {"row":1,"key":"ext:A1","fingerprint":"a1","record":{"external_id":"A1","patient_external_id":"P2","start_at":"2024-03-01T15:00:00Z","duration_minutes":30,"status":"scheduled"}}
]')::jsonb;
INSERT INTO ans SELECT 4, dsc_ingest_batch('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000104', 1, repeat('4', 64), '[
 {"row":1,"key":"h:t1","fingerprint":"t1","record":{"appointment_external_id":"A1","procedure_code":"D0120","status":"planned"}},
 {"row":2,"key":"h:t2","fingerprint":"t2","record":{"appointment_external_id":"A9","procedure_code":"D0120","status":"planned"}}
]')::jsonb;
SELECT is(pg_temp.res(4, 1)->>'patient_match', 'appointment', 'a treatment naming its appointment only is matched by it');
SELECT is((SELECT p.external_id FROM treatments t JOIN patients p ON p.id = t.patient_id WHERE t.source_key = 'h:t1'),
          'P2', '… to the appointment''s patient');
SELECT is(pg_temp.res(4, 2)#>>'{error,code}', 'PATIENT_NOT_FOUND', 'an unknown appointment: PATIENT_NOT_FOUND');

RESET ROLE;
UPDATE practices SET name_only_match = false WHERE id = 'bbbbbbbb-0000-4000-8000-000000000001';
SET ROLE dentsync_app;
SELECT set_config('app.practice_id', 'bbbbbbbb-0000-4000-8000-000000000001', true);
INSERT INTO ans SELECT 5, dsc_ingest_batch('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000105', 1, repeat('5', 64), '[
 {"row":1,"key":"h:g1","fingerprint":"g1","record":{"patient_last_name":"Only","patient_first_name":"Solo","date":"2024-03-02","amount_cents":-500,"kind":"payment"}}
]')::jsonb;
SELECT is(pg_temp.res(5, 1)#>>'{error,code}', 'PATIENT_NOT_FOUND',
          'with name-only matching off, a name-only reference waits in needs_review');

SELECT * FROM finish();
ROLLBACK;
