/*
 * main.c — the `dentsync` command: git-style subcommands over one config.
 *
 * Each command is in its own agent/cli/cmd_<name>.c (commands.h); this
 * file parses the global options and -c, and dispatches. Exit codes are
 * documented in docs/cli.md.
 */
#include "agent/cli/commands.h"
#include "agent/core/version.h"
#include "agent/os/os_entry.h"
#include "agent/os/os_fs.h"
#include "agent/read/read.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;                                           /* as typed */
    int (*run)(const char *config_path, int argc, char **argv); /* its entry point */
    const char *summary;                                        /* one line for --help */
    const char *args;                                           /* its arguments, for usage */
};

/* One line per command, in the order `dentsync --help` lists them. */
static const struct command commands[] = {
    {"run", ds_cmd_run, "run the service: watch the folders, stage and upload", "[--service]"},
    {"check-config", ds_cmd_check_config, "check the configuration, report every error", ""},
    {"doctor", ds_cmd_doctor, "check folders, state, tokens and the cloud; say how to fix", ""},
    {"templates", ds_cmd_templates, "list the templates, show one, test which reads a file",
     "[--json] list | show ID | test FILE [--type T]"},
    {"read", ds_cmd_read, "show how an export file is read: dialect and rows",
     "FILE [--json] [--all]"},
    {"import", ds_cmd_import, "stage and upload one file now, showing its progress",
     "FILE [--type T] [--folder NAME]"},
    {"sync-now", ds_cmd_sync_now, "rescan every folder and retry everything now", ""},
    {"reload", ds_cmd_reload, "make the running agent read its configuration again", ""},
    {"status", ds_cmd_status, "is the data in the cloud: folders, queue, pauses", "[--json]"},
    {"jobs", ds_cmd_jobs, "the job history, newest first", "[--json] [--limit N]"},
    {"job", ds_cmd_job, "one job in detail, with a summary of its failed rows", "[--json] ID"},
    {"events", ds_cmd_events, "the audit trail: what happened, when (ids and codes)",
     "[--json] [--since WHEN] [--limit N]"},
    {"retry", ds_cmd_retry, "put a held file or a job's rejected batches back in line",
     "JOB|FILE|--rejected"},
    {"preview", ds_cmd_preview, "show what a template makes of an export; writes nothing",
     "FILE [--type T] [--template ID] [--folder NAME] [--json] [--all]"},
    {"resync", ds_cmd_resync, "forget what was synced so the next snapshot goes in full",
     "--practice NAME [--type TYPE]"},
    {"errors", ds_cmd_errors, "write a job's failed rows, columns as read and errors, as CSV",
     "JOB --csv OUT"},
    {"web-url", ds_cmd_web_url, "print a one-time login link to the local status page", "[--open]"},
    {"setup", ds_cmd_setup, "write a first configuration and a practice's token",
     "--cloud-url URL --practice NAME --folder PATH [--type T] (--token-stdin | --token T)"},
    {"service", ds_cmd_service, "register, start, stop the Windows service (Linux: systemd)",
     "install|uninstall|start|stop|status"},
    {NULL, NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync [--version] [--help] COMMAND [-c FILE] [ARGS]\n\n"
                 "Commands:\n");
    for (const struct command *c = commands; c->name != NULL; c++) {
        fprintf(out, "  %-14s %s\n", c->name, c->summary);
    }
    fprintf(out,
            "\nEvery command takes -c FILE / --config FILE (default: $%s, else %s).\n"
            "Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 invalid "
            "configuration.\n",
            DS_CONFIG_ENV, ds_os_default_path(DS_OS_CONFIG_FILE));
}

static void command_usage(const struct command *c, FILE *out)
{
    fprintf(out, "usage: dentsync %s [-c FILE]%s%s\n\n%s.\n", c->name,
            c->args[0] != '\0' ? " " : "", c->args, c->summary);
}

/* Takes -c FILE, --config FILE and --config=FILE out of argv wherever they
 * stand, so each command's own getopt sees only its options. Returns the
 * path, or NULL; sets *bad to 1 when -c lacks its value. */
static const char *take_config(int *argc, char **argv, int *bad)
{
    const char *path = NULL;
    int out = 1;

    *bad = 0;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= *argc) {
                *bad = 1;
                break;
            }
            path = argv[++i];
        }
        else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        }
        else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
    return path;
}

/* main() is the platform's (agent/os/os_entry_*.c): argv is UTF-8 here. */
int ds_main(int argc, char **argv)
{
    const struct command *cmd = NULL;
    const char *config_path = NULL;
    int bad = 0;

    ds_read_child_dispatch(argc, argv);
    ds_read_setup();
    if (argc < 2) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return DS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("dentsync %s\n", DS_VERSION);
        return DS_EXIT_OK;
    }
    for (const struct command *c = commands; c->name != NULL; c++) {
        if (strcmp(argv[1], c->name) == 0) {
            cmd = c;
        }
    }
    if (cmd == NULL) {
        fprintf(stderr, "dentsync: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    argc--;
    argv++;
    config_path = take_config(&argc, argv, &bad);
    if (bad) {
        command_usage(cmd, stderr);
        return DS_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            command_usage(cmd, stdout);
            return DS_EXIT_OK;
        }
    }
    if (config_path == NULL) {
        config_path = ds_config_default_path();
    }
    return cmd->run(config_path, argc, argv);
}
