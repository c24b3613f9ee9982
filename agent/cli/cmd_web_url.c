/*
 * cmd_web_url.c — `dentsync web-url`: asks the running agent for a one-time
 * login link to its local status page and prints it. The link is spent on
 * its first use and expires after ten minutes; it carries a random token,
 * never patient data. Like sync-now it goes through the control socket, so
 * it works for whoever may use that socket (the service user and the
 * dentsync group); the page's session gets the rights the socket gives the
 * asker (a group member's may not import or retry). --open hands the link
 * to the desktop's browser too (the Windows Start-menu link runs that).
 */
#include "agent/cli/commands.h"

#include "agent/os/os_browser.h"
#include "agent/service/control.h"
#include "config/config.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int ds_cmd_web_url(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    json_t *doc = NULL;
    const char *url;
    int open_it;
    int rc;

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--open") != 0)) {
        fprintf(stderr, "usage: dentsync web-url [-c FILE] [--open]\n");
        return DS_EXIT_USAGE;
    }
    open_it = argc == 2;
    if (ds_config_load(config_path, &cfg, stderr) != 0) {
        return DS_EXIT_CONFIG;
    }
    if (!cfg->web_enabled) {
        fprintf(stderr, "dentsync web-url: the status page is off ([web] enabled = no)\n");
        ds_config_free(&cfg);
        return DS_EXIT_RUNTIME;
    }
    rc = ds_control_ask(cfg->state_dir, "web-link", 5000, &doc);
    ds_config_free(&cfg);
    if (rc == DS_ENOTFOUND) {
        fprintf(stderr, "dentsync web-url: the agent is not running (start the service)\n");
        return DS_EXIT_RUNTIME;
    }
    url = json_string_value(json_object_get(doc, "url"));
    if (url == NULL) {
        const char *why = json_string_value(json_object_get(doc, "error"));

        fprintf(stderr, "dentsync web-url: no link: %s\n",
                why != NULL ? why : (rc != 0 ? ds_strerror(rc) : "the agent did not answer"));
        json_decref(doc);
        return DS_EXIT_RUNTIME;
    }
    printf("%s\n", url);
    fflush(stdout);
    if (open_it && os_open_url(url) != 0) {
        fprintf(stderr, "dentsync web-url: no browser could be started; open the link above\n");
    }
    if (json_is_true(json_object_get(doc, "read_only"))) {
        fprintf(stderr, "dentsync web-url: a read-only link: its page shows everything but may "
                        "not import or retry (that needs root or the service user)\n");
    }
    json_decref(doc);
    return DS_EXIT_OK;
}
