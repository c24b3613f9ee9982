-- match_ext.sql — dsc_ingest_batch() (migration 0012) plans a batch with
-- the first matching rule only when every row to match names an existing
-- patient by patient_external_id; a batch with one row that does not (an
-- unknown or deleted patient's id, or none) is matched by every rule, as
-- before. Synthetic data only. Runs as the owner inside one transaction,
-- as dentsync_app where it ingests; rolled back at the end.
BEGIN;
SELECT * FROM no_plan();

INSERT INTO practices (id, name) VALUES ('cccccccc-0000-4000-8000-000000000001', 'sql practice X');
INSERT INTO import_jobs (id, practice_id, filename, import_type, sha256, total_rows)
SELECT ('cccccccc-0000-4000-8000-00000000010' || n)::uuid,
       'cccccccc-0000-4000-8000-000000000001', t || '.csv', t, repeat('0', 64), 100
  FROM (VALUES (1, 'patients'), (2, 'appointments'), (3, 'financial')) v(n, t);

SET ROLE dentsync_app;
SELECT set_config('app.practice_id', 'cccccccc-0000-4000-8000-000000000001', true);
CREATE TEMP TABLE ans (seq integer PRIMARY KEY, a jsonb);
CREATE FUNCTION pg_temp.res(s integer, n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT r FROM ans, jsonb_array_elements(ans.a->'results') r
     WHERE ans.seq = s AND (r->>'row')::int = n $$;
CREATE FUNCTION pg_temp.pat(ext text) RETURNS uuid LANGUAGE sql AS $$
    SELECT id FROM patients WHERE external_id = ext $$;

INSERT INTO ans SELECT 1, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000101', 1, repeat('1', 64), '[
 {"row":1,"key":"ext:X1","fingerprint":"x1","record":{"external_id":"X1","first_name":"Ann","last_name":"One","email":"one@example.test"}},
 {"row":2,"key":"ext:X2","fingerprint":"x2","record":{"external_id":"X2","first_name":"Bob","last_name":"Two"}},
 {"row":3,"key":"ext:X3","fingerprint":"x3","record":{"external_id":"X3","first_name":"Cy","last_name":"Three","phone_mobile":"+15555550133"}}
]')::jsonb;
INSERT INTO ans SELECT 2, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000101', 2, repeat('2', 64), '[
 {"row":4,"key":"ext:X3","fingerprint":"x3","op":"delete"}
]')::jsonb;
SELECT is(pg_temp.res(2, 4)->>'status', 'deleted', 'patient X3 is deleted');

-- Every row by an existing patient's id: the first rule alone.
INSERT INTO ans SELECT 3, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000102', 1, repeat('3', 64), '[
 {"row":1,"key":"ext:A1","fingerprint":"a1","record":{"external_id":"A1","patient_external_id":"X1","start_at":"2030-01-01T08:00:00Z","duration_minutes":30,"status":"scheduled"}},
 {"row":2,"key":"ext:A2","fingerprint":"a2","record":{"external_id":"A2","patient_external_id":"X2","start_at":"2030-01-01T09:00:00Z","duration_minutes":30,"status":"scheduled"}},
 {"row":3,"key":"ext:A3","fingerprint":"a3","record":{"external_id":"A3","patient_external_id":"X1","start_at":"2030-01-01T10:00:00Z","duration_minutes":30,"status":"scheduled"}}
]')::jsonb;
SELECT is((SELECT string_agg(r->>'status', ',' ORDER BY (r->>'row')::int) FROM ans, jsonb_array_elements(a->'results') r WHERE seq = 3),
          'created,created,created', 'a batch whose rows all name their patients by id is created');
SELECT is((SELECT count(*) FROM appointments a
            WHERE a.external_id IN ('A1', 'A3') AND a.patient_id = pg_temp.pat('X1')), 2::bigint,
          '… each appointment with the patient of its id');

-- One row names an unknown id but an existing patient's e-mail: every rule.
INSERT INTO ans SELECT 4, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000102', 2, repeat('4', 64), '[
 {"row":4,"key":"ext:A4","fingerprint":"a4","record":{"external_id":"A4","patient_external_id":"X2","start_at":"2030-01-02T08:00:00Z","duration_minutes":30,"status":"scheduled"}},
 {"row":5,"key":"ext:A5","fingerprint":"a5","record":{"external_id":"A5","patient_external_id":"NOPE","patient_email":"one@example.test","start_at":"2030-01-02T09:00:00Z","duration_minutes":30,"status":"scheduled"}}
]')::jsonb;
SELECT is(pg_temp.res(4, 5)->>'status', 'created', 'a row whose patient id is unknown is matched by its e-mail');
SELECT is((SELECT patient_id FROM appointments WHERE external_id = 'A5'), pg_temp.pat('X1'),
          '… to the patient of that e-mail');
SELECT is((SELECT patient_id FROM appointments WHERE external_id = 'A4'), pg_temp.pat('X2'),
          '… and the other row of its batch to the patient of its id');

-- A deleted patient's id and a live patient's e-mail: every rule; the
-- deleted patient is no match, the e-mail is.
INSERT INTO ans SELECT 5, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000102', 3, repeat('5', 64), '[
 {"row":6,"key":"ext:A6","fingerprint":"a6","record":{"external_id":"A6","patient_external_id":"X3","patient_email":"one@example.test","start_at":"2030-01-03T08:00:00Z","duration_minutes":30,"status":"scheduled"}}
]')::jsonb;
SELECT is(pg_temp.res(5, 6)->>'status', 'created', 'a row naming a deleted patient''s id is matched by its e-mail');
SELECT is((SELECT patient_id FROM appointments WHERE external_id = 'A6'), pg_temp.pat('X1'),
          '… to the live patient of that e-mail');

-- No id at all, a payment by e-mail: every rule.
INSERT INTO ans SELECT 6, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000103', 1, repeat('6', 64), '[
 {"row":1,"key":"h:p1","fingerprint":"p1","record":{"patient_email":"one@example.test","date":"2024-03-01","amount_cents":-100,"kind":"payment"}}
]')::jsonb;
SELECT is(pg_temp.res(6, 1)->>'status', 'created', 'a payment without a patient id is matched by e-mail');
SELECT is((SELECT patient_id FROM payments WHERE amount_cents = -100), pg_temp.pat('X1'), '… to that patient');

-- An id that is unknown, and nothing else: not found, as before.
INSERT INTO ans SELECT 7, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000102', 4, repeat('7', 64), '[
 {"row":7,"key":"ext:A7","fingerprint":"a7","record":{"external_id":"A7","patient_external_id":"NOBODY","start_at":"2030-01-04T08:00:00Z","duration_minutes":30,"status":"scheduled"}}
]')::jsonb;
SELECT is(pg_temp.res(7, 7)->'error'->>'code', 'PATIENT_NOT_FOUND', 'an unknown id alone is PATIENT_NOT_FOUND');

-- Every row by id, with rows the matching passes over: a row the server
-- rejected, a deletion, a key twice. The first rule alone; each row's
-- outcome as with every rule.
INSERT INTO ans SELECT 8, dsc_ingest_batch('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000102', 5, repeat('8', 64), '[
 {"row":8,"key":"ext:A8","fingerprint":"a8","record":{"external_id":"A8","patient_external_id":"X2","start_at":"2030-01-05T08:00:00Z","duration_minutes":30,"status":"scheduled"}},
 {"row":9,"key":"ext:A8","fingerprint":"a8b","record":{"external_id":"A8","patient_external_id":"X2","start_at":"2030-01-05T08:00:00Z","duration_minutes":45,"status":"scheduled"}},
 {"row":10,"key":"ext:A10","fingerprint":"a10","error_code":"INVALID_RECORD","error_message":"start_at: required","record":{"external_id":"A10","patient_external_id":"NOBODY"}},
 {"row":11,"key":"ext:A1","fingerprint":"delete","op":"delete"}
]')::jsonb;
SELECT is((SELECT string_agg((r->>'row') || ' ' || (r->>'status'), ',' ORDER BY (r->>'row')::int) FROM ans, jsonb_array_elements(a->'results') r WHERE seq = 8),
          '8 created,9 updated,10 rejected,11 deleted',
          'rows by id beside a rejected row, a deletion and a repeated key: each its outcome');
SELECT is((SELECT duration_minutes || ' ' || (patient_id = pg_temp.pat('X2'))::text FROM appointments WHERE external_id = 'A8'),
          '45 true', '… the repeated key stored once, from its last row, with the patient of its id');
SELECT is((SELECT deleted_at IS NOT NULL FROM appointments WHERE external_id = 'A1'), true,
          '… and the deletion done');

SELECT * FROM finish();
ROLLBACK;
