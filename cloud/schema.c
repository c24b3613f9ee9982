/*
 * schema.c — migrations, the application role and its grants, and the
 * role check of `serve`.
 *
 * Migrations are embedded at build time (installer/embed.sh writes
 * build/gen/cloud_migrations.c): dsc_migrations[i] is the SQL of version
 * i + 1. Each one runs in its own transaction together with its row in
 * schema_migrations, under a transaction-scoped advisory lock, so a run
 * that stops half-way leaves whole versions only and two runs at once
 * apply each version once.
 *
 * The grants are re-applied on every run (they are idempotent), so a new
 * table in a later migration is granted without anyone remembering to.
 *
 * The role check ignores temporary tables: dsc_ingest_batch() keeps a
 * temporary stage table per session, and a session that PostgreSQL killed
 * (immediate shutdown) leaves its temporary tables behind until the slot
 * is reused.
 */
#include "cloud/schema.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/log.h"

#include <stdio.h>
#include <string.h>

extern const char *const dsc_migrations[];
extern const char *const dsc_migrations_names[];

/* Any constant will do; it only has to be the same for every run. */
#define MIGRATE_LOCK "7310431590275309"

static const char create_versions[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                      " version integer PRIMARY KEY,"
                                      " name text NOT NULL,"
                                      " applied_at timestamptz NOT NULL DEFAULT now())";

/* The application role reads and writes the practice tables (row-level
 * security decides which rows), never agent_tokens (it goes through
 * dsc_token_practice) nor schema_migrations. */
static const char grants[] =
    "GRANT USAGE ON SCHEMA public TO " DSC_APP_ROLE ";"
    "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO " DSC_APP_ROLE ";"
    "REVOKE ALL ON agent_tokens, schema_migrations FROM " DSC_APP_ROLE ";"
    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO " DSC_APP_ROLE ";"
    "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO " DSC_APP_ROLE;

static int apply_one(struct dsc_db *db, int version)
{
    char vbuf[16];
    const char *params[2] = {vbuf, dsc_migrations_names[version - 1]};
    struct dsc_rows *rows = NULL;
    int rc;

    snprintf(vbuf, sizeof(vbuf), "%d", version);
    rc = dsc_db_begin(db);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_db_exec(db, "migration lock", "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0,
                     NULL, NULL);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_db_exec(db, "migration lookup", "SELECT 1 FROM schema_migrations WHERE version = $1",
                     1, params, &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_count(rows) == 0) {
        rc = dsc_db_script(db, dsc_migrations_names[version - 1], dsc_migrations[version - 1]);
        if (rc != 0) {
            goto out;
        }
        rc = dsc_db_exec(db, "migration record",
                         "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, params,
                         NULL);
        if (rc != 0) {
            goto out;
        }
        dsc_log_info("migrate: applied %s", dsc_migrations_names[version - 1]);
    }
    rc = dsc_db_commit(db);
out:
    dsc_rows_free(&rows);
    dsc_db_rollback(db);
    return rc;
}

static int ensure_role(struct dsc_db *db)
{
    static const char *const params[1] = {DSC_APP_ROLE};
    struct dsc_rows *rows = NULL;
    const char *super;
    const char *bypass;
    int rc;

    rc = dsc_db_begin(db);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_db_exec(db, "migration lock", "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0,
                     NULL, NULL);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_db_exec(db, "role lookup",
                     "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", 1, params,
                     &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_count(rows) == 0) {
        rc = dsc_db_script(db, "create role",
                           "CREATE ROLE " DSC_APP_ROLE " LOGIN NOSUPERUSER NOBYPASSRLS "
                           "NOCREATEDB NOCREATEROLE");
        if (rc != 0) {
            goto out;
        }
        dsc_log_info("migrate: created role %s", DSC_APP_ROLE);
    }
    else {
        super = dsc_rows_get(rows, 0, 0);
        bypass = dsc_rows_get(rows, 0, 1);
        if ((super != NULL && strcmp(super, "t") == 0) ||
            (bypass != NULL && strcmp(bypass, "t") == 0)) {
            /* Leave it to an administrator: serve will refuse this role. */
            dsc_log_warn("migrate: role %s is superuser or BYPASSRLS; serve will refuse it",
                         DSC_APP_ROLE);
        }
    }
    rc = dsc_db_script(db, "grants", grants);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_db_commit(db);
out:
    dsc_rows_free(&rows);
    dsc_db_rollback(db);
    return rc;
}

int dsc_schema_migrate(struct dsc_db *db)
{
    int rc;

    rc = dsc_db_script(db, "schema_migrations", create_versions);
    for (int v = 1; rc == 0 && dsc_migrations[v - 1] != NULL; v++) {
        rc = apply_one(db, v);
    }
    if (rc == 0) {
        rc = ensure_role(db);
    }
    return rc;
}

int dsc_schema_check_app_role(struct dsc_db *db)
{
    static const char sql[] = "SELECT"
                              " EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolsuper"
                              "         AND pg_has_role(current_user, r.oid, 'MEMBER')),"
                              " EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolbypassrls"
                              "         AND pg_has_role(current_user, r.oid, 'MEMBER')),"
                              " (SELECT count(*) FROM pg_tables t"
                              "   WHERE t.schemaname NOT IN ('pg_catalog', 'information_schema')"
                              "     AND t.schemaname NOT LIKE 'pg\\_temp\\_%'"
                              "     AND pg_has_role(current_user, t.tableowner, 'MEMBER')),"
                              " to_regprocedure('public.dsc_token_practice(text)') IS NOT NULL,"
                              " current_user";
    struct dsc_rows *rows = NULL;
    const char *v;
    int rc;

    rc = dsc_db_exec(db, "role check", sql, 0, NULL, &rows);
    if (rc != 0) {
        goto out;
    }
    rc = DSC_EPERM;
    v = dsc_rows_get(rows, 0, 0);
    if (v == NULL || strcmp(v, "f") != 0) {
        dsc_log_error("serve: role %s is (or is a member of) a superuser; serve runs only as the "
                      "application role (" DSC_APP_ROLE "), which row-level security binds",
                      dsc_rows_get(rows, 0, 4));
        goto out;
    }
    v = dsc_rows_get(rows, 0, 1);
    if (v == NULL || strcmp(v, "f") != 0) {
        dsc_log_error("serve: role %s has BYPASSRLS (or is a member of such a role); serve runs "
                      "only as a role that row-level security binds",
                      dsc_rows_get(rows, 0, 4));
        goto out;
    }
    v = dsc_rows_get(rows, 0, 2);
    if (v == NULL || strcmp(v, "0") != 0) {
        dsc_log_error("serve: role %s owns %s table(s) (directly or through a role); serve runs "
                      "only as a role that owns nothing",
                      dsc_rows_get(rows, 0, 4), v != NULL ? v : "?");
        goto out;
    }
    v = dsc_rows_get(rows, 0, 3);
    if (v == NULL || strcmp(v, "t") != 0) {
        dsc_log_error("serve: the database is not migrated; run `dentsync-cloud migrate` as the "
                      "owner role first");
        goto out;
    }
    rc = 0;
out:
    dsc_rows_free(&rows);
    return rc;
}
