/*
 * fuzz_read_csv.c — the CSV reader, and the patients mapper behind it, on
 * arbitrary bytes: every input must end in rows or a clean error, never a
 * crash, a leak or an out-of-bounds access.
 *
 * The input is put in an anonymous memory file (memfd) and read through its
 * /proc path, so the real open/read path is exercised without touching the
 * disk. Every row that comes out is mapped with the built-in
 * generic-patients template, so the normalizers see hostile values too.
 */
#include "agent/map/map.h"
#include "agent/read/read.h"
#include "config/template.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ds_template *t = NULL;
    struct ds_reader *r = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct ds_error err;
    struct ds_row row;
    char path[64];
    size_t done = 0;
    int fd;

    fd = memfd_create("ds-fuzz-csv", MFD_CLOEXEC);
    if (fd < 0) {
        abort();
    }
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);

        if (n <= 0) {
            abort();
        }
        done += (size_t)n;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (ds_template_find(NULL, "generic-patients", &t, NULL) != 0) {
        abort();
    }
    if (ds_read_open(path, NULL, &r, &err) == 0) {
        /* A header without first and last name columns binds no mapper. */
        (void)ds_map_new(t, ds_read_header(r), &m, &err);
        while (ds_read_next_row(r, &row, &err) == 1) {
            if ((row.nfields == 0 && row.error == 0) || row.row < 1 || row.line < 1) {
                abort();
            }
            /* A row cut at a cap says which cap, and keeps only the fields
             * before the one over it. */
            if (row.error < 0 || row.error > DS_READ_ROW_TOO_LARGE || row.error_msg == NULL ||
                (row.error != 0) != (row.error_msg[0] != '\0') ||
                (row.error != 0 && row.error_field > 0 && row.nfields >= row.error_field)) {
                abort();
            }
            if (m != NULL && ds_map_row(m, &row, &out) == 0) {
                ds_mapped_close(&out);
            }
        }
    }
    ds_map_free(&m);
    ds_read_close(&r);
    ds_template_free(&t);
    close(fd);
    return 0;
}
