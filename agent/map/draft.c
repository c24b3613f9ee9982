/*
 * draft.c — a first template for an export no template reads (draft.h).
 */
#include "agent/map/draft.h"

#include "agent/core/alloc.h"
#include "agent/core/fsafe.h"
#include "agent/os/os_fs.h"
#include "agent/map/canon.h"
#include "agent/map/detect.h"
#include "agent/map/normalize.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const types[] = {"patients", "appointments", "treatments", "financial", NULL};

/* Looser words than the synonyms, offered in a draft only (folded). */
struct hint {
    const char *type;
    const char *word;
    const char *field;
};

static const struct hint hints[] = {
    {"patients", "given", "first_name"},
    {"patients", "christian", "first_name"},
    {"patients", "family", "last_name"},
    {"patients", "born", "date_of_birth"},
    {"patients", "birth", "date_of_birth"},
    {"patients", "ref", "external_id"},
    {"patients", "reference", "external_id"},
    {"patients", "code", "external_id"},
    {"patients", "number", "external_id"},
    {"patients", "no", "external_id"},
    {"patients", "key", "external_id"},
    {"patients", "cell", "phone_mobile"},
    {"patients", "zip", "postal_code"},
    {"patients", "post", "postal_code"},
    {"patients", "mail", "email"},
    {"appointments", "ref", "external_id"},
    {"appointments", "reference", "external_id"},
    {"appointments", "when", "start_at"},
    {"appointments", "begins", "start_at"},
    {"appointments", "mins", "duration_minutes"},
    {"appointments", "minutes", "duration_minutes"},
    {"appointments", "chair", "operatory"},
    {"appointments", "room", "operatory"},
    {"appointments", "doctor", "provider"},
    {"appointments", "clinician", "provider"},
    {"treatments", "procedure", "procedure_code"},
    {"treatments", "fee", "fee_cents"},
    {"treatments", "charge", "fee_cents"},
    {"financial", "paid", "amount_cents"},
    {"financial", "payment", "amount_cents"},
    {"financial", "sum", "amount_cents"},
};

static int canonical(const char *type, const char *field)
{
    const char *const *canon = ds_map_canonical_fields(type);

    for (size_t i = 0; canon != NULL && canon[i] != NULL; i++) {
        if (strcmp(canon[i], field) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The words of a header name: runs of letters and digits, a lower-case
 * letter followed by a capital starting a new word ("ClientRef"). */
static size_t split_words(const char *in, size_t len, size_t start[16], size_t wlen[16])
{
    size_t nw = 0;
    size_t i = 0;

    while (i < len && nw < 16) {
        while (i < len && !isalnum((unsigned char)in[i])) {
            i++;
        }
        if (i >= len) {
            break;
        }
        start[nw] = i;
        i++;
        while (i < len && isalnum((unsigned char)in[i]) &&
               !(islower((unsigned char)in[i - 1]) && isupper((unsigned char)in[i]))) {
            i++;
        }
        wlen[nw] = i - start[nw];
        nw++;
    }
    return nw;
}

static const char *hint_field(const char *type, const char *in, size_t len)
{
    char folded[64];

    if (ds_synonym_fold(in, len, folded, sizeof(folded)) >= sizeof(folded)) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        if (strcmp(hints[i].type, type) == 0 && strcmp(hints[i].word, folded) == 0 &&
            canonical(type, hints[i].field)) {
            return hints[i].field;
        }
    }
    return NULL;
}

const char *ds_draft_guess_scored(const char *import_type, const char *in, size_t len,
                                  enum ds_syn_role *role, int *score)
{
    size_t start[16], wlen[16];
    size_t nw;
    const char *f;
    int dummy;

    if (score == NULL) {
        score = &dummy;
    }
    if (role != NULL) {
        *role = DS_SYN_WHOLE;
    }
    *score = DS_DRAFT_SCORE_WHOLE;
    f = ds_synonym_field(import_type, in, len, role);
    if (f != NULL) {
        return f;
    }
    nw = split_words(in, len, start, wlen);
    *score = DS_DRAFT_SCORE_WORDS;
    for (size_t i = 0; i + 1 < nw;
         i++) { /* two adjacent words: "Birth Date" in "Client Birth Date" */
        f = ds_synonym_field(import_type, in + start[i], start[i + 1] + wlen[i + 1] - start[i],
                             role);
        if (f != NULL) {
            return f;
        }
    }
    *score = DS_DRAFT_SCORE_WORD;
    for (size_t i = 0; i < nw; i++) {
        f = ds_synonym_field(import_type, in + start[i], wlen[i], role);
        if (f != NULL) {
            return f;
        }
    }
    if (role != NULL) {
        *role = DS_SYN_WHOLE;
    }
    *score = DS_DRAFT_SCORE_HINT;
    for (size_t i = nw; i-- > 0;) { /* the last word says most: "Client Ref" */
        f = hint_field(import_type, in + start[i], wlen[i]);
        if (f != NULL) {
            return f;
        }
    }
    *score = 0;
    return NULL;
}

const char *ds_draft_guess(const char *import_type, const char *in, size_t len,
                           enum ds_syn_role *role)
{
    return ds_draft_guess_scored(import_type, in, len, role, NULL);
}

static size_t count_guesses(const char *type, const struct ds_row *h)
{
    size_t n = 0;

    for (size_t j = 0; j < h->nfields; j++) {
        n += ds_draft_guess(type, h->fields[j], h->lens[j], NULL) != NULL;
    }
    return n;
}

static const char *choose_type(struct ds_template *const *list, size_t n, const struct ds_row *h,
                               struct ds_error *err)
{
    struct ds_detection det;
    const char *best = NULL;
    size_t most = 0;

    memset(&det, 0, sizeof(det));
    if (ds_detect_any_type(list, n, h, &det) != 0) {
        ds_error_set(err, DS_ENOMEM, "out of memory");
        return NULL;
    }
    if (det.matched) {
        return ds_template_import_type(det.best[0].t);
    }
    for (size_t i = 0; types[i] != NULL; i++) {
        size_t c = count_guesses(types[i], h);

        if (c > most) {
            most = c;
            best = types[i];
        }
    }
    if (best == NULL) {
        ds_error_set(err, DS_EINVAL,
                     "no column name says a canonical field of any import type: give --type");
    }
    return best;
}

static const struct ds_template_field *generic_field(struct ds_template *const *list, size_t n,
                                                     const char *type, const char *field)
{
    char id[64];

    snprintf(id, sizeof(id), "generic-%s", type);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ds_template_id(list[i]), id) != 0) {
            continue;
        }
        for (size_t k = 0; k < ds_template_nfields(list[i]); k++) {
            if (strcmp(ds_template_field(list[i], k)->name, field) == 0) {
                return ds_template_field(list[i], k);
            }
        }
    }
    return NULL;
}

static json_t *one(const char *s, size_t len)
{
    json_t *a = json_array();

    json_array_append_new(a, json_stringn(s, len));
    return a;
}

int ds_template_draft(struct ds_reader *r, struct ds_template *const *list, size_t n,
                      const char *import_type, const char *id, json_t **out, struct ds_error *err)
{
    const struct ds_row *h = ds_read_header(r);
    const char *type = import_type;
    json_t *root = NULL, *fields, *required, *optional, *dialect;
    long *col = NULL; /* per header column: the field index it takes, or -1 */
    struct ds_date_votes *votes = NULL;
    const char *const *canon;
    char desc[1024];
    size_t dl, nunmapped = 0, nmapped = 0;
    int dmy = 0, mdy = 0;
    int rc = 0;

    *out = NULL;
    if (h == NULL || h->nfields == 0) {
        return ds_error_set(err, DS_EINVAL, "the file has no header row");
    }
    if (type == NULL) {
        type = choose_type(list, n, h, err);
        if (type == NULL) {
            return err != NULL && err->code != 0 ? err->code : DS_EINVAL;
        }
    }
    canon = ds_map_canonical_fields(type);
    if (canon == NULL) {
        return ds_error_set(err, DS_EINVAL,
                            "%s is not an import type (patients, appointments, treatments, "
                            "financial)",
                            type);
    }
    col = ds_calloc(h->nfields + 1, sizeof(*col));
    votes = ds_calloc(h->nfields + 1, sizeof(*votes));
    root = json_object();
    fields = json_object();
    required = json_array();
    optional = json_array();
    if (col == NULL || votes == NULL || root == NULL || fields == NULL || required == NULL ||
        optional == NULL) {
        json_decref(fields);
        json_decref(required);
        json_decref(optional);
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    json_object_set_new(root, "id", json_string(id));
    json_object_set_new(root, "name", json_string(id));
    json_object_set_new(root, "import_type", json_string(type));
    dl = (size_t)snprintf(desc, sizeof(desc),
                          "Drafted from an export's header: check every field. Unmapped columns:");
    for (size_t j = 0; j < h->nfields; j++) {
        enum ds_syn_role role = DS_SYN_WHOLE;
        const char *f = ds_draft_guess(type, h->fields[j], h->lens[j], &role);
        json_t *fo = f != NULL ? json_object_get(fields, f) : NULL;
        const struct ds_template_field *g = f != NULL ? generic_field(list, n, type, f) : NULL;
        const char *tr = f != NULL ? ds_synonym_transform(type, f) : NULL;

        col[j] = -1;
        if (f != NULL && fo == NULL) {
            fo = json_object();
            if (role == DS_SYN_TIME) {
                role = DS_SYN_WHOLE; /* a time column alone holds the instant */
            }
            json_object_set_new(fo, role == DS_SYN_DATE ? "date" : "columns",
                                one(h->fields[j], h->lens[j]));
            if (role == DS_SYN_WHOLE) {
                json_object_set_new(fo, "transform", json_string(g != NULL ? g->transform : tr));
            }
            if (g != NULL && g->required) {
                json_object_set_new(fo, "required", json_true());
            }
            json_object_set_new(fields, f, fo);
            col[j] = 1;
        }
        else if (f != NULL && role == DS_SYN_TIME && json_object_get(fo, "date") != NULL &&
                 json_object_get(fo, "time") == NULL) {
            json_object_set_new(fo, "time", one(h->fields[j], h->lens[j]));
            col[j] = 1;
        }
        if (col[j] >= 0) {
            nmapped++;
            json_array_append_new(required, json_stringn(h->fields[j], h->lens[j]));
            if (tr != NULL && (strcmp(tr, "date") == 0 || strcmp(tr, "datetime") == 0) &&
                role != DS_SYN_TIME) {
                col[j] = 2; /* votes on the date order */
            }
        }
        else {
            json_array_append_new(optional, json_stringn(h->fields[j], h->lens[j]));
            if (dl < sizeof(desc)) {
                dl += (size_t)snprintf(desc + dl, sizeof(desc) - dl, "%s %.*s",
                                       nunmapped > 0 ? "," : "", (int)h->lens[j], h->fields[j]);
            }
            nunmapped++;
        }
    }
    /* A start_at given as a date column without a time column is one column. */
    {
        json_t *sa = json_object_get(fields, "start_at");

        if (sa != NULL && json_object_get(sa, "date") != NULL &&
            json_object_get(sa, "time") == NULL) {
            json_object_set(sa, "columns", json_object_get(sa, "date"));
            json_object_del(sa, "date");
            json_object_set_new(sa, "transform", json_string("datetime"));
        }
    }
    if (nunmapped == 0 && dl < sizeof(desc)) {
        snprintf(desc + dl, sizeof(desc) - dl, " none.");
    }
    json_object_set_new(root, "description", json_string(desc));
    json_object_set_new(root, "recognition",
                        json_pack("{s:o, s:o}", "required", required, "optional", optional));
    json_object_set_new(root, "fields", fields);
    if (nmapped == 0) {
        rc = ds_error_set(err, DS_EINVAL, "no column name says a canonical field of %s", type);
        goto out;
    }
    /* The date order: the d/d/y values of the date columns vote. */
    for (long k = 0; k < DS_DRAFT_ROWS; k++) {
        struct ds_row row;
        int got = ds_read_next_row(r, &row, err);

        if (got < 0) {
            rc = got;
            goto out;
        }
        if (got == 0) {
            break;
        }
        for (size_t j = 0; j < h->nfields && j < row.nfields; j++) {
            if (col[j] == 2) {
                ds_norm_date_vote(&votes[j], row.fields[j], row.lens[j]);
            }
        }
    }
    for (size_t j = 0; j < h->nfields; j++) {
        dmy |= votes[j].dmy_only > 0 && votes[j].mdy_only == 0;
        mdy |= votes[j].mdy_only > 0 && votes[j].dmy_only == 0;
    }
    if (dmy != mdy) {
        dialect = json_object();
        json_object_set_new(dialect, "date_order", json_string(dmy ? "DMY" : "MDY"));
        json_object_set_new(root, "dialect", dialect);
    }
out:
    ds_free(col);
    ds_free(votes);
    if (rc != 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

int ds_draft_write_at(int dirfd, const char *name, const json_t *t, struct ds_error *err)
{
    char *text = json_dumps(t, JSON_INDENT(2));
    size_t len = text != NULL ? strlen(text) : 0;
    int ok;
    int fd;
    int e;

    if (text == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    fd = ds_fsafe_create_new(dirfd, name);
    if (fd < 0) {
        e = errno;
        free(text);
        return ds_error_set(err, e == EEXIST ? DS_EEXIST : DS_EIO, "%s: %s", name,
                            e == EEXIST ? "exists already (choose another name)" : strerror(e));
    }
    ok = ds_fsafe_write_all(fd, text, len) == 0 && ds_fsafe_write_all(fd, "\n", 1) == 0 &&
         ds_os_fsync(fd) == 0;
    e = errno;
    close(fd);
    free(text);
    if (!ok) {
        ds_fsafe_unlink(dirfd, name);
        return ds_error_set(err, DS_EIO, "%s: %s", name, strerror(e));
    }
    ds_fsafe_sync_dir(dirfd);
    return 0;
}

/* ---- the status page's mapping screen ------------------------------------- */

int ds_draft_id_valid(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;

    if (n == 0 || n > DS_DRAFT_ID_MAX || id[0] == '-') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

const char *const *ds_draft_types(void)
{
    return types;
}

const char *const *ds_draft_statuses(const char *import_type)
{
    static const char *const patients[] = {"active",   "inactive", "archived",
                                           "deceased", "prospect", NULL};
    static const char *const appointments[] = {"scheduled", "confirmed", "completed",
                                               "cancelled", "no_show",   "unscheduled",
                                               "planned",   "tentative", NULL};
    static const char *const treatments[] = {"planned",  "completed", "existing", "referred",
                                             "declined", "cancelled", NULL};

    if (import_type == NULL) {
        return NULL;
    }
    if (strcmp(import_type, "patients") == 0) {
        return patients;
    }
    if (strcmp(import_type, "appointments") == 0) {
        return appointments;
    }
    if (strcmp(import_type, "treatments") == 0) {
        return treatments;
    }
    return NULL;
}

json_t *ds_draft_columns(const struct ds_row *h)
{
    json_t *cols = json_array();

    if (cols == NULL) {
        return NULL;
    }
    for (size_t j = 0; j < h->nfields; j++) {
        json_t *guesses = json_object();
        json_t *c =
            json_pack("{s:s%, s:o}", "column", h->fields[j], h->lens[j], "guesses", guesses);

        if (c == NULL || json_array_append_new(cols, c) != 0) {
            json_decref(cols);
            return NULL;
        }
        for (size_t k = 0; types[k] != NULL; k++) {
            enum ds_syn_role role = DS_SYN_WHOLE;
            int score = 0;
            const char *f =
                ds_draft_guess_scored(types[k], h->fields[j], h->lens[j], &role, &score);
            char value[80];
            int taken = 0;

            /* As in a draft, a field takes the first column that names it. */
            for (size_t i = 0; f != NULL && i < j && !taken; i++) {
                enum ds_syn_role r2 = DS_SYN_WHOLE;
                const char *g = ds_draft_guess(types[k], h->fields[i], h->lens[i], &r2);

                taken = g != NULL && strcmp(g, f) == 0 && r2 == role;
            }
            if (f == NULL || taken) {
                json_object_set_new(guesses, types[k], json_null());
                continue;
            }
            snprintf(value, sizeof(value), "%s%s", f,
                     role == DS_SYN_DATE   ? "/date"
                     : role == DS_SYN_TIME ? "/time"
                                           : "");
            json_object_set_new(guesses, types[k],
                                json_pack("{s:s, s:i}", "field", value, "score", score));
        }
    }
    return cols;
}

/* 1 if every key of o is in allowed (NULL-terminated). */
static int only_keys(json_t *o, const char *const *allowed, const char **bad)
{
    const char *key;
    json_t *v;

    json_object_foreach(o, key, v)
    {
        size_t i = 0;

        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0) {
            i++;
        }
        if (allowed[i] == NULL) {
            *bad = key;
            return 0;
        }
    }
    return 1;
}

/* A string member of o of 1 to max bytes, absent (NULL), or *bad. */
static const char *opt_string(json_t *o, const char *key, size_t max, int *bad)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* The field name f (its canonical part before '/'), checked against the
 * type's fields; part is what follows: "", "date" or "time". */
static int field_of(const char *type, const char *value, char *f, size_t size, const char **part)
{
    const char *slash = strchr(value, '/');
    size_t n = slash != NULL ? (size_t)(slash - value) : strlen(value);

    if (n == 0 || n >= size) {
        return 0;
    }
    memcpy(f, value, n);
    f[n] = '\0';
    *part = slash != NULL ? slash + 1 : "";
    if (**part != '\0' && (strcmp(f, "start_at") != 0 ||
                           (strcmp(*part, "date") != 0 && strcmp(*part, "time") != 0))) {
        return 0;
    }
    return canonical(type, f);
}

int ds_draft_from_choice(const char *body, size_t len, struct ds_template *const *list, size_t n,
                         const char *default_id, json_t **out, int *overwrite, struct ds_error *err)
{
    static const char *const keys[] = {"import_type", "id",         "name",
                                       "columns",     "date_order", "time_zone",
                                       "status_map",  "overwrite",  NULL};
    json_t *doc = NULL, *root = NULL, *fields = NULL, *required = NULL, *optional = NULL;
    json_t *cols, *c, *v;
    struct ds_template *check = NULL;
    const char *type, *id, *name, *order, *zone, *bad = NULL;
    char *text = NULL;
    json_error_t jerr;
    int invalid = 0;
    int rc = 0;
    size_t i;

    *out = NULL;
    if (overwrite != NULL) {
        *overwrite = 0;
    }
    if (len > DS_DRAFT_CHOICE_MAX) {
        return ds_error_set(err, DS_ETOOBIG, "the mapping is larger than %d bytes",
                            DS_DRAFT_CHOICE_MAX);
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        rc = ds_error_set(err, DS_EPARSE, "the mapping is not a JSON object");
        goto out;
    }
    if (!only_keys(doc, keys, &bad)) {
        rc = ds_error_set(err, DS_EINVAL, "unknown key %.64s", bad);
        goto out;
    }
    type = opt_string(doc, "import_type", 32, &invalid);
    if (type == NULL || ds_map_canonical_fields(type) == NULL) {
        rc = ds_error_set(err, DS_EINVAL,
                          "import_type: patients, appointments, treatments or financial");
        goto out;
    }
    id = opt_string(doc, "id", DS_DRAFT_ID_MAX, &invalid);
    if (invalid || (id == NULL && default_id == NULL) || (id != NULL && !ds_draft_id_valid(id))) {
        rc = ds_error_set(err, DS_EINVAL, "id: 1 to %d of a-z, 0-9 and -, not starting with -",
                          DS_DRAFT_ID_MAX);
        goto out;
    }
    id = id != NULL ? id : default_id;
    name = opt_string(doc, "name", 200, &invalid);
    order = opt_string(doc, "date_order", 8, &invalid);
    zone = opt_string(doc, "time_zone", 64, &invalid);
    if (invalid) {
        rc = ds_error_set(err, DS_EINVAL, "name, date_order and time_zone are short strings");
        goto out;
    }
    if (order != NULL && strcmp(order, "auto") != 0 && strcmp(order, "MDY") != 0 &&
        strcmp(order, "DMY") != 0 && strcmp(order, "YMD") != 0) {
        rc = ds_error_set(err, DS_EINVAL, "date_order: auto, MDY, DMY or YMD");
        goto out;
    }
    v = json_object_get(doc, "overwrite");
    if (v != NULL && !json_is_boolean(v)) {
        rc = ds_error_set(err, DS_EINVAL, "overwrite: true or false");
        goto out;
    }
    if (overwrite != NULL) {
        *overwrite = json_is_true(v);
    }
    cols = json_object_get(doc, "columns");
    if (!json_is_array(cols) || json_array_size(cols) == 0 ||
        json_array_size(cols) > DS_DRAFT_COLUMNS_MAX) {
        rc = ds_error_set(err, DS_EINVAL, "columns: a list of 1 to %d columns",
                          DS_DRAFT_COLUMNS_MAX);
        goto out;
    }
    root = json_object();
    fields = json_object();
    required = json_array();
    optional = json_array();
    if (root == NULL || fields == NULL || required == NULL || optional == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(cols, i, c)
    {
        static const char *const ckeys[] = {"column", "field", NULL};
        const char *col, *choice, *part = "";
        char f[64];
        json_t *fo;

        if (!json_is_object(c) || !only_keys(c, ckeys, &bad)) {
            rc = ds_error_set(err, DS_EINVAL, "columns[%zu]: {\"column\", \"field\"}", i);
            goto out;
        }
        col = opt_string(c, "column", 256, &invalid);
        choice = opt_string(c, "field", 63, &invalid);
        if (invalid || col == NULL) {
            rc = ds_error_set(err, DS_EINVAL, "columns[%zu]: a column name of 1 to 256 bytes", i);
            goto out;
        }
        if (choice == NULL || strcmp(choice, "ignore") == 0) {
            json_array_append_new(optional, json_string(col));
            continue;
        }
        if (!field_of(type, choice, f, sizeof(f), &part)) {
            rc = ds_error_set(err, DS_EINVAL, "columns[%zu]: %.64s is not a field of %s", i, choice,
                              type);
            goto out;
        }
        fo = json_object_get(fields, f);
        if (fo != NULL && (part[0] == '\0' || json_object_get(fo, part) != NULL ||
                           json_object_get(fo, "columns") != NULL)) {
            rc = ds_error_set(err, DS_EINVAL, "%s is chosen for two columns: choose one", f);
            goto out;
        }
        if (fo == NULL) {
            const struct ds_template_field *g = generic_field(list, n, type, f);
            const char *tr = g != NULL ? g->transform : ds_synonym_transform(type, f);

            fo = json_object();
            json_object_set_new(fields, f, fo);
            if (part[0] == '\0') {
                json_object_set_new(fo, "transform", json_string(tr != NULL ? tr : "text"));
            }
            if (g != NULL && g->required) {
                json_object_set_new(fo, "required", json_true());
            }
        }
        json_object_set_new(fo, part[0] != '\0' ? part : "columns", json_pack("[s]", col));
        json_array_append_new(required, json_string(col));
    }
    if (json_array_size(required) == 0) {
        rc = ds_error_set(err, DS_EINVAL, "choose a field for at least one column");
        goto out;
    }
    /* start_at from a date column alone is one column read as a date and
     * time; a time column alone says no day. */
    v = json_object_get(fields, "start_at");
    if (v != NULL && json_object_get(v, "date") != NULL && json_object_get(v, "time") == NULL) {
        json_object_set(v, "columns", json_object_get(v, "date"));
        json_object_del(v, "date");
        json_object_set_new(v, "transform", json_string("datetime"));
    }
    if (v != NULL && json_object_get(v, "time") != NULL && json_object_get(v, "date") == NULL) {
        rc = ds_error_set(err, DS_EINVAL, "start_at: a time column needs a date column");
        goto out;
    }
    v = json_object_get(doc, "status_map");
    if (v != NULL && !json_is_null(v)) {
        json_t *map = json_object();
        json_t *to;
        const char *from;

        if (!json_is_object(v) || json_object_size(v) > DS_DRAFT_MAP_MAX) {
            json_decref(map);
            rc = ds_error_set(err, DS_EINVAL, "status_map: an object of at most %d codes",
                              DS_DRAFT_MAP_MAX);
            goto out;
        }
        json_object_foreach(v, from, to)
        {
            if (!json_is_string(to) || json_string_length(to) > 32 || strlen(from) > 64) {
                json_decref(map);
                rc = ds_error_set(err, DS_EINVAL, "status_map: each code names a status");
                goto out;
            }
            if (json_string_length(to) > 0 && from[0] != '\0') {
                json_object_set(map, from, to);
            }
        }
        if (json_object_size(map) > 0 && json_object_get(fields, "status") != NULL) {
            json_object_set_new(json_object_get(fields, "status"), "map", map);
        }
        else {
            json_decref(map);
        }
    }
    json_object_set_new(root, "id", json_string(id));
    json_object_set_new(root, "name", json_string(name != NULL ? name : id));
    json_object_set_new(root, "description", json_string("Mapped on the status page."));
    json_object_set_new(root, "import_type", json_string(type));
    json_object_set_new(root, "recognition",
                        json_pack("{s:O, s:O}", "required", required, "optional", optional));
    json_object_set(root, "fields", fields);
    if (order != NULL && strcmp(order, "auto") != 0) {
        json_object_set_new(root, "dialect", json_pack("{s:s}", "date_order", order));
    }
    if (zone != NULL) {
        json_object_set_new(root, "time_zone", json_string(zone));
    }
    /* What the loader refuses is refused here, with its message. */
    text = json_dumps(root, JSON_COMPACT);
    if (text == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    rc = ds_template_parse(text, strlen(text), "mapping", &check, err);
out:
    free(text);
    ds_template_free(&check);
    json_decref(fields);
    json_decref(required);
    json_decref(optional);
    json_decref(doc);
    if (rc != 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

int ds_draft_save_at(int dirfd, const char *id, const json_t *t, int replace, struct ds_error *err)
{
    char name[DS_DRAFT_ID_MAX + 8];
    char tmp[DS_DRAFT_ID_MAX + 16];
    char *text = NULL;
    size_t len;
    int fd = -1;
    int rc = 0;
    int e;

    if (!ds_draft_id_valid(id)) {
        return ds_error_set(err, DS_EINVAL, "not a template id");
    }
    snprintf(name, sizeof(name), "%s.json", id);
    snprintf(tmp, sizeof(tmp), ".%s.json.tmp", id);
    if (!replace && ds_os_exists(dirfd, name)) {
        return ds_error_set(err, DS_EEXIST, "%s exists already", name);
    }
    text = json_dumps(t, JSON_INDENT(2));
    if (text == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    len = strlen(text);
    /* Our own hidden name: what a crash left of an earlier save goes. */
    ds_os_unlink_at(dirfd, tmp);
    fd = ds_fsafe_create_new(dirfd, tmp);
    if (fd < 0) {
        rc = ds_error_set(err, DS_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    if (ds_fsafe_write_all(fd, text, len) != 0 || ds_fsafe_write_all(fd, "\n", 1) != 0 ||
        ds_os_fsync(fd) != 0) {
        rc = ds_error_set(err, DS_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    e = ds_fsafe_rename(dirfd, tmp, dirfd, name);
    if (e != 0) {
        rc = ds_error_set(err, DS_EIO, "%s: %s", name, strerror(e));
        goto out;
    }
    ds_fsafe_sync_dir(dirfd);
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0) {
        ds_os_unlink_at(dirfd, tmp);
    }
    free(text);
    return rc;
}
