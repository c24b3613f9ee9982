/*
 * test_os_fs.c — the platform layer's file system (agent/os/os_fs.h): a
 * link is never followed where the agent must not follow one, an exclusive
 * create fails on an existing name, a rename replaces (or, asked not to,
 * refuses), private files are private, the state lock is exclusive even
 * within one process, and the default paths hang together.
 *
 * Written against the layer only, so the same source is built for
 * Windows: the one call the layer does not offer is planting a link
 * (plant_link), which tests/unit/scratch.h does on each platform.
 */
#include "agent/os/os_fs.h"
#include "agent/core/hash.h"
#include "config/config.h"
#include "tests/unit/scratch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NAMES 16

/* A fresh directory and the names made in it, removed at the end. */
struct box {
    char path[512];            /* the directory */
    char names[MAX_NAMES][64]; /* entries made inside, removed in reverse */
    int n;                     /* how many */
};

static void box_make(struct box *b)
{
    const char *base = getenv("TMPDIR");
    char id[DS_UUID_LEN];

    if (base == NULL || base[0] == '\0') {
        base = getenv("TEMP");
    }
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    assert_int_equal(ds_uuid_v4(id), 0);
    memset(b, 0, sizeof(*b));
    snprintf(b->path, sizeof(b->path), "%s/ds-test-os-fs-%s", base, id);
    assert_int_equal(ds_os_mkdir(b->path, 0), 0);
}

/* The path of name inside the box, remembered for the clean-up. */
static const char *in(struct box *b, const char *name, char *buf, size_t size)
{
    int known = 0;

    for (int i = 0; i < b->n; i++) {
        known |= strcmp(b->names[i], name) == 0;
    }
    if (!known) {
        assert_true(b->n < MAX_NAMES);
        snprintf(b->names[b->n++], sizeof(b->names[0]), "%s", name);
    }
    snprintf(buf, size, "%s/%s", b->path, name);
    return buf;
}

static void box_drop(struct box *b)
{
    char path[600];

    for (int i = b->n - 1; i >= 0; i--) {
        snprintf(path, sizeof(path), "%s/%s", b->path, b->names[i]);
        if (ds_os_unlink(path) != 0) {
            rmdir(path);
        }
    }
    assert_int_equal(rmdir(b->path), 0);
}

/* Writes text into path, created private. */
static void put(const char *path, const char *text)
{
    int fd = ds_os_create_private(path, DS_OS_TRUNC);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    assert_int_equal(ds_os_fsync(fd), 0);
    close(fd);
}

/* What path holds (up to size - 1 bytes). */
static void get(const char *path, char *buf, size_t size)
{
    int fd = ds_os_open_read(path);
    long n;

    assert_true(fd >= 0);
    n = (long)read(fd, buf, size - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

/* The one call outside the layer: a symbolic link at link to target
 * (tests/unit/scratch.h). Where none can be made (wine's
 * CreateSymbolicLinkW reports success and makes nothing), the test says
 * so and is skipped, its box removed. */
static void plant_link(struct box *b, const char *target, const char *link)
{
    if (ds_test_symlink(target, link) != 0) {
        print_message("skipped: no symbolic link can be made here (%s)\n",
                      errno == ENOSYS ? "the system said it made one, and there is none"
                                      : strerror(errno));
        box_drop(b);
        skip();
    }
}

static void test_link_is_refused(void **state)
{
    struct box b;
    char file[600];
    char link[600];
    char dir[600];
    char dlink[600];
    char text[16];
    struct ds_file_id id;
    int why = -1;
    int dfd;
    int fd;

    (void)state;
    box_make(&b);
    put(in(&b, "real.csv", file, sizeof(file)), "a,b\n");
    plant_link(&b, file, in(&b, "link.csv", link, sizeof(link)));
    assert_int_equal(ds_os_mkdir(in(&b, "real", dir, sizeof(dir)), 0), 0);
    plant_link(&b, dir, in(&b, "dlink", dlink, sizeof(dlink)));

    /* A file: the link is refused, not followed, by open and by stat. */
    assert_int_equal(ds_os_open_file(link, 0, &id, &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);
    assert_int_equal(ds_os_stat_file(link, &id, &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);
    /* A person's own path on the command line is followed. */
    fd = ds_os_open_file(link, 1, &id, &why);
    assert_true(fd >= 0);
    assert_int_equal(why, DS_FSAFE_OK);
    assert_int_equal(id.size, 4);
    close(fd);

    /* A folder: refused as a link by path and inside an open folder. */
    assert_int_equal(ds_os_open_dir(dlink, 0, &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);
    dfd = ds_os_open_dir(b.path, 0, &why);
    assert_true(dfd >= 0);
    assert_int_equal(ds_os_subdir(dfd, "dlink", &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);
    assert_int_equal(ds_os_stat_at(dfd, "link.csv", &id), -1);
    assert_int_equal(ds_os_stat_at(dfd, "real.csv", &id), 0);
    assert_true(ds_os_exists(dfd, "link.csv"));

    /* Creating over a planted link removes the link, never writes through. */
    fd = ds_os_create_at(dfd, "link.csv");
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "new\n", 4), 4);
    close(fd);
    get(file, text, sizeof(text));
    assert_string_equal(text, "a,b\n");
    close(dfd);
    box_drop(&b);
}

static void test_create_exclusive(void **state)
{
    struct box b;
    char path[600];
    char text[64];
    int fd;

    (void)state;
    box_make(&b);
    fd = ds_os_create_private(in(&b, "once.csv", path, sizeof(path)), DS_OS_EXCL);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "first\n", 6), 6);
    close(fd);
    errno = 0;
    assert_int_equal(ds_os_create_private(path, DS_OS_EXCL), -1);
    assert_int_equal(errno, EEXIST);
    get(path, text, sizeof(text));
    assert_string_equal(text, "first\n");

    /* Appending: every write at the end, nothing truncated. */
    fd = ds_os_create_private(path, DS_OS_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "second\n", 7), 7);
    close(fd);
    get(path, text, sizeof(text));
    assert_string_equal(text, "first\nsecond\n");
    box_drop(&b);
}

static void test_rename(void **state)
{
    struct box b;
    char from[600];
    char to[600];
    char text[64];

    (void)state;
    box_make(&b);
    put(in(&b, "a.tmp", from, sizeof(from)), "new\n");
    put(in(&b, "a.csv", to, sizeof(to)), "old\n");

    /* Asked not to replace: refused, both left as they were. */
    assert_int_equal(ds_os_rename(from, to, 0), EEXIST);
    get(to, text, sizeof(text));
    assert_string_equal(text, "old\n");
    assert_true(ds_os_exists(-1, from));

    /* Replacing: the new contents under the name, the old name gone. */
    assert_int_equal(ds_os_rename(from, to, 1), 0);
    get(to, text, sizeof(text));
    assert_string_equal(text, "new\n");
    assert_false(ds_os_exists(-1, from));

    /* Not replacing, to a free name: moved, nothing left behind. */
    assert_int_equal(ds_os_rename(to, in(&b, "b.csv", from, sizeof(from)), 0), 0);
    assert_false(ds_os_exists(-1, to));
    get(from, text, sizeof(text));
    assert_string_equal(text, "new\n");
    assert_int_equal(ds_os_rename(to, from, 1), ENOENT);
    box_drop(&b);
}

static void test_private_files(void **state)
{
    struct box b;
    char path[600];
    FILE *fp;
    int dfd;
    int fd;
    int why = -1;

    (void)state;
    box_make(&b);
    fd = ds_os_create_private(in(&b, "token", path, sizeof(path)), DS_OS_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(ds_os_fd_private(fd), 1);
    close(fd);
    dfd = ds_os_open_dir(b.path, 0, &why);
    assert_true(dfd >= 0);
    in(&b, "reason.txt", path, sizeof(path));
    fd = ds_os_create_at(dfd, "reason.txt");
    assert_true(fd >= 0);
    assert_int_equal(ds_os_fd_private(fd), 1);
    close(fd);
    close(dfd);

    /* A file made the ordinary way (readable by others under the usual
     * umask) is told apart. */
    fp = fopen(in(&b, "open.txt", path, sizeof(path)), "w");
    assert_non_null(fp);
    assert_int_equal(ds_os_fd_private(fileno(fp)), 0);
    fclose(fp);

    /* The agent's own folder, made private, is accepted as its own. */
    assert_int_equal(ds_os_mkdir(in(&b, "quarantine", path, sizeof(path)), 0), 0);
    dfd = ds_os_open_dir(b.path, 0, &why);
    fd = ds_os_subdir(dfd, "quarantine", &why);
    assert_true(fd >= 0);
    assert_int_equal(why, DS_FSAFE_OK);
    close(fd);
    close(dfd);
    box_drop(&b);
}

/* The configuration folder made the agent's own (`dentsync setup`): the
 * folder stays usable and private files in it stay private; a file in its
 * place, or nothing, is refused. */
static void test_secure_dir(void **state)
{
    struct box b;
    char path[600];
    int fd;

    (void)state;
    box_make(&b);
    assert_int_equal(ds_os_mkdir(in(&b, "conf", path, sizeof(path)), 1), 0);
    assert_int_equal(ds_os_secure_dir(path), 0);
    assert_int_equal(ds_os_secure_dir(path), 0); /* again, as a repair does */
    fd = ds_os_create_private(in(&b, "conf/main.token", path, sizeof(path)), DS_OS_EXCL);
    assert_true(fd >= 0);
    assert_int_equal(ds_os_fd_private(fd), 1);
    close(fd);
    assert_int_equal(ds_os_secure_dir(path), ENOTDIR);
    assert_int_equal(ds_os_secure_dir(in(&b, "absent", path, sizeof(path))), ENOENT);
    box_drop(&b);
}

/* The queue: created when absent, an existing file kept, a link or a
 * directory in its place refused. */
static void test_shared_file(void **state)
{
    struct box b;
    char path[600];
    char link[600];
    char dir[600];
    char text[16];
    int why = -1;

    (void)state;
    box_make(&b);
    assert_int_equal(ds_os_create_shared(in(&b, "queue.db", path, sizeof(path)), &why), 0);
    assert_int_equal(why, DS_FSAFE_OK);
    assert_true(ds_os_exists(-1, path));
    put(path, "kept");
    assert_int_equal(ds_os_create_shared(path, &why), 0);
    get(path, text, sizeof(text));
    assert_string_equal(text, "kept");

    assert_int_equal(ds_os_mkdir(in(&b, "dir.db", dir, sizeof(dir)), 0), 0);
    assert_int_equal(ds_os_create_shared(dir, &why), -1);
    assert_int_equal(why, DS_FSAFE_NOT_FILE);
    /* Last: where no link can be made, the test ends here as skipped. */
    plant_link(&b, path, in(&b, "link.db", link, sizeof(link)));
    assert_int_equal(ds_os_create_shared(link, &why), -1);
    assert_int_equal(why, DS_FSAFE_LINK);
    box_drop(&b);
}

static void test_lock_is_exclusive(void **state)
{
    struct box b;
    char path[600];
    int first;

    (void)state;
    box_make(&b);
    first = ds_os_lock_file(in(&b, "agent.lock", path, sizeof(path)));
    assert_true(first >= 0);
    assert_true(ds_os_same_file(first, path));
    errno = 0;
    assert_int_equal(ds_os_lock_file(path), -1);
    assert_int_equal(errno, EBUSY);
    close(first);
    first = ds_os_lock_file(path);
    assert_true(first >= 0);
    close(first);
    box_drop(&b);
}

static void test_pread_keeps_offset(void **state)
{
    struct box b;
    char path[600];
    char buf[16];
    size_t got = 0;
    int fd;

    (void)state;
    box_make(&b);
    put(in(&b, "data", path, sizeof(path)), "0123456789");
    fd = ds_os_open_file(path, 0, NULL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, 2), 2);
    assert_int_equal(ds_os_pread(fd, buf, 4, 6, &got), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "6789", 4);
    assert_int_equal(ds_os_pread(fd, buf, 4, 10, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(read(fd, buf, 2), 2);
    assert_memory_equal(buf, "23", 2);
    close(fd);
    box_drop(&b);
}

/* The path handed to a library that takes only a path (the XLS child's
 * freexl) leads to the file the descriptor holds, and opens it. On
 * Windows the file stays pinned under that path until the process ends, so
 * its scratch directory is removed as far as it can be. */
static void test_fd_path(void **state)
{
    struct ds_file_id a;
    struct ds_file_id b;
    char dir[1024];
    char path[1100];
    char fd_path[4096];
    int fd;
    int again;

    (void)state;
    assert_int_equal(ds_test_mkdtemp("ds-test-fd-path", dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/book.xls", dir);
    put(path, "0123456789");
    fd = ds_os_open_read(path);
    assert_true(fd >= 0);
    ds_os_fd_path(fd, fd_path, sizeof(fd_path));
    assert_true(fd_path[0] != '\0');
    assert_int_equal(ds_os_fd_id(fd, &a), 0);
    assert_int_equal(ds_os_stat_follow(fd_path, &b), 0);
    assert_true(a.dev == b.dev && a.ino == b.ino);
    again = ds_os_open_read(fd_path);
    assert_true(again >= 0);
    close(again);
    close(fd);
    ds_test_rmtree(dir);
}

static void test_default_paths(void **state)
{
    const char *dir = ds_os_default_path(DS_OS_CONFIG_DIR);
    const char *file = ds_os_default_path(DS_OS_CONFIG_FILE);
    const char *st = ds_os_default_path(DS_OS_STATE_DIR);
    size_t n = strlen(dir);

    (void)state;
    /* The same storage on every call. */
    assert_ptr_equal(dir, ds_os_default_path(DS_OS_CONFIG_DIR));
    /* dentsync.conf directly inside the configuration directory. */
    assert_true(n > 0);
    assert_memory_equal(file, dir, n);
    assert_true(file[n] == '/' || file[n] == '\\');
    assert_string_equal(file + n + 1, "dentsync.conf");
    assert_non_null(strstr(dir, "dentsync"));
    assert_non_null(strstr(st, "dentsync"));
    assert_string_not_equal(st, dir);
    /* Without $DENTSYNC_CONFIG, the configuration is looked for there. */
    if (getenv(DS_CONFIG_ENV) == NULL) {
        assert_string_equal(ds_config_default_path(), file);
    }
}

static void test_disk_and_kind(void **state)
{
    struct box b;

    (void)state;
    box_make(&b);
    assert_true(ds_os_disk_free(b.path) > 0);
    assert_int_equal(ds_os_path_kind(b.path + strlen(b.path)), DS_OS_PATH_UNKNOWN);
    assert_int_not_equal(ds_os_path_kind(b.path), DS_OS_PATH_UNKNOWN);
    box_drop(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_is_refused),    cmocka_unit_test(test_fd_path),
        cmocka_unit_test(test_create_exclusive),   cmocka_unit_test(test_rename),
        cmocka_unit_test(test_private_files),      cmocka_unit_test(test_secure_dir),
        cmocka_unit_test(test_shared_file),        cmocka_unit_test(test_lock_is_exclusive),
        cmocka_unit_test(test_pread_keeps_offset), cmocka_unit_test(test_default_paths),
        cmocka_unit_test(test_disk_and_kind),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
