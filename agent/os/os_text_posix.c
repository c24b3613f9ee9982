/*
 * os_text_posix.c — os_text.h on POSIX: <regex.h> and fnmatch(3).
 */
#include "agent/os/os_text.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include <fnmatch.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

struct ds_regex {
    regex_t re;
};

int ds_regex_compile(struct ds_regex **out, const char *pattern, int flags)
{
    struct ds_regex *r = ds_malloc(sizeof(*r));
    int cflags = REG_EXTENDED | ((flags & DS_REGEX_ICASE) != 0 ? REG_ICASE : 0) |
                 ((flags & DS_REGEX_GROUPS) != 0 ? 0 : REG_NOSUB);
    int rc;

    *out = NULL;
    if (r == NULL) {
        return DS_ENOMEM;
    }
    rc = regcomp(&r->re, pattern, cflags);
    if (rc != 0) {
        ds_free(r);
        return rc == REG_ESPACE ? DS_ENOMEM : DS_EINVAL;
    }
    *out = r;
    return 0;
}

int ds_regex_match(const struct ds_regex *re, const char *s)
{
    return regexec(&re->re, s, 0, NULL, 0) == 0;
}

size_t ds_regex_groups(const struct ds_regex *re)
{
    return re->re.re_nsub;
}

int ds_regex_group1(const struct ds_regex *re, const char *s, size_t *start, size_t *end)
{
    regmatch_t mt[2];

    if (regexec(&re->re, s, 2, mt, 0) != 0 || mt[1].rm_so < 0 || mt[1].rm_eo < mt[1].rm_so) {
        return 0;
    }
    *start = (size_t)mt[1].rm_so;
    *end = (size_t)mt[1].rm_eo;
    return 1;
}

void ds_regex_free(struct ds_regex **re)
{
    if (re == NULL || *re == NULL) {
        return;
    }
    regfree(&(*re)->re);
    ds_free(*re);
    *re = NULL;
}

int ds_os_fnmatch(const char *pattern, const char *name)
{
    return fnmatch(pattern, name, 0) == 0;
}

struct ds_os_memstream {
    FILE *f;
    char *buf;
    size_t len;
};

FILE *ds_os_memstream_open(struct ds_os_memstream **ms)
{
    struct ds_os_memstream *m = ds_calloc(1, sizeof(*m));

    *ms = m;
    if (m == NULL) {
        return NULL;
    }
    m->f = open_memstream(&m->buf, &m->len);
    return m->f;
}

char *ds_os_memstream_finish(struct ds_os_memstream *ms)
{
    char *text;

    if (ms == NULL) {
        return NULL;
    }
    if (ms->f != NULL) {
        fclose(ms->f);
    }
    text = ms->buf;
    ds_free(ms);
    return text;
}
