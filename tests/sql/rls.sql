-- rls.sql — row-level security with two practices on every practice-owned
-- table (read and write), and the catalog: every such table has row
-- security enabled and forced; the application role is neither superuser
-- nor BYPASSRLS nor an owner. Synthetic data only. Rolled back at the end.
BEGIN;
SELECT * FROM no_plan();

-- The practice-owned tables: every table of the schema with a practice_id,
-- and practices itself.
CREATE TEMP TABLE owned AS
SELECT c.oid::regclass AS tbl, c.relname::text AS name, c.relrowsecurity AS enabled,
       c.relforcerowsecurity AS forced
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'r'
   AND (c.relname = 'practices'
        OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'practice_id' AND NOT a.attisdropped));
GRANT SELECT ON owned TO dentsync_app;

SELECT ok((SELECT count(*) FROM owned) >= 11, 'the practice-owned tables are found (' ||
          (SELECT string_agg(name, ', ' ORDER BY name) FROM owned) || ')');
SELECT is((SELECT string_agg(name, ', ' ORDER BY name) FROM owned WHERE NOT enabled), NULL,
          'every practice-owned table has row-level security enabled');
SELECT is((SELECT string_agg(name, ', ' ORDER BY name) FROM owned WHERE NOT forced), NULL,
          'every practice-owned table has row-level security forced');
SELECT is((SELECT string_agg(name, ', ' ORDER BY name) FROM owned o
            WHERE NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = o.tbl
                                 AND p.polname = 'practice_isolation')), NULL,
          'every practice-owned table has the practice_isolation policy');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'dentsync_app'), false,
          'dentsync_app is not a superuser');
SELECT is((SELECT rolbypassrls FROM pg_roles WHERE rolname = 'dentsync_app'), false,
          'dentsync_app does not bypass row-level security');
SELECT is((SELECT count(*) FROM pg_class c WHERE c.relowner = 'dentsync_app'::regrole
              AND c.relnamespace = 'public'::regnamespace), 0::bigint,
          'dentsync_app owns nothing in the schema');
SELECT is((SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
            WHERE m.member = 'dentsync_app'::regrole AND (r.rolsuper OR r.rolbypassrls)), 0::bigint,
          'dentsync_app is a member of no superuser or BYPASSRLS role');
SELECT ok(NOT has_table_privilege('dentsync_app', 'agent_tokens', 'SELECT'),
          'dentsync_app cannot read agent_tokens (it goes through dsc_token_practice)');
SELECT ok(NOT has_table_privilege('dentsync_app', 'patients', 'DELETE'),
          'dentsync_app cannot delete records (deletion is soft)');

-- One row of each practice in every table.
INSERT INTO practices (id, name) VALUES
    ('aaaaaaaa-0000-4000-8000-00000000000a', 'rls practice A'),
    ('bbbbbbbb-0000-4000-8000-00000000000b', 'rls practice B');
INSERT INTO agent_tokens (practice_id, token_sha256)
SELECT p, repeat(c, 64) FROM (VALUES ('aaaaaaaa-0000-4000-8000-00000000000a'::uuid, 'a'),
                                     ('bbbbbbbb-0000-4000-8000-00000000000b'::uuid, 'b')) v(p, c);
INSERT INTO import_jobs (id, practice_id, filename, import_type, sha256)
VALUES ('aaaaaaaa-0000-4000-8000-0000000000a1', 'aaaaaaaa-0000-4000-8000-00000000000a', 'a.csv', 'patients', repeat('0', 64)),
       ('bbbbbbbb-0000-4000-8000-0000000000b1', 'bbbbbbbb-0000-4000-8000-00000000000b', 'b.csv', 'patients', repeat('0', 64));
INSERT INTO import_job_items (job_id, practice_id, row_number, key, fingerprint, status)
VALUES ('aaaaaaaa-0000-4000-8000-0000000000a1', 'aaaaaaaa-0000-4000-8000-00000000000a', 1, 'ext:1', 'f', 'created'),
       ('bbbbbbbb-0000-4000-8000-0000000000b1', 'bbbbbbbb-0000-4000-8000-00000000000b', 1, 'ext:1', 'f', 'created');
INSERT INTO import_batches (job_id, seq, practice_id, request_digest, response)
VALUES ('aaaaaaaa-0000-4000-8000-0000000000a1', 1, 'aaaaaaaa-0000-4000-8000-00000000000a', repeat('0', 64), '{}'),
       ('bbbbbbbb-0000-4000-8000-0000000000b1', 1, 'bbbbbbbb-0000-4000-8000-00000000000b', repeat('0', 64), '{}');
INSERT INTO patients (id, practice_id, source_key, fingerprint, external_id)
VALUES ('aaaaaaaa-0000-4000-8000-0000000000a2', 'aaaaaaaa-0000-4000-8000-00000000000a', 'ext:1', 'f', '1'),
       ('bbbbbbbb-0000-4000-8000-0000000000b2', 'bbbbbbbb-0000-4000-8000-00000000000b', 'ext:1', 'f', '1');
INSERT INTO appointments (id, practice_id, source_key, fingerprint, patient_id, start_at, end_at, duration_minutes, status)
VALUES ('aaaaaaaa-0000-4000-8000-0000000000a3', 'aaaaaaaa-0000-4000-8000-00000000000a', 'ext:1', 'f', 'aaaaaaaa-0000-4000-8000-0000000000a2', '2024-01-01T10:00:00Z', '2024-01-01T10:30:00Z', 30, 'scheduled'),
       ('bbbbbbbb-0000-4000-8000-0000000000b3', 'bbbbbbbb-0000-4000-8000-00000000000b', 'ext:1', 'f', 'bbbbbbbb-0000-4000-8000-0000000000b2', '2024-01-01T10:00:00Z', '2024-01-01T10:30:00Z', 30, 'scheduled');
INSERT INTO treatments (practice_id, source_key, fingerprint, patient_id, procedure_code, status)
VALUES ('aaaaaaaa-0000-4000-8000-00000000000a', 'ext:1', 'f', 'aaaaaaaa-0000-4000-8000-0000000000a2', 'D0120', 'planned'),
       ('bbbbbbbb-0000-4000-8000-00000000000b', 'ext:1', 'f', 'bbbbbbbb-0000-4000-8000-0000000000b2', 'D0120', 'planned');
INSERT INTO payments (practice_id, source_key, fingerprint, patient_id, date, amount_cents, kind)
VALUES ('aaaaaaaa-0000-4000-8000-00000000000a', 'ext:1', 'f', 'aaaaaaaa-0000-4000-8000-0000000000a2', '2024-01-01', 100, 'payment'),
       ('bbbbbbbb-0000-4000-8000-00000000000b', 'ext:1', 'f', 'bbbbbbbb-0000-4000-8000-0000000000b2', '2024-01-01', 100, 'payment');
INSERT INTO import_templates (practice_id, id, name, import_type, mapping_config)
VALUES ('aaaaaaaa-0000-4000-8000-00000000000a', 't1', 'T', 'patients', '{}'),
       ('bbbbbbbb-0000-4000-8000-00000000000b', 't1', 'T', 'patients', '{}');
INSERT INTO agent_heartbeats (practice_id, agent_id)
VALUES ('aaaaaaaa-0000-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-0000000000a9'),
       ('bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0000-4000-8000-0000000000b9');
SELECT is((SELECT count(*) FROM owned), 11::bigint, 'the test covers all 11 practice-owned tables');
SELECT throws_ok($$INSERT INTO appointments (practice_id, source_key, fingerprint, patient_id, start_at, end_at, duration_minutes, status) VALUES ('aaaaaaaa-0000-4000-8000-00000000000a', 'ext:2', 'f', 'bbbbbbbb-0000-4000-8000-0000000000b2', '2024-01-02T10:00:00Z', '2024-01-02T10:30:00Z', 30, 'scheduled')$$,
                 '23503', NULL, 'even the owner cannot store an appointment of another practice''s patient');
SELECT throws_ok($$INSERT INTO import_job_items (job_id, practice_id, row_number, key, fingerprint, status) VALUES ('bbbbbbbb-0000-4000-8000-0000000000b1', 'aaaaaaaa-0000-4000-8000-00000000000a', 2, 'k', 'f', 'created')$$,
                 '23503', NULL, '... nor an item of another practice''s job');


-- Reading and writing, as dentsync_app of practice A, on every table.
CREATE FUNCTION pg_temp.rows_of(t regclass, p uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s WHERE %s = $1', t,
                   CASE WHEN t = 'practices'::regclass THEN 'id' ELSE 'practice_id' END)
       INTO n USING p;
    RETURN n;
END $$;
CREATE FUNCTION pg_temp.touch(t regclass, p uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('UPDATE %s SET %2$s = %2$s WHERE %2$s = $1', t,
                   CASE WHEN t = 'practices'::regclass THEN 'id' ELSE 'practice_id' END)
       USING p;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.rows_of(regclass, uuid), pg_temp.touch(regclass, uuid) TO dentsync_app;

SET ROLE dentsync_app;
SELECT set_config('app.practice_id', 'aaaaaaaa-0000-4000-8000-00000000000a', true);
SELECT is(pg_temp.rows_of(tbl, 'aaaaaaaa-0000-4000-8000-00000000000a'), 1::bigint,
          name || ': practice A reads its own row')
  FROM owned WHERE name <> 'agent_tokens' ORDER BY name;
SELECT is(pg_temp.rows_of(tbl, 'bbbbbbbb-0000-4000-8000-00000000000b'), 0::bigint,
          name || ': practice A does not see practice B''s row')
  FROM owned WHERE name <> 'agent_tokens' ORDER BY name;
SELECT is(pg_temp.touch(tbl, 'bbbbbbbb-0000-4000-8000-00000000000b'), 0::bigint,
          name || ': practice A''s UPDATE reaches none of practice B''s rows')
  FROM owned WHERE name <> 'agent_tokens' ORDER BY name;
SELECT is(pg_temp.touch(tbl, 'aaaaaaaa-0000-4000-8000-00000000000a'), 1::bigint,
          name || ': practice A''s UPDATE reaches its own row')
  FROM owned WHERE name NOT IN ('agent_tokens') ORDER BY name;
SELECT throws_ok('SELECT count(*) FROM agent_tokens', '42501', NULL,
                 'agent_tokens: dentsync_app is denied');

-- Writing a row for practice B is refused on every table.
SELECT throws_ok($$INSERT INTO practices (id, name) VALUES ('cccccccc-0000-4000-8000-00000000000c', 'x')$$, '42501', NULL, 'practices: no row for another practice');
SELECT throws_ok($$INSERT INTO import_jobs (id, practice_id, filename, import_type, sha256) VALUES (gen_random_uuid(), 'bbbbbbbb-0000-4000-8000-00000000000b', 'x', 'patients', repeat('0', 64))$$, '42501', NULL, 'import_jobs: no row for practice B');
SELECT throws_ok($$INSERT INTO import_job_items (job_id, practice_id, row_number, key, fingerprint, status) VALUES ('bbbbbbbb-0000-4000-8000-0000000000b1', 'bbbbbbbb-0000-4000-8000-00000000000b', 2, 'k', 'f', 'created')$$, '42501', NULL, 'import_job_items: no row for practice B');
SELECT throws_ok($$INSERT INTO import_batches (job_id, seq, practice_id, request_digest, response) VALUES ('bbbbbbbb-0000-4000-8000-0000000000b1', 2, 'bbbbbbbb-0000-4000-8000-00000000000b', repeat('0', 64), '{}')$$, '42501', NULL, 'import_batches: no row for practice B');
SELECT throws_ok($$INSERT INTO patients (practice_id, source_key, fingerprint) VALUES ('bbbbbbbb-0000-4000-8000-00000000000b', 'k', 'f')$$, '42501', NULL, 'patients: no row for practice B');
SELECT throws_ok($$INSERT INTO appointments (practice_id, source_key, fingerprint, patient_id, start_at, end_at, duration_minutes, status) VALUES ('bbbbbbbb-0000-4000-8000-00000000000b', 'k', 'f', 'bbbbbbbb-0000-4000-8000-0000000000b2', '2024-01-01T10:00:00Z', '2024-01-01T10:30:00Z', 30, 'scheduled')$$, '42501', NULL, 'appointments: no row for practice B');
SELECT throws_ok($$INSERT INTO treatments (practice_id, source_key, fingerprint, patient_id, procedure_code, status) VALUES ('bbbbbbbb-0000-4000-8000-00000000000b', 'k', 'f', 'bbbbbbbb-0000-4000-8000-0000000000b2', 'D0120', 'planned')$$, '42501', NULL, 'treatments: no row for practice B');
SELECT throws_ok($$INSERT INTO payments (practice_id, source_key, fingerprint, patient_id, date, amount_cents, kind) VALUES ('bbbbbbbb-0000-4000-8000-00000000000b', 'k', 'f', 'bbbbbbbb-0000-4000-8000-0000000000b2', '2024-01-01', 1, 'payment')$$, '42501', NULL, 'payments: no row for practice B');
SELECT throws_ok($$INSERT INTO import_templates (practice_id, id, name, import_type, mapping_config) VALUES ('bbbbbbbb-0000-4000-8000-00000000000b', 't2', 'T', 'patients', '{}')$$, '42501', NULL, 'import_templates: no row for practice B');
SELECT throws_ok($$INSERT INTO agent_heartbeats (practice_id, agent_id) VALUES ('bbbbbbbb-0000-4000-8000-00000000000b', gen_random_uuid())$$, '42501', NULL, 'agent_heartbeats: no row for practice B');
SELECT throws_ok($$UPDATE patients SET practice_id = 'bbbbbbbb-0000-4000-8000-00000000000b' WHERE practice_id = 'aaaaaaaa-0000-4000-8000-00000000000a'$$, '42501', NULL, 'a row cannot be moved to practice B');
SELECT throws_ok($$SELECT dsc_ingest_batch('aaaaaaaa-0000-4000-8000-00000000000a', 'bbbbbbbb-0000-4000-8000-0000000000b1', 9, repeat('0', 64), '[]')$$, 'P0002', NULL, 'dsc_ingest_batch on practice B''s job: no such job');
SELECT throws_ok($$SELECT dsc_ingest_batch('bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0000-4000-8000-0000000000b1', 9, repeat('0', 64), '[]')$$, '42501', NULL, 'dsc_ingest_batch for practice B in practice A''s session: refused');

-- Without app.practice_id a session sees nothing at all.
SELECT set_config('app.practice_id', '', true);
SELECT throws_ok($$SELECT dsc_ingest_batch('aaaaaaaa-0000-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-0000000000a1', 9, repeat('0', 64), '[]')$$, 'P0002', NULL, 'dsc_ingest_batch given practice A without app.practice_id: row-level security still hides its job');
SELECT is(pg_temp.rows_of(tbl, 'aaaaaaaa-0000-4000-8000-00000000000a'), 0::bigint,
          name || ': without app.practice_id nothing is visible')
  FROM owned WHERE name <> 'agent_tokens' ORDER BY name;

RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
