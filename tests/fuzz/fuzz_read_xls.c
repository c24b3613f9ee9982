/*
 * fuzz_read_xls.c — the XLS reader (freexl) on arbitrary bytes: every
 * input must end in rows or a clean error, never a crash, a leak or an
 * out-of-bounds access. Mutated compound files exercise freexl and the cell
 * conversion in the parsing child (a crash there must come back as an
 * error, as for the freexl over-read kept in the corpus) and the parent's
 * checks of the rows the child sends.
 *
 * The input goes into an anonymous memory file (memfd) read through its
 * /proc path, so the real open/read path runs without touching the disk.
 * Dispatch is by content, so a mutation that breaks the signature lands in
 * another reader, which is fine: it must hold as well.
 */
#include "agent/read/read.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ds_read_notice *notices;
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    char path[64];
    size_t done = 0;
    size_t n = 0;
    int fd;

    fd = memfd_create("ds-fuzz-xls", MFD_CLOEXEC);
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
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (ds_read_open(path, NULL, &r, &err) == 0) {
        if (ds_read_dialect(r)->format == NULL) {
            abort();
        }
        while (ds_read_next_row(r, &row, &err) == 1) {
            if (row.row < 1 || row.nfields > DS_READ_MAX_FIELDS) {
                abort();
            }
            for (size_t i = 0; i < row.nfields; i++) {
                if (row.fields[i][row.lens[i]] != '\0') {
                    abort();
                }
            }
        }
        notices = ds_read_notices(r, &n, NULL);
        if (n > DS_READ_MAX_NOTICES || (n > 0 && notices[n - 1].msg[0] == '\0')) {
            abort();
        }
    }
    ds_read_close(&r);
    close(fd);
    return 0;
}
