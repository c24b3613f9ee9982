/*
 * cmd_events.c — `dentsync events [--since WHEN] [--limit N]`: the audit
 * trail the queue keeps — what happened, when, with ids and codes (file
 * seen, job created, batch acked or retried, file held, an admin's retry,
 * a configuration reloaded). Oldest first; the newest 100 by default. One
 * JSON object per line with --json. Events never hold patient data.
 */
#include "agent/cli/commands.h"

#include "agent/cli/out.h"
#include "state/store_status.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

struct events_ctx {
    int json; /* --json */
    long n;   /* events written */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync events [-c FILE] [--json] [--since WHEN] [--limit N]\n"
                 "  WHEN: 90s, 15m, 6h, 2d back from now, or YYYY-MM-DD[THH:MM[:SS]] (local)\n");
}

static int on_event(void *ctx, const struct ds_event_row *e)
{
    struct events_ctx *c = ctx;
    char at[32];
    json_t *o;

    c->n++;
    if (c->json) {
        o = json_pack("{s:I, s:s, s:s, s:o?, s:s?, s:o?, s:s?, s:s?}", "id", (json_int_t)e->id,
                      "at", ds_out_iso(e->at, at, sizeof(at)), "kind", e->kind, "file_id",
                      e->file_id != 0 ? json_integer((json_int_t)e->file_id) : NULL, "job",
                      e->job_id, "seq", e->seq != 0 ? json_integer((json_int_t)e->seq) : NULL,
                      "code", e->code, "detail", e->detail);
        json_dumpf(o, stdout, JSON_COMPACT);
        printf("\n");
        json_decref(o);
        return 0;
    }
    printf("%s  %-18s", ds_out_time(e->at, at, sizeof(at)), e->kind);
    if (e->file_id != 0) {
        printf(" file=%lld", (long long)e->file_id);
    }
    if (e->job_id != NULL) {
        printf(" job=%s", e->job_id);
    }
    if (e->seq != 0) {
        printf(" seq=%ld", e->seq);
    }
    if (e->code != NULL) {
        printf(" code=%s", e->code);
    }
    if (e->detail != NULL) {
        printf(" %s", e->detail);
    }
    printf("\n");
    return 0;
}

int ds_cmd_events(const char *config_path, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"since", required_argument, NULL, 's'},
                                             {"limit", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    struct events_ctx c;
    struct ds_config *cfg = NULL;
    struct ds_store *st = NULL;
    double since = 0;
    long limit = 100;
    int limit_set = 0;
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
        else if (opt == 's' && ds_out_parse_since(optarg, ds_out_now(), &since) == 0) {
            limit = limit_set ? limit : 0; /* everything since then */
        }
        else if (opt != 'n' || ds_out_parse_count(optarg, &limit) != 0) {
            usage(stderr);
            return DS_EXIT_USAGE;
        }
        else {
            limit_set = 1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    rc = ds_out_open("events", config_path, 1, &cfg, &st);
    if (rc != DS_EXIT_OK) {
        return rc;
    }
    if (st != NULL) {
        rc = ds_store_events_list(st, since, limit, on_event, &c);
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync events: cannot read the queue: %s\n", ds_strerror(rc));
        rc = DS_EXIT_RUNTIME;
    }
    else if (c.n == 0 && !c.json) {
        printf("no events%s\n", since > 0 ? " in that time" : "");
    }
    ds_store_close(&st);
    ds_config_free(&cfg);
    return rc;
}
