/*
 * scratch.h — a unit test's scratch directory, on Linux and on Windows (the
 * tests run under wine by make windows-test). Each platform's half is its
 * own file, scratch_posix.c or scratch_win.c, picked by the Makefile as
 * agent/os/ is: the tests themselves never ask which platform they run on.
 */
#ifndef DS_TEST_SCRATCH_H
#define DS_TEST_SCRATCH_H

#include <stddef.h>
#include <stdio.h>

/* Makes a new, empty directory named PREFIX and a unique tail under the
 * system's temporary folder (/tmp; GetTempPathW on Windows), readable by
 * this user only, and writes its path into buf. 0, or -1 with errno. */
int ds_test_mkdtemp(const char *prefix, char *buf, size_t size);

/* Makes link a symbolic link to target (a file or a directory). 0, or -1
 * with errno; ENOSYS when the system said it made the link and there is
 * none (wine's CreateSymbolicLinkW). */
int ds_test_symlink(const char *target, const char *link);

/* A stream that keeps what is written to it (a function's report), as
 * open_memstream(3) would: tmpfile(3) on Linux, a file in the temporary
 * folder removed when closed on Windows. NULL with errno. */
FILE *ds_test_capture_open(void);

/* new (free): everything written to f, NUL-terminated; closes f. */
char *ds_test_capture_text(FILE *f);

/* setenv(3) (overwriting), or unsetenv(3) when value is NULL. 0 or -1. */
int ds_test_setenv(const char *name, const char *value);

/* Removes dir and everything under it, following no link. */
void ds_test_rmtree(const char *dir);

#endif
