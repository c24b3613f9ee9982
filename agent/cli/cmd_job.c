/*
 * cmd_job.c — `dentsync job ID`: one job in detail — its file, template,
 * state and times, its rows by status, its batches by state, and the rows
 * that did not end well grouped by status and error (codes and field names,
 * with a count and the first row number; never a value). ID may be a unique
 * prefix of at least 8 characters, as `dentsync jobs` shows it.
 */
#include "agent/cli/commands.h"

#include "agent/cli/out.h"
#include "agent/map/map.h"
#include "state/store_ingest.h"
#include "state/store_status.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

struct job_ctx {
    int json;             /* --json */
    json_t *doc;          /* --json: the document built */
    char id[DS_UUID_LEN]; /* the job's full id */
    long groups;          /* error groups written */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync job [-c FILE] [--json] ID\n");
}

static int on_job(void *ctx, const struct ds_job_row *j)
{
    struct job_ctx *c = ctx;
    const struct ds_item_counts *k = &j->counts;
    char a[32];
    char b[32];
    char d[32];

    snprintf(c->id, sizeof(c->id), "%s", j->id);
    if (c->json) {
        c->doc = json_pack(
            "{s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:s?, s:s?, s:s?, s:{s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:[]}",
            "id", j->id, "folder", j->folder, "practice", j->practice, "import_type",
            j->import_type, "template", j->template_id, "filename", j->filename, "state", j->state,
            "total_rows", (json_int_t)j->total_rows, "created_at",
            j->created_at > 0 ? ds_out_iso(j->created_at, a, sizeof(a)) : NULL, "staged_at",
            j->staged_at > 0 ? ds_out_iso(j->staged_at, b, sizeof(b)) : NULL, "completed_at",
            j->completed_at > 0 ? ds_out_iso(j->completed_at, d, sizeof(d)) : NULL, "rows", "total",
            (json_int_t)k->total, "created", (json_int_t)k->created, "updated",
            (json_int_t)k->updated, "unchanged", (json_int_t)k->unchanged, "duplicate",
            (json_int_t)k->duplicate, "invalid", (json_int_t)k->invalid, "conflict",
            (json_int_t)k->conflict, "needs_review", (json_int_t)k->needs_review, "rejected",
            (json_int_t)k->rejected, "valid", (json_int_t)k->valid, "sent", (json_int_t)k->sent,
            "errors");
        return c->doc != NULL ? 0 : DS_ENOMEM;
    }
    printf("job        %s\n", j->id);
    printf("file       %s (folder %s)\n", j->filename, j->folder != NULL ? j->folder : "-");
    printf("practice   %s\n", j->practice);
    printf("type       %s, template %s\n", j->import_type, j->template_id);
    printf("state      %s\n", j->state);
    printf("created    %s\n", ds_out_time(j->created_at, a, sizeof(a)));
    printf("staged     %s\n", ds_out_time(j->staged_at, a, sizeof(a)));
    printf("completed  %s\n", ds_out_time(j->completed_at, a, sizeof(a)));
    printf("rows       %ld in the file: %ld created, %ld updated, %ld unchanged, "
           "%ld duplicate, %ld invalid, %ld conflict, %ld needs review, %ld rejected, "
           "%ld waiting\n",
           j->total_rows, k->created, k->updated, k->unchanged, k->duplicate, k->invalid,
           k->conflict, k->needs_review, k->rejected, k->valid + k->sent);
    return 0;
}

static int on_group(void *ctx, const struct ds_error_group *g)
{
    struct job_ctx *c = ctx;
    char field[64];
    char sug[512];

    ds_map_message_field(g->message, field, sizeof(field));
    ds_map_suggest_status(g->status, g->code, g->message, sug, sizeof(sug));
    if (c->json) {
        json_array_append_new(json_object_get(c->doc, "errors"),
                              json_pack("{s:s, s:s?, s:s, s:s?, s:I, s:I, s:s}", "status",
                                        g->status, "code", g->code, "field", field, "message",
                                        g->message, "rows", (json_int_t)g->count, "first_row",
                                        (json_int_t)g->first_row, "suggestion", sug));
        c->groups++;
        return 0;
    }
    if (c->groups == 0) {
        printf("\nrows that did not go through (by status and error; a row with several errors"
               " counts under each):\n"
               "  %-13s %-22s %7s %9s  %s\n",
               "STATUS", "CODE", "ROWS", "FIRST ROW", "ERROR");
    }
    printf("  %-13s %-22s %7ld %9ld  %s\n", g->status, g->code != NULL ? g->code : "-", g->count,
           g->first_row, g->message != NULL ? g->message : "");
    if (strcmp(g->status, "duplicate") != 0) {
        printf("  %-13s fix: %s\n", "", sug);
    }
    c->groups++;
    return 0;
}

/* Which column fed which field (the template's or a synonym), as the job
 * keeps it; nothing for a job staged before bindings were kept. */
static void show_binding(struct ds_store *st, struct job_ctx *c)
{
    char buf[16384];
    json_t *b;
    json_t *e;
    size_t i;

    if (ds_store_job_binding(st, c->id, buf, sizeof(buf)) != 0 ||
        (b = json_loads(buf, 0, NULL)) == NULL) {
        return;
    }
    if (c->json) {
        json_object_set_new(c->doc, "binding", b);
        return;
    }
    printf("columns   ");
    json_array_foreach(json_object_get(b, "fields"), i, e)
    {
        const char *tc = json_string_value(json_object_get(e, "time_column"));

        printf("%s %s%s%s -> %s%s", i > 0 ? "," : "",
               json_string_value(json_object_get(e, "column")), tc != NULL ? " + " : "",
               tc != NULL ? tc : "", json_string_value(json_object_get(e, "field")),
               json_is_string(json_object_get(e, "by")) &&
                       strcmp(json_string_value(json_object_get(e, "by")), "synonym") == 0
                   ? " (synonym)"
                   : "");
    }
    printf("\n");
    json_array_foreach(json_object_get(b, "ambiguous"), i, e)
    {
        printf("unbound    %s: two columns name it\n",
               json_string_value(json_object_get(e, "field")));
    }
    json_decref(b);
}

int ds_cmd_job(const char *config_path, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    struct job_ctx c;
    struct ds_config *cfg = NULL;
    struct ds_store *st = NULL;
    struct ds_batch_counts bc;
    int opt;
    int rc;

    memset(&c, 0, sizeof(c));
    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "", longopts, NULL);
        if (opt == -1) {
            break;
        }
        if (opt != 'j') {
            usage(stderr);
            return DS_EXIT_USAGE;
        }
        c.json = 1;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    rc = ds_out_open("job", config_path, 0, &cfg, &st);
    if (rc != DS_EXIT_OK) {
        return rc;
    }
    rc = ds_store_job_show(st, argv[optind], on_job, &c);
    if (rc == DS_ENOTFOUND || rc == DS_EINVAL) {
        fprintf(stderr, "dentsync job: %s: %s\n", argv[optind],
                rc == DS_ENOTFOUND ? "no such job in the queue"
                                   : "not a job id, or a prefix matching several jobs "
                                     "(give at least 8 characters)");
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    if (rc == 0) {
        rc = ds_store_job_batch_counts(st, c.id, &bc);
    }
    if (rc == 0) {
        show_binding(st, &c);
    }
    if (rc == 0 && c.json) {
        json_object_set_new(c.doc, "batches",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "pending",
                                      (json_int_t)bc.pending, "in_flight", (json_int_t)bc.in_flight,
                                      "retry_wait", (json_int_t)bc.retry_wait, "acked",
                                      (json_int_t)bc.acked, "rejected", (json_int_t)bc.rejected));
    }
    else if (rc == 0) {
        printf("batches    %ld acked, %ld pending, %ld in flight, %ld waiting to retry, "
               "%ld rejected\n",
               bc.acked, bc.pending, bc.in_flight, bc.retry_wait, bc.rejected);
    }
    if (rc == 0) {
        rc = ds_store_job_errors(st, c.id, 50, on_group, &c);
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync job: cannot read the queue: %s\n", ds_strerror(rc));
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    if (c.json) {
        json_dumpf(c.doc, stdout, JSON_COMPACT);
        printf("\n");
    }
    else if (c.groups == 0) {
        printf("\nno row failed\n");
    }
out:
    json_decref(c.doc);
    ds_store_close(&st);
    ds_config_free(&cfg);
    return rc;
}
