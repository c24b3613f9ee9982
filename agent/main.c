/*
 * main.c — the `dentsync` command: git-style subcommands over one config.
 *
 * Exit codes (docs/cli.md):
 *   0  success
 *   1  a runtime failure (the queue cannot be opened, the service failed)
 *   2  a usage error (unknown command or option)
 *   3  the configuration is missing or invalid
 */
#include "agent/core/log.h"
#include "agent/core/version.h"
#include "agent/daemon.h"
#include "agent/upload/http.h"
#include "config/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3 };

struct command {
    const char *name;
    int (*run)(const char *config_path, int argc, char **argv);
    const char *summary;
};

static void usage(FILE *out);

static int cmd_check_config(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    int rc;

    (void)argc;
    (void)argv;
    rc = ds_config_load(config_path, &cfg, stderr);
    if (rc != 0) {
        return EXIT_CONFIG;
    }
    printf("%s: OK (%zu practice(s), %zu folder(s))\n", config_path, cfg->npractices,
           cfg->nfolders);
    ds_config_free(&cfg);
    return EXIT_OK;
}

static int cmd_run(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    struct ds_error err;
    char msg[600];
    int rc;

    (void)argc;
    (void)argv;
    ds_error_clear(&err);
    rc = ds_config_load(config_path, &cfg, stderr);
    if (rc != 0) {
        return EXIT_CONFIG;
    }
    ds_log_set_level((enum ds_log_level)cfg->log_level);
    if (ds_http_global_init() != 0) {
        ds_config_free(&cfg);
        return EXIT_RUNTIME;
    }
    rc = ds_daemon_run(cfg, &err);
    if (rc != 0) {
        ds_log_error("cannot run: %s", ds_error_format(&err, msg, sizeof(msg)));
    }
    ds_http_global_cleanup();
    ds_config_free(&cfg);
    return rc == 0 ? EXIT_OK : EXIT_RUNTIME;
}

static const struct command commands[] = {
    {"run", cmd_run, "run the service: watch the folders, stage and upload"},
    {"check-config", cmd_check_config, "check the configuration, report every error"},
    {NULL, NULL, NULL},
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
            DS_CONFIG_ENV, DS_CONFIG_DEFAULT_PATH);
}

static void command_usage(const struct command *c, FILE *out)
{
    fprintf(out, "usage: dentsync %s [-c FILE]\n\n%s.\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct command *cmd = NULL;
    const char *config_path = NULL;
    int opt;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("dentsync %s\n", DS_VERSION);
        return EXIT_OK;
    }
    for (const struct command *c = commands; c->name != NULL; c++) {
        if (strcmp(argv[1], c->name) == 0) {
            cmd = c;
        }
    }
    if (cmd == NULL) {
        fprintf(stderr, "dentsync: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    argc--;
    argv++;
    for (;;) {
        opt = getopt_long(argc, argv, "c:h", options, NULL);
        if (opt == -1) {
            break;
        }
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            command_usage(cmd, stdout);
            return EXIT_OK;
        default:
            command_usage(cmd, stderr);
            return EXIT_USAGE;
        }
    }
    if (config_path == NULL) {
        config_path = ds_config_default_path();
    }
    return cmd->run(config_path, argc - optind, argv + optind);
}
