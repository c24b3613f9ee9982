/*
 * cmd_retry.c — `dentsync retry JOB|FILE|--rejected`: an admin's retry.
 *
 *   JOB         the job's rejected batches go back to `pending`
 *   FILE        the held file (its path as the agent saw it) goes back to
 *               `detected` and is ingested again from the start
 *   --rejected  every rejected batch of every job still uploading
 *
 * The command only changes the queue, in one transaction each, and may run
 * beside a running agent (WAL): the agent notices the change at its next
 * rescan through the queue's retry generation. Nothing here prints patient
 * data: ids, paths, states and counts.
 */
#include "agent/cli/commands.h"
#include "agent/cli/out.h"

#include "agent/os/os_fs.h"
#include "config/config.h"
#include "state/store_admin.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync retry [-c FILE] JOB|FILE|--rejected\n");
}

/* A job id: 36 characters, hex digits and dashes at 8, 13, 18, 23. */
static int looks_like_job(const char *s)
{
    if (strlen(s) != 36) {
        return 0;
    }
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s[i] != '-' : strchr("0123456789abcdefABCDEF", s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

static int retry_batches(struct ds_store *st, const char *job_id)
{
    long n = 0;
    long completed = 0;
    int rc = ds_store_batches_retry_rejected(st, job_id, &n, &completed);

    if (rc == DS_ENOTFOUND) {
        fprintf(stderr, "dentsync retry: no job %s in the queue\n", job_id);
        return DS_EXIT_RUNTIME;
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync retry: %s\n", ds_strerror(rc));
        return DS_EXIT_RUNTIME;
    }
    printf("%ld rejected batch(es) back to pending\n", n);
    if (completed > 0) {
        printf("%ld rejected batch(es) left as they are: their job is completed in the cloud, "
               "which takes no new batch; export those rows again to send them\n",
               completed);
    }
    return DS_EXIT_OK;
}

static int retry_file(struct ds_store *st, const char *arg)
{
    char resolved[PATH_MAX];
    char state[24];
    int64_t id = 0;
    int rc = ds_store_file_find(st, arg, &id, state, sizeof(state));

    if (rc == DS_ENOTFOUND && ds_os_realpath(arg, resolved, sizeof(resolved)) == 0) {
        rc = ds_store_file_find(st, resolved, &id, state, sizeof(state));
    }
    if (rc == DS_ENOTFOUND) {
        fprintf(stderr, "dentsync retry: %s: no such file or job in the queue\n", arg);
        return DS_EXIT_RUNTIME;
    }
    if (rc == 0 && strcmp(state, "held") != 0) {
        fprintf(stderr, "dentsync retry: %s: the file is %s, not held; nothing to retry\n", arg,
                state);
        return DS_EXIT_RUNTIME;
    }
    if (rc == 0) {
        rc = ds_store_file_retry(st, id);
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync retry: %s: %s\n", arg, ds_strerror(rc));
        return DS_EXIT_RUNTIME;
    }
    printf("file %lld (%s) is detected again; the agent ingests it at its next rescan\n",
           (long long)id, arg);
    return DS_EXIT_OK;
}

int ds_cmd_retry(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    struct ds_store *st = NULL;
    const char *target;
    int rc;

    if (argc != 2 || (argv[1][0] == '-' && strcmp(argv[1], "--rejected") != 0)) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    target = argv[1];
    if (ds_config_load(config_path, &cfg, stderr) != 0) {
        return DS_EXIT_CONFIG;
    }
    rc = ds_out_open_write("retry", cfg, 0, &st);
    if (rc != DS_EXIT_OK) {
        goto out;
    }
    if (strcmp(target, "--rejected") == 0) {
        rc = retry_batches(st, NULL);
    }
    else if (looks_like_job(target)) {
        rc = retry_batches(st, target);
    }
    else {
        rc = retry_file(st, target);
    }
out:
    ds_store_close(&st);
    ds_config_free(&cfg);
    return rc;
}
