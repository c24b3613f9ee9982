/*
 * jsonw.h — writes JSON strings straight into a ds_buf, for the rows the
 * mapper serializes a million times: no tree, no allocation per value.
 *
 * The output is byte for byte what jansson's compact dump writes for the
 * same string (the record's fingerprint is the sha256 of those bytes, so it
 * must not change): '"' and '\\' escaped, \b \f \n \r \t by name, the other
 * control characters (NUL included) as \u00XX in upper-case hex, '/' and
 * everything from 0x7f up as is.
 */
#ifndef DS_CORE_JSONW_H
#define DS_CORE_JSONW_H

#include "agent/core/buf.h"

#include <stddef.h>

/* Appends s (n bytes) as a quoted JSON string. 0; DS_EINVAL when s is not
 * valid UTF-8 (by jansson's rules: no overlong form, surrogate or code point
 * past U+10FFFF), b unchanged; DS_ETOOBIG when b's cap has no room for the
 * worst case (6 bytes a byte, and the quotes), DS_ENOMEM. */
int ds_jsonw_string(struct ds_buf *b, const char *s, size_t n);

#endif
