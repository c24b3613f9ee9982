/*
 * config.c — loads and checks the INI configuration with inih.
 *
 * inih hands us (section, key, value) but not the line; we feed it through
 * our own line reader, which counts lines, remembers where each section
 * header stands and flags lines inih would silently reject. Every problem is
 * collected with its line and printed as "FILE:LINE: message"; loading goes
 * on after an error so the person sees them all at once. Values never reach
 * a log: only key names and the kind of problem are reported.
 */
#include "config/config.h"

#include "agent/core/alloc.h"
#include "agent/core/log.h"
#include "agent/os/os_fs.h"
#include "proto/proto.h"
#include "agent/os/os_cc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define MAX_SECTIONS 256

static const char *const import_types[] = {"patients", "appointments", "treatments", "financial",
                                           NULL};

/* Parsing context, alive during ds_config_load only. */
struct loader {
    struct ds_config *cfg; /* being filled */
    FILE *in;              /* the file */
    FILE *errs;            /* where problems go; may be NULL */
    const char *path;      /* for messages */
    int line;              /* line last handed to inih */
    int section_line;      /* line of the current section header */
    int nerrors;           /* problems found */
    int cloud_url_line;    /* where [cloud] url was set */
};

static void problem(struct loader *ld, int line, const char *fmt, ...) DS_PRINTF(3, 4);

static void problem(struct loader *ld, int line, const char *fmt, ...)
{
    va_list ap;

    ld->nerrors++;
    if (ld->errs == NULL) {
        return;
    }
    fprintf(ld->errs, "%s:%d: ", ld->path, line);
    va_start(ap, fmt);
    vfprintf(ld->errs, fmt, ap);
    va_end(ap);
    fputc('\n', ld->errs);
}

const char *ds_config_default_path(void)
{
    const char *env = getenv(DS_CONFIG_ENV);

    return env != NULL && env[0] != '\0' ? env : ds_os_default_path(DS_OS_CONFIG_FILE);
}

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

static char *dup_or_fail(struct loader *ld, const char *s)
{
    char *p = ds_strdup(s);

    if (p == NULL) {
        problem(ld, ld->line, "out of memory");
    }
    return p;
}

static void set_string(struct loader *ld, char **slot, const char *value)
{
    ds_free(*slot);
    *slot = dup_or_fail(ld, value);
}

static void set_seconds(struct loader *ld, double *slot, const char *key, const char *value,
                        double min)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || v != v || v < min || v > 86400.0 * 365) {
        problem(ld, ld->line, "%s: expected a number of seconds >= %g", key, min);
        return;
    }
    *slot = v;
}

static void set_int(struct loader *ld, int *slot, const char *key, const char *value, long min,
                    long max)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min || v > max) {
        problem(ld, ld->line, "%s: expected a whole number from %ld to %ld", key, min, max);
        return;
    }
    *slot = (int)v;
}

/* phone_region: two ASCII letters, stored upper case. */
static void set_region(struct loader *ld, char slot[3], const char *value)
{
    if (strlen(value) != 2 || !isalpha((unsigned char)value[0]) ||
        !isalpha((unsigned char)value[1])) {
        problem(ld, ld->line, "phone_region: expected a two-letter region such as US or GB");
        return;
    }
    slot[0] = (char)toupper((unsigned char)value[0]);
    slot[1] = (char)toupper((unsigned char)value[1]);
    slot[2] = '\0';
}

/* date_order: auto, MDY, DMY or YMD (any case), stored as written here. */
static void set_date_order(struct loader *ld, char slot[5], const char *value)
{
    static const char *const orders[] = {"auto", "MDY", "DMY", "YMD"};

    for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
        if (strcasecmp(value, orders[i]) == 0) {
            snprintf(slot, 5, "%s", orders[i]);
            return;
        }
    }
    problem(ld, ld->line, "date_order: expected auto, MDY, DMY or YMD");
}

static const char *const after_names[] = {"leave", "move", "delete", NULL};
static const char *const network_names[] = {"auto", "yes", "no", NULL};

/* A value among names (in enum order). */
static void set_choice(struct loader *ld, int *slot, const char *key, const char *value,
                       const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(value, names[i]) == 0) {
            *slot = i;
            return;
        }
    }
    problem(ld, ld->line, "%s: expected %s", key,
            names == after_names ? "leave, move or delete" : "auto, yes or no");
}

static struct ds_practice_conf *practice_slot(struct loader *ld, const char *name)
{
    struct ds_config *cfg = ld->cfg;
    struct ds_practice_conf *p;

    for (size_t i = 0; i < cfg->npractices; i++) {
        if (strcmp(cfg->practices[i].name, name) == 0) {
            return &cfg->practices[i];
        }
    }
    if (cfg->npractices >= MAX_SECTIONS) {
        problem(ld, ld->section_line, "too many [practice] sections (at most %d)", MAX_SECTIONS);
        return NULL;
    }
    p = ds_realloc(cfg->practices, (cfg->npractices + 1) * sizeof(*p));
    if (p == NULL) {
        problem(ld, ld->line, "out of memory");
        return NULL;
    }
    cfg->practices = p;
    p = &cfg->practices[cfg->npractices];
    memset(p, 0, sizeof(*p));
    p->name = dup_or_fail(ld, name);
    if (p->name == NULL) {
        return NULL;
    }
    p->line = ld->section_line;
    memcpy(p->phone_region, "US", 3);
    memcpy(p->date_order, "auto", 5);
    cfg->npractices++;
    return p;
}

static struct ds_folder_conf *folder_slot(struct loader *ld, const char *name)
{
    struct ds_config *cfg = ld->cfg;
    struct ds_folder_conf *f;

    for (size_t i = 0; i < cfg->nfolders; i++) {
        if (strcmp(cfg->folders[i].name, name) == 0) {
            return &cfg->folders[i];
        }
    }
    if (cfg->nfolders >= MAX_SECTIONS) {
        problem(ld, ld->section_line, "too many [folder] sections (at most %d)", MAX_SECTIONS);
        return NULL;
    }
    f = ds_realloc(cfg->folders, (cfg->nfolders + 1) * sizeof(*f));
    if (f == NULL) {
        problem(ld, ld->line, "out of memory");
        return NULL;
    }
    cfg->folders = f;
    f = &cfg->folders[cfg->nfolders];
    memset(f, 0, sizeof(*f));
    f->name = dup_or_fail(ld, name);
    if (f->name == NULL) {
        return NULL;
    }
    f->line = ld->section_line;
    f->max_missing_percent = 5;
    cfg->nfolders++;
    return f;
}

/* The keys each section knows, for "did you mean" on a typo; kept in step
 * with the handlers below (agent_key, cloud_key, practice_key, folder_key). */
static const char *const agent_keys[] = {"state_dir",      "log_level",      "settle_seconds",
                                         "rescan_seconds", "retention_days", "max_queue_mb",
                                         "template_dir",   "stale_hours",    "log_file",
                                         "log_max_kb",     "log_keep",       NULL};
static const char *const cloud_keys[] = {"url",
                                         "ca_file",
                                         "batch_rows",
                                         "max_in_flight",
                                         "timeout_seconds",
                                         "retry_min_seconds",
                                         "retry_max_seconds",
                                         "proxy",
                                         "max_batch_kb",
                                         "connect_timeout_seconds",
                                         "heartbeat_seconds",
                                         "pause_probe_seconds",
                                         NULL};
static const char *const practice_keys[] = {"token_file", "timezone", "phone_region", "date_order",
                                            NULL};
static const char *const web_keys[] = {"enabled",     "listen",        "port",
                                       "secret_file", "max_upload_kb", NULL};
static const char *const folder_keys[] = {
    "path",    "practice", "import_type", "template",      "snapshot",       "max_missing_percent",
    "include", "exclude",  "after",       "processed_dir", "quarantine_dir", "network",
    "sheet",   "location", NULL};

/* Edit distance of a and b (both short: config keys), capped at 9. */
static int distance(const char *a, const char *b)
{
    int prev[48];
    int cur[48];
    size_t la = strlen(a);
    size_t lb = strlen(b);

    if (la >= 47 || lb >= 47) {
        return 9;
    }
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = (int)j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1;
            int ins = cur[j - 1] + 1;

            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(int));
    }
    return prev[lb] < 9 ? prev[lb] : 9;
}

/* Reports an unknown key, suggesting the closest known one when it is
 * near enough to be a typo. */
static void unknown_key(struct loader *ld, const char *key, const char *section,
                        const char *const *known)
{
    const char *best = NULL;
    int best_d = 3; /* at most two edits away */

    for (size_t i = 0; known[i] != NULL; i++) {
        int d = distance(key, known[i]);

        if (d < best_d) {
            best_d = d;
            best = known[i];
        }
    }
    if (best != NULL) {
        problem(ld, ld->line, "unknown key '%s' in [%s]; did you mean '%s'?", key, section, best);
    }
    else {
        problem(ld, ld->line, "unknown key '%s' in [%s]", key, section);
    }
}

static void agent_key(struct loader *ld, const char *key, const char *value)
{
    struct ds_config *cfg = ld->cfg;
    int level;

    if (strcmp(key, "state_dir") == 0) {
        set_string(ld, &cfg->state_dir, value);
    }
    else if (strcmp(key, "log_level") == 0) {
        level = ds_log_level_parse(value);
        if (level < 0) {
            problem(ld, ld->line, "log_level: expected error, warn, info or debug");
        }
        else {
            cfg->log_level = level;
        }
    }
    else if (strcmp(key, "settle_seconds") == 0) {
        set_seconds(ld, &cfg->settle_seconds, key, value, 0.0);
    }
    else if (strcmp(key, "rescan_seconds") == 0) {
        set_seconds(ld, &cfg->rescan_seconds, key, value, 0.05);
    }
    else if (strcmp(key, "retention_days") == 0) {
        set_int(ld, &cfg->retention_days, key, value, 0, 3650);
    }
    else if (strcmp(key, "max_queue_mb") == 0) {
        set_int(ld, &cfg->max_queue_mb, key, value, 0, 1048576);
    }
    else if (strcmp(key, "template_dir") == 0) {
        set_string(ld, &cfg->template_dir, value);
    }
    else if (strcmp(key, "stale_hours") == 0) {
        set_int(ld, &cfg->stale_hours, key, value, 1, 8760);
    }
    else if (strcmp(key, "log_file") == 0) {
        set_string(ld, &cfg->log_file, value);
    }
    else if (strcmp(key, "log_max_kb") == 0) {
        set_int(ld, &cfg->log_max_kb, key, value, 1, 1048576);
    }
    else if (strcmp(key, "log_keep") == 0) {
        set_int(ld, &cfg->log_keep, key, value, 1, 99);
    }
    else {
        unknown_key(ld, key, "agent", agent_keys);
    }
}

static void cloud_key(struct loader *ld, const char *key, const char *value)
{
    struct ds_config *cfg = ld->cfg;

    if (strcmp(key, "url") == 0) {
        set_string(ld, &cfg->cloud_url, value);
        ld->cloud_url_line = ld->line;
    }
    else if (strcmp(key, "ca_file") == 0) {
        set_string(ld, &cfg->ca_file, value);
    }
    else if (strcmp(key, "batch_rows") == 0) {
        set_int(ld, &cfg->batch_rows, key, value, 1, DS_PROTO_MAX_BATCH_ROWS);
    }
    else if (strcmp(key, "max_in_flight") == 0) {
        set_int(ld, &cfg->max_in_flight, key, value, 1, 16);
    }
    else if (strcmp(key, "timeout_seconds") == 0) {
        set_seconds(ld, &cfg->timeout_seconds, key, value, 1.0);
    }
    else if (strcmp(key, "retry_min_seconds") == 0) {
        set_seconds(ld, &cfg->retry_min_seconds, key, value, 0.01);
    }
    else if (strcmp(key, "retry_max_seconds") == 0) {
        set_seconds(ld, &cfg->retry_max_seconds, key, value, 0.01);
    }
    else if (strcmp(key, "proxy") == 0) {
        set_string(ld, &cfg->proxy, value);
    }
    else if (strcmp(key, "max_batch_kb") == 0) {
        int kib = 0;

        set_int(ld, &kib, key, value, 1, (int)(DS_PROTO_MAX_BODY / 1024));
        cfg->max_batch_bytes = kib > 0 ? (long)kib * 1024 : cfg->max_batch_bytes;
    }
    else if (strcmp(key, "connect_timeout_seconds") == 0) {
        set_seconds(ld, &cfg->connect_timeout_seconds, key, value, 0.1);
    }
    else if (strcmp(key, "heartbeat_seconds") == 0) {
        set_seconds(ld, &cfg->heartbeat_seconds, key, value, 0.0);
    }
    else if (strcmp(key, "pause_probe_seconds") == 0) {
        set_seconds(ld, &cfg->pause_probe_seconds, key, value, 0.1);
    }
    else {
        unknown_key(ld, key, "cloud", cloud_keys);
    }
}

static void practice_key(struct loader *ld, const char *name, const char *key, const char *value)
{
    struct ds_practice_conf *p = practice_slot(ld, name);

    if (p == NULL) {
        return;
    }
    if (strcmp(key, "token_file") == 0) {
        set_string(ld, &p->token_file, value);
    }
    else if (strcmp(key, "timezone") == 0) {
        set_string(ld, &p->timezone, value);
    }
    else if (strcmp(key, "phone_region") == 0) {
        set_region(ld, p->phone_region, value);
    }
    else if (strcmp(key, "date_order") == 0) {
        set_date_order(ld, p->date_order, value);
    }
    else {
        char section[300];

        snprintf(section, sizeof(section), "practice %.280s", name);
        unknown_key(ld, key, section, practice_keys);
    }
}

/* A location's name: the rule book's text of at most 100 bytes
 * (proto/rules.c), printable. */
static int location_ok(const char *value)
{
    size_t n = strlen(value);

    if (n == 0 || n > 100) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static void folder_key(struct loader *ld, const char *name, const char *key, const char *value)
{
    struct ds_folder_conf *f = folder_slot(ld, name);

    if (f == NULL) {
        return;
    }
    if (strcmp(key, "path") == 0) {
        set_string(ld, &f->path, value);
    }
    else if (strcmp(key, "practice") == 0) {
        set_string(ld, &f->practice, value);
    }
    else if (strcmp(key, "import_type") == 0) {
        set_string(ld, &f->import_type, value);
    }
    else if (strcmp(key, "template") == 0) {
        set_string(ld, &f->template_id, value);
    }
    else if (strcmp(key, "sheet") == 0) {
        if (value[0] == '\0' || strlen(value) > 127) {
            problem(ld, ld->line, "sheet: expected a sheet's name (1-127 bytes) or *");
        }
        else {
            set_string(ld, &f->sheet, value);
        }
    }
    else if (strcmp(key, "location") == 0) {
        if (!location_ok(value)) {
            problem(ld, ld->line,
                    "location: expected the name of a location (1-100 bytes, no control "
                    "characters)");
        }
        else {
            set_string(ld, &f->location, value);
        }
    }
    else if (strcmp(key, "snapshot") == 0) {
        if (strcmp(value, "full") == 0 || strcmp(value, "incremental") == 0) {
            f->snapshot_full = strcmp(value, "full") == 0;
        }
        else {
            problem(ld, ld->line, "snapshot: expected full or incremental");
        }
    }
    else if (strcmp(key, "max_missing_percent") == 0) {
        set_int(ld, &f->max_missing_percent, key, value, 0, 100);
    }
    else if (strcmp(key, "include") == 0) {
        set_string(ld, &f->include, value);
    }
    else if (strcmp(key, "exclude") == 0) {
        set_string(ld, &f->exclude, value);
    }
    else if (strcmp(key, "after") == 0) {
        set_choice(ld, &f->after, key, value, after_names);
    }
    else if (strcmp(key, "processed_dir") == 0) {
        set_string(ld, &f->processed_dir, value);
    }
    else if (strcmp(key, "quarantine_dir") == 0) {
        set_string(ld, &f->quarantine_dir, value);
    }
    else if (strcmp(key, "network") == 0) {
        set_choice(ld, &f->network, key, value, network_names);
    }
    else {
        char section[300];

        snprintf(section, sizeof(section), "folder %.280s", name);
        unknown_key(ld, key, section, folder_keys);
    }
}

static void web_key(struct loader *ld, const char *key, const char *value)
{
    struct ds_config *cfg = ld->cfg;

    if (strcmp(key, "enabled") == 0) {
        if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
            cfg->web_enabled = strcmp(value, "yes") == 0;
        }
        else {
            problem(ld, ld->line, "enabled: expected yes or no");
        }
    }
    else if (strcmp(key, "listen") == 0) {
        set_string(ld, &cfg->web_listen, value);
    }
    else if (strcmp(key, "port") == 0) {
        set_int(ld, &cfg->web_port, key, value, 1, 65535);
    }
    else if (strcmp(key, "secret_file") == 0) {
        set_string(ld, &cfg->web_secret_file, value);
    }
    else if (strcmp(key, "max_upload_kb") == 0) {
        set_int(ld, &cfg->web_max_upload_kb, key, value, 1, 1048576);
    }
    else {
        unknown_key(ld, key, "web", web_keys);
    }
}

/* Splits "practice NAME" into its kind and name; 0 if it has that shape. */
static int named_section(const char *section, const char *kind, const char **name)
{
    size_t n = strlen(kind);

    if (strncmp(section, kind, n) != 0 || section[n] != ' ') {
        return 0;
    }
    *name = section + n + 1;
    while (**name == ' ') {
        (*name)++;
    }
    return **name != '\0';
}

static int on_value(void *user, const char *section, const char *key, const char *value)
{
    struct loader *ld = user;
    const char *name = NULL;

    if (section[0] == '\0') {
        problem(ld, ld->line, "'%s' stands before any [section]", key);
    }
    else if (strcmp(section, "agent") == 0) {
        agent_key(ld, key, value);
    }
    else if (strcmp(section, "cloud") == 0) {
        cloud_key(ld, key, value);
    }
    else if (strcmp(section, "web") == 0) {
        web_key(ld, key, value);
    }
    else if (named_section(section, "practice", &name)) {
        practice_key(ld, name, key, value);
    }
    else if (named_section(section, "folder", &name)) {
        folder_key(ld, name, key, value);
    }
    else {
        problem(ld, ld->section_line,
                "unknown section [%s] (expected [agent], [cloud], [web], [practice NAME] or "
                "[folder NAME])",
                section);
    }
    return 1;
}

/* inih's reader: one line per call. Counts lines, notes section headers and
 * reports lines inih would reject, so every syntax error gets its line. */
static char *read_line(char *str, int num, void *stream)
{
    struct loader *ld = stream;
    const char *p;
    size_t len;

    if (fgets(str, num, ld->in) == NULL) {
        return NULL;
    }
    ld->line++;
    len = strlen(str);
    if (len > 0 && str[len - 1] != '\n' && !feof(ld->in)) {
        problem(ld, ld->line, "line too long");
    }
    p = str;
    if (ld->line == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF) {
        p += 3;
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '[') {
        ld->section_line = ld->line;
        if (strchr(p, ']') == NULL) {
            problem(ld, ld->line, "section header without ']'");
        }
    }
    else if (*p != '\0' && *p != '\n' && *p != '\r' && *p != ';' && *p != '#' && p == str &&
             strchr(p, '=') == NULL && strchr(p, ':') == NULL) {
        problem(ld, ld->line, "expected 'key = value', a [section] or a comment");
    }
    return str;
}

/* Whether s[0..n) is all digits, 1 to 5 of them (a port), or empty. */
static int port_ok(const char *s, size_t n)
{
    if (n == 0) {
        return 1;
    }
    if (n > 5) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* A dotted IPv4 address in 127.0.0.0/8. */
static int loopback_v4(const char *s, size_t n)
{
    char buf[16];
    unsigned int o[4];
    char tail;

    if (n == 0 || n >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (sscanf(buf, "%3u.%3u.%3u.%3u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4) {
        return 0;
    }
    return o[0] == 127 && o[1] < 256 && o[2] < 256 && o[3] < 256 && strspn(buf, "0123456789.") == n;
}

/* Plain http is acceptable only to this machine: the host of the URL (no
 * user info) must be localhost, an address in 127.0.0.0/8 or [::1]. */
static int url_ok(const char *url)
{
    const char *auth;
    size_t n;
    const char *colon;

    if (strncmp(url, "https://", 8) == 0) {
        return url[8] != '\0' && url[8] != '/';
    }
    if (strncmp(url, "http://", 7) != 0) {
        return 0;
    }
    auth = url + 7;
    n = strcspn(auth, "/?#");
    if (memchr(auth, '@', n) != NULL) {
        return 0;
    }
    if (auth[0] == '[') {
        return n >= 5 && strncmp(auth, "[::1]", 5) == 0 &&
               (n == 5 || (auth[5] == ':' && port_ok(auth + 6, n - 6)));
    }
    colon = memchr(auth, ':', n);
    if (colon != NULL && !port_ok(colon + 1, n - (size_t)(colon - auth) - 1)) {
        return 0;
    }
    if (colon != NULL) {
        n = (size_t)(colon - auth);
    }
    return (n == 9 && strncmp(auth, "localhost", 9) == 0) || loopback_v4(auth, n);
}

int ds_config_file_private(const char *path, const struct stat *sb)
{
    int fd = ds_os_open_read(path);
    int priv = fd >= 0 ? ds_os_fd_private(fd) : -1;

    if (fd >= 0) {
        close(fd);
    }
    return priv >= 0 ? priv : (sb->st_mode & 077) == 0;
}

static void check_practice(struct loader *ld, const struct ds_practice_conf *p)
{
    struct stat sb;

    if (p->token_file == NULL) {
        problem(ld, p->line, "[practice %s]: token_file is required", p->name);
        return;
    }
    if (stat(p->token_file, &sb) != 0) {
        problem(ld, p->line, "[practice %s]: token_file %s: %s", p->name, p->token_file,
                strerror(errno));
    }
    else if (!ds_config_file_private(p->token_file, &sb)) {
        problem(ld, p->line, "[practice %s]: token_file %s is readable by others (chmod 600 it)",
                p->name, p->token_file);
    }
}

static void check_folder(struct loader *ld, const struct ds_folder_conf *f)
{
    struct stat sb;

    if (f->path == NULL) {
        problem(ld, f->line, "[folder %s]: path is required", f->name);
    }
    else if (stat(f->path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        problem(ld, f->line, "[folder %s]: path %s is not a directory", f->name, f->path);
    }
    if (f->practice == NULL) {
        problem(ld, f->line, "[folder %s]: practice is required", f->name);
    }
    else if (ds_config_practice(ld->cfg, f->practice) == NULL) {
        problem(ld, f->line, "[folder %s]: no [practice %s] section", f->name, f->practice);
    }
    if (f->import_type == NULL) {
        problem(ld, f->line, "[folder %s]: import_type is required", f->name);
    }
    else if (!in_list(import_types, f->import_type) && strcmp(f->import_type, "auto") != 0) {
        problem(ld, f->line,
                "[folder %s]: import_type must be patients, appointments, treatments, "
                "financial or auto",
                f->name);
    }
    if (f->sheet != NULL && strcmp(f->sheet, "*") == 0 && f->template_id != NULL &&
        strcmp(f->template_id, "auto") != 0) {
        problem(ld, f->line,
                "[folder %s]: sheet = * detects a template for each sheet: it needs template = "
                "auto",
                f->name);
    }
}

/* [web]: the address must be a loopback IP literal: the page has no TLS
 * (docs/web.md). */
static void check_web(struct loader *ld)
{
    struct ds_config *cfg = ld->cfg;
    unsigned char addr[16];
    struct stat sb;
    int v4 = uv_inet_pton(AF_INET, cfg->web_listen, addr) == 0;
    int v6 = !v4 && uv_inet_pton(AF_INET6, cfg->web_listen, addr) == 0;
    int loopback =
        (v4 && addr[0] == 127) || (v6 && memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0);

    if (!v4 && !v6) {
        problem(ld, 1, "[web] listen must be an IP address, e.g. 127.0.0.1");
    }
    else if (cfg->web_enabled && !loopback) {
        problem(ld, 1,
                "[web] listen %s is not loopback: the status page has no TLS, so it listens on "
                "127.0.0.1 or ::1 only (reach it from another machine through an SSH tunnel)",
                cfg->web_listen);
    }
    if (cfg->web_secret_file != NULL) {
        if (stat(cfg->web_secret_file, &sb) != 0) {
            problem(ld, 1, "[web] secret_file %s: %s", cfg->web_secret_file, strerror(errno));
        }
        else if (!ds_config_file_private(cfg->web_secret_file, &sb)) {
            problem(ld, 1, "[web] secret_file %s is readable by others (chmod 600 it)",
                    cfg->web_secret_file);
        }
    }
}

static void check(struct loader *ld)
{
    struct ds_config *cfg = ld->cfg;

    if (cfg->state_dir == NULL) {
        problem(ld, 1, "[agent] state_dir is required");
    }
    if (cfg->cloud_url == NULL) {
        problem(ld, 1, "[cloud] url is required");
    }
    else if (!url_ok(cfg->cloud_url)) {
        problem(ld, ld->cloud_url_line,
                "[cloud] url must be https:// (plain http only to 127.0.0.1, localhost or "
                "[::1])");
    }
    if (cfg->retry_max_seconds < cfg->retry_min_seconds) {
        problem(ld, 1, "[cloud] retry_max_seconds is below retry_min_seconds");
    }
    for (size_t i = 0; i < cfg->npractices; i++) {
        check_practice(ld, &cfg->practices[i]);
    }
    check_web(ld);
    if (cfg->nfolders == 0) {
        problem(ld, 1, "no [folder NAME] section: nothing to watch");
    }
    for (size_t i = 0; i < cfg->nfolders; i++) {
        check_folder(ld, &cfg->folders[i]);
    }
}

int ds_config_load(const char *path, struct ds_config **out, FILE *errs)
{
    struct loader ld = {0};
    struct ds_config *cfg = NULL;
    int rc = 0;

    *out = NULL;
    ld.path = path;
    ld.errs = errs;
    ld.in = fopen(path, "r");
    if (ld.in == NULL) {
        if (errs != NULL) {
            fprintf(errs, "%s: cannot read: %s\n", path, strerror(errno));
        }
        return DS_EIO;
    }
    cfg = ds_calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    cfg->log_level = DS_LOG_INFO;
    cfg->settle_seconds = 5.0;
    cfg->rescan_seconds = 60.0;
    cfg->retention_days = 30;
    cfg->max_queue_mb = 2048;
    cfg->stale_hours = 26;
    cfg->log_max_kb = 10240;
    cfg->log_keep = 5;
    /* 2,000 rows: a batch's fixed cost in the cloud (planning, round trips,
     * the job's lock) spread over four times the rows of the 500 before;
     * a 20,000-row sync took a fifth less time (docs/performance.md). */
    cfg->batch_rows = 2000;
    cfg->max_in_flight = 2;
    cfg->timeout_seconds = 60.0;
    cfg->retry_min_seconds = 1.0;
    cfg->retry_max_seconds = 300.0;
    cfg->max_batch_bytes = 8L * 1024 * 1024;
    cfg->connect_timeout_seconds = 15.0;
    cfg->heartbeat_seconds = 60.0;
    cfg->pause_probe_seconds = 60.0;
    cfg->web_enabled = 1;
    cfg->web_port = 8765;
    cfg->web_max_upload_kb = 20480;
    cfg->web_listen = ds_strdup("127.0.0.1");
    cfg->path = ds_strdup(path);
    if (cfg->path == NULL || cfg->web_listen == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    ld.cfg = cfg;
    ini_parse_stream(read_line, &ld, on_value, &ld);
    check(&ld);
    if (ld.nerrors > 0) {
        rc = DS_ECONFIG;
        goto out;
    }
    *out = cfg;
    cfg = NULL;
out:
    fclose(ld.in);
    ds_config_free(&cfg);
    return rc;
}

void ds_config_free(struct ds_config **cfgp)
{
    struct ds_config *cfg;

    if (cfgp == NULL || *cfgp == NULL) {
        return;
    }
    cfg = *cfgp;
    for (size_t i = 0; i < cfg->npractices; i++) {
        ds_free(cfg->practices[i].name);
        ds_free(cfg->practices[i].token_file);
        ds_free(cfg->practices[i].timezone);
    }
    for (size_t i = 0; i < cfg->nfolders; i++) {
        ds_free(cfg->folders[i].name);
        ds_free(cfg->folders[i].path);
        ds_free(cfg->folders[i].practice);
        ds_free(cfg->folders[i].import_type);
        ds_free(cfg->folders[i].template_id);
        ds_free(cfg->folders[i].sheet);
        ds_free(cfg->folders[i].location);
        ds_free(cfg->folders[i].include);
        ds_free(cfg->folders[i].exclude);
        ds_free(cfg->folders[i].processed_dir);
        ds_free(cfg->folders[i].quarantine_dir);
    }
    ds_free(cfg->practices);
    ds_free(cfg->folders);
    ds_free(cfg->path);
    ds_free(cfg->state_dir);
    ds_free(cfg->template_dir);
    ds_free(cfg->log_file);
    ds_free(cfg->cloud_url);
    ds_free(cfg->ca_file);
    ds_free(cfg->proxy);
    ds_free(cfg->web_listen);
    ds_free(cfg->web_secret_file);
    ds_free(cfg);
    *cfgp = NULL;
}

const struct ds_folder_conf *ds_config_folder(const struct ds_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nfolders; i++) {
        if (strcmp(cfg->folders[i].name, name) == 0) {
            return &cfg->folders[i];
        }
    }
    return NULL;
}

const struct ds_practice_conf *ds_config_practice(const struct ds_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->npractices; i++) {
        if (strcmp(cfg->practices[i].name, name) == 0) {
            return &cfg->practices[i];
        }
    }
    return NULL;
}

int ds_config_read_token(const struct ds_practice_conf *p, char *buf, size_t size,
                         struct ds_error *err)
{
    ssize_t n;
    size_t len;
    int fd = -1;
    int priv = -1;
    int rc = 0;

    fd = ds_os_open_read(p->token_file);
    if (fd >= 0) {
        priv = ds_os_fd_private(fd);
    }
    if (fd < 0 || priv < 0) {
        rc = ds_error_set(err, DS_EIO, "practice %s: cannot read token_file %s: %s", p->name,
                          p->token_file, strerror(errno));
        goto out;
    }
    if (priv == 0) {
        rc = ds_error_set(err, DS_EINVAL, "practice %s: token_file %s is readable by others",
                          p->name, p->token_file);
        goto out;
    }
    n = read(fd, buf, size - 1);
    if (n < 0) {
        rc = ds_error_set(err, DS_EIO, "practice %s: cannot read token_file %s", p->name,
                          p->token_file);
        goto out;
    }
    buf[n] = '\0';
    len = strcspn(buf, "\r\n");
    buf[len] = '\0';
    while (len > 0 && isspace((unsigned char)buf[len - 1])) {
        buf[--len] = '\0';
    }
    if (len == 0) {
        rc = ds_error_set(err, DS_EINVAL, "practice %s: token_file %s is empty", p->name,
                          p->token_file);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

int ds_config_queue_path(const struct ds_config *cfg, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/queue.db", cfg->state_dir);

    return n < 0 || (size_t)n >= size ? DS_ETOOBIG : 0;
}

int ds_config_cloud_templates_dir(const struct ds_config *cfg, const char *practice, char *buf,
                                  size_t size)
{
    char safe[256];
    size_t n = 0;
    int len;

    for (const char *c = practice; *c != '\0' && n < sizeof(safe) - 1; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '-' || *c == '_';

        safe[n++] = ok ? *c : '_';
    }
    safe[n] = '\0';
    len = snprintf(buf, size, "%s/cloud-templates/%s", cfg->state_dir, safe);
    return len < 0 || (size_t)len >= size ? DS_ETOOBIG : 0;
}
