/*
 * cmd_errors.c — `dentsync errors JOB --csv OUT`: the rows of a job that
 * did not go through (invalid, rejected, conflict, needs review), with
 * their columns as read — those the template reads, the only ones the
 * queue keeps (agent/map/map_json.c) — followed by the row number,
 * status, error code and message, as a CSV an admin can fix and drop into
 * the folder again.
 *
 * The file holds patient data: it is created 0600 and never overwrites an
 * existing file. It is written to a temporary name, fsynced and renamed.
 * Rows whose original columns retention already purged keep their number
 * and errors, with the original columns empty; the command says how many.
 */
#include "agent/cli/commands.h"

#include "agent/cli/out.h"
#include "agent/os/os_fs.h"
#include "state/store_status.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct errors_ctx {
    FILE *out;       /* the CSV being written */
    char job_id[64]; /* the full job id */
    json_t *columns; /* the original header, from the first row that has one */
    long rows;       /* rows written */
    long purged;     /* rows whose original columns are gone */
    int header_done; /* the header line is written */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync errors [-c FILE] JOB --csv OUT\n"
                 "  JOB: a job id, or a unique prefix of 8 characters or more (dentsync jobs)\n");
}

/* One CSV field: quoted when it holds a comma, quote or line break. */
static void put_field(FILE *out, const char *v, int first)
{
    if (!first) {
        fputc(',', out);
    }
    if (v == NULL) {
        return;
    }
    if (strpbrk(v, ",\"\r\n") == NULL) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '"') {
            fputc('"', out);
        }
        fputc(*p, out);
    }
    fputc('"', out);
}

static void put_header(struct errors_ctx *c)
{
    size_t n = json_array_size(c->columns);

    for (size_t i = 0; i < n; i++) {
        put_field(c->out, json_string_value(json_array_get(c->columns, i)), i == 0);
    }
    put_field(c->out, "dentsync_row", n == 0);
    put_field(c->out, "dentsync_status", 0);
    put_field(c->out, "dentsync_error_code", 0);
    put_field(c->out, "dentsync_error", 0);
    fputs("\r\n", c->out);
    c->header_done = 1;
}

static int on_row(void *ctx, const struct ds_failed_row *r)
{
    struct errors_ctx *c = ctx;
    json_t *raw = r->raw_json != NULL ? json_loads(r->raw_json, 0, NULL) : NULL;
    char num[32];
    size_t n;

    if (raw == NULL) {
        c->purged++;
    }
    if (!c->header_done) {
        const char *k;
        json_t *v;

        json_object_foreach(raw, k, v)
        {
            (void)v;
            json_array_append_new(c->columns, json_string(k));
        }
        put_header(c);
    }
    n = json_array_size(c->columns);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(c->columns, i));

        put_field(c->out, json_string_value(json_object_get(raw, name)), i == 0);
    }
    snprintf(num, sizeof(num), "%ld", r->row);
    put_field(c->out, num, n == 0);
    put_field(c->out, r->status, 0);
    put_field(c->out, r->error_code, 0);
    put_field(c->out, r->error, 0);
    fputs("\r\n", c->out);
    c->rows++;
    json_decref(raw);
    return 0;
}

static int on_job(void *ctx, const struct ds_job_row *j)
{
    struct errors_ctx *c = ctx;

    snprintf(c->job_id, sizeof(c->job_id), "%s", j->id);
    return 0;
}

int ds_cmd_errors(const char *config_path, int argc, char **argv)
{
    static const struct option options[] = {
        {"csv", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    struct errors_ctx c;
    struct ds_config *cfg = NULL;
    struct ds_store *st = NULL;
    const char *out_path = NULL;
    char tmp[4200];
    int fd = -1;
    int opt;
    int rc;
    int e;

    memset(&c, 0, sizeof(c));
    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "o:", options, NULL);
        if (opt == -1) {
            break;
        }
        if (opt != 'o') {
            usage(stderr);
            return DS_EXIT_USAGE;
        }
        out_path = optarg;
    }
    if (out_path == NULL || optind != argc - 1) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    if (access(out_path, F_OK) == 0) {
        fprintf(stderr, "dentsync errors: %s exists; give a new file name\n", out_path);
        return DS_EXIT_USAGE;
    }
    rc = ds_out_open("errors", config_path, 0, &cfg, &st);
    if (rc != DS_EXIT_OK) {
        return rc;
    }
    rc = ds_store_job_show(st, argv[optind], on_job, &c);
    if (rc == DS_ENOTFOUND || rc == DS_EINVAL) {
        fprintf(stderr, "dentsync errors: %s: %s\n", argv[optind],
                rc == DS_ENOTFOUND ? "no such job in the queue"
                                   : "not a job id, or a prefix matching several jobs");
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", out_path) >= (int)sizeof(tmp)) {
        rc = DS_EXIT_USAGE;
        goto out;
    }
    fd = ds_os_create_private(tmp, DS_OS_EXCL);
    c.out = fd >= 0 ? fdopen(fd, "w") : NULL;
    c.columns = json_array();
    if (c.out == NULL || c.columns == NULL) {
        fprintf(stderr, "dentsync errors: cannot write %s: %s\n", tmp, strerror(errno));
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    fd = -1; /* the stream owns it */
    rc = ds_store_job_failed_rows(st, c.job_id, on_row, &c);
    if (rc == 0 && !c.header_done) {
        put_header(&c);
    }
    if (rc != 0 || fflush(c.out) != 0 || ds_os_fsync(fileno(c.out)) != 0) {
        fprintf(stderr, "dentsync errors: cannot read the queue or write %s\n", tmp);
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    fclose(c.out);
    c.out = NULL;
    e = ds_os_rename(tmp, out_path, 1);
    if (e != 0) {
        fprintf(stderr, "dentsync errors: cannot rename %s: %s\n", tmp, strerror(e));
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    printf("%s: %ld row(s) of job %s that did not go through", out_path, c.rows, c.job_id);
    if (c.purged > 0) {
        printf("; %ld of them without their original columns (purged after retention_days)",
               c.purged);
    }
    printf("\n");
    rc = DS_EXIT_OK;
out:
    if (c.out != NULL) {
        fclose(c.out);
        ds_os_unlink(tmp);
    }
    if (fd >= 0) {
        close(fd);
        ds_os_unlink(tmp);
    }
    json_decref(c.columns);
    ds_store_close(&st);
    ds_config_free(&cfg);
    return rc;
}
