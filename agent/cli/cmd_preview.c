/*
 * cmd_preview.c — `dentsync preview FILE [--type T] [--template ID]
 * [--sheet NAME|*] [--json] [--all]`: what a folder would make of an export,
 * before it takes one.
 *
 * Shows the dialect, the template chosen with its score and the runner-up
 * (or the pinned one), the column -> field mapping, the first 100 rows
 * validated (all with --all), the counts of valid, invalid, duplicate,
 * unchanged and skipped rows over them, and the most common errors with a
 * suggested fix. Dates are read as ingest reads them: with date_order auto,
 * in the order each whole column tells (every row of the file votes first,
 * ds_map_date_decide); a date column that fails in the order in force but
 * has rows only another order reads gets the date_order suggestion. Rows
 * the template routes to another import type are mapped and validated with
 * the template they go to, as ingest does in that type's job.
 *
 * One read of the file when it can, two when it must. Nothing is printed
 * before the whole file has been read: a file that fails to read (a NUL, a
 * quote left open at its end) shows only its error, never its first rows.
 * The first pass maps the rows while they vote, in the orders decided
 * before any vote (ds_map_date_unchanged), and holds what it prints in
 * memory (PREVIEW_HOLD). At the end of a file read whole it writes that
 * out, unless a row's vote changed an order or gave a hint — then from
 * that row on it only votes — or the output outgrew the memory: then a
 * second pass previews the rows again, in the orders the whole file voted
 * for, printing as it goes. Most exports have no value that votes (ISO
 * dates) or none that changes the order (MM/DD/YYYY): one read.
 *
 * A workbook's sheet is chosen as ingest chooses it (--sheet, else the
 * folder's `sheet`, else the first sheet whose header a template matches;
 * agent/map/detect_sheet.h): each sheet passed over is shown with why, and
 * with `*` every matching sheet is previewed in turn with its own template.
 *
 * It writes nothing to the queue: `unchanged` is counted by reading the
 * synced fingerprints, and only when the queue already exists, opened
 * read-only (ds_store_open_readonly) as status opens it.
 *
 * This prints values from the file: it is a view for the authorised local
 * user at the terminal, never a log. --json prints one JSON object per line:
 * the preview's header, one per row, then the summary.
 */
#include "agent/cli/commands.h"

#include "agent/core/alloc.h"
#include "agent/core/jsonw.h"
#include "agent/core/buf.h"
#include "agent/map/detect.h"
#include "agent/map/detect_sheet.h"
#include "agent/map/map.h"
#include "agent/map/tz.h"
#include "agent/os/os_fs.h"
#include "agent/os/os_mem.h"
#include "agent/read/read.h"
#include "config/config.h"
#include "config/template.h"
#include "state/store_delta.h"
#include "state/store_status.h"

#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREVIEW_ROWS 100         /* rows validated without --all */
#define PREVIEW_GROUPS 64        /* distinct errors kept */
#define PREVIEW_SHOWN 10         /* errors listed in the summary */
#define PREVIEW_VALUE 64         /* bytes of an example value kept */
#define PREVIEW_KEYS 65536       /* first size of the key set (slots); it doubles at half full */
#define PREVIEW_HOLD (64u << 20) /* bytes of output held until the file is read whole */

struct preview_opts {
    const char *file;
    const char *type;          /* --type, or NULL */
    const char *template;      /* --template, or NULL */
    const char *template_file; /* --template-file: a template document, or NULL */
    const char *folder;        /* --folder: read as that folder would, or NULL */
    const char *sheet;         /* --sheet: a sheet's name or "*", or NULL */
    int json;                  /* --json */
    int all;                   /* --all */
};

/* One kind of error: "<field>: <problem>", how often, an example. */
struct group {
    char error[256];
    char field[64];
    long count;
    long first_row;
    long column;                   /* the header column of the field, or -1 */
    char value[PREVIEW_VALUE];     /* the value of the first row, cut */
    const struct ds_template *tpl; /* the template that mapped the rows */
    const struct ds_mapper *m;     /* ... and its mapper */
    long fi;                       /* the field's index in tpl, or -1 */
};

/* A digest of a typed key being computed (key_hash_start). */
struct key_hash {
    uint64_t a, b;
    size_t n;
};

/* A mapper's key hook (key_made): the preview, the mapper's import type and
 * the digest of "TYPE\x1f", each row's key digest continuing from it. */
struct early {
    struct preview *p;
    const char *type;
    struct key_hash prefix;
};

/* A template rows are routed to, with its mapper. */
struct route {
    struct ds_template *tpl; /* owned */
    struct ds_mapper *m;     /* owned; routing off, as in ingest */
};

#define PREVIEW_ROUTES 3 /* templates one file routes rows to, at most */

struct preview {
    struct preview_opts o;
    struct ds_read_hints hints;    /* the sheet read */
    const struct ds_template *use; /* borrow: the sheet's template chosen already, or NULL */
    const struct ds_template *tpl; /* borrow (list or pinned) */
    struct ds_template **list;     /* borrow: the templates choose_sheets listed, or NULL */
    size_t nlist;
    const struct ds_row *header; /* borrow (the reader) */
    struct ds_mapper *m;
    struct route routes[PREVIEW_ROUTES];
    size_t nroutes;
    const char *dirs[2];         /* template sources as ingest's: the cloud's, then template_dir */
    char cloud[PATH_MAX];        /* the practice's templates saved in the cloud */
    struct ds_store *st;         /* the queue if it exists, else NULL */
    const struct ds_config *cfg; /* borrow, or NULL */
    const char *practice;        /* for unchanged */
    const char *location;        /* --folder's fixed location, or NULL */
    struct group groups[PREVIEW_GROUPS];
    size_t ngroups;
    uint64_t (*keys)[2]; /* the key set: open addressing, 128-bit digests, {0, 0} empty;
                          * ds_os_table_alloc, for huge pages */
    size_t nslots;       /* a power of two */
    size_t nkeys;
    struct early early[1 + PREVIEW_ROUTES]; /* the mappers' key hooks: p->m's, the routes' */
    const char *early_type;                 /* the import type of early_d; NULL until the hook */
    uint64_t early_d[2];                    /* has made the digest of the current row's key */
    long rows, valid, invalid, duplicate, unchanged, skipped, routed;
    int held;          /* 1: what is printed goes into out, written once the file is read */
    int spilled;       /* 1: out could not hold it (over PREVIEW_HOLD, or no memory) */
    struct ds_buf out; /* the output held */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync preview FILE [--type T] [--template ID | --template-file PATH] "
                 "[--folder NAME] [--sheet NAME|*] [--json] [--all]\n");
}

static int parse_opts(int argc, char **argv, struct preview_opts *o)
{
    static const struct option longopts[] = {
        {"type", required_argument, NULL, 't'},
        {"template", required_argument, NULL, 'T'},
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"folder", required_argument, NULL, 'F'},
        {"sheet", required_argument, NULL, 's'},
        {"template-file", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "t:T:jaF:s:P:", longopts, NULL);
        if (opt == -1) {
            break;
        }
        switch (opt) {
        case 't':
            o->type = optarg;
            break;
        case 'T':
            o->template = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'a':
            o->all = 1;
            break;
        case 'F':
            o->folder = optarg;
            break;
        case 's':
            o->sheet = optarg;
            break;
        case 'P':
            o->template_file = optarg;
            break;
        default:
            return -1;
        }
    }
    if (optind != argc - 1) {
        return -1;
    }
    o->file = argv[optind];
    return 0;
}

/* The configured folder whose path holds the file, or NULL. */
static const struct ds_folder_conf *folder_of(const struct ds_config *cfg, const char *file)
{
    char dir[PATH_MAX];
    char real[PATH_MAX];
    char *slash;

    if (cfg == NULL || ds_os_realpath(file, dir, sizeof(dir)) != 0) {
        return NULL;
    }
    slash = strrchr(dir, '/');
    if (strrchr(dir, '\\') > slash) {
        slash = strrchr(dir, '\\');
    }
    if (slash != NULL) {
        *slash = '\0';
    }
    for (size_t i = 0; i < cfg->nfolders; i++) {
        if (cfg->folders[i].path != NULL &&
            ds_os_realpath(cfg->folders[i].path, real, sizeof(real)) == 0 &&
            strcmp(real, dir) == 0) {
            return &cfg->folders[i];
        }
    }
    return NULL;
}

/* splitmix64's finalizer. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* A 128-bit digest of a typed key, from two independent 64-bit hashes
 * (FNV-1a and a multiply-rotate one): 16 bytes a key instead of a copy, and
 * two keys of a file share one with a chance of about n^2 / 2^129 — none in
 * practice. Fed in pieces (the import type, a separator, the key) without
 * joining them first. */
static void key_hash_start(struct key_hash *h)
{
    h->a = 1469598103934665603u;
    h->b = 0x9e3779b97f4a7c15u;
    h->n = 0;
}

static void key_hash_add(struct key_hash *h, const char *p, size_t len)
{
    uint64_t a = h->a;
    uint64_t b = h->b;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        a = (a ^ c) * 1099511628211u;
        b = (b + c) * 0xff51afd7ed558ccdu;
        b = (b << 29) | (b >> 35);
    }
    h->a = a;
    h->b = b;
    h->n += len;
}

static void key_hash_end(const struct key_hash *h, uint64_t d[2])
{
    d[0] = mix64(h->a);
    d[1] = mix64(h->b ^ h->n);
    if (d[0] == 0 && d[1] == 0) {
        d[1] = 1; /* {0, 0} marks an empty slot */
    }
}

/* The digest of "TYPE\x1f" (keys are unique within a job, that is within
 * an import type): a typed key's digest continues from it. */
static void type_prefix(struct key_hash *h, const char *type)
{
    key_hash_start(h);
    key_hash_add(h, type, strlen(type));
    key_hash_add(h, "\x1f", 1);
}

/* The digest of "TYPE\x1fKEY", from the prefix of its type. */
static void typed_digest(const struct key_hash *prefix, const char *key, uint64_t d[2])
{
    struct key_hash h = *prefix;

    key_hash_add(&h, key, strlen(key));
    key_hash_end(&h, d);
}

/* The slot of digest d in a table of n slots: its own or the empty one
 * where it would go. */
static uint64_t *key_slot(uint64_t (*t)[2], size_t n, const uint64_t d[2])
{
    size_t i = (size_t)d[0] & (n - 1);

    while ((t[i][0] != 0 || t[i][1] != 0) && (t[i][0] != d[0] || t[i][1] != d[1])) {
        i = (i + 1) & (n - 1);
    }
    return t[i];
}

/* Doubles the key set. When memory runs out the set stays as it is. */
static void keys_grow(struct preview *p)
{
    size_t n = p->nslots * 2;
    uint64_t(*t)[2] = ds_os_table_alloc(n * sizeof(*t));

    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nslots; i++) {
        if (p->keys[i][0] != 0 || p->keys[i][1] != 0) {
            uint64_t *slot = key_slot(t, n, p->keys[i]);

            slot[0] = p->keys[i][0];
            slot[1] = p->keys[i][1];
        }
    }
    ds_os_table_free(p->keys, p->nslots * sizeof(*p->keys));
    p->keys = t;
    p->nslots = n;
}

/* The mappers' key hook: the row's key digest, and its slot of the key set
 * fetched into the cache while the mapper finishes the row. In a large
 * file the set is larger than the cache and that fetch took most of the
 * time of the lookup. */
static void key_made(void *ctx, const char *key)
{
    struct early *e = ctx;
    struct preview *p = e->p;

    typed_digest(&e->prefix, key, p->early_d);
    p->early_type = e->type;
    __builtin_prefetch(p->keys[(size_t)p->early_d[0] & (p->nslots - 1)]);
}

/* Sets key_made on the file's mapper and on each route's. */
static void set_key_hooks(struct preview *p)
{
    for (size_t i = 0; i <= p->nroutes; i++) {
        struct ds_mapper *m = i == 0 ? p->m : p->routes[i - 1].m;
        const struct ds_template *t = i == 0 ? p->tpl : p->routes[i - 1].tpl;

        p->early[i].p = p;
        p->early[i].type = ds_template_import_type(t);
        type_prefix(&p->early[i].prefix, p->early[i].type);
        ds_map_set_key_hook(m, key_made, &p->early[i]);
    }
}

/* 1 if the key of that digest was seen before in the file, else
 * remembers it and returns 0. The set doubles when half full, so each
 * lookup probes a few slots whatever the file's size (only if memory ran
 * out does it stop remembering new keys, at half full). */
static int key_seen(struct preview *p, const uint64_t d[2])
{
    uint64_t *slot;

    slot = key_slot(p->keys, p->nslots, d);
    if (slot[0] != 0 || slot[1] != 0) {
        return 1;
    }
    if (p->nkeys + 1 > p->nslots / 2) {
        keys_grow(p);
        if (p->nkeys + 1 > p->nslots / 2) {
            return 0;
        }
        slot = key_slot(p->keys, p->nslots, d);
    }
    slot[0] = d[0];
    slot[1] = d[1];
    p->nkeys++;
    return 0;
}

/* The template field called name, its index, or -1. */
static long field_index(const struct ds_template *t, const char *name)
{
    for (size_t i = 0; i < ds_template_nfields(t); i++) {
        if (strcmp(ds_template_field(t, i)->name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void note_one(struct preview *p, const struct ds_template *tpl,
                     const struct ds_mapper *mapper, const struct ds_row *row, const char *error,
                     const char *field)
{
    struct group *g = NULL;
    long fi;
    long col = -1;

    for (size_t i = 0; i < p->ngroups; i++) {
        if (strcmp(p->groups[i].error, error) == 0) {
            g = &p->groups[i];
            break;
        }
    }
    if (g == NULL) {
        if (p->ngroups == PREVIEW_GROUPS) {
            return;
        }
        g = &p->groups[p->ngroups++];
        memset(g, 0, sizeof(*g));
        ds_str_copy(g->error, sizeof(g->error), error);
        ds_str_copy(g->field, sizeof(g->field), field);
        g->first_row = row->row;
        g->tpl = tpl;
        g->m = mapper;
        fi = field_index(tpl, field);
        g->fi = fi;
        col = fi >= 0 ? ds_map_field_column(mapper, (size_t)fi) : -1;
        g->column = col;
        if (col >= 0 && (size_t)col < row->nfields) {
            snprintf(g->value, sizeof(g->value), "%.*s", (int)(sizeof(g->value) - 1),
                     row->fields[col]);
        }
    }
    g->count++;
}

/* Every error of an invalid row counts in its group. */
static void note_error(struct preview *p, const struct ds_template *tpl,
                       const struct ds_mapper *mapper, const struct ds_row *row,
                       const struct ds_mapped *m)
{
    if (m->nerrors == 0) {
        note_one(p, tpl, mapper, row, m->error, m->error_field);
    }
    for (size_t i = 0; i < m->nerrors; i++) {
        note_one(p, tpl, mapper, row, m->errors[i].message, m->errors[i].field);
    }
}

/* What preview prints goes to the terminal, or while p->held into p->out
 * (see preview_file). A piece out cannot take marks it spilled: the held
 * output is then dropped and the file previewed again. */
static void out_mem(struct preview *p, const char *s, size_t n)
{
    if (!p->held) {
        fwrite(s, 1, n, stdout);
    }
    else if (ds_buf_append(&p->out, s, n) != 0) {
        p->spilled = 1;
    }
}

static void out_str(struct preview *p, const char *s)
{
    out_mem(p, s, strlen(s));
}

static void out_json(struct preview *p, const char *s)
{
    if (!p->held) {
        ds_jsonw_fputs(stdout, s);
    }
    else if (ds_jsonw_str(&p->out, s) != 0) {
        p->spilled = 1;
    }
}

static void out_printf(struct preview *p, const char *fmt, ...) DS_PRINTF(2, 3);

static void out_printf(struct preview *p, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    if (!p->held) {
        vprintf(fmt, ap);
        va_end(ap);
        return;
    }
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(small)) {
        out_mem(p, small, (size_t)n);
        return;
    }
    if (n < 0 || ds_buf_reserve(&p->out, (size_t)n) != 0) {
        p->spilled = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(p->out.data + p->out.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    p->out.len += (size_t)n;
}

/* The row's errors, "; " between them, for the table. */
static void print_errors_text(struct preview *p, const struct ds_mapped *m)
{
    if (m->nerrors == 0) {
        out_str(p, m->error);
    }
    for (size_t i = 0; i < m->nerrors; i++) {
        out_printf(p, "%s%s", i > 0 ? "; " : "", m->errors[i].message);
    }
}

/* The row's errors as a JSON array of {field, code, message, suggestion}. */
static void print_errors_json(struct preview *p, const struct ds_mapped *m)
{
    char *json = NULL;
    json_t *a;
    json_t *e;
    size_t i;
    char sug[512];

    if (ds_map_errors_json(m, &json) != 0 || (a = json_loads(json, 0, NULL)) == NULL) {
        ds_free(json);
        out_str(p, "[]");
        return;
    }
    ds_free(json);
    json_array_foreach(a, i, e)
    {
        ds_map_suggest(json_string_value(json_object_get(e, "field")),
                       json_string_value(json_object_get(e, "code")), sug, sizeof(sug));
        json_object_set_new(e, "suggestion", json_string(sug));
    }
    json = json_dumps(a, JSON_COMPACT);
    out_str(p, json != NULL ? json : "[]");
    free(json);
    json_decref(a);
}

static const char *classify(struct preview *p, const struct ds_template *tpl,
                            const struct ds_mapper *mapper, const struct ds_row *row,
                            struct ds_mapped *m)
{
    char fp[DS_SHA256_HEX];
    int dup = 0;

    if (m->skipped) {
        p->skipped++;
        return "skipped";
    }
    if (m->route != NULL) {
        /* A route to a template preview could not load. */
        p->skipped++;
        return "routed";
    }
    if (!m->valid) {
        p->invalid++;
        note_error(p, tpl, mapper, row, m);
        return "invalid";
    }
    if (m->key[0] != '\0') {
        const char *type = ds_template_import_type(tpl);
        uint64_t d[2];

        /* The hook made the digest of this row's key (preview_row forgets
         * the one of the row before). */
        if (p->early_type == type) {
            d[0] = p->early_d[0];
            d[1] = p->early_d[1];
        }
        else {
            struct key_hash prefix;

            type_prefix(&prefix, type);
            typed_digest(&prefix, m->key, d);
        }
        dup = key_seen(p, d);
    }
    if (dup) {
        p->duplicate++;
        return "duplicate";
    }
    if (p->st != NULL && p->practice != NULL &&
        ds_store_synced_get(p->st, p->practice, ds_template_import_type(tpl), m->key, fp) == 1 &&
        strcmp(fp, m->fingerprint) == 0) {
        p->unchanged++;
        return "unchanged";
    }
    p->valid++;
    return "valid";
}

/* Whether the queue holds a synced row of the practice (which the store is
 * opened for) of tpl's import type. On a failure to read, as if it did. */
static int synced_for(struct preview *p, const struct ds_template *tpl)
{
    long n = 0;

    return ds_store_synced_count(p->st, p->practice, ds_template_import_type(tpl), &n) != 0 ||
           n > 0;
}

/* Whether it holds one for the template or a template its rules route to:
 * without one no row can be unchanged. */
static int anything_synced(struct preview *p)
{
    int any = synced_for(p, p->tpl);

    for (size_t i = 0; i < p->nroutes && !any; i++) {
        any = synced_for(p, p->routes[i].tpl);
    }
    return any;
}

static void print_row(struct preview *p, const struct ds_row *row, const char *status,
                      const struct ds_mapped *m, const char *routed_to)
{
    if (p->o.json) {
        out_printf(p, "{\"row\":%ld,\"status\":\"%s\",", row->row, status);
        if (routed_to != NULL) {
            out_printf(p, "\"import_type\":\"%s\",", routed_to);
        }
        out_str(p, "\"key\":");
        out_json(p, m->key);
        if (m->record_json != NULL) {
            out_printf(p, ",\"record\":%s", m->record_json);
        }
        if (!m->valid) {
            out_str(p, ",\"reason\":");
            out_json(p, m->skipped         ? (m->skip_reason != NULL ? m->skip_reason : "")
                        : m->route != NULL ? m->route
                                           : m->error);
        }
        if (!m->valid && !m->skipped && m->route == NULL) {
            out_str(p, ",\"errors\":");
            print_errors_json(p, m);
        }
        out_str(p, "}\n");
        return;
    }
    /* "%7ld  %-9s  " written directly: --all prints a line per row, where
     * printf was a tenth of the work. */
    {
        char head[DS_FMT_INT_MAX + 32];
        char num[DS_FMT_INT_MAX];
        size_t nl = ds_fmt_int(num, row->row, 0);
        size_t sl = strlen(status);
        size_t n = 0;

        sl = sl < 16 ? sl : 16;
        for (size_t i = nl; i < 7; i++) {
            head[n++] = ' ';
        }
        memcpy(head + n, num, nl);
        n += nl;
        head[n++] = ' ';
        head[n++] = ' ';
        for (size_t i = 0; i < sl; i++) {
            head[n++] = status[i];
        }
        for (size_t i = sl; i < 9; i++) {
            head[n++] = ' ';
        }
        head[n++] = ' ';
        head[n++] = ' ';
        out_mem(p, head, n);
    }
    if (routed_to != NULL) {
        out_str(p, "[");
        out_str(p, routed_to);
        out_str(p, "] ");
    }
    if (!m->valid && !m->skipped && m->route == NULL) {
        print_errors_text(p, m);
        out_str(p, "\n");
        return;
    }
    out_str(p, m->skipped         ? (m->skip_reason != NULL ? m->skip_reason : "skip rule")
               : m->route != NULL ? m->route
                                  : m->key);
    out_str(p, "\n");
}

/* The suggestion for an error group, into buf. */
static void suggest(const struct preview *p, const struct group *g, char *buf, size_t size)
{
    const char *col = g->column >= 0 ? p->header->fields[g->column] : g->field;
    const struct ds_date_votes *v =
        g->fi >= 0 ? ds_map_field_date_votes(g->m, (size_t)g->fi) : NULL;
    enum ds_date_order order =
        g->fi >= 0 ? ds_map_field_date_order(g->m, (size_t)g->fi) : DS_DATE_AUTO;
    const char *problem = strstr(g->error, ": ");

    problem = problem != NULL ? problem + 2 : g->error;
    if (v != NULL && strstr(problem, "date") != NULL && v->dmy_only > 0 && order != DS_DATE_DMY &&
        order != DS_DATE_YMD) {
        snprintf(buf, size,
                 "%s '%s' does not fit MM/DD/YYYY; %ld rows in this column only read as "
                 "DD/MM/YYYY — set date_order = DMY",
                 col, g->value, v->dmy_only);
    }
    else if (v != NULL && strstr(problem, "date") != NULL && v->mdy_only > 0 &&
             order == DS_DATE_DMY) {
        snprintf(buf, size,
                 "%s '%s' does not fit DD/MM/YYYY; %ld rows in this column only read as "
                 "MM/DD/YYYY — set date_order = MDY",
                 col, g->value, v->mdy_only);
    }
    else if (strcmp(problem, "unknown value") == 0) {
        snprintf(buf, size,
                 "%s '%s' is a value template %s does not know: add it to "
                 "fields.%s.map in your copy of the template (docs/templates.md)",
                 col, g->value, ds_template_id(g->tpl), g->field);
    }
    else if (strncmp(problem, "FIELD_TOO_LONG:", 15) == 0 ||
             strncmp(problem, "TOO_MANY_COLUMNS:", 17) == 0 ||
             strncmp(problem, "ROW_TOO_LARGE:", 14) == 0) {
        snprintf(buf, size,
                 "the row is over a reader limit and stays out (the file's other rows go "
                 "on): often a wrong quote or delimiter, or a long note (docs/formats.md)");
    }
    else if (strcmp(problem, "required") == 0) {
        snprintf(buf, size,
                 "%s is empty: fill it in the practice software, or the rows stay "
                 "out",
                 col);
    }
    else {
        snprintf(buf, size, "%s '%s': %s", col, g->value, problem);
    }
}

static int group_cmp(const void *a, const void *b)
{
    const struct group *x = a;
    const struct group *y = b;

    if (x->count != y->count) {
        return x->count < y->count ? 1 : -1;
    }
    return x->first_row < y->first_row ? -1 : x->first_row > y->first_row;
}

static void print_summary(struct preview *p, long total_read, int complete)
{
    char sug[512];

    qsort(p->groups, p->ngroups, sizeof(p->groups[0]), group_cmp);
    if (p->o.json) {
        out_printf(p,
                   "{\"summary\":{\"rows\":%ld,\"complete\":%s,\"valid\":%ld,\"invalid\":%ld,"
                   "\"duplicate\":%ld,\"unchanged\":%ld,\"skipped\":%ld,\"routed\":%ld},"
                   "\"errors\":[",
                   p->rows, complete ? "true" : "false", p->valid, p->invalid, p->duplicate,
                   p->unchanged, p->skipped, p->routed);
        for (size_t i = 0; i < p->ngroups && i < PREVIEW_SHOWN; i++) {
            suggest(p, &p->groups[i], sug, sizeof(sug));
            out_printf(p, "%s{\"error\":", i > 0 ? "," : "");
            out_json(p, p->groups[i].error);
            out_printf(p, ",\"rows\":%ld,\"first_row\":%ld,\"suggestion\":", p->groups[i].count,
                       p->groups[i].first_row);
            out_json(p, sug);
            out_str(p, "}");
        }
        out_str(p, "]}\n");
        return;
    }
    out_printf(p,
               "\n%ld row(s) previewed%s: %ld valid, %ld invalid, %ld duplicate, %ld unchanged, "
               "%ld skipped",
               p->rows,
               complete ? " (the whole file)" : (total_read > 0 ? " (use --all for the rest)" : ""),
               p->valid, p->invalid, p->duplicate, p->unchanged, p->skipped);
    if (p->routed > 0) {
        out_printf(p, "; %ld of them routed to another import type (its own job)", p->routed);
    }
    out_str(p, "\n");
    if (p->ngroups > 0) {
        out_str(p, "\nMost common errors:\n");
    }
    for (size_t i = 0; i < p->ngroups && i < PREVIEW_SHOWN; i++) {
        suggest(p, &p->groups[i], sug, sizeof(sug));
        out_printf(p, "  %5ld x %s (first: row %ld)\n          %s\n", p->groups[i].count,
                   p->groups[i].error, p->groups[i].first_row, sug);
    }
}

/* Prints the template choice and the mapping. */
static void print_head(struct preview *p, const struct ds_reader *r, const struct ds_detection *d)
{
    const struct ds_read_dialect *dl = ds_read_dialect(r);
    char *binding = NULL;

    if (p->o.json) {
        out_str(p, "{\"file\":");
        out_json(p, p->o.file);
        out_printf(p, ",\"format\":\"%s\",\"encoding\":", dl->format);
        out_json(p, dl->encoding);
        out_str(p, ",\"template\":");
        out_json(p, ds_template_id(p->tpl));
        if (d != NULL) {
            out_printf(p, ",\"score\":%.1f", d->best[0].score);
            if (d->nbest > 1) {
                out_str(p, ",\"runner_up\":");
                out_json(p, ds_template_id(d->best[1].t));
                out_printf(p, ",\"runner_up_score\":%.1f", d->best[1].score);
            }
        }
        out_str(p, ",\"mapping\":{");
        for (size_t i = 0; i < ds_map_nfields(p->m); i++) {
            long col = ds_map_field_column(p->m, i);

            out_printf(p, "%s", i > 0 ? "," : "");
            out_json(p, ds_map_field_name(p->m, i));
            out_str(p, ":");
            if (col >= 0) {
                out_json(p, p->header->fields[col]);
            }
            else {
                out_str(p, "null");
            }
        }
        out_str(p, "}");
        if (ds_map_binding_json(p->m, &binding) == 0) {
            out_printf(p, ",\"binding\":%s", binding);
            ds_free(binding);
        }
        out_str(p, "}\n");
        return;
    }
    out_printf(p, "file:      %s\nformat:    %s, %s", p->o.file, dl->format, dl->encoding);
    if (dl->delimiter != 0) {
        out_printf(p, ", delimiter %s",
                   dl->delimiter == '\t' ? "TAB" : (char[2]){(char)dl->delimiter, 0});
    }
    out_printf(p, ", header on line %ld\n", dl->header_line);
    if (dl->sheet[0] != '\0') {
        out_printf(p, "sheet:     %s\n", dl->sheet);
    }
    if (p->use != NULL) {
        out_printf(p, "template:  %s (detected for this sheet)\n", ds_template_id(p->tpl));
    }
    else if (d != NULL) {
        out_printf(p, "template:  %s (score %.0f)", ds_template_id(p->tpl), d->best[0].score);
        if (d->nbest > 1) {
            out_printf(p, "; runner-up %s (score %.0f)", ds_template_id(d->best[1].t),
                       d->best[1].score);
        }
        out_str(p, "\n");
    }
    else {
        out_printf(p, "template:  %s (chosen with --template or by the folder)\n",
                   ds_template_id(p->tpl));
    }
    out_str(p, "\nColumn -> field\n");
    for (size_t i = 0; i < ds_map_nfields(p->m); i++) {
        long col = ds_map_field_column(p->m, i);
        long tcol = ds_map_field_time_column(p->m, i);
        int by = ds_map_field_bound_by(p->m, i);
        char name[160];

        if (col >= 0 && tcol >= 0) {
            snprintf(name, sizeof(name), "%s + %s", p->header->fields[col],
                     p->header->fields[tcol]);
        }
        else {
            snprintf(name, sizeof(name), "%s",
                     col >= 0 ? p->header->fields[col] : "(not in the file)");
        }
        out_printf(p, "  %-28s -> %s%s\n", name, ds_map_field_name(p->m, i),
                   by == DS_MAP_BY_SYNONYM ? " (by synonym)" : "");
    }
    for (size_t k = 0; k < ds_map_nambiguous(p->m); k++) {
        long c1 = -1;
        long c2 = -1;
        const char *f = ds_map_ambiguous(p->m, k, &c1, &c2);

        out_printf(p, "  %-28s -> %s? left unbound: two columns name it (%s, %s)\n", "(ambiguous)",
                   f, p->header->fields[c1], p->header->fields[c2]);
    }
    out_str(p, "\n    row  status     key or reason\n");
}

/* The practice options, as ingest sets them (the template's time_zone
 * before the practice's). */
static int set_options(struct preview *p, const struct ds_practice_conf *pc, struct ds_tz **tz,
                       struct ds_error *err)
{
    const char *zone = ds_template_time_zone(p->tpl);
    struct ds_norm_opts o;
    int rc;

    memset(&o, 0, sizeof(o));
    rc = ds_tz_load(zone != NULL ? zone : pc != NULL ? pc->timezone : NULL, tz, err);
    if (rc != 0) {
        return rc;
    }
    o.tz = *tz;
    if (pc != NULL) {
        memcpy(o.phone_region, pc->phone_region, sizeof(o.phone_region));
        o.date_order = strcmp(pc->date_order, "DMY") == 0   ? DS_DATE_DMY
                       : strcmp(pc->date_order, "YMD") == 0 ? DS_DATE_YMD
                       : strcmp(pc->date_order, "MDY") == 0 ? DS_DATE_MDY
                                                            : DS_DATE_AUTO;
    }
    ds_map_set_options(p->m, &o);
    rc = ds_map_set_location(p->m, p->location, err);
    for (size_t i = 0; i < p->nroutes && rc == 0; i++) {
        ds_map_set_options(p->routes[i].m, &o);
        rc = ds_map_set_location(p->routes[i].m, p->location, err);
    }
    return rc;
}

/* The templates the file's template routes rows to, bound to the header
 * with routing off, as ingest binds them. A target that cannot be loaded
 * or bound is reported and its rows stay "routed". */
static void load_routes(struct preview *p)
{
    struct ds_error err;

    ds_error_clear(&err);
    for (size_t i = 0; i < ds_template_nrules(p->tpl) && p->nroutes < PREVIEW_ROUTES; i++) {
        const struct ds_template_rule *r = ds_template_rule(p->tpl, i);
        struct route *rt = &p->routes[p->nroutes];
        size_t k = 0;

        if (r->kind != DS_RULE_ROUTE) {
            continue;
        }
        while (k < p->nroutes && strcmp(ds_template_id(p->routes[k].tpl), r->target) != 0) {
            k++;
        }
        if (k < p->nroutes) {
            continue;
        }
        if (ds_template_find_in(p->dirs, 2, r->target, &rt->tpl, &err) != 0 ||
            ds_map_new(rt->tpl, p->header, &rt->m, &err) != 0) {
            fprintf(stderr, "dentsync preview: rows routed to %s stay unmapped: %s\n", r->target,
                    err.msg);
            ds_template_free(&rt->tpl);
            continue;
        }
        ds_map_set_routing(rt->m, 0);
        p->nroutes++;
    }
}

/* The row's votes on the order of each mapper's date columns; 1 when one
 * of them was its mapper's first of a kind (ds_map_date_vote): only then
 * may the votes have changed the orders. */
static int vote_row(struct preview *p, const struct ds_row *row)
{
    int decisive = ds_map_date_vote(p->m, row);

    for (size_t i = 0; i < p->nroutes; i++) {
        decisive |= ds_map_date_vote(p->routes[i].m, row);
    }
    return decisive;
}

static void decide_dates(struct preview *p)
{
    ds_map_date_decide(p->m);
    for (size_t i = 0; i < p->nroutes; i++) {
        ds_map_date_decide(p->routes[i].m);
    }
}

/* 1 while the votes leave every mapper's date orders as decided before
 * them (ds_map_date_unchanged). */
static int dates_unchanged(const struct preview *p)
{
    int same = ds_map_date_unchanged(p->m);

    for (size_t i = 0; i < p->nroutes && same; i++) {
        same = ds_map_date_unchanged(p->routes[i].m);
    }
    return same;
}

/* Maps one row: with the file's template, or with the one it routes the
 * row to. Prints it and counts it. */
static int preview_row(struct preview *p, const struct ds_row *row, struct ds_mapped *m)
{
    const struct ds_template *tpl = p->tpl;
    struct ds_mapper *mapper = p->m;
    const char *routed_to = NULL;
    int rc;

    p->early_type = NULL;
    rc = ds_map_row(p->m, row, m);

    if (rc == 0 && m->route != NULL) {
        for (size_t i = 0; i < p->nroutes; i++) {
            if (strcmp(ds_template_id(p->routes[i].tpl), m->route) == 0) {
                tpl = p->routes[i].tpl;
                mapper = p->routes[i].m;
                routed_to = ds_template_import_type(tpl);
                ds_mapped_close(m);
                p->early_type = NULL;
                rc = ds_map_row(mapper, row, m);
                p->routed++;
                break;
            }
        }
    }
    if (rc == 0) {
        print_row(p, row, classify(p, tpl, mapper, row, m), m, routed_to);
    }
    return rc;
}

/*
 * The first pass (see the top of the file): every row of r votes, the first
 * limit rows are mapped with the date orders decided before any vote and
 * printed into p->out after the head, and r is read to its end. 1 when the
 * held output is what the file shows: it read without error and no vote
 * changed an order or gave a hint (p->held). 0 when a row's vote did, the
 * output spilled or a row could not be mapped: the rest of the file only
 * votes and the rows are previewed again. A read error (<0, err) drops
 * the held output. Either way, every vote is in and decided.
 */
static int first_pass(struct preview *p, struct ds_reader *r, const struct ds_detection *shown,
                      long limit, int *complete, struct ds_error *err)
{
    struct ds_mapped m;
    struct ds_row row;
    int rc;

    memset(&m, 0, sizeof(m));
    decide_dates(p);
    ds_buf_init(&p->out, PREVIEW_HOLD);
    p->held = 1;
    print_head(p, r, shown);
    *complete = 1;
    for (;;) {
        rc = ds_read_next_row(r, &row, err);
        if (rc <= 0) {
            break;
        }
        if (vote_row(p, &row) && p->held && !dates_unchanged(p)) {
            p->held = 0;
        }
        if (!p->held) {
            continue;
        }
        if (p->rows >= limit) {
            *complete = 0;
            continue;
        }
        if (preview_row(p, &row, &m) != 0 || p->spilled) {
            /* The second pass prints the rows before it, and its error. */
            p->held = 0;
        }
        ds_mapped_close(&m);
        p->rows++;
    }
    if (rc < 0) {
        p->held = 0;
        return rc;
    }
    decide_dates(p);
    return p->held;
}

/* The second pass prints a chunk of rows at a time: the lookups of a chunk
 * share one snapshot of the queue, which ends before the chunk is written
 * (a pager may hold a write up for as long as it likes). */
#define PREVIEW_CHUNK_ROWS 1000
#define PREVIEW_CHUNK_BYTES (1u << 20)

static void write_chunk(struct preview *p)
{
    ds_store_snapshot_end(p->st);
    if (p->out.len > 0) {
        fwrite(p->out.data, 1, p->out.len, stdout);
    }
    ds_buf_reset(&p->out);
}

/* Forgets what the first pass counted, held and saw, for the second. */
static void forget_rows(struct preview *p)
{
    p->rows = p->valid = p->invalid = p->duplicate = p->unchanged = p->skipped = p->routed = 0;
    p->ngroups = 0;
    memset(p->keys, 0, p->nslots * sizeof(*p->keys));
    p->nkeys = 0;
    ds_map_forget(p->m);
    for (size_t i = 0; i < p->nroutes; i++) {
        ds_map_forget(p->routes[i].m);
    }
    p->held = 0;
    p->spilled = 0;
    ds_buf_close(&p->out);
}

/* Previews the file (the sheet p->hints names) with p->use, the pinned
 * template or the one detected; frees what it made. An exit code. */
static int preview_file(struct preview *p, const struct ds_practice_conf *pc)
{
    struct ds_template **list = NULL;
    struct ds_template *pinned = NULL;
    struct ds_reader *r = NULL;
    struct ds_reader *again = NULL; /* the second pass's, when there is one */
    struct ds_tz *tz = NULL;
    struct ds_detection d;
    const struct ds_detection *shown = NULL; /* the scores, when detected */
    struct ds_mapped m;
    struct ds_row row;
    struct ds_error err;
    char queue[PATH_MAX];
    char msg[768];
    size_t n = 0;
    long limit;
    int complete = 0;
    int rc;
    int exit_code = DS_EXIT_RUNTIME;

    memset(&m, 0, sizeof(m));
    ds_error_clear(&err);
    rc = ds_read_open(p->o.file, &p->hints, &r, &err);
    if (rc != 0) {
        ds_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dentsync preview: %s\n", msg);
        goto out;
    }
    p->header = ds_read_header(r);
    if (p->use != NULL) {
        p->tpl = p->use;
    }
    else if (p->o.template_file != NULL || p->o.template != NULL) {
        rc = p->o.template_file != NULL
                 ? ds_template_load(p->o.template_file, &pinned, &err)
                 : ds_template_find_in(p->dirs, 2, p->o.template, &pinned, &err);
        if (rc != 0) {
            ds_error_format(&err, msg, sizeof(msg));
            fprintf(stderr, "dentsync preview: %s\n", msg);
            goto out;
        }
        p->tpl = pinned;
    }
    else {
        struct ds_template **from = p->list;
        size_t nfrom = p->nlist;

        /* The sheets were chosen with the same list: parsing every template
         * again would cost as much as reading thousands of rows. */
        rc = 0;
        if (from == NULL) {
            rc = ds_template_list_in(p->dirs, 2, &list, &n, &err);
            from = list;
            nfrom = n;
        }
        if (rc == 0 && (p->o.type == NULL || ds_detect_type_is_auto(p->o.type))) {
            /* As a folder of import_type auto. */
            rc = ds_detect_any_type(from, nfrom, p->header, &d);
        }
        else if (rc == 0) {
            rc = ds_detect_template(from, nfrom, p->o.type, p->header, &d);
        }
        if (rc != 0) {
            fprintf(stderr, "dentsync preview: %s\n", ds_strerror(rc));
            goto out;
        }
        if (!d.matched) {
            ds_detect_explain(&d, msg, sizeof(msg));
            printf("%s\n", msg);
            goto out;
        }
        p->tpl = d.best[0].t;
        shown = &d;
    }
    rc = ds_map_new(p->tpl, p->header, &p->m, &err);
    if (rc != 0) {
        const long fi = field_index(p->tpl, err.field);

        printf("template %s cannot read this file: %s", ds_template_id(p->tpl), err.msg);
        if (fi >= 0) {
            printf(" (field %s reads one of:", err.field);
            for (const char *const *c = ds_template_field(p->tpl, (size_t)fi)->columns; *c != NULL;
                 c++) {
                printf(" '%s'", *c);
            }
            printf(")");
        }
        printf("\n  add the column to the export, or copy the template and adjust it "
               "(docs/templates.md)\n");
        goto out;
    }
    load_routes(p);
    rc = set_options(p, pc, &tz, &err);
    if (rc != 0) {
        ds_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dentsync preview: %s\n", msg);
        goto out;
    }
    p->keys = ds_os_table_alloc(PREVIEW_KEYS * sizeof(*p->keys));
    p->nslots = PREVIEW_KEYS;
    if (p->keys == NULL) {
        fprintf(stderr, "dentsync preview: out of memory\n");
        goto out;
    }
    /* Read-only, as status opens it: no migration, no VACUUM beside the
     * running agent, and a member of the dentsync group (who may not write
     * the queue) still gets the comparison with what was synced. */
    if (p->cfg != NULL && p->practice != NULL &&
        ds_config_queue_path(p->cfg, queue, sizeof(queue)) == 0 &&
        ds_store_open_readonly(queue, &p->st, NULL) != 0) {
        p->st = NULL;
    }
    /* One snapshot for every row's lookup of the first pass, not a read
     * lock per row (eight times the time of the preview itself on a queue
     * that synced the file before); and none of it, nor the records, when
     * nothing that could match was synced. */
    if (p->st != NULL && (ds_store_snapshot_begin(p->st) != 0 || !anything_synced(p))) {
        ds_store_snapshot_end(p->st);
        ds_store_close(&p->st);
    }
    /* The raw row is never shown here; the record only with --json, and its
     * fingerprint only against a queue's synced rows: what is not used is
     * not written. */
    ds_map_set_outputs(p->m, p->o.json || p->st != NULL ? DS_MAP_RECORD : 0);
    set_key_hooks(p);
    limit = p->o.all ? LONG_MAX : PREVIEW_ROWS;
    rc = first_pass(p, r, shown, limit, &complete, &err);
    /* The first pass printed nothing (it held its output): the snapshot
     * ends before anything is written, which a pager may hold up for as
     * long as it likes. The second pass takes one a chunk at a time. */
    ds_store_snapshot_end(p->st);
    if (rc < 0) {
        ds_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dentsync preview: %s\n", msg);
        goto out;
    }
    if (rc == 1) {
        print_summary(p, p->rows, complete);
    }
    if (rc == 1 && !p->spilled) {
        fwrite(p->out.data, 1, p->out.len, stdout);
        exit_code = DS_EXIT_OK;
        goto out;
    }
    /* The second pass: the rows again from the first, in the orders the
     * whole file voted for, printed a chunk at a time as they come (r keeps
     * the header). */
    forget_rows(p);
    complete = 0;
    rc = ds_read_open(p->o.file, &p->hints, &again, &err);
    if (rc != 0) {
        ds_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dentsync preview: %s\n", msg);
        goto out;
    }
    print_head(p, r, shown);
    ds_buf_init(&p->out, PREVIEW_HOLD);
    p->held = 1;
    while (p->rows < limit) {
        if (p->rows % PREVIEW_CHUNK_ROWS == 0 || p->out.len >= PREVIEW_CHUNK_BYTES) {
            write_chunk(p);
            if (p->st != NULL) {
                ds_store_snapshot_begin(p->st); /* else a read lock per row */
            }
        }
        rc = ds_read_next_row(again, &row, &err);
        if (rc == 0) {
            complete = 1;
            break;
        }
        if (rc < 0) {
            write_chunk(p);
            ds_error_format(&err, msg, sizeof(msg));
            fprintf(stderr, "dentsync preview: %s\n", msg);
            goto out;
        }
        rc = preview_row(p, &row, &m);
        if (rc == 0 && p->spilled) {
            rc = DS_ENOMEM;
        }
        if (rc != 0) {
            write_chunk(p);
            fprintf(stderr, "dentsync preview: row %ld: %s\n", row.row, ds_strerror(rc));
            goto out;
        }
        p->rows++;
        ds_mapped_close(&m);
    }
    write_chunk(p);
    p->held = 0;
    if (!complete && ds_read_next_row(again, &row, &err) == 0) {
        complete = 1;
    }
    print_summary(p, p->rows, complete);
    exit_code = DS_EXIT_OK;
out:
    ds_buf_close(&p->out);
    ds_read_close(&again);
    ds_mapped_close(&m);
    ds_os_table_free(p->keys, p->nslots * sizeof(*p->keys));
    p->keys = NULL;
    ds_store_snapshot_end(p->st);
    ds_store_close(&p->st);
    ds_map_free(&p->m);
    for (size_t i = 0; i < p->nroutes; i++) {
        ds_map_free(&p->routes[i].m);
        ds_template_free(&p->routes[i].tpl);
    }
    p->nroutes = 0;
    ds_tz_free(&tz);
    ds_read_close(&r);
    ds_template_free(&pinned);
    ds_template_list_free(&list, n);
    return exit_code;
}

/* A sheet passed over: shown with why. */
static void sheet_skipped(void *arg, const char *sheet, const char *reason)
{
    const struct preview *p = arg;

    if (p->o.json) {
        printf("{\"notice\":\"sheet skipped\",\"sheet\":");
        ds_jsonw_fputs(stdout, sheet);
        printf(",\"reason\":");
        ds_jsonw_fputs(stdout, reason);
        printf("}\n");
        return;
    }
    printf("notice: sheet '%s' skipped: %s\n", sheet, reason);
}

/* The sheets to preview (see the top of the file): *n choices into ch. A
 * sheet given by name, a pinned template with the default rule, and a
 * file that is no workbook give one choice with index 0 (p->hints says).
 * An exit code, DS_EXIT_OK to go on. */
static int choose_sheets(struct preview *p, const char *sheet, struct ds_template ***list,
                         size_t *nlist, struct ds_sheet_choice *ch, size_t *n)
{
    struct ds_error err;
    char msg[768];
    int fd;
    int rc;

    *n = 1;
    memset(ch, 0, sizeof(*ch) * DS_SHEETS_MAX);
    if (sheet != NULL && !ds_sheet_all(sheet)) {
        p->hints.sheet = sheet;
        return DS_EXIT_OK;
    }
    if (!ds_sheet_all(sheet) && (p->o.template != NULL || p->o.template_file != NULL)) {
        return DS_EXIT_OK;
    }
    ds_error_clear(&err);
    rc = ds_template_list_in(p->dirs, 2, list, nlist, &err);
    fd = rc == 0 ? ds_os_open_read(p->o.file) : -1;
    if (rc == 0 && fd < 0) {
        rc = ds_error_set(&err, DS_EIO, "cannot open %s", p->o.file);
    }
    if (rc == 0) {
        rc = ds_detect_sheets(fd, p->o.file, sheet, &p->hints, *list, *nlist, p->o.type, ch, n,
                              sheet_skipped, p, &err);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0) {
        ds_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dentsync preview: %s\n", msg);
        return DS_EXIT_RUNTIME;
    }
    if (*n == 0) {
        printf("no sheet's header matches a template\n");
    }
    return DS_EXIT_OK;
}

int ds_cmd_preview(const char *config_path, int argc, char **argv)
{
    struct preview p;
    struct ds_config *cfg = NULL;
    const struct ds_folder_conf *folder = NULL;
    const struct ds_practice_conf *pc = NULL;
    struct ds_template **list = NULL;
    struct ds_sheet_choice ch[DS_SHEETS_MAX];
    const char *sheet;
    size_t nlist = 0;
    size_t nch = 0;
    int exit_code = DS_EXIT_RUNTIME;

    memset(&p, 0, sizeof(p));
    p.hints.no_raw = 1; /* a row's text as read is never shown here */
    if (parse_opts(argc, argv, &p.o) != 0) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    /* The configuration is optional: it gives the template directory, the
     * practice's options and, for a file inside a folder, its type. */
    if (ds_config_load(config_path, &cfg, NULL) != 0) {
        cfg = NULL;
    }
    p.cfg = cfg;
    folder = p.o.folder != NULL && cfg != NULL ? ds_config_folder(cfg, p.o.folder)
                                               : folder_of(cfg, p.o.file);
    if (p.o.folder != NULL && folder == NULL) {
        fprintf(stderr, "dentsync preview: no [folder %s] in the configuration\n", p.o.folder);
        goto out;
    }
    if (p.o.type == NULL && folder != NULL) {
        p.o.type = folder->import_type;
    }
    if (p.o.template == NULL && p.o.template_file == NULL && folder != NULL &&
        folder->template_id != NULL && strcmp(folder->template_id, "auto") != 0) {
        p.o.template = folder->template_id;
    }
    pc = folder != NULL ? ds_config_practice(cfg, folder->practice)
                        : (cfg != NULL && cfg->npractices > 0 ? &cfg->practices[0] : NULL);
    p.practice = pc != NULL ? pc->name : NULL;
    p.location = folder != NULL ? folder->location : NULL;
    if (cfg != NULL && p.practice != NULL &&
        ds_config_cloud_templates_dir(cfg, p.practice, p.cloud, sizeof(p.cloud)) == 0) {
        p.dirs[0] = p.cloud;
    }
    p.dirs[1] = cfg != NULL ? cfg->template_dir : NULL;
    sheet = p.o.sheet != NULL ? p.o.sheet : (folder != NULL ? folder->sheet : NULL);
    if (ds_sheet_all(sheet) && (p.o.template != NULL || p.o.template_file != NULL)) {
        fprintf(stderr, "dentsync preview: --sheet * detects a template for each sheet: it "
                        "cannot be combined with a pinned template\n");
        exit_code = DS_EXIT_USAGE;
        goto out;
    }
    exit_code = choose_sheets(&p, sheet, &list, &nlist, ch, &nch);
    if (exit_code != DS_EXIT_OK || nch == 0) {
        goto out;
    }
    p.list = list;
    p.nlist = nlist;
    if (!ds_sheet_all(sheet) || ch[0].index == 0) {
        /* One source: the named sheet, the one the default rule chose, or
         * a file without sheets. */
        if (ch[0].index > 0) {
            p.hints.sheet_index = ch[0].index;
        }
        exit_code = preview_file(&p, pc);
        goto out;
    }
    for (size_t k = 0; k < nch && exit_code == DS_EXIT_OK; k++) {
        struct preview one = p;

        one.hints.sheet_index = ch[k].index;
        one.use = ch[k].tpl;
        if (p.o.json) {
            printf("{\"sheet\":");
            ds_jsonw_fputs(stdout, ch[k].name);
            printf(",\"template\":");
            ds_jsonw_fputs(stdout, ds_template_id(ch[k].tpl));
            printf("}\n");
        }
        else {
            printf("%s== sheet '%s' (%s) ==\n", k > 0 ? "\n" : "", ch[k].name,
                   ds_template_import_type(ch[k].tpl));
        }
        exit_code = preview_file(&one, pc);
    }
out:
    ds_template_list_free(&list, nlist);
    ds_config_free(&cfg);
    return exit_code;
}
