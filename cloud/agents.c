/*
 * agents.c — heartbeats, one row per agent (agent_heartbeats) holding its
 * latest report. A heartbeat carries counts and codes only — never a file
 * name or a value — so it can be shown and logged freely.
 */
#include "cloud/agents.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/hash.h"
#include "proto/proto.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define MAX_VERSION 64

#define STR(x) #x
#define XSTR(x) STR(x)

/* An optional non-negative integer member: "" (absent or null) or its
 * decimal text in out. */
static int opt_count(json_t *body, const char *name, char out[24])
{
    json_t *v = json_object_get(body, name);

    out[0] = '\0';
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX) {
        return DSC_EINVAL;
    }
    snprintf(out, 24, "%lld", (long long)json_integer_value(v));
    return 0;
}

int dsc_agents_heartbeat(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    char agent_id[DSC_UUID_LEN];
    char depth[24];
    char age[24];
    const char *params[6];
    struct dsc_rows *rows = NULL;
    json_t *body = NULL;
    json_t *answer = NULL;
    json_t *v;
    int rc;

    rc = dsc_api_parse_object(ctx, resp, &body);
    if (rc != 0) {
        rc = rc == DSC_EINVAL ? 0 : rc;
        goto out;
    }
    v = json_object_get(body, "agent_id");
    if (!json_is_string(v) || !dsc_hash_parse_uuid(json_string_value(v), agent_id)) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST", "agent_id: required, a UUID");
        goto out;
    }
    params[0] = ctx->practice_id;
    params[1] = agent_id;
    v = json_object_get(body, "version");
    params[2] = NULL;
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > MAX_VERSION) {
            rc = dsc_api_error(resp, 422, "INVALID_REQUEST", "version: a string of 1 to %d bytes",
                               MAX_VERSION);
            goto out;
        }
        params[2] = json_string_value(v);
    }
    if (opt_count(body, "queue_depth", depth) != 0) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST", "queue_depth: an integer >= 0");
        goto out;
    }
    if (opt_count(body, "oldest_pending_age_seconds", age) != 0) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST",
                           "oldest_pending_age_seconds: an integer >= 0 or null");
        goto out;
    }
    params[3] = depth[0] != '\0' ? depth : "0";
    params[4] = age[0] != '\0' ? age : NULL;
    v = json_object_get(body, "last_error_code");
    params[5] = NULL;
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v) ||
            !ds_proto_code_valid(json_string_value(v), json_string_length(v))) {
            rc =
                dsc_api_error(resp, 422, "INVALID_REQUEST",
                              "last_error_code: 1 to %d of A-Z, 0-9, _ or null", DS_PROTO_CODE_MAX);
            goto out;
        }
        params[5] = json_string_value(v);
    }
    rc =
        dsc_db_exec(ctx->db, "heartbeat",
                    "INSERT INTO agent_heartbeats AS h (practice_id, agent_id, version,"
                    " queue_depth, oldest_pending_age_seconds, last_error_code)"
                    " VALUES ($1, $2, $3, $4, $5, $6)"
                    " ON CONFLICT (practice_id, agent_id) DO UPDATE SET version = EXCLUDED.version,"
                    " queue_depth = EXCLUDED.queue_depth,"
                    " oldest_pending_age_seconds = EXCLUDED.oldest_pending_age_seconds,"
                    " last_error_code = EXCLUDED.last_error_code, received_at = now()"
                    " RETURNING json_build_object('agent_id', h.agent_id, 'received_at',"
                    " to_char(h.received_at AT TIME ZONE 'UTC',"
                    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))::text",
                    6, params, &rows);
    if (rc != 0) {
        goto out;
    }
    answer = json_loads(dsc_rows_get(rows, 0, 0), 0, NULL);
    rc = dsc_api_json(resp, 200, &answer);
out:
    dsc_rows_free(&rows);
    json_decref(body);
    json_decref(answer);
    return rc;
}

int dsc_agents_list(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    struct dsc_rows *rows = NULL;
    json_t *body = NULL;
    int rc;

    rc = dsc_db_exec(
        ctx->db, "agent list",
        "SELECT json_build_object('stale_after_seconds', " XSTR(
            DSC_AGENT_STALE_SECONDS) ","
                                     " 'agents', coalesce(json_agg(json_build_object("
                                     "   'agent_id', h.agent_id, 'version', h.version, "
                                     "'queue_depth', h.queue_depth,"
                                     "   'oldest_pending_age_seconds', "
                                     "h.oldest_pending_age_seconds,"
                                     "   'last_error_code', h.last_error_code,"
                                     "   'first_seen_at', to_char(h.first_seen_at AT TIME ZONE "
                                     "'UTC',"
                                     "                            "
                                     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                                     "   'last_heartbeat_at', to_char(h.received_at AT TIME ZONE "
                                     "'UTC',"
                                     "                                "
                                     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                                     "   'stale', h.received_at < now() - interval '" XSTR(
                                         DSC_AGENT_STALE_SECONDS) " seconds')"
                                                                  "   ORDER BY h.received_at DESC, "
                                                                  "h.agent_id), '[]'::json))::text"
                                                                  " FROM agent_heartbeats h",
        0, NULL, &rows);
    if (rc != 0) {
        goto out;
    }
    body = json_loads(dsc_rows_get(rows, 0, 0), 0, NULL);
    rc = dsc_api_json(resp, 200, &body);
out:
    dsc_rows_free(&rows);
    json_decref(body);
    return rc;
}
