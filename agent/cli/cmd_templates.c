/*
 * cmd_templates.c — `dentsync templates list|show ID|test FILE`: the
 * templates this agent knows (built-in, and the config's template_dir when
 * a configuration is readable), one in detail, and which of them can read
 * an export file's header.
 *
 * `test` reads the header row only, scores every template against it as
 * an ingest with `template = auto` would (agent/map/detect.h), and binds
 * each template to it: a template binds when every required field finds
 * its column. It prints template ids, field and column names — never a value
 * of a data row.
 *
 * `new FILE [--type T] [-o FILE.json]` drafts a template for an export no
 * template reads (agent/map/draft.h): to stdout, or into a new file 0644
 * that is never an existing one; with -o the template id is the file's
 * name without .json. The rows it reads only vote on the date order.
 * With --json (and no -o) it prints what the status page's mapping screen
 * starts from instead (print_screen): the draft, every column's guess per
 * import type with its score, and the first rows' values per column.
 */
#include "agent/cli/commands.h"

#include "agent/core/alloc.h"
#include "agent/map/detect.h"
#include "agent/map/draft.h"
#include "agent/core/fsafe.h"
#include "agent/os/os_fs.h"
#include "agent/map/map.h"
#include "agent/read/read.h"
#include "config/config.h"
#include "config/template.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync templates [-c FILE] [--json] list\n"
                 "       dentsync templates [-c FILE] [--json] show ID\n"
                 "       dentsync templates [-c FILE] [--json] [--type T] test FILE\n"
                 "       dentsync templates [-c FILE] [--type T] [-o FILE.json] new FILE\n");
}

/* The config's template_dir, or NULL when there is no readable config
 * (the built-in templates are listed anyway). new: ds_free(). */
static char *template_dir(const char *config_path)
{
    struct ds_config *cfg = NULL;
    char *dir = NULL;

    if (ds_config_load(config_path, &cfg, NULL) == 0 && cfg->template_dir != NULL) {
        dir = ds_strdup(cfg->template_dir);
    }
    ds_config_free(&cfg);
    return dir;
}

static json_t *string_list(const char *const *list)
{
    json_t *a = json_array();

    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        json_array_append_new(a, json_string(list[i]));
    }
    return a;
}

static void print_list(const char *label, const char *const *list)
{
    printf("%-10s", label);
    if (list == NULL || list[0] == NULL) {
        printf(" -");
    }
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        printf("%s%s", i > 0 ? ", " : " ", list[i]);
    }
    printf("\n");
}

static int cmd_list(struct ds_template **list, size_t n, int json)
{
    for (size_t i = 0; i < n; i++) {
        if (json) {
            json_t *o =
                json_pack("{s:s, s:s, s:s}", "id", ds_template_id(list[i]), "import_type",
                          ds_template_import_type(list[i]), "name", ds_template_name(list[i]));

            json_dumpf(o, stdout, JSON_COMPACT);
            printf("\n");
            json_decref(o);
            continue;
        }
        if (i == 0) {
            printf("%-32s %-13s %s\n", "ID", "TYPE", "NAME");
        }
        printf("%-32s %-13s %s\n", ds_template_id(list[i]), ds_template_import_type(list[i]),
               ds_template_name(list[i]));
    }
    return DS_EXIT_OK;
}

static int cmd_show(struct ds_template **list, size_t n, const char *id, int json)
{
    const struct ds_template *t = NULL;
    json_t *fields;
    json_t *o;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(ds_template_id(list[i]), id) == 0) {
            t = list[i];
        }
    }
    if (t == NULL) {
        fprintf(stderr, "dentsync templates: no template %s (dentsync templates list)\n", id);
        return DS_EXIT_RUNTIME;
    }
    if (json) {
        fields = json_array();
        for (size_t i = 0; i < ds_template_nfields(t); i++) {
            const struct ds_template_field *f = ds_template_field(t, i);

            json_array_append_new(fields, json_pack("{s:s, s:o, s:s, s:b}", "name", f->name,
                                                    "columns", string_list(f->columns), "transform",
                                                    f->transform, "required", f->required));
        }
        o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I}", "id", ds_template_id(t), "name",
                      ds_template_name(t), "import_type", ds_template_import_type(t),
                      "required_headers", string_list(ds_template_required_headers(t)),
                      "optional_headers", string_list(ds_template_optional_headers(t)), "fields",
                      fields, "rules", (json_int_t)ds_template_nrules(t));
        json_dumpf(o, stdout, JSON_COMPACT);
        printf("\n");
        json_decref(o);
        return DS_EXIT_OK;
    }
    printf("id        %s\nname      %s\ntype      %s\n", ds_template_id(t), ds_template_name(t),
           ds_template_import_type(t));
    print_list("requires", ds_template_required_headers(t));
    print_list("optional", ds_template_optional_headers(t));
    printf("rules     %zu\n\n%-22s %-3s %-14s %s\n", ds_template_nrules(t), "FIELD", "REQ",
           "TRANSFORM", "COLUMNS");
    for (size_t i = 0; i < ds_template_nfields(t); i++) {
        const struct ds_template_field *f = ds_template_field(t, i);

        printf("%-22s %-3s %-14s", f->name, f->required ? "yes" : "", f->transform);
        for (size_t k = 0; f->columns != NULL && f->columns[k] != NULL; k++) {
            printf("%s%s", k > 0 ? ", " : " ", f->columns[k]);
        }
        printf("\n");
    }
    return DS_EXIT_OK;
}

static int cmd_test(struct ds_template **list, size_t n, const char *path, const char *type,
                    int json)
{
    struct ds_reader *r = NULL;
    struct ds_detection det;
    struct ds_error err;
    const struct ds_row *header;
    char msg[600];
    int binds = 0;

    ds_error_clear(&err);
    if (ds_read_open(path, NULL, &r, &err) != 0) {
        fprintf(stderr, "dentsync templates: %s\n", ds_error_format(&err, msg, sizeof(msg)));
        return DS_EXIT_RUNTIME;
    }
    header = ds_read_header(r);
    memset(&det, 0, sizeof(det));
    if (ds_detect_template(list, n, type, header, &det) != 0) {
        fprintf(stderr, "dentsync templates: out of memory\n");
        ds_read_close(&r);
        return DS_EXIT_RUNTIME;
    }
    if (json) {
        json_t *o =
            json_pack("{s:s, s:I, s:s?, s:f}", "file", path, "columns", (json_int_t)header->nfields,
                      "detected", det.matched ? ds_template_id(det.best[0].t) : NULL, "score",
                      det.nbest > 0 ? det.best[0].score : 0.0);

        json_dumpf(o, stdout, JSON_COMPACT);
        printf("\n");
        json_decref(o);
    }
    else {
        printf("%s: %zu column(s)\n", path, header->nfields);
        if (det.matched) {
            printf("detected: %s (score %.0f of 100; `template = auto` takes it)\n",
                   ds_template_id(det.best[0].t), det.best[0].score);
        }
        else {
            ds_detect_explain(&det, msg, sizeof(msg));
            printf("detected: none above the threshold: %s\n", msg);
        }
        printf("\n%-32s %-13s %-6s %s\n", "TEMPLATE", "TYPE", "BINDS", "FIELDS FOUND / WHY NOT");
    }
    for (size_t i = 0; i < n; i++) {
        const struct ds_template *t = list[i];
        struct ds_mapper *m = NULL;
        size_t found = 0;
        int rc;

        if (type != NULL && strcmp(ds_template_import_type(t), type) != 0) {
            continue;
        }
        ds_error_clear(&err);
        rc = ds_map_new(t, header, &m, &err);
        for (size_t k = 0; rc == 0 && k < ds_template_nfields(t); k++) {
            found += ds_map_field_column(m, k) >= 0;
        }
        ds_map_free(&m);
        binds += rc == 0;
        if (json) {
            json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:s?}", "template", ds_template_id(t),
                                  "import_type", ds_template_import_type(t), "binds", rc == 0,
                                  "fields_found", (json_int_t)found, "fields",
                                  (json_int_t)ds_template_nfields(t), "missing",
                                  rc != 0 && err.field[0] != '\0' ? err.field : NULL);

            json_dumpf(o, stdout, JSON_COMPACT);
            printf("\n");
            json_decref(o);
        }
        else if (rc == 0) {
            printf("%-32s %-13s %-6s %zu of %zu\n", ds_template_id(t), ds_template_import_type(t),
                   "yes", found, ds_template_nfields(t));
        }
        else {
            printf("%-32s %-13s %-6s %s\n", ds_template_id(t), ds_template_import_type(t), "no",
                   err.field[0] != '\0' ? err.field : err.msg);
        }
    }
    ds_read_close(&r);
    if (!json && binds == 0) {
        printf("\nno template reads this file: set one up (docs/templates.md)\n");
    }
    return binds > 0 ? DS_EXIT_OK : DS_EXIT_RUNTIME;
}

/* A template id from a file name: its last component without ".json",
 * characters outside A-Z a-z 0-9 . _ - as '-'; into id. 0, or -1 when
 * nothing is left. */
static int id_of(const char *path, const char *prefix, char *id, size_t size)
{
    const char *base = strrchr(path, '/');
    size_t len;
    size_t o;

    base = base != NULL ? base + 1 : path;
    len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0) {
        len -= 5;
    }
    else if (prefix[0] != '\0' && strrchr(base, '.') != NULL && strrchr(base, '.') != base) {
        len = (size_t)(strrchr(base, '.') - base);
    }
    o = (size_t)snprintf(id, size, "%s", prefix);
    for (size_t i = 0; i < len && o + 1 < size && o < 64; i++) {
        char c = base[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';

        id[o++] = ok ? c : '-';
    }
    id[o] = '\0';
    return o > strlen(prefix) ? 0 : -1;
}

#define SCREEN_VALUES 12    /* distinct values shown per column */
#define SCREEN_VALUE_MAX 64 /* bytes of one, cut at a character */

/* The values of the file's first rows, per column: up to SCREEN_VALUES
 * distinct ones each, for the person who maps the columns on the status
 * page. new: json_decref; NULL when the file cannot be read. */
static json_t *screen_values(const char *path, struct ds_error *err)
{
    struct ds_reader *r = NULL;
    const struct ds_row *h;
    json_t *cols = NULL;
    struct ds_row row;

    if (ds_read_open(path, NULL, &r, err) != 0) {
        return NULL;
    }
    h = ds_read_header(r);
    cols = json_array();
    for (size_t j = 0; h != NULL && j < h->nfields; j++) {
        json_array_append_new(cols, json_array());
    }
    for (long k = 0; h != NULL && k < DS_DRAFT_ROWS; k++) {
        if (ds_read_next_row(r, &row, err) <= 0) {
            break;
        }
        for (size_t j = 0; j < h->nfields && j < row.nfields; j++) {
            json_t *vals = json_array_get(cols, j);
            size_t len = row.lens[j] < SCREEN_VALUE_MAX ? row.lens[j] : SCREEN_VALUE_MAX;
            json_t *v;
            size_t i;
            int seen = 0;

            while (len > 0 && len < row.lens[j] &&
                   ((unsigned char)row.fields[j][len] & 0xC0) == 0x80) {
                len--; /* not inside a character */
            }
            if (len == 0 || json_array_size(vals) >= SCREEN_VALUES) {
                continue;
            }
            json_array_foreach(vals, i, v)
            {
                seen |= json_string_length(v) == len &&
                        memcmp(json_string_value(v), row.fields[j], len) == 0;
            }
            if (!seen) {
                json_array_append_new(vals, json_stringn(row.fields[j], len));
            }
        }
    }
    ds_read_close(&r);
    return cols;
}

/* `templates --json new FILE`: what the status page's mapping screen
 * starts from: the draft (or null with why), each column's guess in every
 * import type with its score, and the first rows' distinct values per
 * column. This prints values from the file, as preview does: for the
 * authorised local user, never a log. */
static int print_screen(const char *path, json_t *t, const char *why)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    json_t *doc;
    json_t *cols = NULL;
    json_t *vals;
    char msg[600];
    size_t i;
    json_t *c;

    ds_error_clear(&err);
    if (ds_read_open(path, NULL, &r, &err) == 0 && ds_read_header(r) != NULL) {
        cols = ds_draft_columns(ds_read_header(r));
    }
    ds_read_close(&r);
    vals = cols != NULL ? screen_values(path, &err) : NULL;
    if (cols == NULL || vals == NULL) {
        json_decref(cols);
        json_decref(vals);
        fprintf(stderr, "dentsync templates: %s\n", ds_error_format(&err, msg, sizeof(msg)));
        return DS_EXIT_RUNTIME;
    }
    json_array_foreach(cols, i, c)
    {
        json_object_set(c, "values", json_array_get(vals, i));
    }
    doc = json_pack("{s:O?, s:s?, s:o}", "draft", t, "draft_error", why, "columns", cols);
    json_dumpf(doc, stdout, JSON_COMPACT);
    printf("\n");
    json_decref(doc);
    json_decref(vals);
    return DS_EXIT_OK;
}

static int cmd_new(struct ds_template **list, size_t n, const char *path, const char *type,
                   const char *output, int json)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    json_t *t = NULL;
    char id[80];
    char msg[600];
    int rc;

    if (output != NULL) {
        const char *base = strrchr(output, '/') != NULL ? strrchr(output, '/') + 1 : output;
        size_t len = strlen(base);

        /* The file name is the id: the loader wants <id>.json. */
        if (len <= 5 || strcmp(base + len - 5, ".json") != 0 ||
            id_of(base, "", id, sizeof(id)) != 0 || strlen(id) != len - 5 ||
            strncmp(id, base, len - 5) != 0) {
            fprintf(stderr, "dentsync templates: -o wants ID.json, the template id of 1-64 of A-Z "
                            "a-z 0-9 . _ -\n");
            return DS_EXIT_USAGE;
        }
    }
    else if (id_of(path, "draft-", id, sizeof(id)) != 0) {
        snprintf(id, sizeof(id), "draft");
    }
    ds_error_clear(&err);
    if (ds_read_open(path, NULL, &r, &err) != 0) {
        fprintf(stderr, "dentsync templates: %s\n", ds_error_format(&err, msg, sizeof(msg)));
        return DS_EXIT_RUNTIME;
    }
    rc = ds_template_draft(r, list, n, type, id, &t, &err);
    ds_read_close(&r);
    if (json && output == NULL && (rc == 0 || rc == DS_EINVAL)) {
        /* Nothing guessed is still a screen to map by hand. */
        rc = print_screen(path, t, rc != 0 ? err.msg : NULL);
        json_decref(t);
        return rc;
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync templates: %s\n", ds_error_format(&err, msg, sizeof(msg)));
        return rc == DS_EINVAL ? DS_EXIT_USAGE : DS_EXIT_RUNTIME;
    }
    if (output == NULL) {
        json_dumpf(t, stdout, JSON_INDENT(2));
        printf("\n");
    }
    else {
        char dir[PATH_MAX];
        const char *slash = strrchr(output, '/');
        int why = 0;
        int dfd;

        snprintf(dir, sizeof(dir), "%.*s", slash != NULL ? (int)(slash - output) + 1 : 1,
                 slash != NULL ? output : ".");
        dfd = ds_os_open_dir(dir, 1, &why);
        if (dfd < 0) {
            fprintf(stderr, "dentsync templates: %s: %s\n", dir, ds_fsafe_why_text(why));
            json_decref(t);
            return DS_EXIT_RUNTIME;
        }
        rc = ds_draft_write_at(dfd, slash != NULL ? slash + 1 : output, t, &err);
        close(dfd);
        if (rc != 0) {
            fprintf(stderr, "dentsync templates: %s\n", ds_error_format(&err, msg, sizeof(msg)));
            json_decref(t);
            return DS_EXIT_RUNTIME;
        }
        fprintf(stderr,
                "dentsync templates: wrote %s (template %s): check it, then "
                "`dentsync preview FILE --template %s`\n",
                output, id, id);
    }
    json_decref(t);
    return DS_EXIT_OK;
}

int ds_cmd_templates(const char *config_path, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"type", required_argument, NULL, 't'},
                                             {"output", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    struct ds_template **list = NULL;
    struct ds_error err;
    const char *type = NULL;
    const char *output = NULL;
    char *dir = NULL;
    char msg[600];
    size_t n = 0;
    int json = 0;
    int opt;
    int rc;

    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "o:", longopts, NULL);
        if (opt == -1) {
            break;
        }
        if (opt == 'j') {
            json = 1;
        }
        else if (opt == 't') {
            type = optarg;
        }
        else if (opt == 'o') {
            output = optarg;
        }
        else {
            usage(stderr);
            return DS_EXIT_USAGE;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1 || (strcmp(argv[0], "list") == 0 && argc != 1) ||
        (strcmp(argv[0], "list") != 0 && argc != 2) ||
        (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "show") != 0 &&
         strcmp(argv[0], "test") != 0 && strcmp(argv[0], "new") != 0) ||
        (output != NULL && strcmp(argv[0], "new") != 0)) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    ds_error_clear(&err);
    dir = template_dir(config_path);
    rc = ds_template_list(dir, &list, &n, &err);
    if (rc != 0) {
        fprintf(stderr, "dentsync templates: %s\n", ds_error_format(&err, msg, sizeof(msg)));
        rc = DS_EXIT_RUNTIME;
    }
    else if (strcmp(argv[0], "list") == 0) {
        rc = cmd_list(list, n, json);
    }
    else if (strcmp(argv[0], "show") == 0) {
        rc = cmd_show(list, n, argv[1], json);
    }
    else if (strcmp(argv[0], "new") == 0) {
        rc = cmd_new(list, n, argv[1], type, output, json);
    }
    else {
        rc = cmd_test(list, n, argv[1], type, json);
    }
    ds_template_list_free(&list, n);
    ds_free(dir);
    return rc;
}
