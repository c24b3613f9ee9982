/*
 * cmd_reload.c — `dentsync reload`: asks the running agent to read its
 * configuration again and start again with it, as SIGHUP does where there
 * are signals (`systemctl reload dentsync`); the one way on Windows.
 */
#include "agent/cli/commands.h"

#include "agent/service/control.h"
#include "config/config.h"

#include <jansson.h>
#include <stdio.h>

int ds_cmd_reload(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    json_t *doc = NULL;
    const char *why;
    int rc;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: dentsync reload [-c FILE]\n");
        return DS_EXIT_USAGE;
    }
    if (ds_config_load(config_path, &cfg, stderr) != 0) {
        return DS_EXIT_CONFIG;
    }
    rc = ds_control_ask(cfg->state_dir, "reload", 10000, &doc);
    ds_config_free(&cfg);
    if (rc == DS_ENOTFOUND) {
        fprintf(stderr, "dentsync reload: the agent is not running (start the service)\n");
        return DS_EXIT_RUNTIME;
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync reload: the agent did not answer (%s)\n", ds_strerror(rc));
        return DS_EXIT_RUNTIME;
    }
    if (!json_is_true(json_object_get(doc, "ok"))) {
        why = json_string_value(json_object_get(doc, "error"));
        fprintf(stderr, "dentsync reload: %s\n", why != NULL ? why : "refused");
        json_decref(doc);
        return DS_EXIT_RUNTIME;
    }
    json_decref(doc);
    printf("reloading: the agent starts again with the configuration\n");
    return DS_EXIT_OK;
}
