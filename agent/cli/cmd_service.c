/*
 * cmd_service.c — `dentsync service install|uninstall|start|stop|status`:
 * the agent's registration with the platform's service manager
 * (agent/os/os_service.h). On Windows that is the Service Control Manager
 * (the service runs `dentsync run --service -c CONFIG`); on Linux the
 * service is the systemd unit, and the command says so.
 */
#include "agent/cli/commands.h"

#include "agent/os/os_service.h"

#include <stdio.h>
#include <string.h>

static const char *const verbs[] = {"install", "uninstall", "start", "stop", "status", NULL};

int ds_cmd_service(const char *config_path, int argc, char **argv)
{
    if (argc == 2) {
        for (int i = 0; verbs[i] != NULL; i++) {
            if (strcmp(argv[1], verbs[i]) == 0) {
                return os_service_manage(argv[1], config_path);
            }
        }
    }
    fputs("usage: dentsync service [-c FILE] install|uninstall|start|stop|status\n", stderr);
    return DS_EXIT_USAGE;
}
