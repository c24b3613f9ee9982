/*
 * ascii.c — ASCII-only text helpers (ascii.h).
 */
#include "agent/core/ascii.h"

#include <stddef.h>

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

const char *ds_ascii_casestr(const char *hay, const char *needle)
{
    for (;; hay++) {
        size_t i = 0;

        while (needle[i] != '\0' &&
               lower((unsigned char)hay[i]) == lower((unsigned char)needle[i])) {
            i++;
        }
        if (needle[i] == '\0') {
            return hay;
        }
        if (*hay == '\0') {
            return NULL;
        }
    }
}
