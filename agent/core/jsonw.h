/*
 * jsonw.h — writes JSON strings straight into a ds_buf, for the rows the
 * mapper serializes a million times: no tree, no allocation per value.
 *
 * The output is byte for byte what jansson's compact dump writes for the
 * same string (the record's fingerprint is the sha256 of those bytes, so it
 * must not change): '"' and '\\' escaped, \b \f \n \r \t by name, the other
 * control characters (NUL included) as \u00XX in upper-case hex, '/' and
 * everything from 0x7f up as is (DEL included, as jansson leaves it).
 *
 * It is the agent's one JSON string writer: the record and the raw row, the
 * batch bodies, the control socket's answers and the command line's --json
 * all escape through it, so they agree on every byte.
 */
#ifndef DS_CORE_JSONW_H
#define DS_CORE_JSONW_H

#include "agent/core/buf.h"

#include <stddef.h>
#include <stdio.h>

/* Appends s (n bytes) as a quoted JSON string. 0; DS_EINVAL when s is not
 * valid UTF-8 (by jansson's rules: no overlong form, surrogate or code point
 * past U+10FFFF), b unchanged; DS_ETOOBIG when b's cap has no room for the
 * worst case (6 bytes a byte, and the quotes), DS_ENOMEM. */
int ds_jsonw_string(struct ds_buf *b, const char *s, size_t n);

/* As ds_jsonw_string, but text that is not valid UTF-8 is still written:
 * each byte that starts no valid sequence becomes U+FFFD, so the output is
 * always valid JSON. For text from outside (a config name, a message, a file's
 * field shown to a person). 0, DS_ETOOBIG, DS_ENOMEM. */
int ds_jsonw_text(struct ds_buf *b, const char *s, size_t n);

/* ds_jsonw_text on a C string; NULL is written as null. */
int ds_jsonw_str(struct ds_buf *b, const char *s);

/* Appends the object {n1:v1,n2:v2,...} that pairs the elements of two flat
 * JSON arrays as this module writes them: names, of strings, and values, of
 * strings, numbers or null, each element copied as it is written (no
 * unescaping). A values array shorter than names pairs its elements with
 * the first names only; with DS_JSONW_ZIP_PRESENT a null value leaves its
 * name out (a record's absent field). The queue's compact rows (raw and
 * record, docs/states.md "Item") are zipped back this way, byte for byte
 * the object the mapper would have written. 0; DS_EPARSE when either is
 * not such an array, a name is not a string or values has more elements
 * than names (b as it was); DS_ETOOBIG, DS_ENOMEM. */
#define DS_JSONW_ZIP_PRESENT 1
int ds_jsonw_zip(struct ds_buf *b, const char *names, const char *values, int flags);

/* Writes s (n bytes) to out as ds_jsonw_text does. 0, DS_EIO, DS_ENOMEM. */
int ds_jsonw_fwrite(FILE *out, const char *s, size_t n);

/* ds_jsonw_fwrite on a C string; NULL is written as null. */
int ds_jsonw_fputs(FILE *out, const char *s);

#endif
