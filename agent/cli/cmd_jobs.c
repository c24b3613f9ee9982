/*
 * cmd_jobs.c — `dentsync jobs`: the job history, newest first. One line per
 * job (an export file and its import type): file, type, template, state,
 * row counts, times, and where its rows take their location from (the
 * folder's fixed location, as the config says now, or the column the
 * binding read it from). A table on a terminal, one JSON object per line
 * with --json. Ids, names, counts and codes only: never patient data.
 */
#include "agent/cli/commands.h"

#include "agent/cli/out.h"
#include "agent/map/map.h"
#include "config/config.h"
#include "state/store_status.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

struct jobs_ctx {
    const struct ds_config *cfg; /* borrow: the folders' fixed locations */
    int json;                    /* --json */
    double now;                  /* when the command ran */
    long n;                      /* jobs written */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync jobs [-c FILE] [--json] [--limit N]\n");
}

/* The rows that ended well and those that did not. */
static long rows_ok(const struct ds_item_counts *k)
{
    return k->created + k->updated + k->unchanged;
}

static long rows_failed(const struct ds_item_counts *k)
{
    return k->invalid + k->conflict + k->needs_review + k->rejected;
}

static int on_job(void *ctx, const struct ds_job_row *j)
{
    struct jobs_ctx *c = ctx;
    const struct ds_item_counts *k = &j->counts;
    char created[32];
    char done[32];
    char where[400];
    const struct ds_folder_conf *f =
        c->cfg != NULL && j->folder != NULL ? ds_config_folder(c->cfg, j->folder) : NULL;
    const char *fixed = f != NULL ? f->location : NULL;
    json_t *o;

    ds_map_location_text(j->location_column, fixed, where, sizeof(where));
    if (c->json) {
        o = json_pack(
            "{s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:s?, s:s?, s:{s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:s?, s:s?, s:s}}",
            "id", j->id, "folder", j->folder, "practice", j->practice, "import_type",
            j->import_type, "template", j->template_id, "filename", j->filename, "state", j->state,
            "total_rows", (json_int_t)j->total_rows, "created_at",
            j->created_at > 0 ? ds_out_iso(j->created_at, created, sizeof(created)) : NULL,
            "completed_at",
            j->completed_at > 0 ? ds_out_iso(j->completed_at, done, sizeof(done)) : NULL, "rows",
            "created", (json_int_t)k->created, "updated", (json_int_t)k->updated, "unchanged",
            (json_int_t)k->unchanged, "duplicate", (json_int_t)k->duplicate, "invalid",
            (json_int_t)k->invalid, "conflict", (json_int_t)k->conflict, "needs_review",
            (json_int_t)k->needs_review, "rejected", (json_int_t)k->rejected, "pending",
            (json_int_t)(k->valid + k->sent), "total", (json_int_t)k->total, "location", "column",
            j->location_column, "fixed", fixed, "text", where);
        json_dumpf(o, stdout, JSON_COMPACT);
        printf("\n");
        json_decref(o);
        c->n++;
        return 0;
    }
    if (c->n == 0) {
        printf("%-8s %-19s %-22s %-12s %-24s %-21s %6s %6s %6s %6s %6s  %s\n", "JOB", "CREATED",
               "FILE", "TYPE", "TEMPLATE", "STATE", "ROWS", "OK", "FAILED", "DUP", "WAIT",
               "LOCATION");
    }
    printf("%-8.8s %-19s %-22.22s %-12s %-24.24s %-21s %6ld %6ld %6ld %6ld %6ld  %s\n", j->id,
           ds_out_time(j->created_at, created, sizeof(created)), j->filename, j->import_type,
           j->template_id, j->state, j->total_rows, rows_ok(k), rows_failed(k), k->duplicate,
           k->valid + k->sent, where[0] != '\0' ? where : "-");
    c->n++;
    return 0;
}

int ds_cmd_jobs(const char *config_path, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"limit", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    struct jobs_ctx c;
    struct ds_config *cfg = NULL;
    struct ds_store *st = NULL;
    long limit = 50;
    int opt;
    int rc;

    memset(&c, 0, sizeof(c));
    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "n:", longopts, NULL);
        if (opt == -1) {
            break;
        }
        if (opt == 'j') {
            c.json = 1;
        }
        else if (opt != 'n' || ds_out_parse_count(optarg, &limit) != 0) {
            usage(stderr);
            return DS_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    rc = ds_out_open("jobs", config_path, 1, &cfg, &st);
    if (rc != DS_EXIT_OK) {
        return rc;
    }
    c.now = ds_out_now();
    c.cfg = cfg;
    if (st != NULL) {
        rc = ds_store_jobs_list(st, limit, on_job, &c);
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync jobs: cannot read the queue: %s\n", ds_strerror(rc));
        rc = DS_EXIT_RUNTIME;
    }
    else if (c.n == 0 && !c.json) {
        printf("no jobs yet\n");
    }
    ds_store_close(&st);
    ds_config_free(&cfg);
    return rc;
}
