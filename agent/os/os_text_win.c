/*
 * os_text_win.c — os_text.h on Windows: TRE's POSIX regular expressions
 * and the case-insensitive file-name matcher of agent/core/glob.c.
 */
#include "agent/os/os_text.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"
#include "agent/core/glob.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>
#include <tre/tre.h>

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

size_t ds_regex_groups(const struct ds_regex *re)
{
    return re->re.re_nsub;
}

int ds_regex_group1(const struct ds_regex *re, const char *s, size_t *start, size_t *end)
{
    regmatch_t mt[2];

    if (tre_regexec(&re->re, s, 2, mt, 0) != 0 || mt[1].rm_so < 0 || mt[1].rm_eo < mt[1].rm_so) {
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
    tre_regfree(&(*re)->re);
    ds_free(*re);
    *re = NULL;
}

int ds_os_fnmatch(const char *pattern, const char *name)
{
    return ds_glob_match(pattern, name, DS_GLOB_CASEFOLD);
}

struct ds_os_memstream {
    FILE *f;
};

FILE *ds_os_memstream_open(struct ds_os_memstream **ms)
{
    struct ds_os_memstream *m = ds_calloc(1, sizeof(*m));
    wchar_t dir[MAX_PATH + 1];
    wchar_t name[MAX_PATH + 1];
    DWORD n = GetTempPathW(MAX_PATH + 1, dir);

    *ms = m;
    if (m == NULL || n == 0 || n > MAX_PATH || GetTempFileNameW(dir, L"ds", 0, name) == 0) {
        return NULL;
    }
    /* T: kept in memory while it can be; D: deleted when closed. */
    m->f = _wfopen(name, L"w+bTD");
    if (m->f == NULL) {
        DeleteFileW(name);
    }
    return m->f;
}

char *ds_os_memstream_finish(struct ds_os_memstream *ms)
{
    char *text = NULL;
    long len;

    if (ms == NULL) {
        return NULL;
    }
    if (ms->f != NULL && fflush(ms->f) == 0 && fseek(ms->f, 0, SEEK_END) == 0 &&
        (len = ftell(ms->f)) >= 0 && fseek(ms->f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)len + 1);
        if (text != NULL) {
            size_t got = fread(text, 1, (size_t)len, ms->f);

            text[got] = '\0';
        }
    }
    if (ms->f != NULL) {
        fclose(ms->f);
    }
    ds_free(ms);
    return text;
}
