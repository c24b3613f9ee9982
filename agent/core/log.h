/*
 * log.h — the agent's log, which must never carry patient data.
 *
 * Log lines name ids, row numbers, field names, counts, codes and file
 * names; never a value read from an export. The format string is checked
 * at compile time and should be a literal so a reviewer can see at a glance
 * what reaches the log. Lines go to stderr (journald under systemd) as
 * "LEVEL message" — the timestamp is added when stderr is not the journal.
 */
#ifndef DS_CORE_LOG_H
#define DS_CORE_LOG_H

enum ds_log_level {
    DS_LOG_ERROR = 0,
    DS_LOG_WARN = 1,
    DS_LOG_INFO = 2,
    DS_LOG_DEBUG = 3,
};

/* Parses "error", "warn", "info", "debug". Returns the level or -1. */
int ds_log_level_parse(const char *name);

/* Sets the threshold. Called once at start-up, before any thread exists:
 * the level is the one process-wide setting the log keeps. */
void ds_log_set_level(enum ds_log_level level);

void ds_log(enum ds_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ds_log_error(...) ds_log(DS_LOG_ERROR, __VA_ARGS__)
#define ds_log_warn(...) ds_log(DS_LOG_WARN, __VA_ARGS__)
#define ds_log_info(...) ds_log(DS_LOG_INFO, __VA_ARGS__)
#define ds_log_debug(...) ds_log(DS_LOG_DEBUG, __VA_ARGS__)

#endif
