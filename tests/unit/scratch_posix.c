/*
 * scratch_posix.c — scratch.h on Linux: mkdtemp(3) under /tmp, symlink(2),
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
