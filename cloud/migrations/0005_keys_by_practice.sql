-- 0005_keys_by_practice.sql — every key of a practice's data holds
-- practice_id, so the tables can be partitioned or distributed by practice
-- (docs/scaling.md) with no key spanning two practices.
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
