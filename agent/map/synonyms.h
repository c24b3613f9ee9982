/*
 * synonyms.h — the header names that say which canonical field a column
 * holds, whatever the software that wrote it (docs/templates.md,
 * "Synonyms"): one table per import type and canonical field, the field's
 * own name, its common spellings and the English variants (Forename,
 * Surname, DOB, Postcode, Mobile, Chair, Surgery, ADA code, ...).
 *
 * Names are compared folded (ds_synonym_fold): ASCII lower case without
 * spaces, tabs, '_', '-' and '.', so "First Name", "first_name",
 * "FIRST-NAME" and "D.O.B." fold to "firstname" and "dob". Within one
 * import type a folded name stands for one field only (the table's unit
 * test checks it), so a column never has two meanings.
 *
 * The mapper binds, after the template, every canonical field the template
 * left unbound from the file's remaining columns (map_bind.c); detection
 * lets a canonical recognition name be satisfied by its synonyms
 * (detect.c). Header names only: nothing here sees a data row.
 */
#ifndef DS_MAP_SYNONYMS_H
#define DS_MAP_SYNONYMS_H

#include <stddef.h>

/* A start_at column holds the whole instant, only its date, or only its
 * time of day (a date column and a time column make one instant). */
enum ds_syn_role {
    DS_SYN_WHOLE = 0,
    DS_SYN_DATE = 1,
    DS_SYN_TIME = 2,
};

/* The folded form of in[0..len): writes at most size - 1 bytes and a NUL;
 * returns the full length it needs (like snprintf). */
size_t ds_synonym_fold(const char *in, size_t len, char *out, size_t size);

/* The canonical field of import_type that header name in[0..len) stands
 * for, or NULL; *role (may be NULL) says which part of it. borrow
 * (static). */
const char *ds_synonym_field(const char *import_type, const char *in, size_t len,
                             enum ds_syn_role *role);

/* The transform a field bound by synonym is read with (the one the generic
 * template of the type uses), "text" for a field the table lacks. */
const char *ds_synonym_transform(const char *import_type, const char *field);

/* The table, entry by entry, for its tests and the documentation: entry i
 * (i < ds_synonym_count()) as its import type, field, role and folded
 * name. */
size_t ds_synonym_count(void);
void ds_synonym_entry(size_t i, const char **import_type, const char **field,
                      enum ds_syn_role *role, const char **name);

#endif
