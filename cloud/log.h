/*
 * log.h — the cloud's log, which must never carry patient data.
 *
 * Lines name methods, paths made of ids, status codes, counts, SQLSTATEs and
 * error codes; never a value from a request body or a database error
 * message that could quote one. Format strings should be literals so a
 * reviewer sees what reaches the log. Lines go to stderr as
 * "TIMESTAMP LEVEL message", one write per line so threads do not interleave.
 */
#ifndef DSC_LOG_H
#define DSC_LOG_H

enum dsc_log_level {
    DSC_LOG_ERROR = 0,
    DSC_LOG_WARN = 1,
    DSC_LOG_INFO = 2,
};

void dsc_log(enum dsc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define dsc_log_error(...) dsc_log(DSC_LOG_ERROR, __VA_ARGS__)
#define dsc_log_warn(...) dsc_log(DSC_LOG_WARN, __VA_ARGS__)
#define dsc_log_info(...) dsc_log(DSC_LOG_INFO, __VA_ARGS__)

#endif
