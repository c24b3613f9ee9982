/*
 * fuzz_read.h — what the reader fuzz targets share: the input put in an
 * anonymous memory file (memfd) read through its /proc path, so the real
 * open/read path runs without touching the disk, and the checks every row
 * and the notices must pass, and the set-up that lets the XLS parser's child
 * run. Header-only: each target is one source file.
 */
#ifndef DS_TESTS_FUZZ_READ_H
#define DS_TESTS_FUZZ_READ_H

#include "agent/read/read.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The input in a memfd named name; its /proc path in path. Returns the fd. */
static inline int fuzz_read_memfd(const char *name, const uint8_t *data, size_t size, char *path,
                                  size_t psize)
{
    size_t done = 0;
    int fd = memfd_create(name, MFD_CLOEXEC);

    if (fd < 0) {
        abort();
    }
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);

        if (k <= 0) {
            abort();
        }
        done += (size_t)k;
    }
    snprintf(path, psize, "/proc/self/fd/%d", fd);
    return fd;
}

/* A row as the reader hands it over: numbered, within the column cap, its
 * fields NUL-terminated; a row cut at a cap says which cap, and keeps only
 * the fields before the one over it. */
static inline void fuzz_read_check_row(const struct ds_row *row)
{
    if (row->row < 1 || row->nfields > DS_READ_MAX_FIELDS) {
        abort();
    }
    if (row->error < 0 || row->error > DS_READ_ROW_TOO_LARGE || row->error_msg == NULL ||
        (row->error != 0) != (row->error_msg[0] != '\0') ||
        (row->error != 0 && row->error_field > 0 && row->nfields >= row->error_field)) {
        abort();
    }
    for (size_t i = 0; i < row->nfields; i++) {
        if (row->fields[i][row->lens[i]] != '\0') {
            abort();
        }
    }
}

/* Reads the input to its end or a clean error, checking every row, the
 * dialect and the notices. */
static inline void fuzz_read_all(const char *name, const uint8_t *data, size_t size)
{
    const struct ds_read_notice *notices;
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    char path[64];
    size_t n = 0;
    int fd = fuzz_read_memfd(name, data, size, path, sizeof(path));

    if (ds_read_open(path, NULL, &r, &err) == 0) {
        if (ds_read_dialect(r)->format == NULL) {
            abort();
        }
        while (ds_read_next_row(r, &row, &err) == 1) {
            fuzz_read_check_row(&row);
        }
        notices = ds_read_notices(r, &n, NULL);
        if (n > DS_READ_MAX_NOTICES || (n > 0 && notices[n - 1].msg[0] == '\0')) {
            abort();
        }
    }
    ds_read_close(&r);
    close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The XLS parser runs as this program started again (agent/read/read_xls.c):
 * the target routes that command line before fuzzing. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ds_read_child_dispatch(*argc, *argv);
    return 0;
}

#endif
