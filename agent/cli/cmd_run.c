/*
 * cmd_run.c — `dentsync run`: load the config, run the service.
 */
#include "agent/cli/commands.h"

#include "agent/core/log.h"
#include "agent/service/daemon.h"
#include "agent/upload/http.h"
#include "config/config.h"

#include <stdio.h>
#include <unistd.h>

/* [agent] log_file: the log goes there too, rotated by size. */
static void open_log_file(const struct ds_config *cfg)
{
    if (ds_log_open_file(cfg->log_file, (long long)cfg->log_max_kb * 1024, cfg->log_keep) != 0) {
        ds_log_warn("LOG_FILE_ERROR", "cannot open log_file %s; logging to stderr only",
                    cfg->log_file);
    }
}

int ds_cmd_run(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    struct ds_error err;
    char msg[600];
    int lock_fd = -1;
    int rc;

    (void)argc;
    (void)argv;
    ds_error_clear(&err);
    rc = ds_config_load(config_path, &cfg, stderr);
    if (rc != 0) {
        return DS_EXIT_CONFIG;
    }
    ds_log_set_level((enum ds_log_level)cfg->log_level);
    open_log_file(cfg);
    if (ds_daemon_lock(cfg, &lock_fd, &err) != 0) {
        ds_log_error("AGENT_START_FAILED", "cannot run: %s",
                     ds_error_format(&err, msg, sizeof(msg)));
        ds_config_free(&cfg);
        return DS_EXIT_RUNTIME;
    }
    if (ds_http_global_init() != 0) {
        ds_config_free(&cfg);
        return DS_EXIT_RUNTIME;
    }
    for (;;) {
        struct ds_config *next = NULL;

        rc = ds_daemon_run(cfg, &err);
        if (rc != DS_ERELOAD) {
            break;
        }
        /* Checked by the daemon already; a file changed since is checked again. */
        if (ds_config_load(config_path, &next, stderr) != 0) {
            ds_log_error("CONFIG_INVALID",
                         "reload: the configuration changed again and has errors; going on "
                         "with the previous one");
            continue;
        }
        ds_config_free(&cfg);
        cfg = next;
        ds_log_set_level((enum ds_log_level)cfg->log_level);
        open_log_file(cfg);
    }
    if (rc != 0) {
        ds_log_error("AGENT_START_FAILED", "cannot run: %s",
                     ds_error_format(&err, msg, sizeof(msg)));
    }
    ds_http_global_cleanup();
    ds_log_close_file();
    ds_config_free(&cfg);
    close(lock_fd); /* the lock goes with it */
    return rc == 0 ? DS_EXIT_OK : DS_EXIT_RUNTIME;
}
