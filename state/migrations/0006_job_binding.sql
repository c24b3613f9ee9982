-- 0005_job_binding.sql — which column fed which canonical field, per job.
--
-- jobs.binding is the mapper's binding of the job's template to the file's
-- header, as JSON (agent/map/map.h, ds_map_binding_json): each field with
-- its column and whether the template or a synonym found it, and the fields
-- left unbound because two columns named them. Header and field names
-- only, never a value. NULL for a job staged before this version.
ALTER TABLE jobs ADD COLUMN binding TEXT;
