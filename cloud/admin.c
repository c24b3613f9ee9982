/*
 * admin.c — practices and agent tokens, managed by the owner role from the
 * command line (the owner_admin policies of migration 0001 let it see all
 * practices and tokens; the application role never touches agent_tokens).
 *
 * Listings print ids, names, labels and times, never a token or its hash.
 *
 * A token is "dsk_" followed by 32 random bytes in hex. Only its SHA-256
 * is stored, so a leaked database does not leak working tokens, and the
 * token is printed once, when it is created.
 */
#include "cloud/admin.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/log.h"

#include <stdio.h>
#include <string.h>

int dsc_admin_practice_create(struct dsc_db *db, const char *name, const char *timezone,
                              char id[DSC_UUID_LEN])
{
    const char *params[2] = {name, timezone != NULL ? timezone : "UTC"};
    struct dsc_rows *rows = NULL;
    int rc;

    if (name == NULL || name[0] == '\0' || strlen(name) > 200) {
        return DSC_EINVAL;
    }
    rc = dsc_db_exec(db, "timezone lookup", "SELECT 1 FROM pg_timezone_names WHERE name = $1", 1,
                     params + 1, &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_count(rows) == 0) {
        rc = DSC_EINVAL;
        goto out;
    }
    dsc_rows_free(&rows);
    rc = dsc_db_exec(db, "practice insert",
                     "INSERT INTO practices (name, timezone) VALUES ($1, $2) "
                     "ON CONFLICT (name) DO NOTHING RETURNING id",
                     2, params, &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_count(rows) == 0) {
        rc = DSC_EEXIST;
        goto out;
    }
    snprintf(id, DSC_UUID_LEN, "%s", dsc_rows_get(rows, 0, 0));
out:
    dsc_rows_free(&rows);
    return rc;
}

int dsc_admin_token_create(struct dsc_db *db, const char *practice, const char *label,
                           char token[DSC_TOKEN_LEN], char id[DSC_UUID_LEN])
{
    char random_hex[65];
    char digest[DSC_SHA256_HEX];
    char practice_id[DSC_UUID_LEN];
    const char *params[3];
    struct dsc_rows *rows = NULL;
    int rc;

    params[0] = practice;
    rc = dsc_db_exec(db, "practice lookup", "SELECT id FROM practices WHERE name = $1", 1, params,
                     &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_count(rows) == 0) {
        rc = DSC_ENOTFOUND;
        goto out;
    }
    snprintf(practice_id, sizeof(practice_id), "%s", dsc_rows_get(rows, 0, 0));
    dsc_rows_free(&rows);

    rc = dsc_hash_random_hex(32, random_hex);
    if (rc != 0) {
        goto out;
    }
    snprintf(token, DSC_TOKEN_LEN, "%s%s", DSC_TOKEN_PREFIX, random_hex);
    rc = dsc_sha256_hex(token, strlen(token), digest);
    if (rc != 0) {
        goto out;
    }
    params[0] = practice_id;
    params[1] = digest;
    params[2] = label;
    rc = dsc_db_exec(db, "token insert",
                     "INSERT INTO agent_tokens (practice_id, token_sha256, name) "
                     "VALUES ($1, $2, $3) RETURNING id",
                     3, params, &rows);
    if (rc != 0) {
        goto out;
    }
    snprintf(id, DSC_UUID_LEN, "%s", dsc_rows_get(rows, 0, 0));
out:
    memset(random_hex, 0, sizeof(random_hex));
    dsc_rows_free(&rows);
    return rc;
}

int dsc_admin_token_revoke(struct dsc_db *db, const char *token_id)
{
    char id[DSC_UUID_LEN];
    const char *params[1] = {id};
    struct dsc_rows *rows = NULL;
    int rc;

    if (!dsc_hash_parse_uuid(token_id, id)) {
        return DSC_EINVAL;
    }
    rc = dsc_db_exec(db, "token revoke",
                     "UPDATE agent_tokens SET revoked_at = now() "
                     "WHERE id = $1 AND revoked_at IS NULL RETURNING id",
                     1, params, &rows);
    if (rc == 0 && dsc_rows_count(rows) == 0) {
        rc = DSC_ENOTFOUND;
    }
    dsc_rows_free(&rows);
    return rc;
}

int dsc_admin_practice_policy(struct dsc_db *db, const char *id, const char *policy)
{
    const char *params[2] = {id, policy};
    struct dsc_rows *rows = NULL;
    int rc;

    if (strcmp(policy, "flag") != 0 && strcmp(policy, "reject") != 0) {
        return DSC_EINVAL;
    }
    rc = dsc_db_exec(db, "practice policy",
                     "UPDATE practices SET conflict_policy = $2 WHERE id = $1 RETURNING id", 2,
                     params, &rows);
    if (rc == 0 && dsc_rows_count(rows) == 0) {
        rc = DSC_ENOTFOUND;
    }
    dsc_rows_free(&rows);
    return rc;
}

int dsc_admin_practice_name_only(struct dsc_db *db, const char *name, int on)
{
    const char *params[2] = {name, on ? "true" : "false"};
    struct dsc_rows *rows = NULL;
    int rc;

    rc = dsc_db_exec(db, "practice name-only match",
                     "UPDATE practices SET name_only_match = $2::boolean WHERE name = $1 "
                     "RETURNING id",
                     2, params, &rows);
    if (rc == 0 && dsc_rows_count(rows) == 0) {
        rc = DSC_ENOTFOUND;
    }
    dsc_rows_free(&rows);
    return rc;
}

/* Prints every row of rows, tab-separated, NULL as "-". */
static void print_rows(const struct dsc_rows *rows, int ncols, FILE *out)
{
    const char *v;

    for (int r = 0; r < dsc_rows_count(rows); r++) {
        for (int c = 0; c < ncols; c++) {
            v = dsc_rows_get(rows, r, c);
            fprintf(out, "%s%s", c > 0 ? "\t" : "", v != NULL ? v : "-");
        }
        fputc('\n', out);
    }
}

int dsc_admin_practice_list(struct dsc_db *db, FILE *out)
{
    struct dsc_rows *rows = NULL;
    int rc;

    rc = dsc_db_exec(db, "practice list",
                     "SELECT id, name, timezone, conflict_policy,"
                     " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                     " CASE WHEN name_only_match THEN 'on' ELSE 'off' END"
                     " FROM practices ORDER BY name",
                     0, NULL, &rows);
    if (rc == 0) {
        fprintf(out, "id\tname\ttimezone\tconflict_policy\tcreated_at\tname_only_match\n");
        print_rows(rows, 6, out);
    }
    dsc_rows_free(&rows);
    return rc;
}

int dsc_admin_token_list(struct dsc_db *db, FILE *out)
{
    struct dsc_rows *rows = NULL;
    int rc;

    rc = dsc_db_exec(db, "token list",
                     "SELECT t.id, p.name, t.name,"
                     " to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                     " to_char(t.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                     " FROM agent_tokens t JOIN practices p ON p.id = t.practice_id"
                     " ORDER BY p.name, t.created_at",
                     0, NULL, &rows);
    if (rc == 0) {
        fprintf(out, "id\tpractice\tlabel\tcreated_at\trevoked_at\n");
        print_rows(rows, 5, out);
    }
    dsc_rows_free(&rows);
    return rc;
}
