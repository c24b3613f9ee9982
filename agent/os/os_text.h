/*
 * os_text.h — text matching the platforms spell differently: POSIX
 * extended regular expressions (a template's `pattern`) and the file-name
 * patterns of a folder's include and exclude lists.
 *
 * The regular expressions are POSIX ERE on both sides, so a template means
 * the same everywhere: <regex.h> on POSIX (os_text_posix.c), TRE's
 * tre_regcomp/tre_regexec (the same POSIX API) on Windows (os_text_win.c).
 *
 * File-name patterns follow what the platform's users expect: fnmatch(3)
 * on POSIX (case-sensitive, `\` escapes); on Windows the portable matcher
 * of agent/core/glob.c, case-insensitive like the platform's file names, so
 * `*.CSV` takes `x.csv`, and without escapes (`\` separates paths there).
 */
#ifndef DS_OS_TEXT_H
#define DS_OS_TEXT_H

#define DS_REGEX_ICASE 1  /* ds_regex_compile: letters match either case */
#define DS_REGEX_GROUPS 2 /* ds_regex_compile: keep the groups (ds_regex_group1) */

#include <stddef.h>
#include <stdio.h>

/* A stream whose text is collected to be read back (open_memstream on
 * POSIX; a temporary file deleted on close on Windows, whose C runtime has
 * no memory stream). */
struct ds_os_memstream; /* opaque */

/* Opens a collecting stream into *ms. The FILE to write, or NULL. */
FILE *ds_os_memstream_open(struct ds_os_memstream **ms);

/* Closes the stream and returns what was written, NUL-terminated (free()
 * it: the C library allocates it), or NULL when nothing can be had. */
char *ds_os_memstream_finish(struct ds_os_memstream *ms);

struct ds_regex; /* opaque: one compiled expression */

/* Compiles pattern (POSIX extended syntax) into *out (new: ds_regex_free).
 * 0; DS_EINVAL when the pattern is not valid; DS_ENOMEM. */
int ds_regex_compile(struct ds_regex **out, const char *pattern, int flags);

/* 1 when s (NUL-terminated) holds a match of re anywhere, else 0. */
int ds_regex_match(const struct ds_regex *re, const char *s);

/* The number of groups in re. */
size_t ds_regex_groups(const struct ds_regex *re);

/* 1 when s holds a match of re (compiled with DS_REGEX_GROUPS) whose first
 * group took part, with that group's bytes at [*start, *end) of s; else 0. */
int ds_regex_group1(const struct ds_regex *re, const char *s, size_t *start, size_t *end);

/* Frees *re and sets it to NULL. NULL-safe. */
void ds_regex_free(struct ds_regex **re);

/* 1 when the file name matches the pattern (the whole name), else 0. */
int ds_os_fnmatch(const char *pattern, const char *name);

#endif
