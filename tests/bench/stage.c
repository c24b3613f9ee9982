/*
 * stage.c — the staging benchmark driver: one export file through
 * ds_ingest_run (hash, read, map, normalize, validate, fingerprint, commit
 * to the queue, cut batches), exactly as the agent's ingest thread runs
 * it, without the loop, the watcher or the network.
 *
 *   stage CONFIG FOLDER FILE
 *
 * CONFIG is an agent configuration whose [agent] state_dir holds the queue
 * and whose [folder FOLDER] gives the practice, import type and template.
 * The queue should be fresh: a file whose content was staged before is a
 * duplicate and stages nothing. Prints `name value` lines:
 *
 *   stage_rows N        data rows staged
 *   stage_valid N       of them valid
 *   stage_seconds S     wall time of ds_ingest_run
 *   stage_rows_per_s R
 *   stage_cpu_s S       user + system CPU time of the whole process
 *   stage_peak_rss_mb M the process's peak resident set (getrusage)
 *
 * Exits 0 when the file was staged, 1 otherwise (with the reason on stderr).
 */
#include "agent/core/error.h"
#include "agent/core/log.h"
#include "agent/service/ingest.h"
#include "config/config.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct ds_folder_conf *find_folder(const struct ds_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->nfolders; i++) {
        if (strcmp(cfg->folders[i].name, name) == 0) {
            return &cfg->folders[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static struct ds_ingest_task task; /* large (paths, error text): not on the stack */
    struct ds_config *cfg = NULL;
    struct rusage ru;
    struct stat sb;
    char msg[512];
    double t0;
    double secs;
    int status = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: stage CONFIG FOLDER FILE\n");
        return 2;
    }
    ds_log_set_level(DS_LOG_WARN);
    if (ds_config_load(argv[1], &cfg, stderr) != 0) {
        goto out;
    }
    task.folder = find_folder(cfg, argv[2]);
    if (task.folder == NULL) {
        fprintf(stderr, "stage: no [folder %s] in %s\n", argv[2], argv[1]);
        goto out;
    }
    if (stat(argv[3], &sb) != 0) {
        fprintf(stderr, "stage: cannot stat %s\n", argv[3]);
        goto out;
    }
    task.cfg = cfg;
    if (snprintf(task.path, sizeof(task.path), "%s", argv[3]) >= (int)sizeof(task.path)) {
        fprintf(stderr, "stage: path too long\n");
        goto out;
    }
    task.size = (int64_t)sb.st_size;
    task.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;

    t0 = now_seconds();
    ds_ingest_run(&task);
    secs = now_seconds() - t0;
    if (task.rc != 0 || task.duplicate || task.quarantined || task.rows == 0) {
        ds_error_format(&task.err, msg, sizeof(msg));
        fprintf(stderr, "stage: not staged (%s%s%s): %s\n", ds_strerror(task.rc),
                task.duplicate ? ", duplicate" : "", task.quarantined ? ", quarantined" : "", msg);
        goto out;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("stage_rows %ld\n", task.rows);
    printf("stage_valid %ld\n", task.valid);
    printf("stage_seconds %.3f\n", secs);
    printf("stage_rows_per_s %.0f\n", secs > 0 ? (double)task.rows / secs : 0.0);
    printf("stage_cpu_s %.3f\n", (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                                     (double)ru.ru_stime.tv_sec +
                                     (double)ru.ru_stime.tv_usec / 1e6);
    printf("stage_peak_rss_mb %.1f\n", (double)ru.ru_maxrss / 1024.0);
    status = 0;
out:
    ds_config_free(&cfg);
    return status;
}
