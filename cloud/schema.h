/*
 * schema.h — the cloud database's schema and roles: applying the embedded
 * migrations (cloud/migrations/NNNN_name.sql), creating and granting the
 * application role, and the check `serve` makes before it accepts requests.
 */
#ifndef DSC_SCHEMA_H
#define DSC_SCHEMA_H

struct dsc_db;

#define DSC_APP_ROLE "dentsync_app"

/* Applies every migration not yet recorded in schema_migrations, each in
 * its own transaction, in version order; then creates the role
 * dentsync_app if it is missing and grants it what `serve` needs. Run as
 * the owner role. Safe to run again and concurrently (an advisory lock
 * serializes runs). 0, DSC_EDB, DSC_EUNAVAIL, DSC_EBUSY. */
int dsc_schema_migrate(struct dsc_db *db);

/* Checks that the connected role may serve requests: not a superuser, not
 * BYPASSRLS, not a member of such a role, owner (or member of an owner) of
 * no table, and the schema is migrated. Logs the reason and returns
 * DSC_EPERM when it may not; 0, DSC_EDB or DSC_EUNAVAIL otherwise. */
int dsc_schema_check_app_role(struct dsc_db *db);

#endif
