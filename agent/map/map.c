/*
 * map.c — from an export row to a canonical patient record, its key and its
 * fingerprint (map.h has the contract): the mapper object and the row loop.
 *
 * ds_map_new binds the template to the header once (map_bind.c); ds_map_row
 * then only indexes into the row.
 *
 * A row is processed completely even after a field fails, so the first
 * problem (in canonical field order) is reported and the key can still be
 * computed when the fields it depends on are sound (map_identity.c has the
 * key rules). Row rules (skip, route) are tested before any field; each
 * field then goes through its pipeline (map_field.c): the column's text,
 * value map, default, transform, multiplier and validation rules.
 *
 * The record is a JSON object of the present fields only, serialized
 * compact with sorted keys; its sha256 is the fingerprint. Messages name a
 * field and a fixed problem, never a value.
 *
 * Speed: a row builds no JSON tree. The values are kept in one scratch
 * buffer (vals); the record and the raw row are written straight into
 * another (json) by map_json.c, byte for byte as jansson's dump wrote them,
 * with the field order and every escaped name computed once per file; one
 * SHA-256 context serves every key and fingerprint.
 */
#include "agent/map/map_int.h"

#include "agent/core/alloc.h"
#include "agent/map/canon.h"
#include "agent/map/normalize.h"
#include "proto/rules.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ds_map_set_options(struct ds_mapper *m, const struct ds_norm_opts *o)
{
    if (o != NULL) {
        m->opts = *o;
    }
    if (m->dialect_order != NULL) {
        m->opts.date_order = strcmp(m->dialect_order, "DMY") == 0   ? DS_DATE_DMY
                             : strcmp(m->dialect_order, "YMD") == 0 ? DS_DATE_YMD
                                                                    : DS_DATE_MDY;
    }
    if (m->dialect_comma) {
        m->opts.decimal_comma = 1;
    }
    m->auto_order = m->opts.date_order == DS_DATE_AUTO;
}

int ds_map_set_location(struct ds_mapper *m, const char *fixed, struct ds_error *err)
{
    static const char *const none[] = {NULL};
    long fi = -1;
    int rule;

    if (fixed == NULL || fixed[0] == '\0' || m->rtype == NULL) {
        return 0;
    }
    rule = ds_rules_field_index(m->rtype, "location");
    if (rule < 0) {
        return 0;
    }
    if (strlen(fixed) > m->rtype->fields[rule].max) {
        return ds_error_set(err, DS_EINVAL, "location: longer than %zu bytes",
                            m->rtype->fields[rule].max);
    }
    ds_free(m->location);
    m->location = ds_strdup(fixed);
    if (m->location == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->nfields; i++) {
        if (strcmp(m->fields[i].name, "location") == 0) {
            fi = (long)i;
        }
    }
    if (fi < 0) {
        /* m->fields has room for every canonical field (ds_map_new). */
        struct ds_template_field tf;
        int rc;

        memset(&tf, 0, sizeof(tf));
        tf.name = "location";
        tf.columns = none;
        tf.transform = "text";
        fi = (long)m->nfields++;
        rc = ds__map_bind_field(m, (size_t)fi, &tf, NULL, err);
        if (rc == 0) {
            m->fields[fi].rule = rule;
            rc = ds__map_record_order(m, err);
        }
        if (rc != 0) {
            return rc;
        }
    }
    m->fields[fi].defval = m->location;
    return 0;
}

void ds_map_location_text(const char *column, const char *fixed, char *buf, size_t size)
{
    int has_col = column != NULL && column[0] != '\0';
    int has_fixed = fixed != NULL && fixed[0] != '\0';

    if (size == 0) {
        return;
    }
    if (has_col && has_fixed) {
        snprintf(buf, size, "from column %s, else %s", column, fixed);
    }
    else if (has_col) {
        snprintf(buf, size, "from column %s", column);
    }
    else {
        snprintf(buf, size, "%s", has_fixed ? fixed : "");
    }
}

void ds_map_set_outputs(struct ds_mapper *m, int outputs)
{
    m->no_raw = (outputs & DS_MAP_RAW) == 0;
    m->no_record = (outputs & DS_MAP_RECORD) == 0;
    m->raw_values = !m->no_raw && m->raw_fast && (outputs & DS_MAP_RAW_VALUES) != 0;
    m->record_values = !m->no_record && (outputs & DS_MAP_RECORD_VALUES) != 0;
}

void ds_map_set_key_hook(struct ds_mapper *m, ds_map_key_fn fn, void *ctx)
{
    m->key_hook = fn;
    m->key_ctx = ctx;
}

long ds_map_field_column(const struct ds_mapper *m, size_t i)
{
    return i < m->nfields ? m->fields[i].col : -1;
}

int ds_map_new(const struct ds_template *t, const struct ds_row *header, struct ds_mapper **out,
               struct ds_error *err)
{
    struct ds_mapper *m = NULL;
    char **hkeys = NULL;
    size_t nh = header->nfields;
    size_t cap = 0;
    int rc = 0;

    *out = NULL;
    if (ds_map_canonical_fields(ds_template_import_type(t)) == NULL) {
        rc = ds_error_set(err, DS_EINVAL, "import type not supported by the mapper");
        goto out;
    }
    m = ds_calloc(1, sizeof(*m));
    hkeys = ds_calloc(nh + 1, sizeof(*hkeys));
    if (m == NULL || hkeys == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    ds_buf_init(&m->value, MAP_VALUE_MAX);
    ds_buf_init(&m->hash, MAP_HASH_INPUT_MAX);
    ds_buf_init(&m->part, MAP_VALUE_MAX);
    ds_buf_init(&m->json, MAP_JSON_MAX);
    ds_buf_init(&m->jvals, MAP_JSON_MAX);
    m->import_type = ds_map_canonical_fields(ds_template_import_type(t)) != NULL
                         ? ds_template_import_type(t)
                         : "";
    m->patients = strcmp(m->import_type, "patients") == 0;
    ds_map_set_options(m, NULL);
    m->opts.date_order = DS_DATE_AUTO;
    m->nheader = nh;
    m->header = ds_calloc(nh + 1, sizeof(*m->header));
    m->nfields = m->ntemplate = ds_template_nfields(t);
    /* Room for every canonical field: the synonyms add the ones the
     * template lacks (map_synonym.c). */
    for (const char *const *c = ds_map_canonical_fields(m->import_type); *c != NULL; c++) {
        cap++;
    }
    cap += m->nfields;
    m->fields = ds_calloc(cap + 1, sizeof(*m->fields));
    m->state = ds_calloc(cap + 1, sizeof(*m->state));
    m->order = ds_calloc(cap + 1, sizeof(*m->order));
    m->voff = ds_calloc(cap + 1, sizeof(*m->voff));
    m->vlen = ds_calloc(cap + 1, sizeof(*m->vlen));
    ds_buf_init(&m->vals, (cap + 1) * (MAP_VALUE_MAX + 32));
    if (m->header == NULL || m->fields == NULL || m->state == NULL || m->order == NULL ||
        m->voff == NULL || m->vlen == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    rc = ds__map_bind_header(m, header, hkeys);
    if (rc == 0) {
        rc = ds__map_raw_names(m);
    }
    if (rc != 0) {
        rc = ds_error_set(err, rc, "out of memory");
        goto out;
    }
    ds__map_identity_init(m);
    for (size_t i = 0; i < m->nfields; i++) {
        rc = ds__map_bind_field(m, i, ds_template_field(t, i), hkeys, err);
        if (rc != 0) {
            goto out;
        }
    }
    rc = ds__map_bind_rules(m, t, hkeys, err);
    if (rc == 0) {
        rc = ds__map_bind_synonyms(m, hkeys, err);
    }
    for (size_t i = 0; i < m->nfields && rc == 0; i++) {
        rc = ds__map_check_field(m, i, err);
    }
    if (rc != 0) {
        goto out;
    }
    m->rtype = ds_rules_type(m->import_type);
    for (size_t i = 0; i < m->nfields; i++) {
        struct map_field *f = &m->fields[i];

        f->rule = m->rtype != NULL ? ds_rules_field_index(m->rtype, f->name) : -1;
        if (f->rule >= 0 && !f->combined && f->split == 0) {
            enum ds_rules_kind kind = m->rtype->fields[f->rule].kind;

            /* The rule book tests a text field's length only, which the
             * mapper tests itself. What "date" and "email" accept and
             * write passes its date and e-mail tests (test_normalize holds
             * them to it); a value made any other way is tested in full. */
            f->rule_sure = kind == DS_RULES_TEXT ||
                           (kind == DS_RULES_DATE && f->fn == ds_norm_lookup_opt("date")) ||
                           (kind == DS_RULES_EMAIL && f->fn == ds_norm_lookup_opt("email"));
        }
    }
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->fields[i].dated && m->fields[i].col >= 0) {
            if (m->nvoters < MAP_VOTERS) {
                m->voters[m->nvoters] = i;
            }
            m->nvoters++;
        }
    }
    rc = ds__map_record_order(m, err);
    if (rc == 0 && ds__map_raw_keep(m) != 0) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    if (rc != 0) {
        goto out;
    }
    {
        const struct ds_template_dialect *d = ds_template_dialect(t);

        m->dialect_order = d->date_order;
        m->dialect_comma = d->decimal_comma;
        ds_map_set_options(m, NULL);
    }
    *out = m;
    m = NULL;
out:
    if (hkeys != NULL) {
        for (size_t j = 0; j < nh; j++) {
            ds_free(hkeys[j]);
        }
        ds_free(hkeys);
    }
    ds_map_free(&m);
    return rc;
}

int ds__map_sha(struct ds_mapper *m)
{
    if (m->sha == NULL) {
        m->sha = ds_sha256_new();
    }
    return m->sha != NULL ? 0 : DS_ENOMEM;
}

void ds_map_free(struct ds_mapper **m)
{
    if (m == NULL || *m == NULL) {
        return;
    }
    if ((*m)->fields != NULL) {
        for (size_t i = 0; i < (*m)->nfields; i++) {
            ds_free((*m)->fields[i].name);
            ds__map_free_list(&(*m)->fields[i].map_keys);
            ds_regex_free(&(*m)->fields[i].re);
            ds_regex_free(&(*m)->fields[i].xre);
            json_decref((*m)->fields[i].seen);
            ds_free((*m)->fields[i].cols);
            ds_free((*m)->fields[i].jkey);
        }
    }
    if ((*m)->rules != NULL) {
        for (size_t i = 0; i < (*m)->nrules; i++) {
            ds__map_free_list(&(*m)->rules[i].values);
        }
    }
    ds_free((*m)->rules);
    ds_free((*m)->ambig);
    ds_free((*m)->location);
    ds_buf_close(&(*m)->part);
    if ((*m)->header != NULL) {
        for (size_t j = 0; j < (*m)->nheader; j++) {
            ds_free((*m)->header[j]);
        }
    }
    if ((*m)->rawkey != NULL) {
        for (size_t j = 0; j < (*m)->nheader; j++) {
            ds_free((*m)->rawkey[j]);
        }
    }
    ds_free((*m)->rawkey);
    ds_free((*m)->rawkeylen);
    ds_free((*m)->rawkeep);
    ds_free((*m)->fields);
    ds_free((*m)->state);
    ds_free((*m)->order);
    ds_free((*m)->voff);
    ds_free((*m)->vlen);
    ds_buf_close(&(*m)->vals);
    ds_buf_close(&(*m)->json);
    ds_buf_close(&(*m)->jvals);
    ds_sha256_free(&(*m)->sha);
    ds_free((*m)->header);
    ds_buf_close(&(*m)->value);
    ds_buf_close(&(*m)->hash);
    ds_free(*m);
    *m = NULL;
}

/* Clears each member of out, its strings by their first byte: zeroing the
 * whole struct (some 600 bytes, twice a row) showed in preview's profile.
 * The errors: nerrors says. A new member of ds_mapped is cleared here. */
static void mapped_clear(struct ds_mapped *out)
{
    out->valid = 0;
    out->key[0] = '\0';
    out->fingerprint[0] = '\0';
    out->record_json = NULL;
    out->raw_json = NULL;
    out->error[0] = '\0';
    out->error_field[0] = '\0';
    out->skipped = 0;
    out->skip_reason = NULL;
    out->route = NULL;
    out->nerrors = 0;
}

void ds_mapped_close(struct ds_mapped *out)
{
    if (out == NULL) {
        return;
    }
    ds_free(out->record_json);
    ds_free(out->raw_json);
    mapped_clear(out);
}

/* ------------------------------------------------------------------------ */
/* One row                                                                  */

void ds_map_add_error(struct ds_mapped *out, const char *field, const char *problem)
{
    struct ds_map_error *e;

    if (out->nerrors == 0) {
        snprintf(out->error, sizeof(out->error), "%s: %s", field, problem);
        snprintf(out->error_field, sizeof(out->error_field), "%s", field);
    }
    out->valid = 0;
    if (out->nerrors >= DS_MAP_ERRORS_MAX) {
        return;
    }
    e = &out->errors[out->nerrors++];
    snprintf(e->field, sizeof(e->field), "%s", field);
    snprintf(e->message, sizeof(e->message), "%s: %s", field, problem);
    snprintf(e->code, sizeof(e->code), "%s", ds_rules_problem_code(problem));
}

/* Marks the row invalid with "<field>: <problem>", one more of its errors. */
static void set_invalid(struct ds_mapped *out, const char *field, const char *problem)
{
    ds_map_add_error(out, field, problem);
}

/* Keeps field i's normalized value (m->value) for the record and the keys.
 * An integer field keeps its "%lld" form, as jansson wrote json_integer. */
static int keep_value(struct ds_mapper *m, size_t i, long long integer)
{
    size_t start = m->vals.len;
    int rc;

    rc = m->fields[i].integer ? ds_buf_append_int(&m->vals, integer, 0)
                              : ds_buf_append(&m->vals, m->value.data, m->value.len);
    m->voff[i] = start;
    m->vlen[i] = m->vals.len - start;
    if (rc == 0) {
        rc = ds_buf_append(&m->vals, "", 1);
    }
    return rc;
}

/* The rule book (proto/rules.h) on the row's kept values, as the cloud
 * applies it: a row the cloud would reject is invalid here, with the same
 * field and problem. */
static void check_rules(struct ds_mapper *m, struct ds_mapped *out)
{
    const char *v[DS_RULES_MAX_FIELDS];
    const char *field;
    char problem[192];
    int rc;

    if (m->rtype == NULL) {
        return;
    }
    memset(v, 0, sizeof(v));
    for (size_t i = 0; i < m->nfields; i++) {
        const struct map_field *f = &m->fields[i];
        const char *text;

        if (m->state[i] != FIELD_OK) {
            continue;
        }
        /* Only a kept value has a place in vals (empty until one is). */
        text = m->vals.data + m->voff[i];
        if (f->rule < 0) {
            set_invalid(out, f->name, "not a field of this import type");
            continue;
        }
        if (f->integer) {
            rc = ds_rules_check_int(&m->rtype->fields[f->rule], strtoll(text, NULL, 10), problem,
                                    sizeof(problem));
        }
        else if (m->vlen[i] == 0) {
            continue; /* the cloud reads "" as absent */
        }
        else if (f->rule_sure && m->vlen[i] <= m->rtype->fields[f->rule].max) {
            rc = 0;
        }
        else {
            rc = ds_rules_check_text(&m->rtype->fields[f->rule], text, m->vlen[i], problem,
                                     sizeof(problem));
        }
        if (rc != 0) {
            set_invalid(out, f->name, problem);
            continue;
        }
        v[f->rule] = text;
    }
    /* The rules across fields only on a row whose fields are sound: with a
     * bad field, "nothing to match on" would blame the wrong thing. */
    if (out->valid && ds_rules_check_record(m->rtype, v, &field, problem, sizeof(problem)) != 0) {
        set_invalid(out, field, problem);
    }
}

int ds_map_row(struct ds_mapper *m, const struct ds_row *row, struct ds_mapped *out)
{
    const char *problem;
    int none = 0;
    int got;
    int rc = 0;

    mapped_clear(out);
    if (row->error != 0) {
        /* The reader cut the row at a cap: invalid, naming the column and
         * the cap; the fields read before it are the raw columns. */
        const char *code = ds_read_row_error_code(row->error);
        size_t col = row->error_field;

        if (col >= 1 && col <= m->nheader && m->header[col - 1][0] != '\0' &&
            strlen(m->header[col - 1]) <= 64) {
            snprintf(out->error, sizeof(out->error), "%s: %s: %s", m->header[col - 1], code,
                     row->error_msg);
        }
        else if (col >= 1) {
            snprintf(out->error, sizeof(out->error), "#%zu: %s: %s", col, code, row->error_msg);
        }
        else {
            snprintf(out->error, sizeof(out->error), "record: %s: %s", code, row->error_msg);
        }
        snprintf(out->error_field, sizeof(out->error_field), "record");
        out->nerrors = 1;
        snprintf(out->errors[0].field, sizeof(out->errors[0].field), "record");
        snprintf(out->errors[0].code, sizeof(out->errors[0].code), "%s", code);
        snprintf(out->errors[0].message, sizeof(out->errors[0].message), "%s", out->error);
        return ds__map_put_cut_raw(m, row, &out->raw_json);
    }
    out->valid = 1;
    for (size_t i = 0; i < m->nrules; i++) {
        if (m->no_routes && m->rules[i].r->kind == DS_RULE_ROUTE) {
            continue;
        }
        if (ds__map_rule_matches(m, &m->rules[i], row)) {
            if (m->rules[i].r->kind == DS_RULE_SKIP) {
                out->skipped = 1;
                out->skip_reason = m->rules[i].r->reason;
            }
            else {
                out->route = m->rules[i].r->target;
            }
            out->valid = 0;
            return ds__map_put_raw(m, row, &out->raw_json);
        }
    }
    ds_buf_reset(&m->vals);
    for (size_t i = 0; i < m->nfields; i++) {
        struct map_field *f = &m->fields[i];
        long long integer = 0;

        m->state[i] = FIELD_ABSENT;
        problem = "not acceptable";
        if (f->order != 0) {
            /* The order ds_map_date_decide found for this column. */
            enum ds_date_order saved = m->opts.date_order;

            m->opts.date_order = f->order;
            got = ds__map_field_value(m, f, row, &problem);
            m->opts.date_order = saved;
        }
        else {
            got = ds__map_field_value(m, f, row, &problem);
        }
        if (got == DS_EINVAL && f->dated && f->hint[0] != '\0') {
            snprintf(m->problem, sizeof(m->problem), "%s; %s", problem, f->hint);
            problem = m->problem;
        }
        if (got == DS_NORM_PRESENT) {
            got = ds__map_field_validate(f, m->value.data, &problem);
            if (got == 0) {
                got = DS_NORM_PRESENT;
            }
        }
        if (got == DS_EINVAL) {
            m->state[i] = FIELD_BAD;
            set_invalid(out, f->name, problem);
            continue;
        }
        if (got < 0) {
            rc = got;
            goto out;
        }
        if (got == DS_NORM_ABSENT) {
            if (f->required) {
                set_invalid(out, f->name, "required");
            }
            continue;
        }
        if (m->keyidx[K_EXTERNAL_ID] == (long)i &&
            !ds__map_ext_id_valid(m->value.data, m->value.len)) {
            m->state[i] = FIELD_BAD;
            set_invalid(out, f->name, "not a valid identifier (at most 64 printable characters)");
            continue;
        }
        if (f->integer) {
            char *end = NULL;

            integer = strtoll(m->value.data, &end, 10);
            if (*end != '\0') {
                m->state[i] = FIELD_BAD;
                set_invalid(out, f->name, "not a whole number");
                continue;
            }
        }
        rc = keep_value(m, i, integer);
        if (rc != 0) {
            goto out;
        }
        m->state[i] = FIELD_OK;
    }
    rc = ds__map_key(m, out, &none);
    if (rc != 0) {
        goto out;
    }
    if (m->key_hook != NULL && out->key[0] != '\0') {
        m->key_hook(m->key_ctx, out->key);
    }
    if (none && out->valid) {
        set_invalid(out, "record",
                    m->patients
                        ? "no match key (external_id, email, phone, or last_name + "
                          "first_name + date_of_birth)"
                        : "no key: external_id or a patient reference (patient_external_id, "
                          "e-mail, phone or patient name)");
    }
    check_rules(m, out);
    rc = ds__map_put_raw(m, row, &out->raw_json);
    if (rc == 0 && out->valid && !m->no_record) {
        rc = ds__map_put_record(m, out);
    }
out:
    if (rc != 0) {
        ds_mapped_close(out);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Routing                                                                  */

const struct ds_template_rule *ds_map_rule(const struct ds_mapper *m, const struct ds_row *row)
{
    for (size_t i = 0; i < m->nrules; i++) {
        if (m->no_routes && m->rules[i].r->kind == DS_RULE_ROUTE) {
            continue;
        }
        if (ds__map_rule_matches(m, &m->rules[i], row)) {
            return m->rules[i].r;
        }
    }
    return NULL;
}

void ds_map_set_routing(struct ds_mapper *m, int on)
{
    m->no_routes = !on;
}

void ds_map_forget(struct ds_mapper *m)
{
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->fields[i].seen != NULL) {
            json_object_clear(m->fields[i].seen);
        }
    }
}
