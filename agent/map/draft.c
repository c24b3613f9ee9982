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

const char *ds_draft_guess(const char *import_type, const char *in, size_t len,
                           enum ds_syn_role *role)
{
    size_t start[16], wlen[16];
    size_t nw;
    const char *f;

    if (role != NULL) {
        *role = DS_SYN_WHOLE;
    }
    f = ds_synonym_field(import_type, in, len, role);
    if (f != NULL) {
        return f;
    }
    nw = split_words(in, len, start, wlen);
    for (size_t i = 0; i + 1 < nw;
         i++) { /* two adjacent words: "Birth Date" in "Client Birth Date" */
        f = ds_synonym_field(import_type, in + start[i], start[i + 1] + wlen[i + 1] - start[i],
                             role);
        if (f != NULL) {
            return f;
        }
    }
    for (size_t i = 0; i < nw; i++) {
        f = ds_synonym_field(import_type, in + start[i], wlen[i], role);
        if (f != NULL) {
            return f;
        }
    }
    if (role != NULL) {
        *role = DS_SYN_WHOLE;
    }
    for (size_t i = nw; i-- > 0;) { /* the last word says most: "Client Ref" */
        f = hint_field(import_type, in + start[i], wlen[i]);
        if (f != NULL) {
            return f;
        }
    }
    return NULL;
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
    size_t done = 0;
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
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        done += (size_t)w;
    }
    e = errno;
    if (done == len && (write(fd, "\n", 1) != 1 || ds_os_fsync(fd) != 0)) {
        e = errno;
        done = 0;
    }
    close(fd);
    free(text);
    if (done != len) {
        ds_fsafe_unlink(dirfd, name);
        return ds_error_set(err, DS_EIO, "%s: %s", name, strerror(e));
    }
    ds_fsafe_sync_dir(dirfd);
    return 0;
}
