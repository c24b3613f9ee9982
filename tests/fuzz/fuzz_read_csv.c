/*
 * fuzz_read_csv.c — the CSV reader, and the patients mapper behind it, on
 * arbitrary bytes: every input must end in rows or a clean error, never a
 * crash, a leak or an out-of-bounds access.
 *
 * The input goes through a memory file (fuzz_read.h). Every row that comes
 * out is mapped with the built-in generic-patients template, so the
 * normalizers see hostile values too.
 */
#include "agent/map/map.h"
#include "config/template.h"
#include "tests/fuzz/fuzz_read.h"

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
    int fd = fuzz_read_memfd("ds-fuzz-csv", data, size, path, sizeof(path));

    if (ds_template_find(NULL, "generic-patients", &t, NULL) != 0) {
        abort();
    }
    if (ds_read_open(path, NULL, &r, &err) == 0) {
        /* A header without first and last name columns binds no mapper. */
        (void)ds_map_new(t, ds_read_header(r), &m, &err);
        while (ds_read_next_row(r, &row, &err) == 1) {
            if ((row.nfields == 0 && row.error == 0) || row.line < 1) {
                abort();
            }
            fuzz_read_check_row(&row);
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
