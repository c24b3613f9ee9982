/*
 * cmd_sync_now.c — `dentsync sync-now`: asks the running agent to rescan
 * every folder, take up files waiting in the queue and end every backoff
 * and pause now.
 */
#include "agent/cli/commands.h"

#include "agent/service/control.h"
#include "config/config.h"

#include <jansson.h>
#include <stdio.h>

int ds_cmd_sync_now(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    json_t *doc = NULL;
    int ok;
    int rc;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: dentsync sync-now [-c FILE]\n");
        return DS_EXIT_USAGE;
    }
    if (ds_config_load(config_path, &cfg, stderr) != 0) {
        return DS_EXIT_CONFIG;
    }
    rc = ds_control_ask(cfg->state_dir, "sync-now", 5000, &doc);
    ds_config_free(&cfg);
    ok = json_is_true(json_object_get(doc, "ok"));
    json_decref(doc);
    if (rc == DS_ENOTFOUND) {
        fprintf(stderr, "dentsync sync-now: the agent is not running (start the service)\n");
        return DS_EXIT_RUNTIME;
    }
    if (rc != 0 || !ok) {
        fprintf(stderr, "dentsync sync-now: the agent did not answer (%s)\n", ds_strerror(rc));
        return DS_EXIT_RUNTIME;
    }
    printf("sync started: folders rescanned, retries and pauses ended\n");
    return DS_EXIT_OK;
}
