/*
 * log.h — the agent's log, which must never carry patient data.
 *
 * Log lines name ids, row numbers, field names, counts, codes and file
 * names; never a value read from an export. The format string is checked
 * at compile time and should be a literal so a reviewer can see at a glance
 * what reaches the log. Every line carries an event code (UPPER_SNAKE, e.g.
 * JOB_STAGED, BATCH_RETRY, PRACTICE_PAUSED: the audit trail's event kinds
 * where one exists), listed with its meaning in docs/operations.md, so a
 * line can be found and acted on by its code. One event is one line (a newline inside a message
 * is turned into a space).
 *
 * Lines go to stderr as "TIME LEVEL CODE message"; when stderr is the
 * journal (systemd's JOURNAL_STREAM) as "<PRIORITY>LEVEL CODE message"
 * instead, the journal adding the time. With ds_log_open_file they go to a file too,
 * rotated by size ([agent] log_file, log_max_kb, log_keep).
 */
#ifndef DS_CORE_LOG_H
#define DS_CORE_LOG_H

#include "agent/os/os_cc.h"

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

/* Also writes every line to path (created 0600, appended to), rotating it
 * to path.1 ... path.keep when a line would take it past max_bytes. A NULL
 * or empty path closes the file. Called at start-up and on reload, from
 * the loop thread; 0, DS_EIO or DS_ETOOBIG. */
int ds_log_open_file(const char *path, long long max_bytes, int keep);

/* Closes the log file, if any. */
void ds_log_close_file(void);

/* 1 when stderr is the journal (lines carry "<N>" priority prefixes). */
int ds_log_journal(void);

/* One event: code is its event code (a literal), fmt its message. */
void ds_log(enum ds_log_level level, const char *code, const char *fmt, ...) DS_PRINTF(3, 4);

#define ds_log_error(...) ds_log(DS_LOG_ERROR, __VA_ARGS__)
#define ds_log_warn(...) ds_log(DS_LOG_WARN, __VA_ARGS__)
#define ds_log_info(...) ds_log(DS_LOG_INFO, __VA_ARGS__)
#define ds_log_debug(...) ds_log(DS_LOG_DEBUG, __VA_ARGS__)

#endif
