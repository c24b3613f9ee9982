/*
 * cmd_resync.c — `dentsync resync --practice P [--type T]`: forget what was
 * synced for a practice (one import type, or all), so the next snapshot of
 * each of its folders is sent in full. For a cloud that diverged (restored
 * from a backup, records edited or deleted there): the cloud's upsert makes
 * sending everything again safe — unchanged records answer `unchanged`.
 *
 * It changes the queue in one transaction and may run while the agent runs.
 */
#include "agent/cli/commands.h"
#include "agent/cli/out.h"

#include "config/config.h"
#include "state/store_delta.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync resync [-c FILE] --practice NAME [--type TYPE]\n"
                 "  TYPE: patients, appointments, treatments or financial (default: all)\n");
}

int ds_cmd_resync(const char *config_path, int argc, char **argv)
{
    static const struct option options[] = {
        {"practice", required_argument, NULL, 'p'},
        {"type", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    static const char *const types[] = {"patients", "appointments", "treatments", "financial",
                                        NULL};
    struct ds_config *cfg = NULL;
    struct ds_store *st = NULL;
    const char *practice = NULL;
    const char *type = NULL;
    long forgotten = 0;
    int known = 0;
    int sync_rc;
    int opt;
    int rc = DS_EXIT_OK;

    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "p:t:", options, NULL);
        if (opt == -1) {
            break;
        }
        if (opt == 'p') {
            practice = optarg;
        }
        else if (opt == 't') {
            type = optarg;
        }
        else {
            usage(stderr);
            return DS_EXIT_USAGE;
        }
    }
    for (size_t i = 0; type != NULL && types[i] != NULL; i++) {
        known |= strcmp(type, types[i]) == 0;
    }
    if (practice == NULL || optind != argc || (type != NULL && !known)) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    if (ds_config_load(config_path, &cfg, stderr) != 0) {
        return DS_EXIT_CONFIG;
    }
    if (ds_config_practice(cfg, practice) == NULL) {
        fprintf(stderr, "dentsync resync: no [practice %s] in %s\n", practice, config_path);
        rc = DS_EXIT_USAGE;
        goto out;
    }
    rc = ds_out_open_write("resync", cfg, 1, &st);
    if (rc != DS_EXIT_OK) {
        goto out;
    }
    if (st == NULL) {
        printf("no queue yet: nothing was synced, the next snapshot is sent in full anyway\n");
        goto out;
    }
    sync_rc = ds_store_synced_forget(st, practice, type, &forgotten);
    if (sync_rc != 0) {
        fprintf(stderr, "dentsync resync: %s\n", ds_strerror(sync_rc));
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    printf("practice %s: %ld synced record(s)%s%s forgotten; the next snapshot of its folders "
           "is sent in full\n",
           practice, forgotten, type != NULL ? " of type " : "", type != NULL ? type : "");
out:
    ds_store_close(&st);
    ds_config_free(&cfg);
    return rc;
}
