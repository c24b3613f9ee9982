/*
 * glob.c — the portable file-name matcher (glob.h).
 *
 * One pass with backtracking to the last `*` only: every other token takes
 * exactly one character, so when a later part fails, letting the last star
 * take one more character is the only choice left, and the time stays
 * bounded by the pattern's length times the name's.
 */
#include "agent/core/glob.h"

#include <stddef.h>

/* Decodes the character at *p (advancing *p): its code point, or 0x110000
 * plus the byte for a byte that starts no valid UTF-8 sequence. */
static unsigned long next_char(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned long c = s[0];
    int more = 0;

    if (c >= 0xc2 && c <= 0xdf) {
        more = 1;
        c &= 0x1f;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        more = 2;
        c &= 0x0f;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        more = 3;
        c &= 0x07;
    }
    else if (c >= 0x80) {
        *p = s + 1;
        return 0x110000UL + s[0];
    }
    for (int i = 1; i <= more; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *p = s + 1;
            return 0x110000UL + s[0];
        }
        c = (c << 6) | (s[i] & 0x3fU);
    }
    *p = s + 1 + more;
    return c;
}

static unsigned long fold(unsigned long c, int flags)
{
    if ((flags & DS_GLOB_CASEFOLD) != 0 && c >= 'A' && c <= 'Z') {
        return c - 'A' + 'a';
    }
    return c;
}

/* The set at *p (just after its `[`): 1 when c is in it, 0 when not, -1
 * when the set has no closing `]` (the `[` is then an ordinary character).
 * Advances *p past the `]`. */
static int in_set(const unsigned char **p, unsigned long c, int flags)
{
    const unsigned char *s = *p;
    int negate = 0;
    int found = 0;
    int first = 1;

    if (*s == '!' || *s == '^') {
        negate = 1;
        s++;
    }
    c = fold(c, flags);
    for (;;) {
        unsigned long lo;
        unsigned long hi;

        if (*s == '\0') {
            return -1;
        }
        if (*s == ']' && !first) {
            s++;
            break;
        }
        first = 0;
        lo = next_char(&s);
        hi = lo;
        if (s[0] == '-' && s[1] != ']' && s[1] != '\0') {
            s++;
            hi = next_char(&s);
        }
        if (fold(lo, flags) <= c && c <= fold(hi, flags)) {
            found = 1;
        }
    }
    *p = s;
    return found != negate;
}

int ds_glob_match(const char *pattern, const char *name, int flags)
{
    const unsigned char *p = (const unsigned char *)pattern;
    const unsigned char *n = (const unsigned char *)name;
    const unsigned char *star_p = NULL; /* the pattern after the last `*` */
    const unsigned char *star_n = NULL; /* where that star's run ends so far */

    while (*n != '\0') {
        const unsigned char *pp = p;
        const unsigned char *nn = n;
        unsigned long c;
        int ok = 0;

        if (*pp == '*') {
            while (*pp == '*') {
                pp++;
            }
            star_p = pp;
            star_n = n;
            p = pp;
            continue;
        }
        c = next_char(&nn);
        if (*pp == '?') {
            pp++;
            ok = 1;
        }
        else if (*pp == '[') {
            const unsigned char *set = pp + 1;
            int in = in_set(&set, c, flags);

            if (in >= 0) {
                pp = set;
                ok = in;
            }
            else {
                pp++;
                ok = c == '[';
            }
        }
        else if (*pp != '\0') {
            ok = fold(next_char(&pp), flags) == fold(c, flags);
        }
        if (ok) {
            p = pp;
            n = nn;
            continue;
        }
        if (star_p == NULL) {
            return 0;
        }
        /* The last star takes one more character; the rest tries again. */
        (void)next_char(&star_n);
        n = star_n;
        p = star_p;
    }
    while (*p == '*') {
        p++;
    }
    return *p == '\0';
}
