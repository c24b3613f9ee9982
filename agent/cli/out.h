/*
 * out.h — what the commands share: opening the queue read-only from the
 * config (status, jobs, job, events, errors), opening it for writing with
 * a failure explained the same way (retry, resync, import without an
 * agent), and writing times for a person. Not a command itself: it has no
 * entry in main.c.
 *
 * Everything these commands print is ids, names from the config, file
 * paths, states, counts and codes — never a value read from an export.
 */
#ifndef DS_CLI_OUT_H
#define DS_CLI_OUT_H

#include "config/config.h"
#include "state/store.h"

#include <stddef.h>

/* Loads the config and opens its queue read-only. Returns a DS_EXIT_* code:
 * DS_EXIT_OK with *cfg and *st set (new: free with ds_config_free and
 * ds_store_close), DS_EXIT_CONFIG, or DS_EXIT_RUNTIME with the reason on
 * stderr. With missing_ok, a queue not created yet is DS_EXIT_OK with *st
 * NULL. name is the command's, for messages. */
int ds_out_open(const char *name, const char *config_path, int missing_ok, struct ds_config **cfg,
                struct ds_store **st);

/* Opens cfg's queue for writing beside a running agent (WAL), refusing a
 * damaged one as `dentsync run` does (ds_store_check). Returns DS_EXIT_OK
 * with *st set (new: ds_store_close); with missing_ok, DS_EXIT_OK with *st
 * NULL when there is no queue yet; else DS_EXIT_RUNTIME with the reason on
 * stderr (ds_out_queue_failed). name is the command's, for messages. */
int ds_out_open_write(const char *name, const struct ds_config *cfg, int missing_ok,
                      struct ds_store **st);

/* Says on stderr why command name could not open cfg's queue for writing
 * (rc and err from ds_store_open, ds_store_check or ds_runtime_start):
 * the reason, then what to do when the queue is not writable by this user
 * or locked by another process. Returns DS_EXIT_RUNTIME. */
int ds_out_queue_failed(const char *name, const struct ds_config *cfg, int rc,
                        const struct ds_error *err);

/* Seconds since the epoch, wall clock. */
double ds_out_now(void);

/* t (seconds since the epoch) as local "YYYY-MM-DD HH:MM:SS", or "-" when
 * t is 0. Returns buf. */
const char *ds_out_time(double t, char *buf, size_t size);

/* t as UTC ISO 8601 ("2024-03-27T15:45:00Z"), or "" when t is 0. */
const char *ds_out_iso(double t, char *buf, size_t size);

/* How long ago t was, relative to now, as "42s", "5m", "3h", "2d"; or
 * "in 5m" for a time to come; "-" when t is 0. Returns buf. */
const char *ds_out_ago(double t, double now, char *buf, size_t size);

/* Parses an instant for --since: a duration back from now ("90s", "15m",
 * "6h", "2d"), or a local date "YYYY-MM-DD" with an optional "THH:MM[:SS]"
 * or " HH:MM[:SS]". 0 and *out set, or DS_EINVAL. */
int ds_out_parse_since(const char *text, double now, double *out);

/* Parses a positive decimal count; DS_EINVAL if it is not one. */
int ds_out_parse_count(const char *text, long *out);

#endif
