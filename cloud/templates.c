/*
 * templates.c — saved import templates (the seed's import_templates).
 *
 * The body of a PUT is {"name", "import_type", "mapping_config",
 * "validation_rules"}: mapping_config is the template document the agent
 * uses (an object, stored as jsonb), validation_rules an optional object.
 * PostgreSQL builds the JSON answers; row-level security keeps every
 * statement inside the token's practice, so another practice's template is
 * a 404 like one that does not exist.
 */
#include "cloud/templates.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 200

#define TEMPLATE_JSON                                                                              \
    "json_build_object('id', t.id, 'name', t.name, 'import_type', t.import_type,"                  \
    " 'mapping_config', t.mapping_config, 'validation_rules', t.validation_rules,"                 \
    " 'usage_count', t.usage_count,"                                                               \
    " 'created_at', to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"   \
    " 'updated_at', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"

/* Answers the JSON text of the first column of rows (200 or status), or
 * 404 when there is none. */
static int answer(struct dsc_response *resp, struct dsc_rows *rows, unsigned status)
{
    const char *text = dsc_rows_get(rows, 0, 0);
    json_t *body;

    if (text == NULL) {
        return dsc_api_error(resp, 404, "NOT_FOUND", "no such template");
    }
    body = json_loads(text, 0, NULL);
    return dsc_api_json(resp, status, &body);
}

int dsc_templates_list(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    struct dsc_rows *rows = NULL;
    int rc;

    rc = dsc_db_exec(ctx->db, "template list",
                     "SELECT json_build_object('templates', coalesce(json_agg(" TEMPLATE_JSON
                     " ORDER BY t.id), '[]'::json))::text FROM import_templates t",
                     0, NULL, &rows);
    if (rc == 0) {
        rc = answer(resp, rows, 200);
    }
    dsc_rows_free(&rows);
    return rc;
}

int dsc_templates_get(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    const char *params[1] = {ctx->template_id};
    struct dsc_rows *rows = NULL;
    int rc;

    rc = dsc_db_exec(ctx->db, "template get",
                     "SELECT " TEMPLATE_JSON "::text FROM import_templates t WHERE t.id = $1", 1,
                     params, &rows);
    if (rc == 0) {
        rc = answer(resp, rows, 200);
    }
    dsc_rows_free(&rows);
    return rc;
}

int dsc_templates_put(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    enum dsc_record_type type;
    const char *params[6];
    struct dsc_rows *rows = NULL;
    json_t *body = NULL;
    json_t *v;
    char *mapping = NULL;
    char *rules = NULL;
    int rc;

    rc = dsc_api_parse_object(ctx, resp, &body);
    if (rc != 0) {
        rc = rc == DSC_EINVAL ? 0 : rc;
        goto out;
    }
    v = json_object_get(body, "name");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > MAX_NAME) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST",
                           "name: required, a string of 1 to %d bytes", MAX_NAME);
        goto out;
    }
    params[2] = json_string_value(v);
    v = json_object_get(body, "import_type");
    if (!json_is_string(v) || dsc_record_type_parse(json_string_value(v), &type) != 0) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST",
                           "import_type: must be patients, appointments, treatments or financial");
        goto out;
    }
    params[3] = json_string_value(v);
    v = json_object_get(body, "mapping_config");
    if (!json_is_object(v)) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST", "mapping_config: required, an object");
        goto out;
    }
    mapping = json_dumps(v, JSON_COMPACT);
    v = json_object_get(body, "validation_rules");
    if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST", "validation_rules: an object or null");
        goto out;
    }
    rules = json_is_object(v) ? json_dumps(v, JSON_COMPACT) : NULL;
    if (mapping == NULL || (json_is_object(v) && rules == NULL)) {
        rc = DSC_ENOMEM;
        goto out;
    }
    params[0] = ctx->practice_id;
    params[1] = ctx->template_id;
    params[4] = mapping;
    params[5] = rules;
    /* xmax = 0 tells an inserted row from an updated one. */
    rc =
        dsc_db_exec(ctx->db, "template put",
                    "WITH t AS (INSERT INTO import_templates AS t (practice_id, id, name,"
                    " import_type, mapping_config, validation_rules)"
                    " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)"
                    " ON CONFLICT (practice_id, id) DO UPDATE SET name = EXCLUDED.name,"
                    " import_type = EXCLUDED.import_type, mapping_config = EXCLUDED.mapping_config,"
                    " validation_rules = EXCLUDED.validation_rules, updated_at = now()"
                    " RETURNING t.*, (xmax = 0) AS inserted)"
                    " SELECT " TEMPLATE_JSON "::text, t.inserted FROM t",
                    6, params, &rows);
    if (rc != 0) {
        goto out;
    }
    v = NULL;
    rc = answer(
        resp, rows,
        dsc_rows_get(rows, 0, 1) != NULL && strcmp(dsc_rows_get(rows, 0, 1), "t") == 0 ? 201 : 200);
out:
    dsc_rows_free(&rows);
    json_decref(body);
    free(mapping);
    free(rules);
    return rc;
}
