/*
 * db.h — the cloud's PostgreSQL access: connections, parameterized
 * statements, results and a small connection pool for the request threads.
 *
 * The only header-level view of libpq: callers see opaque connections and
 * results, and every statement takes its values as bound parameters (text
 * format, NULL for SQL NULL) — there is no way to run a statement with
 * values spliced into its text.
 *
 * Failures are classified once, here: DSC_EUNAVAIL (connection lost or
 * refused, server shutting down), DSC_EBUSY (deadlock, serialization
 * failure, lock or statement timeout) and DSC_EDB (anything else). The log
 * gets the statement's label and SQLSTATE only, because PostgreSQL's own
 * messages may quote values; a connection opened for the command line
 * (verbose) also logs the message.
 */
#ifndef DSC_DB_H
#define DSC_DB_H

struct dsc_db;      /* one connection */
struct dsc_rows;    /* the result of one statement */
struct dsc_db_pool; /* connections shared by request threads */

/* Connects to url (a libpq URL or conninfo string). verbose: log
 * PostgreSQL's error messages too (command line only, never in serve).
 * new: *out, close with dsc_db_close. 0, DSC_EUNAVAIL or DSC_ENOMEM. */
int dsc_db_open(const char *url, int verbose, struct dsc_db **out);

/* NULL-safe; sets *db to NULL. */
void dsc_db_close(struct dsc_db **db);

/* 1 while the connection is usable and outside any transaction. */
int dsc_db_idle(const struct dsc_db *db);

/* Runs one statement with n text parameters (params[i] NULL for SQL NULL).
 * label names the statement in the log. When rows is not NULL, new: *rows
 * receives the result (free with dsc_rows_free). 0, DSC_EDB, DSC_EUNAVAIL,
 * DSC_EBUSY or DSC_ENOMEM. */
int dsc_db_exec(struct dsc_db *db, const char *label, const char *sql, int n,
                const char *const *params, struct dsc_rows **rows);

/* Runs a script of several statements without parameters (migrations
 * only). Same results as dsc_db_exec. */
int dsc_db_script(struct dsc_db *db, const char *label, const char *sql);

/* Opens a transaction; on a pool's connection it also sets the statement,
 * lock and idle-in-transaction timeouts of the request, for that
 * transaction only. */
int dsc_db_begin(struct dsc_db *db);
int dsc_db_commit(struct dsc_db *db);
/* Rolls back if a transaction is open; errors are ignored (a broken
 * connection is dropped by the pool anyway). */
void dsc_db_rollback(struct dsc_db *db);

/* Number of rows in a result. */
int dsc_rows_count(const struct dsc_rows *rows);
/* borrow: the text of (row, col), valid until dsc_rows_free; NULL for SQL
 * NULL or outside the result. */
const char *dsc_rows_get(const struct dsc_rows *rows, int row, int col);
/* NULL-safe; sets *rows to NULL. */
void dsc_rows_free(struct dsc_rows **rows);

#define DSC_DB_POOL_MAX 64 /* the largest pool */

/* A pool of at most size (1..DSC_DB_POOL_MAX) connections to url. new: *out, free with
 * dsc_db_pool_free once no connection is out. 0, DSC_EINVAL or
 * DSC_ENOMEM; connects lazily. */
int dsc_db_pool_new(const char *url, int size, struct dsc_db_pool **out);
void dsc_db_pool_free(struct dsc_db_pool **pool);

/* How long dsc_db_pool_get waits for a free connection (1..60 s;
 * default 30). */
void dsc_db_pool_set_wait(struct dsc_db_pool *pool, int seconds);

/* Takes a connection, opening one when none is idle and the pool is not
 * full, else waiting for one (up to the pool's wait, then DSC_EBUSY). *reused is set
 * to 1 when the connection was idle in the pool (it may have been broken
 * since). new: *db, give it back with dsc_db_pool_put. 0, DSC_EUNAVAIL,
 * DSC_EBUSY or DSC_ENOMEM. */
int dsc_db_pool_get(struct dsc_db_pool *pool, struct dsc_db **db, int *reused);

/* The pool's use, for the metrics. */
struct dsc_db_pool_stats {
    int size;               /* most connections */
    int open;               /* connections open, idle or out */
    int idle;               /* connections idle in the pool */
    unsigned long waits;    /* dsc_db_pool_get calls that had to wait */
    unsigned long timeouts; /* ... and found none in time */
};
void dsc_db_pool_stats(struct dsc_db_pool *pool, struct dsc_db_pool_stats *out);

/* Closes every idle connection: after one was found broken, the others
 * (opened before the same PostgreSQL restart) most likely are too. */
void dsc_db_pool_flush(struct dsc_db_pool *pool);

/* steals: *db goes back to the pool, or is closed when it is broken or
 * still inside a transaction. Sets *db to NULL. NULL-safe. */
void dsc_db_pool_put(struct dsc_db_pool *pool, struct dsc_db **db);

#endif
