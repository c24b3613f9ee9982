/*
 * read.c — the reader benchmark driver: every row of an export file
 * through ds_read_open / ds_read_next_row, the way ingest reads it, with
 * nothing after the reader (no mapping, no queue).
 *
 *   read FILE
 *
 * Prints `name value` lines:
 *
 *   read_bytes N          the file's size
 *   read_rows N           data rows read
 *   read_seconds S        wall time from open to the end of the file
 *   read_mb_per_s R       file MB (10^6 bytes) per wall second
 *   read_cpu_s S          user + system CPU time of the whole process
 *   read_cpu_mb_per_s R   file MB per CPU second (steadier on a busy machine)
 *   read_peak_rss_mb M    the process's peak resident set (getrusage)
 *
 * Exits 0 when the whole file was read, 1 otherwise (the error on stderr).
 */
#include "agent/core/error.h"
#include "agent/read/read.h"

#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct rusage ru;
    struct stat sb;
    char msg[512];
    size_t sum = 0;
    long rows = 0;
    double t0;
    double secs;
    double cpu;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: read FILE\n");
        return 2;
    }
    if (stat(argv[1], &sb) != 0) {
        fprintf(stderr, "read: cannot stat %s\n", argv[1]);
        return 1;
    }
    t0 = now_seconds();
    rc = ds_read_open(argv[1], NULL, &r, &err);
    while (rc == 0) {
        rc = ds_read_next_row(r, &row, &err);
        if (rc != 1) {
            break;
        }
        rows++;
        /* Touch what a consumer touches: each field's first byte. */
        for (size_t i = 0; i < row.nfields; i++) {
            sum += (unsigned char)row.fields[i][0];
        }
        rc = 0;
    }
    secs = now_seconds() - t0;
    ds_read_close(&r);
    if (rc != 0) {
        ds_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "read: %s\n", msg);
        return 1;
    }
    getrusage(RUSAGE_SELF, &ru);
    cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("read_bytes %lld\n", (long long)sb.st_size);
    printf("read_rows %ld\n", rows);
    printf("read_seconds %.3f\n", secs);
    printf("read_mb_per_s %.0f\n", secs > 0 ? (double)sb.st_size / 1e6 / secs : 0.0);
    printf("read_cpu_s %.3f\n", cpu);
    printf("read_cpu_mb_per_s %.0f\n", cpu > 0 ? (double)sb.st_size / 1e6 / cpu : 0.0);
    printf("read_peak_rss_mb %.1f\n", (double)ru.ru_maxrss / 1024.0);
    return sum == 0 && rows > 0 ? 1 : 0;
}
