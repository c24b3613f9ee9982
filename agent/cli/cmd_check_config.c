/*
 * cmd_check_config.c — `dentsync check-config`: every problem of the
 * configuration as FILE:LINE: message on stderr, or OK.
 */
#include "agent/cli/commands.h"

#include "config/config.h"

#include <stdio.h>

int ds_cmd_check_config(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;

    (void)argc;
    (void)argv;
    if (ds_config_load(config_path, &cfg, stderr) != 0) {
        return DS_EXIT_CONFIG;
    }
    printf("%s: OK (%zu practice(s), %zu folder(s))\n", config_path, cfg->npractices,
           cfg->nfolders);
    ds_config_free(&cfg);
    return DS_EXIT_OK;
}
