-- ingest.sql — dsc_ingest_batch(): every patient matching rule and its
-- ambiguity case, in-batch duplicates, patient resolution of the other
-- types, scheduling conflicts under both policies, deletions, progress
-- counters and the stored answer. Synthetic data only (example.com).
-- Runs as the owner inside one transaction, as dentsync_app where it
-- ingests; rolled back at the end.
BEGIN;
SELECT * FROM no_plan();

INSERT INTO practices (id, name) VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'sql practice A');
INSERT INTO import_jobs (id, practice_id, filename, import_type, sha256, total_rows)
SELECT ('aaaaaaaa-0000-4000-8000-00000000010' || n)::uuid,
       'aaaaaaaa-0000-4000-8000-000000000001', t || '.csv', t, repeat('0', 64), 100
  FROM (VALUES (1, 'patients'), (2, 'appointments'), (3, 'treatments'), (4, 'financial'),
               (5, 'appointments'), (6, 'patients'), (7, 'appointments')) v(n, t);
-- Two patients that share an external id (as legacy data can), beside the
-- ones ingested below.
INSERT INTO patients (id, practice_id, source_key, fingerprint, external_id, last_name)
VALUES ('aaaaaaaa-0000-4000-8000-0000000000d1', 'aaaaaaaa-0000-4000-8000-000000000001',
        'h:legacy-d1', 'x', 'DUP', 'Dupone'),
       ('aaaaaaaa-0000-4000-8000-0000000000d2', 'aaaaaaaa-0000-4000-8000-000000000001',
        'h:legacy-d2', 'x', 'DUP', 'Duptwo');

SET ROLE dentsync_app;
SELECT set_config('app.practice_id', 'aaaaaaaa-0000-4000-8000-000000000001', true);
CREATE TEMP TABLE ans (seq integer PRIMARY KEY, a jsonb);
CREATE FUNCTION pg_temp.st(s integer) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg((r->>'row') || ':' || (r->>'status'), ',' ORDER BY (r->>'row')::int)
      FROM ans, jsonb_array_elements(ans.a->'results') r WHERE ans.seq = s $$;
CREATE FUNCTION pg_temp.res(s integer, n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT r FROM ans, jsonb_array_elements(ans.a->'results') r
     WHERE ans.seq = s AND (r->>'row')::int = n $$;
CREATE FUNCTION pg_temp.pid(ext text) RETURNS uuid LANGUAGE sql AS $$
    SELECT id FROM patients WHERE external_id = ext $$;

-- --- batch 1: patients, in-batch duplicates, a rejected row -------------------
INSERT INTO ans SELECT 1, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000101', 1, repeat('1', 64), '[
 {"row":1,"key":"ext:E1","fingerprint":"f1","record":{"external_id":"E1","first_name":"Test","last_name":"One","date_of_birth":"1980-01-01","email":"one@example.com"}},
 {"row":2,"key":"ext:E1","fingerprint":"f1","record":{"external_id":"E1","first_name":"Test","last_name":"One","date_of_birth":"1980-01-01","email":"one@example.com"}},
 {"row":3,"key":"ext:E3","fingerprint":"f3","record":{"external_id":"E3","email":"three@example.com"}},
 {"row":4,"key":"ext:E4","fingerprint":"f4","record":{"external_id":"E4","phone_home":"+15555550104"}},
 {"row":5,"key":"ext:E5","fingerprint":"f5","record":{"external_id":"E5","first_name":"Test","last_name":"Five","date_of_birth":"1975-05-05"}},
 {"row":6,"key":"ext:E7","fingerprint":"f7","record":{"external_id":"E7","email":"shared@example.com","phone_home":"+15555550199","first_name":"Test","last_name":"Twin","date_of_birth":"2001-01-01"}},
 {"row":7,"key":"ext:E8","fingerprint":"f8","record":{"external_id":"E8","email":"shared@example.com","phone_home":"+15555550199","first_name":"Test","last_name":"Twin","date_of_birth":"2001-01-01"}},
 {"row":8,"key":"ext:E9","fingerprint":"f9","record":{"external_id":"E9"},"error_code":"INVALID_RECORD","error_message":"date_of_birth: not a date (YYYY-MM-DD)"},
 {"row":9,"key":"h:k9","fingerprint":"g9","record":{"email":"nine@example.com"}},
 {"row":10,"key":"h:k10","fingerprint":"g10","record":{"email":"NINE@example.com"}}
]')::jsonb;
SELECT is(pg_temp.st(1), '1:created,2:unchanged,3:created,4:created,5:created,6:created,7:created,8:rejected,9:created,10:needs_review',
          'batch 1: each row''s status, in row order');
SELECT is(pg_temp.res(1, 2)->>'record_id', pg_temp.res(1, 1)->>'record_id',
          'the same record twice in a batch is one record (same record_id)');
SELECT is((SELECT count(*) FROM patients WHERE external_id = 'E1'), 1::bigint,
          '... and one patient row');
SELECT is(pg_temp.res(1, 8)->'error', '{"code":"INVALID_RECORD","message":"date_of_birth: not a date (YYYY-MM-DD)"}'::jsonb,
          'a row rejected by the server''s checks keeps its code and message');
SELECT is(pg_temp.res(1, 10)->'error'->>'code', 'POSSIBLE_DUPLICATE',
          'two new patients of one batch that match each other: the later is needs_review');
SELECT is(pg_temp.res(1, 10)->'candidates', jsonb_build_array(pg_temp.res(1, 9)->>'record_id'),
          '... naming the record the earlier row created');
SELECT is(a->'job', '{"processed_rows":10,"successful_rows":8,"failed_rows":2}'::jsonb,
          'the answer carries the job''s counters') FROM ans WHERE seq = 1;
SELECT is((SELECT response FROM import_batches WHERE job_id = 'aaaaaaaa-0000-4000-8000-000000000101' AND seq = 1),
          (SELECT a FROM ans WHERE seq = 1), 'the batch is stored with its answer');
SELECT is((SELECT count(*) FROM import_job_items WHERE job_id = 'aaaaaaaa-0000-4000-8000-000000000101'), 10::bigint,
          'every row became an item');
SELECT is((SELECT count(*) FROM import_job_items WHERE job_id = 'aaaaaaaa-0000-4000-8000-000000000101'
             AND status IN ('created', 'unchanged') AND processed_data IS NOT NULL), 0::bigint,
          'an item of a stored row keeps no second copy of the record (it is in patients)');
SELECT is((SELECT processed_data->>'external_id' FROM import_job_items
            WHERE job_id = 'aaaaaaaa-0000-4000-8000-000000000101' AND row_number = 8), 'E9',
          '... an item of a row not stored keeps it');
SELECT is((SELECT count(*) FROM pg_indexes
            WHERE indexname IN ('appointments_listing', 'appointments_patient', 'import_job_items_status')),
          0::bigint, 'no index that no statement of the server reads on the ingest''s tables');
SELECT throws_ok($$SELECT dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000101', 1, repeat('1', 64), '[{"row":11,"key":"ext:X","fingerprint":"x","record":{"external_id":"X"}}]')$$,
                 '23505', NULL, 'the same (job, seq) cannot be stored twice');

-- --- batch 2: the matching rules, one row each, and their ambiguity --------------
INSERT INTO ans SELECT 2, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000101', 2, repeat('2', 64), '[
 {"row":21,"key":"ext:DUP","fingerprint":"d","record":{"external_id":"DUP","last_name":"Dup"}},
 {"row":22,"key":"h:k22","fingerprint":"g22","record":{"email":"Three@Example.com","first_name":"Test"}},
 {"row":23,"key":"h:k23","fingerprint":"g23","record":{"email":"shared@example.com"}},
 {"row":24,"key":"h:k24","fingerprint":"g24","record":{"phone_mobile":"+15555550104","first_name":"Test"}},
 {"row":25,"key":"h:k25","fingerprint":"g25","record":{"phone_mobile":"+15555550199"}},
 {"row":26,"key":"h:k26","fingerprint":"g26","record":{"first_name":"TEST","last_name":"five","date_of_birth":"1975-05-05","middle_name":"M"}},
 {"row":27,"key":"h:k27","fingerprint":"g27","record":{"first_name":"Test","last_name":"Twin","date_of_birth":"2001-01-01"}},
 {"row":28,"key":"h:k28","fingerprint":"g28","record":{"email":"one@example.com","date_of_birth":"2015-06-06","first_name":"Test","last_name":"Child"}},
 {"row":29,"key":"ext:E10","fingerprint":"f10","record":{"external_id":"E10","email":"one@example.com","date_of_birth":"1980-01-01"}}
]')::jsonb;
SELECT is(pg_temp.st(2), '21:needs_review,22:updated,23:needs_review,24:updated,25:needs_review,26:updated,27:needs_review,28:created,29:created',
          'batch 2: each matching rule and its ambiguity case');
SELECT is(pg_temp.res(2, 21)->'candidates', '["aaaaaaaa-0000-4000-8000-0000000000d1","aaaaaaaa-0000-4000-8000-0000000000d2"]'::jsonb,
          'external id: two patients with that external id are needs_review with both ids');
SELECT is(pg_temp.res(2, 21)->'error'->>'code', 'AMBIGUOUS_PATIENT', '... code AMBIGUOUS_PATIENT');
SELECT is((pg_temp.res(2, 22)->>'record_id')::uuid, pg_temp.pid('E3'),
          'email (case-insensitive): the one patient with that email is updated');
SELECT is(pg_temp.res(2, 23)->'candidates', to_jsonb(ARRAY(SELECT id FROM patients WHERE external_id IN ('E7', 'E8') ORDER BY id)),
          'email shared by two patients: needs_review with both');
SELECT is((pg_temp.res(2, 24)->>'record_id')::uuid, pg_temp.pid('E4'),
          'phone: a mobile phone matches a patient''s home phone');
SELECT is(pg_temp.res(2, 25)->'error'->>'code', 'AMBIGUOUS_PATIENT', 'phone shared by two patients: needs_review');
SELECT is((pg_temp.res(2, 26)->>'record_id')::uuid, pg_temp.pid('E5'),
          'last + first name + date of birth (case-insensitive) match');
SELECT is(jsonb_array_length(pg_temp.res(2, 27)->'candidates'), 2, 'name + date of birth shared by two: needs_review with both');
SELECT isnt((pg_temp.res(2, 28)->>'record_id')::uuid, pg_temp.pid('E1'),
            'the same email with another date of birth (a family member) is another patient');
SELECT isnt((pg_temp.res(2, 29)->>'record_id')::uuid, pg_temp.pid('E1'),
            'the same email with another external id is another patient');
SELECT is((SELECT count(*) FROM patients), 11::bigint, 'no silent merge: 11 patients, as the statuses say');
SELECT is((SELECT source_key FROM patients WHERE external_id = 'E3'), 'ext:E3',
          'a matched patient keeps its ext: key');
SELECT is((SELECT middle_name FROM patients WHERE external_id = 'E5'), 'M', 'a matched patient takes the row''s fields');

-- --- appointments, treatments, financial: the patient reference -------------------
INSERT INTO ans SELECT 3, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000102', 1, repeat('3', 64), '[
 {"row":1,"key":"ext:A1","fingerprint":"a1","record":{"external_id":"A1","patient_external_id":"E1","start_at":"2024-03-27T10:00:00Z","end_at":"2024-03-27T10:30:00Z","status":"scheduled","provider":"DR1","operatory":"OP1"}},
 {"row":2,"key":"ext:A2","fingerprint":"a2","record":{"external_id":"A2","patient_email":"three@example.com","start_at":"2024-03-27T10:15:00Z","duration_minutes":30,"status":"scheduled","provider":"DR1","operatory":"OP9"}},
 {"row":3,"key":"ext:A3","fingerprint":"a3","record":{"external_id":"A3","patient_phone":"+15555550104","start_at":"2024-03-27T10:20:00Z","duration_minutes":10,"status":"confirmed","provider":"DR2","operatory":"OP1"}},
 {"row":4,"key":"ext:A4","fingerprint":"a4","record":{"external_id":"A4","patient_last_name":"Five","patient_first_name":"test","patient_date_of_birth":"1975-05-05","start_at":"2024-03-27T10:00:00Z","duration_minutes":60,"status":"cancelled","provider":"DR1","operatory":"OP1"}},
 {"row":5,"key":"ext:A5","fingerprint":"a5","record":{"external_id":"A5","patient_email":"shared@example.com","start_at":"2024-03-28T10:00:00Z","duration_minutes":30,"status":"scheduled","provider":"DR3"}},
 {"row":6,"key":"ext:A6","fingerprint":"a6","record":{"external_id":"A6","patient_external_id":"NOPE","start_at":"2024-03-28T11:00:00Z","duration_minutes":30,"status":"scheduled","provider":"DR3"}},
 {"row":7,"key":"ext:A7","fingerprint":"a7","record":{"external_id":"A7","patient_external_id":"E1","start_at":"2024-03-27T11:00:00Z","duration_minutes":30,"status":"scheduled","provider":"DR3","operatory":"OP3"}}
]')::jsonb;
SELECT is(pg_temp.st(3), '1:created,2:conflict,3:conflict,4:created,5:needs_review,6:needs_review,7:created',
          'appointments: created, conflicts, cancelled never conflicts, unresolved patients');
SELECT is((SELECT patient_id FROM appointments WHERE external_id = 'A1'), pg_temp.pid('E1'),
          'patient_external_id resolves the patient');
SELECT is((SELECT patient_id FROM appointments WHERE external_id = 'A4'), pg_temp.pid('E5'),
          'patient name + date of birth resolve the patient');
SELECT is(pg_temp.res(3, 2)->>'conflict_with', pg_temp.res(3, 1)->>'record_id',
          'same provider, overlapping: conflict naming the other appointment');
SELECT is(pg_temp.res(3, 3)->>'conflict_with', pg_temp.res(3, 1)->>'record_id',
          'same operatory, overlapping: conflict naming the other appointment');
SELECT is((SELECT conflict_with FROM appointments WHERE external_id = 'A2')::text, pg_temp.res(3, 1)->>'record_id',
          'policy flag: the conflicting appointment is stored with the conflict');
SELECT is(pg_temp.res(3, 5)->'error'->>'code', 'AMBIGUOUS_PATIENT', 'a patient reference with two matches: needs_review');
SELECT is(pg_temp.res(3, 6)->'error'->>'code', 'PATIENT_NOT_FOUND', 'a patient reference with no match: needs_review');
SELECT is((SELECT count(*) FROM appointments), 5::bigint, 'needs_review rows store nothing');

RESET ROLE;
UPDATE practices SET conflict_policy = 'reject' WHERE id = 'aaaaaaaa-0000-4000-8000-000000000001';
SET ROLE dentsync_app;
SELECT set_config('app.practice_id', 'aaaaaaaa-0000-4000-8000-000000000001', true);
INSERT INTO ans SELECT 4, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000102', 2, repeat('4', 64), '[
 {"row":8,"key":"ext:A8","fingerprint":"a8","record":{"external_id":"A8","patient_external_id":"E1","start_at":"2024-03-27T11:10:00Z","duration_minutes":10,"status":"scheduled","provider":"DR3"}},
 {"row":9,"key":"ext:A1","op":"delete","fingerprint":"delete"},
 {"row":10,"key":"ext:A1","op":"delete","fingerprint":"delete"},
 {"row":11,"key":"ext:NOPE","op":"delete","fingerprint":"delete"}
]')::jsonb;
SELECT is(pg_temp.st(4), '8:rejected,9:deleted,10:unchanged,11:unchanged',
          'policy reject: a conflict is rejected; deletions: deleted, then unchanged');
SELECT is(pg_temp.res(4, 8)->'error'->>'code', 'SCHEDULE_CONFLICT', '... with SCHEDULE_CONFLICT');
SELECT is((SELECT count(*) FROM appointments WHERE external_id = 'A8'), 0::bigint, '... and is not stored');
SELECT isnt((SELECT deleted_at FROM appointments WHERE external_id = 'A1'), NULL, 'a deletion sets deleted_at');
INSERT INTO ans SELECT 5, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000102', 3, repeat('5', 64), '[
 {"row":12,"key":"ext:A12","fingerprint":"a12","record":{"external_id":"A12","patient_external_id":"E1","start_at":"2024-03-27T10:00:00Z","duration_minutes":10,"status":"scheduled","provider":"DR1"}}
]')::jsonb;
SELECT is(pg_temp.st(5), '12:created', 'a deleted appointment no longer causes conflicts');
INSERT INTO ans SELECT 6, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000105', 1, repeat('6', 64), '[
 {"row":1,"key":"ext:A1","fingerprint":"a1","record":{"external_id":"A1","patient_external_id":"E1","start_at":"2024-03-26T10:00:00Z","end_at":"2024-03-26T10:30:00Z","status":"scheduled","provider":"DR1","operatory":"OP1"}},
 {"row":2,"key":"ext:A7","fingerprint":"a7","record":{"external_id":"A7","patient_external_id":"E1","start_at":"2024-03-27T11:00:00Z","duration_minutes":30,"status":"scheduled","provider":"DR3","operatory":"OP3"}}
]')::jsonb;
SELECT is(pg_temp.st(6), '1:updated,2:unchanged', 'a deleted record sent again comes back (updated); same fingerprint: unchanged');
SELECT is((SELECT deleted_at FROM appointments WHERE external_id = 'A1'), NULL, '... with deleted_at cleared');

INSERT INTO ans SELECT 7, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000103', 1, repeat('7', 64), '[
 {"row":1,"key":"ext:T1","fingerprint":"t1","record":{"external_id":"T1","patient_external_id":"E1","procedure_code":"D1110","status":"completed","fee_cents":9500,"service_date":"2024-03-27","appointment_external_id":"A7"}},
 {"row":2,"key":"ext:T2","fingerprint":"t2","record":{"external_id":"T2","patient_email":"nobody@example.com","procedure_code":"D0120","status":"planned"}}
]')::jsonb;
SELECT is(pg_temp.st(7), '1:created,2:needs_review', 'treatments: created; unresolved patient');
SELECT is((SELECT appointment_id FROM treatments WHERE external_id = 'T1'),
          (SELECT id FROM appointments WHERE external_id = 'A7'), 'a treatment links its appointment');
INSERT INTO ans SELECT 8, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000104', 1, repeat('8', 64), '[
 {"row":1,"key":"ext:F1","fingerprint":"p1","record":{"external_id":"F1","patient_external_id":"E1","date":"2024-03-27","amount_cents":-9500,"kind":"payment","method":"card"}},
 {"row":2,"key":"ext:F1","fingerprint":"p1b","record":{"external_id":"F1","patient_external_id":"E1","date":"2024-03-27","amount_cents":-9000,"kind":"payment","method":"card"}}
]')::jsonb;
SELECT is(pg_temp.st(8), '1:created,2:updated', 'financial: a record then its change in the same batch');
SELECT is((SELECT amount_cents FROM payments WHERE external_id = 'F1'), -9000, '... the last row''s values are stored');

-- --- the overlap search reaches back as far as the longest appointment ----------------
SELECT is((SELECT max_appointment_minutes FROM practices WHERE id = 'aaaaaaaa-0000-4000-8000-000000000001'), 60,
          'the practice''s longest appointment so far is kept (a cancelled one counts): 60 minutes');
INSERT INTO ans SELECT 9, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000107', 1, repeat('9', 64), '[
 {"row":1,"key":"ext:L1","fingerprint":"l1","record":{"external_id":"L1","patient_external_id":"E1","start_at":"2024-04-01T08:00:00Z","end_at":"2024-04-01T13:00:00Z","status":"scheduled","provider":"DR9"}},
 {"row":2,"key":"ext:L2","fingerprint":"l2","record":{"external_id":"L2","patient_external_id":"E1","start_at":"2024-04-01T12:00:00Z","duration_minutes":30,"status":"scheduled","provider":"DR9"}}
]')::jsonb;
SELECT is(pg_temp.st(9), '1:created,2:rejected',
          'in one batch: an appointment starting 4 hours into a 5-hour one of the same provider conflicts');
SELECT is((SELECT max_appointment_minutes FROM practices WHERE id = 'aaaaaaaa-0000-4000-8000-000000000001'), 300,
          'a 5-hour appointment raises the practice''s bound to 300 minutes');
INSERT INTO ans SELECT 10, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000107', 2, repeat('a', 64), '[
 {"row":3,"key":"ext:L3","fingerprint":"l3","record":{"external_id":"L3","patient_external_id":"E1","start_at":"2024-04-01T12:30:00Z","duration_minutes":15,"status":"scheduled","provider":"DR9","operatory":"OP8"}}
]')::jsonb;
SELECT is(pg_temp.st(10), '3:rejected',
          'against the database: an appointment starting 4.5 hours into a stored 5-hour one conflicts');
SELECT is(pg_temp.res(10, 3)->>'conflict_with', pg_temp.res(9, 1)->>'record_id', '... naming it');

-- --- new patients of one batch matching each other by phone ----------------------------
INSERT INTO ans SELECT 11, dsc_ingest_batch('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000106', 1, repeat('b', 64), '[
 {"row":1,"key":"h:p1","fingerprint":"q1","record":{"phone_mobile":"+15555550301","first_name":"Test"}},
 {"row":2,"key":"h:p2","fingerprint":"q2","record":{"phone_home":"+15555550301","first_name":"Test"}},
 {"row":3,"key":"ext:E30","fingerprint":"q3","record":{"external_id":"E30","phone_mobile":"+15555550302"}},
 {"row":4,"key":"ext:E31","fingerprint":"q4","record":{"external_id":"E31","phone_home":"+15555550302"}}
]')::jsonb;
SELECT is(pg_temp.st(11), '1:created,2:needs_review,3:created,4:created',
          'a new patient whose home phone is another new row''s mobile is a possible duplicate; with other external ids, two patients');
SELECT is(pg_temp.res(11, 2)->'candidates', jsonb_build_array(pg_temp.res(11, 1)->>'record_id'),
          '... naming the record the earlier row created');

-- --- progress -------------------------------------------------------------------------
SELECT is((SELECT processed_rows || '/' || successful_rows || '/' || failed_rows FROM import_jobs
            WHERE id = 'aaaaaaaa-0000-4000-8000-000000000101'), '19/13/6',
          'the counters add up over the batches of a job');
SELECT update_import_job_progress('aaaaaaaa-0000-4000-8000-000000000101');
SELECT is((SELECT processed_rows || '/' || successful_rows || '/' || failed_rows FROM import_jobs
            WHERE id = 'aaaaaaaa-0000-4000-8000-000000000101'), '19/13/6',
          'update_import_job_progress() recomputes the same counters from the items');
SELECT is((SELECT processed_rows || '/' || successful_rows FROM import_jobs
            WHERE id = 'aaaaaaaa-0000-4000-8000-000000000102'), '12/7',
          'deleted rows count as successful');

SELECT * FROM finish();
ROLLBACK;
