/*
 * cmd_read.c — `dentsync read FILE`: shows how the readers see an export —
 * the sniffed dialect (format, encoding, delimiter, quote, header row, title
 * and trailer lines) and its first rows, or all of them — so an admin can
 * check a new export shape before a folder takes it.
 *
 * This prints values from the file: it is a view for the authorised local
 * user at the terminal, never a log. With --json every line is one JSON
 * object: the dialect first, then one per row, then the notices and an end
 * object with the counts (and the error that stopped the read, if one did).
 *
 * The configuration is optional here: the options are the reader's hints
 * (the configuration carries no dialect keys), so a missing or unreadable
 * config file is not an error.
 */
#include "agent/cli/commands.h"

#include "agent/core/jsonw.h"
#include "agent/read/read.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_DEFAULT_ROWS 10 /* rows shown without --all */

struct read_opts {
    int json;                   /* --json */
    int all;                    /* --all */
    long limit;                 /* rows to show */
    struct ds_read_hints hints; /* from the options */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync read FILE [--json] [--all] [--rows N] [--delimiter C] "
                 "[--quote C]\n"
                 "                     [--encoding NAME] [--header-line N] [--keep-trailers] "
                 "[--sheet NAME]\n"
                 "                     [--days-back N] [--days-ahead N]\n");
}

/* A one-character dialect value for people: ',' or TAB or none. */
static const char *char_name(int ch, char buf[8])
{
    if (ch == 0) {
        return "none";
    }
    if (ch == '\t') {
        return "TAB";
    }
    snprintf(buf, 8, "'%c'", ch);
    return buf;
}

static void print_dialect(const char *path, const struct ds_reader *r, int json)
{
    const struct ds_read_dialect *d = ds_read_dialect(r);
    const struct ds_row *h = ds_read_header(r);
    char a[8];
    char b[8];

    if (json) {
        char ch[2] = {0, 0};

        fputs("{\"type\":\"dialect\",\"file\":", stdout);
        ds_jsonw_fputs(stdout, path);
        printf(",\"format\":\"%s\",\"encoding\":", d->format);
        ds_jsonw_fputs(stdout, d->encoding);
        printf(",\"encoding_hint\":%s,\"delimiter\":", d->encoding_hint ? "true" : "false");
        ch[0] = (char)d->delimiter;
        ds_jsonw_fputs(stdout, ch);
        fputs(",\"quote\":", stdout);
        ch[0] = (char)d->quote;
        ds_jsonw_fputs(stdout, ch);
        printf(",\"header_line\":%ld,\"title_lines\":%ld,\"sheet\":", d->header_line,
               d->title_lines);
        ds_jsonw_fputs(stdout, d->sheet);
        fputs(",\"header\":[", stdout);
        for (size_t i = 0; i < h->nfields; i++) {
            if (i > 0) {
                fputc(',', stdout);
            }
            ds_jsonw_fwrite(stdout, h->fields[i], h->lens[i]);
        }
        fputs("]}\n", stdout);
        return;
    }
    printf("file:        %s\n", path);
    printf("format:      %s\n", d->format);
    printf("encoding:    %s%s\n", d->encoding, d->encoding_hint ? " (hint)" : " (sniffed)");
    if (strcmp(d->format, "csv") == 0) {
        printf("delimiter:   %s\nquote:       %s\n", char_name(d->delimiter, a),
               char_name(d->quote, b));
    }
    if (d->sheet[0] != '\0') {
        printf("sheet:       %s\n", d->sheet);
    }
    printf("header:      line %ld, %zu field(s), %ld title line(s) above it\n", d->header_line,
           h->nfields, d->title_lines);
    for (size_t i = 0; i < h->nfields; i++) {
        printf("  %3zu  %.*s\n", i + 1, (int)h->lens[i], h->fields[i]);
    }
}

static void print_row(const struct ds_row *row, int json)
{
    if (json) {
        printf("{\"type\":\"row\",\"row\":%ld,\"line\":%ld,\"fields\":[", row->row, row->line);
        for (size_t i = 0; i < row->nfields; i++) {
            if (i > 0) {
                fputc(',', stdout);
            }
            ds_jsonw_fwrite(stdout, row->fields[i], row->lens[i]);
        }
        fputc(']', stdout);
        if (row->error != 0) {
            /* Cut at a cap: the fields are those before it. */
            printf(",\"error\":\"%s\",\"error_field\":%zu,\"error_message\":",
                   ds_read_row_error_code(row->error), row->error_field);
            ds_jsonw_fputs(stdout, row->error_msg);
        }
        fputs("}\n", stdout);
        return;
    }
    printf("row %ld (line %ld):", row->row, row->line);
    for (size_t i = 0; i < row->nfields; i++) {
        fputs(i > 0 ? " | " : " ", stdout);
        for (size_t k = 0; k < row->lens[i]; k++) {
            char ch = row->fields[i][k];

            fputs(ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : "", stdout);
            if (ch != '\n' && ch != '\r') {
                fputc(ch, stdout);
            }
        }
    }
    if (row->error != 0) {
        printf("%s[cut: %s: %s]", row->nfields > 0 ? " | " : " ",
               ds_read_row_error_code(row->error), row->error_msg);
    }
    fputc('\n', stdout);
}

/* The notices and the counts (cut: rows cut at a cap); error is the
 * message that stopped the read (NULL if none), also in the JSON end
 * object. */
static void print_end(const struct ds_reader *r, long rows, long cut, int complete,
                      const char *error, int json)
{
    const struct ds_read_dialect *d = ds_read_dialect(r);
    const struct ds_read_notice *list;
    size_t n = 0;
    long total = 0;

    list = ds_read_notices(r, &n, &total);
    for (size_t i = 0; i < n; i++) {
        if (json) {
            printf("{\"type\":\"notice\",\"kind\":%d,\"line\":%ld,\"row\":%ld,\"message\":",
                   list[i].kind, list[i].line, list[i].row);
            ds_jsonw_fputs(stdout, list[i].msg);
            fputs("}\n", stdout);
        }
        else {
            printf("notice: line %ld%s%.0ld: %s\n", list[i].line, list[i].row > 0 ? ", row " : "",
                   list[i].row, list[i].msg);
        }
    }
    if (json) {
        printf("{\"type\":\"end\",\"rows\":%ld,\"complete\":%s,\"trailer_lines\":%ld,"
               "\"blank_lines\":%ld,\"ragged_rows\":%ld,\"cut_rows\":%ld,\"notices\":%ld",
               rows, complete ? "true" : "false", d->trailer_lines, d->blank_lines, d->ragged_rows,
               cut, total);
        if (error != NULL) {
            fputs(",\"error\":", stdout);
            ds_jsonw_fputs(stdout, error);
        }
        fputs("}\n", stdout);
        return;
    }
    if (total > (long)n) {
        printf("notice: %ld more not listed\n", total - (long)n);
    }
    if (error != NULL) {
        printf("%ld data row(s) read, then the error above\n", rows);
    }
    else if (complete) {
        printf("%ld data row(s); %ld trailer line(s), %ld blank line(s) skipped; %ld ragged "
               "row(s); %ld row(s) cut at a limit\n",
               rows, d->trailer_lines, d->blank_lines, d->ragged_rows, cut);
    }
    else {
        printf("first %ld data row(s) shown; --all reads the whole file (trailers are known "
               "only at its end)\n",
               rows);
    }
}

/* Parses a positive number option. */
static int parse_long(const char *s, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    if (end == s || *end != '\0' || v < 0 || v > INT_MAX) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct read_opts *o, const char **file)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"rows", required_argument, NULL, 'n'},
        {"delimiter", required_argument, NULL, 'd'},
        {"quote", required_argument, NULL, 'q'},
        {"encoding", required_argument, NULL, 'e'},
        {"header-line", required_argument, NULL, 'H'},
        {"keep-trailers", no_argument, NULL, 'k'},
        {"sheet", required_argument, NULL, 's'},
        {"days-back", required_argument, NULL, 'b'},
        {"days-ahead", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    long v;
    int opt;

    memset(o, 0, sizeof(*o));
    o->limit = READ_DEFAULT_ROWS;
    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "jan:d:q:e:H:ks:b:f:", longopts, NULL);
        if (opt == -1) {
            break;
        }
        switch (opt) {
        case 'j':
            o->json = 1;
            break;
        case 'a':
            o->all = 1;
            break;
        case 'k':
            o->hints.keep_trailers = 1;
            break;
        case 'e':
            o->hints.encoding = optarg;
            break;
        case 's':
            o->hints.sheet = optarg;
            break;
        case 'd':
        case 'q':
            v = strcmp(optarg, "\\t") == 0 || strcmp(optarg, "tab") == 0 ? '\t'
                                                                         : (unsigned char)optarg[0];
            if (optarg[0] == '\0' || (optarg[1] != '\0' && v != '\t')) {
                return -1;
            }
            *(opt == 'd' ? &o->hints.delimiter : &o->hints.quote) = (int)v;
            break;
        default:
            if (opt == '?' || optarg == NULL || parse_long(optarg, &v) != 0) {
                return -1;
            }
            if (opt == 'n') {
                o->limit = v;
            }
            else if (opt == 'H') {
                o->hints.header_line = v;
            }
            else {
                *(opt == 'b' ? &o->hints.window_days_back : &o->hints.window_days_ahead) = (int)v;
            }
            break;
        }
    }
    if (optind != argc - 1) {
        return -1;
    }
    *file = argv[optind];
    return 0;
}

int ds_cmd_read(const char *config_path, int argc, char **argv)
{
    struct ds_reader *r = NULL;
    struct read_opts o;
    struct ds_error err;
    struct ds_row row;
    const char *file = NULL;
    char msg[1024];
    long rows = 0;
    long cut = 0;
    int complete = 0;
    int rc = DS_EXIT_OK;
    int got;

    (void)config_path;
    if (parse_opts(argc, argv, &o, &file) != 0) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    ds_error_clear(&err);
    if (ds_read_open(file, &o.hints, &r, &err) != 0) {
        fprintf(stderr, "dentsync read: %s\n", ds_error_format(&err, msg, sizeof(msg)));
        if (o.json) {
            fputs("{\"type\":\"end\",\"rows\":0,\"complete\":false,\"error\":", stdout);
            ds_jsonw_fputs(stdout, msg);
            fputs("}\n", stdout);
        }
        rc = DS_EXIT_RUNTIME;
        goto out;
    }
    print_dialect(file, r, o.json);
    for (;;) {
        if (!o.all && rows >= o.limit) {
            break;
        }
        got = ds_read_next_row(r, &row, &err);
        if (got < 0) {
            fflush(stdout);
            fprintf(stderr, "dentsync read: %s\n", ds_error_format(&err, msg, sizeof(msg)));
            rc = DS_EXIT_RUNTIME;
            break;
        }
        if (got == 0) {
            complete = 1;
            break;
        }
        rows++;
        cut += row.error != 0;
        print_row(&row, o.json);
    }
    print_end(r, rows, cut, complete, rc != DS_EXIT_OK ? msg : NULL, o.json);
out:
    ds_read_close(&r);
    return rc;
}
