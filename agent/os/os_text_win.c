/*
 * os_text_win.c — os_text.h on Windows: TRE's POSIX regular expressions
 * and the case-insensitive file-name matcher of agent/core/glob.c.
 */
#include "agent/os/os_text.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"
#include "agent/core/glob.h"

#include <stddef.h>
#include <tre/tre.h>

struct ds_regex {
    regex_t re;
};

int ds_regex_compile(struct ds_regex **out, const char *pattern, int flags)
{
    struct ds_regex *r = ds_malloc(sizeof(*r));
    int cflags = REG_EXTENDED | REG_NOSUB | ((flags & DS_REGEX_ICASE) != 0 ? REG_ICASE : 0);
    int rc;

    *out = NULL;
    if (r == NULL) {
        return DS_ENOMEM;
    }
    rc = tre_regcomp(&r->re, pattern, cflags);
    if (rc != 0) {
        ds_free(r);
        return rc == REG_ESPACE ? DS_ENOMEM : DS_EINVAL;
    }
    *out = r;
    return 0;
}

int ds_regex_match(const struct ds_regex *re, const char *s)
{
    return tre_regexec(&re->re, s, 0, NULL, 0) == 0;
}

void ds_regex_free(struct ds_regex **re)
{
    if (re == NULL || *re == NULL) {
        return;
    }
    tre_regfree(&(*re)->re);
    ds_free(*re);
    *re = NULL;
}

int ds_os_fnmatch(const char *pattern, const char *name)
{
    return ds_glob_match(pattern, name, DS_GLOB_CASEFOLD);
}
