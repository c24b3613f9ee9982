/*
 * scratch_posix.c — scratch.h on Linux: mkdtemp(3) under /tmp, tmpfile(3),
 * setenv(3), symlink(2),
 * nftw(3) to remove the tree without following a link.
 */
#include "tests/unit/scratch.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int ds_test_mkdtemp(const char *prefix, char *buf, size_t size)
{
    int n = snprintf(buf, size, "/tmp/%s-XXXXXX", prefix);

    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(buf) != NULL ? 0 : -1;
}

FILE *ds_test_capture_open(void)
{
    return tmpfile();
}

char *ds_test_capture_text(FILE *f)
{
    char *text = NULL;
    long n;

    if (fflush(f) == 0 && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)n + 1);
        if (text != NULL) {
            text[fread(text, 1, (size_t)n, f)] = '\0';
        }
    }
    fclose(f);
    return text;
}

int ds_test_setenv(const char *name, const char *value)
{
    return value != NULL ? setenv(name, value, 1) : unsetenv(name);
}

int ds_test_symlink(const char *target, const char *link)
{
    return symlink(target, link);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP) {
        rmdir(path);
    }
    else {
        unlink(path);
    }
    return 0;
}

void ds_test_rmtree(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
