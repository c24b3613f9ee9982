/*
 * cmd_status.c — `dentsync status`: is the practice's data in the cloud?
 *
 * Per folder: the last file seen, the last successful sync (with a warning
 * past [agent] stale_hours), files and rows still waiting, held and
 * quarantined files. Then every batch not delivered yet with its state,
 * next attempt and last error code, every held or quarantined file with its
 * reason, and per practice whether uploads are paused. The queue is read
 * read-only; what only the running agent knows (pauses, requests in flight)
 * comes from its control socket, and when nobody answers there the output
 * says plainly that the agent is not running.
 *
 * A table on a terminal, one JSON object with --json. Ids, names from the
 * config, paths, counts and codes only: never patient data.
 */
#include "agent/cli/commands.h"

#include "agent/cli/out.h"
#include "agent/os/os_service.h"
#include "agent/service/control.h"
#include "state/store_status.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

struct status_ctx {
    json_t *doc;     /* --json: the document built */
    int json;        /* --json */
    double now;      /* when the command ran */
    long shown;      /* rows written by the current section */
    const char *hdr; /* header still to print before the first row */
    long skip;       /* rows of the current section not to print (the oldest) */
};

/* Quarantined files are final and pile up: a terminal shows the newest. */
#define STATUS_QUARANTINE_SHOWN 10

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync status [-c FILE] [--json]\n");
}

static void header_once(struct status_ctx *c)
{
    if (c->hdr != NULL) {
        fputs(c->hdr, stdout);
        c->hdr = NULL;
    }
}

static int on_batch(void *ctx, const struct ds_batch_status *b)
{
    struct status_ctx *c = ctx;
    char when[32];
    char ago[32];

    c->shown++;
    if (c->json) {
        json_array_append_new(
            json_object_get(c->doc, "batches"),
            json_pack(
                "{s:s, s:I, s:s, s:s?, s:s?, s:I, s:i, s:s?, s:s?}", "job", b->job_id, "seq",
                (json_int_t)b->seq, "state", b->state, "folder", b->folder, "practice", b->practice,
                "rows", (json_int_t)b->nrows, "attempts", b->attempts, "next_attempt_at",
                b->next_attempt_at > 0 ? ds_out_iso(b->next_attempt_at, when, sizeof(when)) : NULL,
                "last_error_code", b->last_error_code));
        return 0;
    }
    header_once(c);
    if (b->next_attempt_at > 0) {
        ds_out_time(b->next_attempt_at, when, sizeof(when));
        ds_out_ago(b->next_attempt_at, c->now, ago, sizeof(ago));
    }
    else {
        snprintf(when, sizeof(when), "-");
        ago[0] = '\0';
    }
    printf("  %-36s %4ld  %-10s %-10s %5ld %8d  %s%s%s%s  %s\n", b->job_id, b->seq, b->state,
           b->folder != NULL ? b->folder : "-", b->nrows, b->attempts, when,
           ago[0] != '\0' ? " (" : "", ago, ago[0] != '\0' ? ")" : "",
           b->last_error_code != NULL ? b->last_error_code : "-");
    return 0;
}

static int count_file(void *ctx, const struct ds_file_row *f)
{
    (void)f;
    (*(long *)ctx)++;
    return 0;
}

static int on_file(void *ctx, const struct ds_file_row *f)
{
    struct status_ctx *c = ctx;

    c->shown++;
    if (!c->json && c->skip > 0) {
        c->skip--;
        return 0;
    }
    if (c->json) {
        json_array_append_new(json_object_get(c->doc, "files_waiting_for_admin"),
                              json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?}", "id", (json_int_t)f->id,
                                        "state", f->state, "folder", f->folder, "path", f->path,
                                        "reason_code", f->reason_code, "reason", f->reason));
        return 0;
    }
    header_once(c);
    printf("  %-11s %-10s %s\n      %s: %s\n", f->state, f->folder, f->path,
           f->reason_code != NULL ? f->reason_code : "-", f->reason != NULL ? f->reason : "");
    return 0;
}

/* The agent's own answer, parsed; NULL when it is not running. *running
 * is 1 if it answered, 0 if nothing listens, -1 if it failed to answer. */
static json_t *ask_agent(const struct ds_config *cfg, int *running)
{
    json_t *doc;
    int rc;

    rc = ds_control_ask(cfg->state_dir, "status", 3000, &doc);
    if (rc == DS_ENOTFOUND) {
        *running = 0;
        return NULL;
    }
    if (doc == NULL || !json_is_true(json_object_get(doc, "ok"))) {
        json_decref(doc);
        *running = -1;
        return NULL;
    }
    *running = 1;
    return doc;
}

/* Whether practice name is paused according to the agent; its code into
 * code[size]. */
static int practice_paused(json_t *agent, const char *name, char *code, size_t size)
{
    json_t *list = json_object_get(agent, "practices");
    size_t i;
    json_t *p;

    code[0] = '\0';
    json_array_foreach(list, i, p)
    {
        const char *n = json_string_value(json_object_get(p, "name"));
        const char *k = json_string_value(json_object_get(p, "code"));

        if (n != NULL && strcmp(n, name) == 0 && json_is_true(json_object_get(p, "paused"))) {
            snprintf(code, size, "%s", k != NULL && k[0] != '\0' ? k : "PAUSED");
            return 1;
        }
    }
    return 0;
}

static void print_agent(const json_t *agent, int running)
{
    if (running == 0) {
        printf("agent:     NOT RUNNING - nothing is being synced (start it: %s)\n",
               os_service_fix(OS_FIX_START));
        return;
    }
    if (running < 0) {
        printf("agent:     NOT ANSWERING on its control socket (busy or hung: see the log)\n");
        return;
    }
    printf("agent:     running (pid %lld), %lld request(s) in flight, %lld retr%s, "
           "ingest %s, %lld file(s) queued\n",
           (long long)json_integer_value(json_object_get(agent, "pid")),
           (long long)json_integer_value(json_object_get(agent, "in_flight")),
           (long long)json_integer_value(json_object_get(agent, "retries")),
           json_integer_value(json_object_get(agent, "retries")) == 1 ? "y" : "ies",
           json_is_true(json_object_get(agent, "ingest_busy")) ? "busy" : "idle",
           (long long)json_integer_value(json_object_get(agent, "ingest_queued")));
    if (json_is_string(json_object_get(agent, "ingest_paused"))) {
        printf("ingest:    PAUSED (%s): no space left in the state directory; it resumes by "
               "itself once there is space (free some, or grow the disk)\n",
               json_string_value(json_object_get(agent, "ingest_paused")));
    }
    if (json_integer_value(json_object_get(agent, "failing")) > 0) {
        printf("cloud:     FAILING: last error %s, %lld failure(s) in a row; the agent retries "
               "by itself (`dentsync doctor` checks the connection)\n",
               json_string_value(json_object_get(agent, "last_error")) != NULL
                   ? json_string_value(json_object_get(agent, "last_error"))
                   : "?",
               (long long)json_integer_value(json_object_get(agent, "failing")));
    }
}

static int show_folders(struct status_ctx *c, const struct ds_config *cfg, struct ds_store *st,
                        int *stale_any)
{
    double stale = (double)cfg->stale_hours * 3600.0;
    int rc = 0;

    if (!c->json) {
        printf("\n%-12s %-10s %-26s %-19s %-9s %7s %7s %5s %5s\n", "FOLDER", "PRACTICE",
               "LAST FILE", "LAST SYNC", "", "FILES", "ROWS", "HELD", "QUAR");
    }
    for (size_t i = 0; i < cfg->nfolders; i++) {
        const struct ds_folder_conf *f = &cfg->folders[i];
        struct ds_folder_status fs;
        const char *base;
        char when[32];
        char ago[32];
        char seen[32];
        int is_stale;

        memset(&fs, 0, sizeof(fs));
        if (st != NULL) {
            rc = ds_store_folder_status(st, f->name, &fs);
            if (rc != 0) {
                return rc;
            }
        }
        /* Stale: nothing delivered for stale_hours, counted from the last
         * sync, or from the first file seen when nothing was ever synced. */
        is_stale = fs.last_synced_at > 0 ? c->now - fs.last_synced_at > stale
                                         : fs.last_seen_at > 0 && c->now - fs.last_seen_at > stale;
        *stale_any |= is_stale;
        base = strrchr(fs.last_file, '/');
        base = base != NULL ? base + 1 : fs.last_file;
        if (c->json) {
            json_array_append_new(
                json_object_get(c->doc, "folders"),
                json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b, s:I, s:I, s:I, s:I}", "name",
                          f->name, "practice", f->practice, "path", f->path, "last_file",
                          fs.last_file[0] != '\0' ? fs.last_file : NULL, "last_seen_at",
                          fs.last_seen_at > 0 ? ds_out_iso(fs.last_seen_at, seen, sizeof(seen))
                                              : NULL,
                          "last_synced_at",
                          fs.last_synced_at > 0 ? ds_out_iso(fs.last_synced_at, when, sizeof(when))
                                                : NULL,
                          "stale", is_stale, "files_waiting", (json_int_t)fs.files_waiting,
                          "rows_pending", (json_int_t)fs.rows_pending, "held", (json_int_t)fs.held,
                          "quarantined", (json_int_t)fs.quarantined));
            continue;
        }
        printf("%-12s %-10s %-26.26s %-19s %-9s %7ld %7ld %5ld %5ld\n", f->name, f->practice,
               fs.last_file[0] != '\0' ? base : "(none yet)",
               fs.last_synced_at > 0 ? ds_out_time(fs.last_synced_at, when, sizeof(when)) : "never",
               ds_out_ago(fs.last_synced_at, c->now, ago, sizeof(ago)), fs.files_waiting,
               fs.rows_pending, fs.held, fs.quarantined);
        if (is_stale) {
            printf("  STALE: nothing synced from folder %s for more than %d hours "
                   "(stale_hours); check the export and `dentsync doctor`\n",
                   f->name, cfg->stale_hours);
        }
    }
    return rc;
}

static void show_practices(struct status_ctx *c, const struct ds_config *cfg, json_t *agent,
                           int running)
{
    if (!c->json) {
        printf("\n");
    }
    for (size_t i = 0; i < cfg->npractices; i++) {
        char code[64];
        int paused =
            running == 1 && practice_paused(agent, cfg->practices[i].name, code, sizeof(code));

        if (c->json) {
            json_array_append_new(json_object_get(c->doc, "practices"),
                                  json_pack("{s:s, s:o, s:s?}", "name", cfg->practices[i].name,
                                            "paused",
                                            running == 1 ? json_boolean(paused) : json_null(),
                                            "code", paused ? code : NULL));
            continue;
        }
        if (running != 1) {
            printf("practice %s: uploads unknown (agent not running)\n", cfg->practices[i].name);
        }
        else if (paused) {
            printf("practice %s: uploads PAUSED (%s)%s\n", cfg->practices[i].name, code,
                   strstr(code, "TOKEN") != NULL || strstr(code, "401") != NULL ||
                           strstr(code, "UNAUTH") != NULL
                       ? ": the cloud refused the token; put a new one in the token file"
                       : "");
        }
        else {
            printf("practice %s: uploading\n", cfg->practices[i].name);
        }
    }
}

int ds_cmd_status(const char *config_path, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    struct status_ctx c;
    struct ds_config *cfg = NULL;
    struct ds_store *st = NULL;
    json_t *agent = NULL;
    int running = 0;
    int stale_any = 0;
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
    if (optind < argc) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    rc = ds_out_open("status", config_path, 1, &cfg, &st);
    if (rc != DS_EXIT_OK) {
        return rc;
    }
    c.now = ds_out_now();
    agent = ask_agent(cfg, &running);
    if (c.json) {
        c.doc = json_pack("{s:s, s:b, s:[], s:[], s:[], s:[]}", "agent",
                          running == 1   ? "running"
                          : running == 0 ? "not running"
                                         : "not answering",
                          "queue", st != NULL, "folders", "practices", "batches",
                          "files_waiting_for_admin");
    }
    else {
        print_agent(agent, running);
        if (st == NULL) {
            printf("queue:     none yet (the agent has not run with this configuration)\n");
        }
    }
    rc = show_folders(&c, cfg, st, &stale_any);
    if (rc == 0) {
        show_practices(&c, cfg, agent, running);
    }
    if (rc == 0 && st != NULL) {
        c.hdr = "\nbatches not delivered yet:\n  JOB                                   SEQ  "
                "STATE      FOLDER      ROWS ATTEMPTS  NEXT ATTEMPT  LAST ERROR\n";
        rc = ds_store_batches_waiting(st, on_batch, &c);
    }
    if (rc == 0 && st != NULL) {
        c.hdr = "\nheld files (fix the cause, then `dentsync retry FILE`):\n";
        rc = ds_store_files_in_state(st, "held", on_file, &c);
    }
    if (rc == 0 && st != NULL) {
        long quarantined = 0;

        rc = ds_store_files_in_state(st, "quarantined", count_file, &quarantined);
        c.skip = quarantined > STATUS_QUARANTINE_SHOWN ? quarantined - STATUS_QUARANTINE_SHOWN : 0;
        c.hdr = "\nquarantined files (moved aside with NAME.error.txt; fix and export again):\n";
        if (rc == 0 && !c.json && c.skip > 0) {
            printf("%s  (%ld older one(s) not shown: `dentsync events`, or --json)\n", c.hdr,
                   c.skip);
            c.hdr = NULL;
        }
        if (rc == 0) {
            rc = ds_store_files_in_state(st, "quarantined", on_file, &c);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync status: cannot read the queue: %s\n", ds_strerror(rc));
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    if (c.json) {
        json_object_set_new(c.doc, "stale", json_boolean(stale_any));
        if (agent != NULL) {
            json_object_del(agent, "ok");
            json_object_set(c.doc, "agent_detail", agent);
        }
        json_dumpf(c.doc, stdout, JSON_COMPACT);
        printf("\n");
    }
    rc = DS_EXIT_OK;
out:
    json_decref(c.doc);
    json_decref(agent);
    ds_store_close(&st);
    ds_config_free(&cfg);
    return rc;
}
