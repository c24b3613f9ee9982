/*
 * ascii.h — ASCII-only text helpers that the C libraries of the platforms
 * do not all have (strcasestr is a GNU and BSD extension).
 */
#ifndef DS_CORE_ASCII_H
#define DS_CORE_ASCII_H

/* The first place needle occurs in hay, ASCII letters compared without
 * case (bytes >= 0x80 compared as they are), or NULL. An empty needle is
 * found at hay. */
const char *ds_ascii_casestr(const char *hay, const char *needle);

#endif
