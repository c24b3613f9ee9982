/*
 * read.c — ds_read_open picks the reader for a file, the other ds_read_*
 * calls forward to it.
 *
 * Only delimited text exists so far. Spreadsheet and calendar files are
 * recognised by their first bytes (not by their name, which a PMS may get
 * wrong) and refused with a clear message until their readers exist, rather
 * than being parsed as garbage CSV.
 *
 * Invariant: a reader returned by ds_read_open always has ops, impl and a
 * header; ds_read_close is the only way to free it.
 */
#include "agent/read/read.h"

#include "agent/read/read_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads up to n leading bytes of path. Returns the count or DS_EIO. */
static int read_magic(const char *path, unsigned char *p, size_t n)
{
    size_t got = 0;
    ssize_t k;
    int fd = -1;
    int rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = DS_EIO;
        goto out;
    }
    while (got < n) {
        k = read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            rc = DS_EIO;
            goto out;
        }
        if (k == 0) {
            break;
        }
        got += (size_t)k;
    }
    rc = (int)got;
out:
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* Names a binary format this version cannot read, or NULL. */
static const char *unsupported_kind(const unsigned char *p, size_t n)
{
    static const unsigned char zip[] = {'P', 'K', 3, 4};
    static const unsigned char ole[] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};

    if (n >= sizeof(zip) && memcmp(p, zip, sizeof(zip)) == 0) {
        return "XLSX (zip) files are not supported yet";
    }
    if (n >= sizeof(ole) && memcmp(p, ole, sizeof(ole)) == 0) {
        return "XLS files are not supported yet";
    }
    return NULL;
}

int ds_read_open(const char *path, const struct ds_read_hints *hints, struct ds_reader **out,
                 struct ds_error *err)
{
    struct ds_reader *r = NULL;
    unsigned char magic[8];
    const char *kind;
    int n;
    int rc = 0;

    *out = NULL;
    if (err != NULL) {
        snprintf(err->file, sizeof(err->file), "%s", path);
    }
    n = read_magic(path, magic, sizeof(magic));
    if (n < 0) {
        rc = ds_error_set(err, n, "cannot open or read the file");
        goto out;
    }
    kind = unsupported_kind(magic, (size_t)n);
    if (kind != NULL) {
        rc = ds_error_set(err, DS_EPARSE, "%s", kind);
        goto out;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    rc = ds__read_csv_open(path, hints, r, err);
    if (rc != 0) {
        goto out;
    }
    *out = r;
    r = NULL;
out:
    free(r);
    return rc;
}

const struct ds_row *ds_read_header(const struct ds_reader *r)
{
    return &r->header;
}

int ds_read_next_row(struct ds_reader *r, struct ds_row *row, struct ds_error *err)
{
    return r->ops->next(r->impl, row, err);
}

void ds_read_close(struct ds_reader **r)
{
    if (r == NULL || *r == NULL) {
        return;
    }
    (*r)->ops->close((*r)->impl);
    free(*r);
    *r = NULL;
}
