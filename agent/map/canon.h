/*
 * canon.h — the canonical records: which fields each import type has
 * (../shared/DESIGN.md, "Import types and their canonical records").
 *
 * Templates are checked against this list and the mapper builds records from
 * it, so the two always agree on field names and their order.
 */
#ifndef DS_MAP_CANON_H
#define DS_MAP_CANON_H

/* The canonical field names of an import type, in their documented order,
 * NULL-terminated; NULL when the import type is not supported. borrow:
 * static storage. */
const char *const *ds_map_canonical_fields(const char *import_type);

/* 1 if the field is a JSON integer on the wire (duration_minutes,
 * fee_cents, amount_cents), else 0. */
int ds_map_field_is_integer(const char *field);

#endif
