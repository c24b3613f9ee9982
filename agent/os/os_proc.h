/*
 * os_proc.h — a child process of this program, for work the agent does
 * not trust to run inside itself (the XLS parser, agent/read/read_xls.c).
 *
 * The child is this program's own executable started again with a hidden
 * subcommand (`dentsync __read-xls ...`): exec on POSIX (posix_spawn, safe
 * from any thread), CreateProcess on Windows, which has no fork. Every
 * program that may start one routes the subcommand first thing in main()
 * (ds_read_child_dispatch in agent/read/read.h); one that did not refuses
 * to start the child rather than run itself again.
 *
 * The child gets exactly three descriptors: stdin is an already opened
 * file (duplicated, never reopened by name), stdout a pipe the parent
 * reads, stderr the null device (a sanitizer report or a library's message
 * could quote the file). Limits: POSIX — the child sets them on itself
 * before it touches the input (ds_os_child_limit_self: no core file, CPU
 * seconds, address space); Windows — a Job Object set up before the child
 * runs (process memory, one process, killed with the job, no error
 * dialog). The parent bounds the child's silence (ds_os_child_read).
 */
#ifndef DS_OS_PROC_H
#define DS_OS_PROC_H

#include <stddef.h>

struct ds_os_child; /* opaque */

struct ds_os_child_limits {
    size_t memory; /* bytes of address space (POSIX) or committed memory (Windows); 0: none */
    unsigned cpu_seconds; /* CPU time; 0: none */
};

/* How a child ended. */
struct ds_os_child_exit {
    int crashed;  /* killed by a signal or ended by an exception */
    int killed;   /* ds_os_child_finish killed it */
    int code;     /* the exit status when neither */
    char how[48]; /* for a person: "signal 11", "exception 0xC0000005", "exit status 3" */
};

/* Starts this program as `PROGRAM args[0] args[1] ...` (args ends with
 * NULL; args[0] is the hidden subcommand) with in_fd (an open file) as its
 * stdin. lim applies as said above. 0 and *out (ds_os_child_finish ends
 * it); DS_EINVAL when this program does not route hidden subcommands
 * (ds_os_child_routes was not called); DS_ENOMEM, DS_EIO. */
int ds_os_child_start(const char *const *args, int in_fd, const struct ds_os_child_limits *lim,
                      struct ds_os_child **out);

/* Reads up to size bytes of the child's output: the count; 0 at its end
 * (the child closed stdout or ended); DS_EBUSY when nothing came for
 * timeout_ms; DS_EIO. */
long ds_os_child_read(struct ds_os_child *c, void *buf, size_t size, int timeout_ms);

/* Closes the pipe, kills the child when kill_it, waits for it and frees c. how (may be
 * NULL) tells how it ended. NULL-safe. */
void ds_os_child_finish(struct ds_os_child *c, int kill_it, struct ds_os_child_exit *how);

/* Marks this program as one that routes hidden subcommands in its main()
 * (so ds_os_child_start may run it again). */
void ds_os_child_routes(void);

/* In the child, first thing: applies lim to this process (POSIX; on
 * Windows the job did) and readies stdin, stdout and stderr for raw
 * binary I/O. The child's input is then descriptor 0, its output 1. */
void ds_os_child_limit_self(const struct ds_os_child_limits *lim);

/* Writes n bytes to the child's output (descriptor 1): 0 or -1. */
int ds_os_child_write(const void *p, size_t n);

/* Leaves the child at once with status code: no exit handlers, no stdio
 * flush. */
void ds_os_child_exit(int code) __attribute__((noreturn));

/* Ends this process at once, as a crash or a power cut would: no exit
 * handlers, no flush (SIGKILL on POSIX; TerminateProcess with code 137 on
 * Windows). For the crash points of the tests. */
void ds_os_kill_self(void) __attribute__((noreturn));

/* The usable size of a block the C library's malloc returned (p not NULL):
 * malloc_usable_size, on Windows _msize. */
size_t ds_os_alloc_size(void *p);

/* Whether a child process this process started is left to be reaped
 * (POSIX: waitpid(-1, WNOHANG) finds one, running or ended); on Windows
 * nothing is left once ds_os_child_finish closed its handles: 0. */
int ds_os_children_left(void);

/* The most memory this process has held resident so far, in KiB
 * (getrusage's ru_maxrss; Windows: the peak working set). -1 when it
 * cannot be told. */
long ds_os_peak_memory_kib(void);

/* Who this process runs as, for a message: "uid N" on POSIX, "user NAME"
 * on Windows. */
void ds_os_whoami(char *buf, size_t size);

/* The signals (libuv's numbers, for uv_signal_start) the running agent
 * stops on, and the one it reloads its configuration on.
 *   POSIX    SIGINT, SIGTERM stop; SIGHUP reloads.
 *   Windows  SIGINT (Ctrl+C), SIGBREAK (Ctrl+Break) and SIGHUP (libuv's
 *            name for the console window closing) stop; no signal
 *            reloads. A service hears neither: the service code stops it.
 * Everywhere the control endpoint's `reload` (`dentsync reload`) reloads. */
#define DS_OS_STOP_SIGNALS_MAX 3

/* Fills sig with the stop signals; their count. */
int ds_os_stop_signals(int sig[DS_OS_STOP_SIGNALS_MAX]);

/* The reload signal, or 0 when there is none. */
int ds_os_reload_signal(void);

#endif
