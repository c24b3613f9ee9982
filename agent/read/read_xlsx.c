/*
 * read_xlsx.c — placeholder until the reader lands: refuses the file.
 */
#include "agent/read/read_int.h"

int ds__read_xlsx_open(const char *path, const struct ds_read_hints *hints, struct ds_reader *r,
                       struct ds_error *err)
{
    (void)hints;
    (void)r;
    return ds__read_fail(err, DS_EPARSE, path, 0, NULL, "xlsx files are not supported yet");
}
