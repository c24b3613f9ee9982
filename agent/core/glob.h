/*
 * glob.h — a file-name pattern matcher in plain C, the one Windows users
 * get (agent/os/os_text_win.c), kept here so the unit tests run it on
 * every platform.
 *
 * `*` matches any run of characters (none included), `?` one character,
 * `[...]` one character of the set: members, ranges (`a-z`), `!` or `^`
 * first to negate, `]` first to be a member. A `[` without its `]` is an
 * ordinary character. There is no escape: `\` is an ordinary character
 * (it separates paths on Windows and cannot be in a name). A character is
 * a UTF-8 sequence; a byte that starts none is a character by itself.
 * With DS_GLOB_CASEFOLD, ASCII letters match either case, as Windows
 * matches `*.CSV` to `x.csv`.
 */
#ifndef DS_CORE_GLOB_H
#define DS_CORE_GLOB_H

#define DS_GLOB_CASEFOLD 1 /* ASCII letters match either case */

/* 1 when the whole of name matches pattern, else 0. */
int ds_glob_match(const char *pattern, const char *name, int flags);

#endif
