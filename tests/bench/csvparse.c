/*
 * csvparse.c — the reference for `preview --all`: libcsv alone parsing a
 * file, as the CSV reader feeds it (64 KiB blocks, fields NUL-terminated),
 * with callbacks that only count. Nothing is decoded, mapped or stored.
 *
 *   csvparse FILE
 *
 * Prints `name value` lines: csv_rows N (records, the header included),
 * csv_fields N, csv_seconds S (wall time of the parse). Exits 0, or 1 when
 * the file cannot be read or libcsv fails.
 */
#include <csv.h>
#include <stdio.h>
#include <time.h>

struct counts {
    long rows;
    long fields;
};

static void on_field(void *s, size_t len, void *ctx)
{
    (void)s;
    (void)len;
    ((struct counts *)ctx)->fields++;
}

static void on_row(int c, void *ctx)
{
    (void)c;
    ((struct counts *)ctx)->rows++;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static char block[65536];
    struct csv_parser p;
    struct counts n = {0, 0};
    FILE *f = NULL;
    double t0;
    size_t got;
    int status = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: csvparse FILE\n");
        return 2;
    }
    if (csv_init(&p, CSV_APPEND_NULL) != 0) {
        fprintf(stderr, "csvparse: out of memory\n");
        return 1;
    }
    t0 = now_seconds();
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        fprintf(stderr, "csvparse: cannot open %s\n", argv[1]);
        goto out;
    }
    for (;;) {
        got = fread(block, 1, sizeof(block), f);
        if (got == 0) {
            break;
        }
        if (csv_parse(&p, block, got, on_field, on_row, &n) != got) {
            fprintf(stderr, "csvparse: %s\n", csv_strerror(csv_error(&p)));
            goto out;
        }
    }
    csv_fini(&p, on_field, on_row, &n);
    printf("csv_rows %ld\ncsv_fields %ld\ncsv_seconds %.3f\n", n.rows, n.fields,
           now_seconds() - t0);
    status = 0;
out:
    if (f != NULL) {
        fclose(f);
    }
    csv_free(&p);
    return status;
}
