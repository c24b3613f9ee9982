/*
 * cmd_run.c — `dentsync run`: load the config, run the service
 * (agent/service/daemon.c) on the runtime (agent/service/runtime.h), and
 * run it again with the new config after each reload. The runtime's lock
 * is held from the first start to the end, so a reload may not move
 * state_dir. `run --service` runs the same under the platform's service
 * manager (Windows' Service Control Manager; agent/os/os_service.h).
 */
#include "agent/cli/commands.h"

#include "agent/core/log.h"
#include "agent/os/os_notify.h"
#include "agent/os/os_service.h"
#include "agent/service/daemon.h"
#include "agent/service/runtime.h"
#include "config/config.h"

#include <stdio.h>
#include <string.h>

/* [agent] log_file: the log goes there too, rotated by size. */
static void open_log_file(const struct ds_config *cfg)
{
    if (ds_log_open_file(cfg->log_file, (long long)cfg->log_max_kb * 1024, cfg->log_keep) != 0) {
        ds_log_warn("LOG_FILE_ERROR", "cannot open log_file %s; logging to stderr only",
                    cfg->log_file);
    }
}

/* The daemon, in the console or as the service (ctx: the config's path). */
static int run_daemon(void *ctx)
{
    const char *config_path = ctx;
    struct ds_config *cfg = NULL;
    struct ds_runtime rt;
    struct ds_error err;
    char msg[600];
    int rc;

    ds_error_clear(&err);
    rc = ds_config_load(config_path, &cfg, stderr);
    if (rc != 0) {
        return DS_EXIT_CONFIG;
    }
    ds_log_set_level((enum ds_log_level)cfg->log_level);
    open_log_file(cfg);
    ds_runtime_init(&rt);
    for (;;) {
        struct ds_config *next = NULL;

        rc = ds_daemon_run(&rt, cfg, &err);
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
        if (!ds_runtime_reload_ok(&rt, next)) {
            ds_config_free(&next);
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
    ds_runtime_close(&rt); /* the lock goes with it */
    ds_log_close_file();
    ds_config_free(&cfg);
    return rc == 0 ? DS_EXIT_OK : DS_EXIT_RUNTIME;
}

/* `run --service`: the same daemon under the platform's service manager
 * (agent/os/os_service.h: Windows' Service Control Manager). */
/* The daemon's READY=1 (ds_notify, where systemd hears it) is when the
 * service manager is told the service runs. */
static void on_service_event(enum ds_os_service_event event, void *ctx)
{
    (void)ctx;
    if (event == DS_OS_SERVICE_READY) {
        os_service_ready();
    }
}

int ds_cmd_run(const char *config_path, int argc, char **argv)
{
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--service") == 0) {
            ds_os_ready_hook_set(on_service_event, NULL);
            rc = os_service_dispatch(run_daemon, (void *)config_path);
            ds_os_ready_hook_set(NULL, NULL);
            return rc;
        }
    }
    return run_daemon((void *)config_path);
}
