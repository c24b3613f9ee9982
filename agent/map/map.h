/*
 * map.h — turns a row read from an export into the canonical record of its
 * import type (../shared/DESIGN.md), using a template: picks the columns,
 * normalizes the values, validates them, and computes the row's identity.
 *
 *   key         "ext:<external_id>" when the row carries one, otherwise
 *               "h:<sha256 of the normalized match keys>" — never a patient
 *               value in clear.
 *   fingerprint sha256 of the canonical record serialized as compact JSON
 *               with sorted keys: equal records, equal fingerprints.
 *
 * Keys of the other import types: "ext:<external_id>", else "h:" sha256 of
 * the import type, the patient reference (patient_external_id, else last +
 * first name + date of birth, else e-mail, else phone, else last + first
 * name; for a treatment without any, its appointment_external_id) and the
 * record's own
 * identity: appointments start_at; treatments procedure_code, tooth,
 * surface, service_date; financial date, amount_cents, kind, reference.
 *
 * Error messages name the field and the kind of problem, never the value.
 */
#ifndef DS_MAP_MAP_H
#define DS_MAP_MAP_H

#include "agent/core/error.h"
#include "agent/core/hash.h"
#include "agent/map/normalize.h"
#include "agent/read/read.h"
#include "config/template.h"

#define DS_MAP_KEY_MAX 160

struct ds_mapper; /* opaque */

/* Errors kept per row, at most; a row with more keeps the first ones. */
#define DS_MAP_ERRORS_MAX 16

/* One problem of a row: its field, its code and its message; no value. */
struct ds_map_error {
    char field[64];    /* the canonical field, or "record" for the whole row */
    char code[24];     /* ds_rules_problem_code (proto/rules.h): REQUIRED, BAD_DATE, ... */
    char message[256]; /* "<field>: <problem>" */
};

/* The outcome for one row. */
struct ds_mapped {
    int valid;                       /* 1: a valid record; 0: invalid, see error */
    char key[DS_MAP_KEY_MAX];        /* identity; "" when the row is invalid
                                        and has nothing to key on */
    char fingerprint[DS_SHA256_HEX]; /* of record_json; "" when invalid */
    char *record_json;               /* owned: canonical record, compact JSON
                                        (sorted keys), or with DS_MAP_RECORD_VALUES
                                        [<value>,...]; NULL when invalid */
    char *raw_json;                  /* owned: {"<header>":"<value>",...}, or with
                                        DS_MAP_RAW_VALUES ["<value>",...] */
    char error[256];                 /* why invalid: "<field>: <problem>" */
    char error_field[64];            /* the canonical field of error, or "record" */
    int skipped;                     /* 1: a skip rule matched; see skip_reason */
    const char *skip_reason;         /* borrow (the template): why, no patient data */
    const char *route;               /* borrow: a route rule matched: the template id the
                                        row belongs to (not mapped here), else NULL */
    size_t nerrors;                  /* every problem of an invalid row, in canonical field
                                        order (errors[0] is error / error_field) */
    struct ds_map_error errors[DS_MAP_ERRORS_MAX]; /* last: ds_map_row clears only nerrors */
    /* ds_map_row and ds_mapped_close clear each member above by name (map.c,
     * mapped_clear): a new one is cleared there. */
};

/* Binds a template to a file's header row: resolves each canonical field to
 * a column. borrow: t and header must outlive nothing here (they are copied).
 * new: free with ds_map_free. DS_EINVAL with err->field when a required
 * field has no column in the header. */
int ds_map_new(const struct ds_template *t, const struct ds_row *header, struct ds_mapper **out,
               struct ds_error *err);

/* Sets the practice options the normalizers use (date order, phone region,
 * time zone...). borrow: o->tz must outlive the mapper. The template's
 * dialect date_order / decimal_comma win over o's when given. */
void ds_map_set_options(struct ds_mapper *m, const struct ds_norm_opts *o);

/* The folder's fixed location (config: location = NAME), or NULL for none:
 * the location of every row whose own location column is absent or empty.
 * A row that names its location keeps it (the export knows its clinic
 * better than the folder does). Adds the location field when neither the
 * template nor a synonym bound it. Call before the first ds_map_row.
 * DS_EINVAL when fixed breaks the rule book (over 100 bytes), DS_ENOMEM;
 * err is set either way. */
int ds_map_set_location(struct ds_mapper *m, const char *fixed, struct ds_error *err);

/* Where a job's rows take their location from, in words, into buf:
 * "from column ClinicNum", "Main Street", "from column ClinicNum, else Main
 * Street", or "" when neither (column: the header column bound to location;
 * fixed: the folder's location). Names only, never a row's value. */
void ds_map_location_text(const char *column, const char *fixed, char *buf, size_t size);

/* What ds_map_row writes besides the verdict and the key: by default both.
 * A caller that neither shows nor keeps one (preview) leaves it out:
 * without DS_MAP_RAW raw_json stays NULL; without DS_MAP_RECORD record_json
 * stays NULL and fingerprint "". Validity and keys do not change. */
#define DS_MAP_RAW 1    /* raw_json */
#define DS_MAP_RECORD 2 /* record_json and fingerprint */
/* With DS_MAP_RAW: raw_json as the JSON array of the kept columns' values
 * only, ["<value>",...], the names left to ds_map_raw_columns_json — what
 * the queue keeps (a third of the bytes). A mapper whose column names could
 * clash still writes the object; ds_map_raw_columns_json says which. */
#define DS_MAP_RAW_VALUES 4
/* With DS_MAP_RECORD: record_json as the JSON array of every field's value
 * in the record's order (ds_map_record_fields_json), null for a field the
 * row does not have. The fingerprint is still that of the object. */
#define DS_MAP_RECORD_VALUES 8
void ds_map_set_outputs(struct ds_mapper *m, int outputs);

/* Calls fn(ctx, key) with each row's key as soon as ds_map_row has made
 * it, before the rule book is applied and the JSON written: a caller that
 * looks keys up can start the lookup while the row is finished (the row
 * may still turn out invalid). NULL fn: none (the default). */
typedef void (*ds_map_key_fn)(void *ctx, const char *key);
void ds_map_set_key_hook(struct ds_mapper *m, ds_map_key_fn fn, void *ctx);

/* The names of the values of a DS_MAP_RECORD_VALUES record_json, in their
 * order: ["<field>",...]; ds_jsonw_zip of the two with DS_JSONW_ZIP_PRESENT
 * gives back, byte for byte, the record whose sha256 is the fingerprint.
 * Call after ds_map_set_location (which may add a field). *out is NULL
 * without DS_MAP_RECORD_VALUES. new: *out. DS_ENOMEM. */
int ds_map_record_fields_json(const struct ds_mapper *m, char **out);

/* The names of the values of a DS_MAP_RAW_VALUES raw_json, in their order:
 * ["<header>",...], each name escaped as in the object form, so that
 * ds_jsonw_zip (agent/core/jsonw.h) of the two gives back, byte for byte,
 * the object raw_json would have been. A row shorter than the header has
 * fewer values than names. *out is NULL when the mapper writes objects
 * (outputs without DS_MAP_RAW_VALUES, or names that could clash). new:
 * *out. DS_ENOMEM. */
int ds_map_raw_columns_json(const struct ds_mapper *m, char **out);

/* The header column bound to field i of the template (-1: none). For
 * preview's column -> field table. */
long ds_map_field_column(const struct ds_mapper *m, size_t i);

/* How a mapper field found its column: not at all (absent, or a default
 * only), through one of the template's names, or by synonym
 * (agent/map/synonyms.h) for a field the template left unbound. */
#define DS_MAP_UNBOUND 0
#define DS_MAP_BY_TEMPLATE 1
#define DS_MAP_BY_SYNONYM 2

/* The mapper's fields: the template's (0 .. ds_template_nfields - 1, in
 * its order), then those bound by synonym. For field i its canonical name
 * (borrow), its column (-1: none), the column of the time of day of an
 * instant read from two columns (-1: none), and DS_MAP_* how. */
size_t ds_map_nfields(const struct ds_mapper *m);
const char *ds_map_field_name(const struct ds_mapper *m, size_t i);
long ds_map_field_time_column(const struct ds_mapper *m, size_t i);
int ds_map_field_bound_by(const struct ds_mapper *m, size_t i);

/* The canonical fields left unbound because two columns name them: field
 * k's name (borrow) and two of its columns. */
size_t ds_map_nambiguous(const struct ds_mapper *m);
const char *ds_map_ambiguous(const struct ds_mapper *m, size_t k, long *col1, long *col2);

/* The binding as JSON, for people and the job's record (header names and
 * field names only, never values):
 *   {"fields":[{"field":"status","column":"Status","by":"synonym"},...],
 *    "ambiguous":[{"field":"provider","columns":["Dentist","Clinician"]}]}
 * A field read from a date and a time column has "time_column" too; a
 * field without column is left out. new: *out. DS_ENOMEM. */
int ds_map_binding_json(const struct ds_mapper *m, char **out);

/* Maps one data row. An invalid row is not an error: it returns 0 with
 * out->valid = 0 and out->error set. Negative only for DS_ENOMEM and the like.
 * out is overwritten; release its members with ds_mapped_close. */
int ds_map_row(struct ds_mapper *m, const struct ds_row *row, struct ds_mapped *out);

/* The first row rule of the template that matches the row, or NULL: which
 * job a row of a routed file belongs to, without mapping it. borrow (the
 * template). Route rules are left out when routing is off. */
const struct ds_template_rule *ds_map_rule(const struct ds_mapper *m, const struct ds_row *row);

/* Routing on (the default) or off. A mapper reading the rows another
 * template routed to it has it off: the file's own template decides where
 * each row goes, and the target's route rules (which usually point back)
 * are not tested; its skip rules still are. */
void ds_map_set_routing(struct ds_mapper *m, int on);

/* Forgets the values the fields that must be unique in the file have
 * seen, so the file's rows can be mapped again from its first, as by a
 * new mapper: preview's second pass. Date orders and votes stay. */
void ds_map_forget(struct ds_mapper *m);

/*
 * Date order. With date_order auto (neither the template's dialect nor the
 * practice fixes it), a d/d/y date such as 03/04/2024 is read in the order
 * its whole column tells: the caller feeds every row of the file to
 * ds_map_date_vote (ds_map_wants_date_votes says whether that is needed),
 * then calls ds_map_date_decide once, before mapping. A column whose values
 * read only as DD/MM/YYYY (some first part above 12) is DMY, only as
 * MM/DD/YYYY is MDY; one that cannot tell follows the file's other date
 * columns, else MDY; one that reads both ways is not guessed (MDY), and a
 * failed date in it says "does not fit MM/DD/YYYY; N rows in this column
 * only read as DD/MM/YYYY — set date_order = DMY". ds_map_date_decide also
 * gives that hint when the order is fixed and the votes contradict it.
 *
 * A caller that maps rows while they still vote (preview) calls
 * ds_map_date_decide before the first vote — each column of an order auto
 * then reads MM/DD/YYYY, none has a hint — and ds_map_date_unchanged after
 * the votes: 1 when deciding now would leave every column's order as it
 * is and give none a hint, so the rows mapped in between read as they
 * would after the decision. Its answer depends only on whether some value
 * of the file read only as DD/MM/YYYY, and whether one read only as
 * MM/DD/YYYY: with the order auto, the first gives its column a hint or
 * the order DMY, and the second changes nothing; with a fixed order, a
 * value only the other order reads gives its column a hint. So once 0 it
 * stays 0, and ds_map_date_vote returns 1 when the row cast the mapper's
 * first vote of one of these two kinds: only then can the answer change.
 */
int ds_map_wants_date_votes(const struct ds_mapper *m);
int ds_map_date_vote(struct ds_mapper *m, const struct ds_row *row);
void ds_map_date_decide(struct ds_mapper *m);
int ds_map_date_unchanged(const struct ds_mapper *m);

/* The order field i's dates are read in (DS_DATE_AUTO for a field that is
 * no date), and its column's votes (NULL for no date). borrow. */
enum ds_date_order ds_map_field_date_order(const struct ds_mapper *m, size_t i);
const struct ds_date_votes *ds_map_field_date_votes(const struct ds_mapper *m, size_t i);

/* Adds a problem to an invalid row's errors (and makes error / error_field
 * the first one); a row already holding DS_MAP_ERRORS_MAX keeps them. For a
 * caller that finds a problem the mapper does not (ingest's "no identity
 * key"): marks out invalid. */
void ds_map_add_error(struct ds_mapped *out, const char *field, const char *problem);

/* The errors of out as a JSON array, allocated into *json:
 * [{"field":"date_of_birth","code":"BAD_DATE","message":"date_of_birth: ..."}, ...];
 * an invalid row with no error listed gets one from error / error_field.
 * DS_ENOMEM. */
int ds_map_errors_json(const struct ds_mapped *out, char **json);

/* What an office manager can do about a problem of field with code,
 * into buf: names the canonical field, never a value. */
void ds_map_suggest(const char *field, const char *code, char *buf, size_t size);

/* The suggestion for a row of status (a queue item's: invalid, rejected,
 * conflict, needs_review, duplicate) with one error code and message:
 * ds_map_suggest for an invalid row's problem, a fixed text for the
 * cloud's verdicts. Never a value. */
void ds_map_suggest_status(const char *status, const char *code, const char *message, char *buf,
                           size_t size);

/* The field a message "<field>: <problem>" names, into buf ("record" when
 * it names none). */
void ds_map_message_field(const char *message, char *buf, size_t size);

/* Frees the members of out (NULL-safe) and clears it. */
void ds_mapped_close(struct ds_mapped *out);

void ds_map_free(struct ds_mapper **m);

#endif
