/*
 * commands.h — the `dentsync` subcommands. Each lives in its own
 * agent/cli/cmd_<name>.c and has one entry point:
 *
 *   int ds_cmd_<name>(const char *config_path, int argc, char **argv);
 *
 * config_path is what -c/--config said, or the default; main.c has taken
 * those options (and handled --help) out of argv already. argv[0] is the
 * command's name, the rest its own options and arguments for getopt. The
 * return value is the process exit code (DS_EXIT_*, docs/cli.md). main.c
 * holds the table that names them, with a one-line summary each.
 */
#ifndef DS_COMMANDS_H
#define DS_COMMANDS_H

enum {
    DS_EXIT_OK = 0,      /* success */
    DS_EXIT_RUNTIME = 1, /* a runtime failure */
    DS_EXIT_USAGE = 2,   /* unknown command or option */
    DS_EXIT_CONFIG = 3,  /* the configuration is missing or invalid */
};

int ds_cmd_run(const char *config_path, int argc, char **argv);
int ds_cmd_check_config(const char *config_path, int argc, char **argv);
int ds_cmd_sync_now(const char *config_path, int argc, char **argv);
int ds_cmd_reload(const char *config_path, int argc, char **argv);
int ds_cmd_resync(const char *config_path, int argc, char **argv);
int ds_cmd_errors(const char *config_path, int argc, char **argv);
int ds_cmd_read(const char *config_path, int argc, char **argv);
int ds_cmd_retry(const char *config_path, int argc, char **argv);
int ds_cmd_status(const char *config_path, int argc, char **argv);
int ds_cmd_jobs(const char *config_path, int argc, char **argv);
int ds_cmd_job(const char *config_path, int argc, char **argv);
int ds_cmd_events(const char *config_path, int argc, char **argv);
int ds_cmd_doctor(const char *config_path, int argc, char **argv);
int ds_cmd_templates(const char *config_path, int argc, char **argv);
int ds_cmd_preview(const char *config_path, int argc, char **argv);
int ds_cmd_import(const char *config_path, int argc, char **argv);
int ds_cmd_web_url(const char *config_path, int argc, char **argv);
int ds_cmd_setup(const char *config_path, int argc, char **argv);
int ds_cmd_service(const char *config_path, int argc, char **argv);

#endif
