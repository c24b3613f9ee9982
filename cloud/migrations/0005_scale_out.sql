-- 0005_scale_out.sql — what growing past one machine needs of the schema
-- (docs/scaling.md): every key of a practice's data holds practice_id, so
-- the tables can be partitioned or distributed by practice with no key
-- spanning two practices; and the operator's view of the agents of every
-- practice, for the metrics listener of `serve`.
--
-- 0003 made the foreign keys from records to their patient composite and
-- 0004 keyed import_jobs, its items' job and its batches by practice. Left
-- were the primary keys on id alone (patients, appointments, treatments,
-- payments, import_job_items) and a treatment's appointment, referenced by
-- id alone. Here each primary key becomes (practice_id, id), the foreign
-- keys to patients point at that key (the unique (id, practice_id) that
-- served them goes), and a treatment's appointment must be of the
-- treatment's practice.
--
-- Every statement of the server runs under the practice_isolation
-- policies, so a lookup by id alone is a lookup by (practice_id, id) and
-- uses the new keys.
--
-- The operator's view: dsc_agents_seen() lists every practice's agents
-- (ids, version, counts, codes, times: never a file name or a value) with
-- whether each is stale. SECURITY DEFINER, run as the owner, whom the
-- owner_read policy lets read agent_heartbeats across practices, as
-- owner_admin does on practices; the application role reaches the table
-- through it only, never a practice's other data.
--
-- Runs inside one transaction (dentsync-cloud migrate).

ALTER TABLE appointments DROP CONSTRAINT appointments_patient_fkey;
ALTER TABLE treatments
    DROP CONSTRAINT treatments_patient_fkey,
    DROP CONSTRAINT treatments_appointment_id_fkey;
ALTER TABLE payments DROP CONSTRAINT payments_patient_fkey;

ALTER TABLE patients
    DROP CONSTRAINT patients_id_practice,
    DROP CONSTRAINT patients_pkey,
    ADD CONSTRAINT patients_pkey PRIMARY KEY (practice_id, id);

ALTER TABLE appointments
    DROP CONSTRAINT appointments_pkey,
    ADD CONSTRAINT appointments_pkey PRIMARY KEY (practice_id, id),
    ADD CONSTRAINT appointments_patient_fkey FOREIGN KEY (practice_id, patient_id)
        REFERENCES patients (practice_id, id);

ALTER TABLE treatments
    DROP CONSTRAINT treatments_pkey,
    ADD CONSTRAINT treatments_pkey PRIMARY KEY (practice_id, id),
    ADD CONSTRAINT treatments_patient_fkey FOREIGN KEY (practice_id, patient_id)
        REFERENCES patients (practice_id, id),
    ADD CONSTRAINT treatments_appointment_fkey FOREIGN KEY (practice_id, appointment_id)
        REFERENCES appointments (practice_id, id);

ALTER TABLE payments
    DROP CONSTRAINT payments_pkey,
    ADD CONSTRAINT payments_pkey PRIMARY KEY (practice_id, id),
    ADD CONSTRAINT payments_patient_fkey FOREIGN KEY (practice_id, patient_id)
        REFERENCES patients (practice_id, id);

ALTER TABLE import_job_items
    DROP CONSTRAINT import_job_items_pkey,
    ADD CONSTRAINT import_job_items_pkey PRIMARY KEY (practice_id, id);

-- --- the operator's view of the agents -------------------------------------------

CREATE POLICY owner_read ON agent_heartbeats FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION dsc_agents_seen(stale_after_seconds integer)
RETURNS TABLE (practice_id uuid, agent_id uuid, version text, queue_depth integer,
               oldest_pending_age_seconds integer, last_error_code text,
               last_heartbeat_at timestamptz, stale boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT h.practice_id, h.agent_id, h.version, h.queue_depth, h.oldest_pending_age_seconds,
           h.last_error_code, h.received_at,
           h.received_at < now() - make_interval(secs => stale_after_seconds)
      FROM public.agent_heartbeats h;
$$;
REVOKE ALL ON FUNCTION dsc_agents_seen(integer) FROM PUBLIC;
