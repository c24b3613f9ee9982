-- locations.sql — dsc_ingest_batch() keeps each record's location (0010):
-- on insert and on update, in patients, appointments, treatments and
-- payments; absent or "" is NULL; a changed location is an update.
-- Synthetic data only (example.com). Rolled back at the end.
BEGIN;
SELECT * FROM no_plan();

INSERT INTO practices (id, name) VALUES ('bbbbbbbb-0000-4000-8000-000000000001', 'sql practice L');
INSERT INTO import_jobs (id, practice_id, filename, import_type, sha256, total_rows)
SELECT ('bbbbbbbb-0000-4000-8000-00000000010' || n)::uuid,
       'bbbbbbbb-0000-4000-8000-000000000001', t || '.csv', t, repeat('0', 64), 100
  FROM (VALUES (1, 'patients'), (2, 'appointments'), (3, 'treatments'), (4, 'financial')) v(n, t);

SET ROLE dentsync_app;
SELECT set_config('app.practice_id', 'bbbbbbbb-0000-4000-8000-000000000001', true);
CREATE FUNCTION pg_temp.ingest(job integer, seq integer, rows text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg((r->>'row') || ':' || (r->>'status'), ',' ORDER BY (r->>'row')::int)
      FROM jsonb_array_elements(dsc_ingest_batch('bbbbbbbb-0000-4000-8000-000000000001',
                                                 ('bbbbbbbb-0000-4000-8000-00000000010' || job)::uuid,
                                                 seq, repeat(seq::text, 64), rows::jsonb)::jsonb
                                -> 'results') r $$;

SELECT is(pg_temp.ingest(1, 1, '[
 {"row":1,"key":"ext:L1","fingerprint":"l1","record":{"external_id":"L1","email":"l1@example.com","location":"North"}},
 {"row":2,"key":"ext:L2","fingerprint":"l2","record":{"external_id":"L2","email":"l2@example.com","location":""}},
 {"row":3,"key":"ext:L3","fingerprint":"l3","record":{"external_id":"L3","email":"l3@example.com"}}]'),
          '1:created,2:created,3:created', 'patients with and without a location are created');
SELECT is((SELECT string_agg(external_id || ':' || coalesce(location, '-'), ',' ORDER BY external_id)
             FROM patients WHERE practice_id = 'bbbbbbbb-0000-4000-8000-000000000001'),
          'L1:North,L2:-,L3:-', 'a patient''s home clinic is stored; "" and absent are NULL');

SELECT is(pg_temp.ingest(2, 1, '[
 {"row":1,"key":"ext:A1","fingerprint":"a1","record":{"external_id":"A1","patient_external_id":"L1","start_at":"2024-04-02T14:00:00Z","duration_minutes":30,"status":"scheduled","location":"1"}}]'),
          '1:created', 'an appointment with a location is created');
SELECT is(pg_temp.ingest(3, 1, '[
 {"row":1,"key":"ext:T1","fingerprint":"t1","record":{"external_id":"T1","patient_external_id":"L1","procedure_code":"D0120","status":"completed","fee_cents":5000,"location":"2"}}]'),
          '1:created', 'a treatment with a location is created');
SELECT is(pg_temp.ingest(4, 1, '[
 {"row":1,"key":"ext:P1","fingerprint":"p1","record":{"external_id":"P1","patient_external_id":"L1","date":"2024-04-02","amount_cents":2500,"kind":"payment","location":"Main Street"}}]'),
          '1:created', 'a payment with a location is created');
SELECT is((SELECT (SELECT location FROM appointments WHERE external_id = 'A1') || '|' ||
                  (SELECT location FROM treatments WHERE external_id = 'T1') || '|' ||
                  (SELECT location FROM payments WHERE external_id = 'P1')),
          '1|2|Main Street', 'appointments, treatments and payments store their location');

-- A changed location is an update of every type.
SELECT is(pg_temp.ingest(1, 2, '[
 {"row":4,"key":"ext:L1","fingerprint":"l1b","record":{"external_id":"L1","email":"l1@example.com","location":"South"}}]'),
          '4:updated', 'a patient whose clinic changed is updated');
SELECT is(pg_temp.ingest(2, 2, '[
 {"row":2,"key":"ext:A1","fingerprint":"a1b","record":{"external_id":"A1","patient_external_id":"L1","start_at":"2024-04-02T14:00:00Z","duration_minutes":30,"status":"scheduled","location":"3"}}]'),
          '2:updated', 'an appointment moved to another clinic is updated');
SELECT is(pg_temp.ingest(3, 2, '[
 {"row":2,"key":"ext:T1","fingerprint":"t1b","record":{"external_id":"T1","patient_external_id":"L1","procedure_code":"D0120","status":"completed","fee_cents":5000}}]'),
          '2:updated', 'a treatment that lost its location is updated');
SELECT is(pg_temp.ingest(4, 2, '[
 {"row":2,"key":"ext:P1","fingerprint":"p1b","record":{"external_id":"P1","patient_external_id":"L1","date":"2024-04-02","amount_cents":2500,"kind":"payment","location":"Elm Road"}}]'),
          '2:updated', 'a payment of another clinic is updated');
SELECT is((SELECT (SELECT location FROM patients WHERE external_id = 'L1') || '|' ||
                  (SELECT location FROM appointments WHERE external_id = 'A1') || '|' ||
                  coalesce((SELECT location FROM treatments WHERE external_id = 'T1'), '-') || '|' ||
                  (SELECT location FROM payments WHERE external_id = 'P1')),
          'South|3|-|Elm Road', 'the updates write the new location');

-- An operatory is a room of one location: two clinics' OP1 at the same
-- hour do not conflict, in the database or within one batch; the same
-- location's OP1 does; a provider conflicts across locations.
SELECT is(pg_temp.ingest(2, 3, '[
 {"row":3,"key":"ext:A2","fingerprint":"a2","record":{"external_id":"A2","patient_external_id":"L1","start_at":"2024-05-06T09:00:00Z","duration_minutes":60,"status":"scheduled","operatory":"OP1","location":"North"}},
 {"row":4,"key":"ext:A3","fingerprint":"a3","record":{"external_id":"A3","patient_external_id":"L2","start_at":"2024-05-06T09:30:00Z","duration_minutes":30,"status":"scheduled","operatory":"OP1","location":"South"}},
 {"row":5,"key":"ext:A4","fingerprint":"a4","record":{"external_id":"A4","patient_external_id":"L3","start_at":"2024-05-06T09:15:00Z","duration_minutes":30,"status":"scheduled","operatory":"OP1"}}]'),
          '3:created,4:created,5:created', 'one operatory name in three locations: no conflict in a batch');
SELECT is(pg_temp.ingest(2, 4, '[
 {"row":6,"key":"ext:A5","fingerprint":"a5","record":{"external_id":"A5","patient_external_id":"L2","start_at":"2024-05-06T09:40:00Z","duration_minutes":30,"status":"scheduled","operatory":"OP1","location":"East"}},
 {"row":7,"key":"ext:A6","fingerprint":"a6","record":{"external_id":"A6","patient_external_id":"L2","start_at":"2024-05-06T09:20:00Z","duration_minutes":20,"status":"scheduled","operatory":"OP1","location":"North"}},
 {"row":8,"key":"ext:A7","fingerprint":"a7","record":{"external_id":"A7","patient_external_id":"L3","start_at":"2024-05-06T09:20:00Z","duration_minutes":20,"status":"scheduled","operatory":"OP1"}},
 {"row":9,"key":"ext:A8","fingerprint":"a8","record":{"external_id":"A8","patient_external_id":"L3","start_at":"2024-05-06T13:00:00Z","duration_minutes":30,"status":"scheduled","provider":"DR1","operatory":"OP2","location":"North"}},
 {"row":10,"key":"ext:A9","fingerprint":"a9","record":{"external_id":"A9","patient_external_id":"L2","start_at":"2024-05-06T13:10:00Z","duration_minutes":30,"status":"scheduled","provider":"DR1","operatory":"OP2","location":"South"}}]'),
          '6:created,7:conflict,8:conflict,9:created,10:conflict',
          'the same location''s operatory (or both without one) conflicts with the database; a provider across locations');
SELECT is((SELECT string_agg(a.external_id || '>' || b.external_id, ',' ORDER BY a.external_id)
             FROM appointments a JOIN appointments b ON b.id = a.conflict_with
            WHERE a.practice_id = 'bbbbbbbb-0000-4000-8000-000000000001'),
          'A6>A2,A7>A4,A9>A8', 'each conflict names the appointment of its own location (the provider''s of the other)');

SELECT * FROM finish();
ROLLBACK;
