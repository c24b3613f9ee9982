/*
 * test_fsafe.c — the export folder is hostile: a planted link is never
 * written or read through, a FIFO does not block, a folder that is a link
 * or open to others is refused, and a file once opened stays the file
 * read even when its name is given to another.
 */
#include "agent/core/fsafe.h"
#include "agent/read/read.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dir {
    char path[256]; /* a fresh temporary directory */
    int fd;         /* open on it */
};

static void dir_make(struct dir *d)
{
    snprintf(d->path, sizeof(d->path), "/tmp/ds-test-fsafe-XXXXXX");
    assert_non_null(mkdtemp(d->path));
    d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(d->fd >= 0);
}

static void dir_drop(struct dir *d)
{
    char cmd[300];

    close(d->fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
    assert_int_equal(system(cmd), 0);
}

static void put(const struct dir *d, const char *name, const char *text)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", d->path, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void at(const struct dir *d, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", d->path, name);
}

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "r");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, size - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

/* A link planted under the name of a temporary file: removed, never
 * followed; what it pointed to is unchanged. */
static void test_create_over_planted_link(void **state)
{
    struct dir d;
    char target[512];
    char link[512];
    char text[64];
    struct stat sb;
    int fd;

    (void)state;
    dir_make(&d);
    put(&d, "sentinel", "left alone\n");
    at(&d, "sentinel", target, sizeof(target));
    at(&d, "x.error.txt.tmp", link, sizeof(link));
    assert_int_equal(symlink(target, link), 0);
    fd = ds_fsafe_create(d.fd, "x.error.txt.tmp");
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "reason\n", 7), 7);
    close(fd);
    slurp(target, text, sizeof(text));
    assert_string_equal(text, "left alone\n");
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    dir_drop(&d);
}

/* Only a regular file opens: a link is refused, a FIFO neither blocks nor
 * opens, a directory is refused. */
static void test_open_file_refuses(void **state)
{
    struct dir d;
    struct ds_file_id id;
    struct stat sb;
    char path[512];
    char link[512];
    int why = 0;
    int fd;

    (void)state;
    dir_make(&d);
    put(&d, "real.csv", "a,b\n1,2\n");
    at(&d, "real.csv", path, sizeof(path));
    fd = ds_fsafe_open_file(path, 0, &id, &why);
    assert_true(fd >= 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(id.ino, (int64_t)sb.st_ino);
    assert_int_equal(id.size, 8);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);

    at(&d, "link.csv", link, sizeof(link));
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(ds_fsafe_open_file(link, 0, NULL, &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);
    assert_int_equal(ds_fsafe_stat_file(link, &id, &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);
    fd = ds_fsafe_open_file(link, 1, NULL, &why); /* a name a person gave */
    assert_true(fd >= 0);
    close(fd);

    at(&d, "fifo.csv", path, sizeof(path));
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(ds_fsafe_open_file(path, 0, NULL, &why), -1);
    assert_int_equal(why, DS_FSAFE_NOT_FILE);

    assert_int_equal(ds_fsafe_open_file(d.path, 0, NULL, &why), -1);
    assert_int_equal(why, DS_FSAFE_NOT_FILE);
    at(&d, "gone.csv", path, sizeof(path));
    assert_int_equal(ds_fsafe_open_file(path, 0, NULL, &why), -1);
    assert_int_equal(why, DS_FSAFE_GONE);
    dir_drop(&d);
}

/* The agent's own folders: made 0700; one that is a link, a file or open
 * to others is refused. */
static void test_subdir(void **state)
{
    struct dir d;
    struct stat sb;
    char path[512];
    char other[512];
    int why = 0;
    int fd;

    (void)state;
    dir_make(&d);
    fd = ds_fsafe_subdir(d.fd, "quarantine", &why);
    assert_true(fd >= 0);
    close(fd);
    at(&d, "quarantine", path, sizeof(path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    fd = ds_fsafe_subdir(d.fd, "quarantine", &why); /* there already */
    assert_true(fd >= 0);
    close(fd);

    at(&d, "elsewhere", other, sizeof(other));
    assert_int_equal(mkdir(other, 0700), 0);
    at(&d, "processed", path, sizeof(path));
    assert_int_equal(symlink(other, path), 0);
    assert_int_equal(ds_fsafe_subdir(d.fd, "processed", &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);

    put(&d, "afile", "x");
    assert_int_equal(ds_fsafe_subdir(d.fd, "afile", &why), -1);
    assert_int_equal(why, DS_FSAFE_NOT_DIR);

    at(&d, "open", path, sizeof(path));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chmod(path, 0777), 0);
    assert_int_equal(ds_fsafe_subdir(d.fd, "open", &why), -1);
    assert_int_equal(why, DS_FSAFE_NOT_OWNER);
    dir_drop(&d);
}

/* Once opened, the file read is the one opened: its name given to another
 * file changes nothing, and each reader has its own offset. */
static void test_read_the_file_opened(void **state)
{
    struct dir d;
    struct ds_reader *r = NULL;
    struct ds_error err;
    char path[512];
    char other[512];
    char a[4];
    char b[4];
    int fd;
    int fd2;

    (void)state;
    dir_make(&d);
    put(&d, "export.csv", "Mine,Header\n1,2\n");
    put(&d, "decoy.csv", "Other,Columns\n3,4\n");
    at(&d, "export.csv", path, sizeof(path));
    at(&d, "decoy.csv", other, sizeof(other));
    fd = ds_fsafe_open_file(path, 0, NULL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(rename(other, path), 0);

    fd2 = ds_fsafe_reopen(fd);
    assert_true(fd2 >= 0);
    assert_int_equal(read(fd, a, 4), 4);
    assert_int_equal(read(fd2, b, 4), 4);
    assert_memory_equal(a, "Mine", 4);
    assert_memory_equal(b, "Mine", 4);
    close(fd2);

    assert_int_equal(ds_read_open_fd(fd, path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_header(r)->nfields, 2);
    assert_string_equal(ds_read_header(r)->fields[0], "Mine");
    ds_read_close(&r);
    close(fd);
    dir_drop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_over_planted_link),
        cmocka_unit_test(test_open_file_refuses),
        cmocka_unit_test(test_subdir),
        cmocka_unit_test(test_read_the_file_opened),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
