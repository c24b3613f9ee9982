/*
 * watch.c — folder scanning and settling on the loop.
 *
 * Two timers drive everything: `rescan` scans every folder each
 * rescan_seconds; `settle` scans again when the earliest candidate could
 * have settled, or shortly after a file-system event. An event that comes
 * after EVENT_DEBOUNCE_MS without one scans at once, so a file moved in
 * whole starts settling without delay; the events of a burst that follow
 * it, each within EVENT_DEBOUNCE_MS of the one before, make one scan
 * EVENT_DEBOUNCE_MS after the last, so a file being written is not scanned
 * per write. A candidate is a file not yet taken: it remembers the size and
 * mtime it had and since when (loop time) they have not changed.
 *
 * Scanning reads directories synchronously on the loop: export folders hold
 * few files, and only stat() is done per file. Hashing and reading happen
 * off the loop, in ingest.
 */
#include "agent/watch/watch.h"

#include "agent/core/alloc.h"
#include "agent/core/log.h"
#include "agent/os/os_fs.h"
#include "agent/os/os_text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVENT_DEBOUNCE_MS 50
#define MIN_SETTLE_WAIT_MS 10

struct candidate {
    size_t folder;          /* index in cfg->folders */
    char *path;             /* owned */
    int64_t size;           /* as last seen */
    int64_t mtime_ns;       /* as last seen */
    int64_t dev, ino;       /* as last seen */
    uint64_t stable_since;  /* loop time (ms) since which size and mtime held */
    int seen;               /* seen by the scan in progress */
    struct candidate *next; /* in w->candidates */
};

struct ds_watch {
    uv_loop_t *loop;              /* borrow */
    const struct ds_config *cfg;  /* borrow */
    ds_watch_known_cb known;      /* asks the owner */
    ds_watch_settled_cb settled;  /* tells the owner */
    void *ctx;                    /* for both */
    uv_timer_t rescan;            /* periodic full rescan */
    uv_timer_t settle;            /* next settle check or debounced event */
    uv_fs_event_t *events;        /* one per folder; owned array */
    int *event_open;              /* events[i] was started */
    struct candidate *candidates; /* owned list */
    int open_handles;             /* handles not yet closed */
    uint64_t last_event;          /* loop time of the last file-system event */
    int had_event;                /* last_event is set */
};

int ds_watch_ignored(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || name[0] == '.' || strncmp(name, "~$", 2) == 0) {
        return 1;
    }
    if ((n >= 4 && strcmp(name + n - 4, ".tmp") == 0) ||
        (n >= 5 && strcmp(name + n - 5, ".part") == 0) || name[n - 1] == '~') {
        return 1;
    }
    return 0;
}

/* Whether name matches one of the comma-separated glob patterns. */
static int matches_any(const char *patterns, const char *name)
{
    char pat[256];
    const char *p = patterns;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        size_t start = 0;

        while (start < n && p[start] == ' ') {
            start++;
        }
        while (n > start && p[n - 1] == ' ') {
            n--;
        }
        if (n - start > 0 && n - start < sizeof(pat)) {
            memcpy(pat, p + start, n - start);
            pat[n - start] = '\0';
            if (ds_os_fnmatch(pat, name)) {
                return 1;
            }
        }
        p += strcspn(p, ",");
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

int ds_watch_wanted(const struct ds_folder_conf *folder, const char *name)
{
    if (ds_watch_ignored(name)) {
        return 0;
    }
    if (folder->include != NULL && !matches_any(folder->include, name)) {
        return 0;
    }
    return folder->exclude == NULL || !matches_any(folder->exclude, name);
}

static struct candidate *candidate_find(struct ds_watch *w, size_t folder, const char *path)
{
    for (struct candidate *c = w->candidates; c != NULL; c = c->next) {
        if (c->folder == folder && strcmp(c->path, path) == 0) {
            return c;
        }
    }
    return NULL;
}

static void candidate_remove(struct ds_watch *w, struct candidate *gone)
{
    for (struct candidate **p = &w->candidates; *p != NULL; p = &(*p)->next) {
        if (*p == gone) {
            *p = gone->next;
            ds_free(gone->path);
            ds_free(gone);
            return;
        }
    }
}

/* A file is readable when it opens for reading: a writer on Windows shares
 * holding a lock makes this fail, and we try again at the next check. The
 * open follows no link and opens nothing but a regular file. */
static int opens_for_reading(const char *path)
{
    int fd = ds_fsafe_open_file(path, 0, NULL, NULL);

    if (fd < 0) {
        return 0;
    }
    close(fd);
    return 1;
}

static void consider(struct ds_watch *w, size_t fi, const char *path, const struct ds_file_id *seen)
{
    const struct ds_folder_conf *folder = &w->cfg->folders[fi];
    int64_t size = seen->size;
    int64_t mtime_ns = seen->mtime_ns;
    struct ds_file_id id = *seen;
    uint64_t now = uv_now(w->loop);
    uint64_t settle_ms = (uint64_t)(w->cfg->settle_seconds * 1000.0);
    struct candidate *c = candidate_find(w, fi, path);

    if (w->known(w->ctx, folder, path, size, mtime_ns)) {
        if (c != NULL) {
            candidate_remove(w, c);
        }
        return;
    }
    if (c == NULL) {
        c = ds_calloc(1, sizeof(*c));
        if (c != NULL) {
            c->path = ds_strdup(path);
        }
        if (c == NULL || c->path == NULL) {
            ds_free(c);
            return; /* out of memory: the next scan tries again */
        }
        c->folder = fi;
        c->size = size;
        c->mtime_ns = mtime_ns;
        c->dev = id.dev;
        c->ino = id.ino;
        c->stable_since = now;
        c->next = w->candidates;
        w->candidates = c;
        ds_log_debug("FILE_NEW", "folder %s: new file %s", folder->name, path);
    }
    else if (c->size != size || c->mtime_ns != mtime_ns || c->dev != id.dev || c->ino != id.ino) {
        c->size = size;
        c->mtime_ns = mtime_ns;
        c->dev = id.dev;
        c->ino = id.ino;
        c->stable_since = now;
    }
    c->seen = 1;
    if (now - c->stable_since >= settle_ms && opens_for_reading(path)) {
        candidate_remove(w, c);
        w->settled(w->ctx, folder, path, &id);
    }
}

static void scan_folder(struct ds_watch *w, size_t fi)
{
    const struct ds_folder_conf *folder = &w->cfg->folders[fi];
    char path[4096];
    struct dirent *de;
    struct ds_file_id id;
    DIR *dir;

    dir = opendir(folder->path);
    if (dir == NULL) {
        ds_log_warn("FOLDER_UNREADABLE", "folder %s: cannot list %s: %s", folder->name,
                    folder->path, strerror(errno));
        return;
    }
    for (struct candidate *c = w->candidates; c != NULL; c = c->next) {
        if (c->folder == fi) {
            c->seen = 0;
        }
    }
    for (;;) {
        int n;

        de = readdir(dir);
        if (de == NULL) {
            break;
        }
        if (!ds_watch_wanted(folder, de->d_name)) {
            continue;
        }
        n = snprintf(path, sizeof(path), "%s/%s", folder->path, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            continue;
        }
        /* Not followed: a symbolic link is skipped, so a link in an export
         * folder cannot make the agent read a file outside it. */
        if (ds_os_stat_file(path, &id, NULL) != 0) {
            continue;
        }
        consider(w, fi, path, &id);
    }
    closedir(dir);
    /* Candidates that vanished (renamed, deleted) are forgotten. */
    for (struct candidate *c = w->candidates, *next; c != NULL; c = next) {
        next = c->next;
        if (c->folder == fi && !c->seen) {
            candidate_remove(w, c);
        }
    }
}

static void on_settle(uv_timer_t *t);

/* Arms the settle timer for the earliest candidate that could settle. */
static void arm_settle(struct ds_watch *w)
{
    uint64_t settle_ms = (uint64_t)(w->cfg->settle_seconds * 1000.0);
    uint64_t now = uv_now(w->loop);
    uint64_t wait = UINT64_MAX;

    for (struct candidate *c = w->candidates; c != NULL; c = c->next) {
        uint64_t due = c->stable_since + settle_ms;
        uint64_t left = due > now ? due - now : 0;

        if (left < wait) {
            wait = left;
        }
    }
    if (wait == UINT64_MAX) {
        return;
    }
    uv_timer_start(&w->settle, on_settle, wait < MIN_SETTLE_WAIT_MS ? MIN_SETTLE_WAIT_MS : wait, 0);
}

void ds_watch_rescan(struct ds_watch *w)
{
    for (size_t i = 0; i < w->cfg->nfolders; i++) {
        scan_folder(w, i);
    }
    arm_settle(w);
}

static void on_settle(uv_timer_t *t)
{
    ds_watch_rescan(t->data);
}

static void on_rescan(uv_timer_t *t)
{
    ds_watch_rescan(t->data);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct ds_watch *w = h->data;
    uint64_t now;
    int quiet;

    (void)filename;
    (void)events;
    if (status < 0) {
        return; /* the rescan covers what the event would have told */
    }
    now = uv_now(w->loop);
    quiet = !w->had_event || now - w->last_event >= EVENT_DEBOUNCE_MS;
    w->last_event = now;
    w->had_event = 1;
    if (quiet) {
        ds_watch_rescan(w); /* arms the settle timer for what it found */
        return;
    }
    uv_timer_start(&w->settle, on_settle, EVENT_DEBOUNCE_MS, 0);
}

int ds_watch_new(uv_loop_t *loop, const struct ds_config *cfg, ds_watch_known_cb known,
                 ds_watch_settled_cb settled, void *ctx, struct ds_watch **out,
                 struct ds_error *err)
{
    struct ds_watch *w = ds_calloc(1, sizeof(*w));
    uint64_t period = (uint64_t)(cfg->rescan_seconds * 1000.0);
    int rc;

    *out = NULL;
    if (w == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    w->events = ds_calloc(cfg->nfolders > 0 ? cfg->nfolders : 1, sizeof(*w->events));
    w->event_open = ds_calloc(cfg->nfolders > 0 ? cfg->nfolders : 1, sizeof(*w->event_open));
    if (w->events == NULL || w->event_open == NULL) {
        ds_free(w->events);
        ds_free(w->event_open);
        ds_free(w);
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    w->loop = loop;
    w->cfg = cfg;
    w->known = known;
    w->settled = settled;
    w->ctx = ctx;
    uv_timer_init(loop, &w->rescan);
    uv_timer_init(loop, &w->settle);
    w->rescan.data = w;
    w->settle.data = w;
    w->open_handles = 2;
    for (size_t i = 0; i < cfg->nfolders; i++) {
        const struct ds_folder_conf *f = &cfg->folders[i];
        const char *netfs = ds_os_network_fs(f->path);

        if (f->network == DS_NETWORK_YES || (f->network == DS_NETWORK_AUTO && netfs != NULL)) {
            ds_log_info("FOLDER_POLLED",
                        "folder %s: network share (%s); relying on rescans every %gs", f->name,
                        netfs != NULL ? netfs : "as configured", cfg->rescan_seconds);
            continue;
        }
        uv_fs_event_init(loop, &w->events[i]);
        w->events[i].data = w;
        w->open_handles++;
        w->event_open[i] = 1;
        rc = uv_fs_event_start(&w->events[i], on_fs_event, f->path, 0);
        if (rc != 0) {
            ds_log_warn("FOLDER_POLLED",
                        "folder %s: no file events (%s); relying on rescans every %gs", f->name,
                        uv_strerror(rc), cfg->rescan_seconds);
        }
    }
    uv_timer_start(&w->rescan, on_rescan, 0, period > 0 ? period : 1);
    *out = w;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct ds_watch *w = h->data;

    if (--w->open_handles == 0) {
        ds_free(w->events);
        ds_free(w->event_open);
        ds_free(w);
    }
}

void ds_watch_free(struct ds_watch **wp)
{
    struct ds_watch *w;

    if (wp == NULL || *wp == NULL) {
        return;
    }
    w = *wp;
    *wp = NULL;
    while (w->candidates != NULL) {
        candidate_remove(w, w->candidates);
    }
    for (size_t i = 0; i < w->cfg->nfolders; i++) {
        if (w->event_open[i]) {
            uv_close((uv_handle_t *)&w->events[i], on_closed);
        }
    }
    uv_close((uv_handle_t *)&w->rescan, on_closed);
    uv_close((uv_handle_t *)&w->settle, on_closed);
}
