/*
 * cmd_setup.c — `dentsync setup`: a first configuration from a few answers,
 * for an unattended install (the Windows installer's silent mode runs it):
 *
 *   dentsync setup [-c FILE] --cloud-url URL --practice NAME --folder PATH
 *                  [--type TYPE] (--token-stdin | --token TOKEN)
 *
 * The token goes into NAME.token beside the configuration (0600, written
 * aside and renamed); the configuration is written only where none exists
 * (an upgrade or a repair keeps the one the admin tuned), and only once it
 * checks clean (ds_config_load): a bad URL or a missing folder leaves
 * nothing half-written. The token is never printed.
 */
#include "agent/cli/commands.h"

#include "agent/os/os_fs.h"
#include "config/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_MAX 512

/* A practice name is an INI section name and a file name: letters, digits,
 * '-', '_' and '.', not starting with '.'. */
static int name_ok(const char *s)
{
    if (s[0] == '\0' || s[0] == '.' || strlen(s) > 64) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", *s) ==
            NULL) {
            return 0;
        }
    }
    return 1;
}

/* A value on one INI line: no line break, no comment start, not empty. */
static int value_ok(const char *s)
{
    return s[0] != '\0' && strpbrk(s, "\r\n;#") == NULL;
}

/* The folder that holds path ("." when none), into buf. */
static int dir_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    const char *back = strrchr(path, '\\');
    size_t n;

    if (back != NULL && (slash == NULL || back > slash)) {
        slash = back;
    }
    if (slash == NULL) {
        return snprintf(buf, size, ".") >= (int)size ? -1 : 0;
    }
    n = (size_t)(slash - path);
    if (n == 0) {
        n = 1; /* the root */
    }
    if (n >= size) {
        return -1;
    }
    memcpy(buf, path, n);
    buf[n] = '\0';
    return 0;
}

/* The agent's default configuration folder (the installer's data folder
 * on Windows, which %ProgramData% lets every user add files to until it
 * is made private) becomes the agent's own before the token goes in. A
 * folder the admin chose is left as it is. 0, or -1 said on stderr. */
static int secure_default_dir(const char *dir)
{
    char have[4096];
    char want[4096];
    int e;

    if (ds_os_realpath(dir, have, sizeof(have)) != 0 ||
        ds_os_realpath(ds_os_default_path(DS_OS_CONFIG_DIR), want, sizeof(want)) != 0 ||
        strcmp(have, want) != 0) {
        return 0;
    }
    e = ds_os_secure_dir(dir);
    if (e == EPERM) {
        fprintf(stderr,
                "dentsync setup: %s holds a file or folder another user owns: remove what the "
                "installer did not put there, then run setup again\n",
                dir);
        return -1;
    }
    if (e != 0) {
        fprintf(stderr, "dentsync setup: %s: cannot make the folder the agent's own: %s\n", dir,
                strerror(e));
        return -1;
    }
    return 0;
}

/* Writes text to path: aside (path.tmp, private, new), flushed, renamed
 * over path (agent/os/os_fs.h: 0600, or an owner-only DACL on Windows). */
static int write_file(const char *path, const char *text)
{
    char tmp[4096];
    size_t len = strlen(text);
    int fd;
    int rc;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return -1;
    }
    ds_os_unlink(tmp); /* a leftover of an interrupted run */
    fd = ds_os_create_private(tmp, DS_OS_EXCL);
    if (fd < 0) {
        fprintf(stderr, "dentsync setup: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    if (write(fd, text, (unsigned)len) != (int)len || ds_os_fsync(fd) != 0) {
        fprintf(stderr, "dentsync setup: cannot write %s: %s\n", tmp, strerror(errno));
        close(fd);
        ds_os_unlink(tmp);
        return -1;
    }
    close(fd);
    rc = ds_os_rename(tmp, path, 1);
    if (rc != 0) {
        fprintf(stderr, "dentsync setup: cannot rename %s: %s\n", tmp, strerror(rc));
        ds_os_unlink(tmp);
        return -1;
    }
    return 0;
}

/* The first line of stdin, trimmed, into buf. */
static int read_token(char *buf, size_t size)
{
    size_t n;

    if (fgets(buf, (int)size, stdin) == NULL) {
        return -1;
    }
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
        buf[--n] = '\0';
    }
    return 0;
}

static int usage(void)
{
    fputs("usage: dentsync setup [-c FILE] --cloud-url URL --practice NAME --folder PATH\n"
          "                      [--type TYPE] (--token-stdin | --token TOKEN)\n",
          stderr);
    return DS_EXIT_USAGE;
}

int ds_cmd_setup(const char *config_path, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cloud-url", required_argument, NULL, 'u'}, {"practice", required_argument, NULL, 'p'},
        {"folder", required_argument, NULL, 'f'},    {"token", required_argument, NULL, 't'},
        {"token-stdin", no_argument, NULL, 's'},     {NULL, 0, NULL, 0}};
    const char *url = NULL;
    const char *practice = NULL;
    const char *folder = NULL;
    const char *token_arg = NULL;
    const char *type = "patients";
    int token_stdin = 0;
    char token[TOKEN_MAX];
    char dir[4096];
    char token_path[4096];
    char tmp_conf[4200];
    char text[16384];
    struct ds_config *cfg = NULL;
    int opt;
    int n;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            url = optarg;
            break;
        case 'p':
            practice = optarg;
            break;
        case 'f':
            folder = optarg;
            break;
        case 't':
            token_arg = optarg;
            break;
        case 's':
            token_stdin = 1;
            break;
        case 'y':
            type = optarg;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc || url == NULL || practice == NULL || folder == NULL ||
        (token_arg == NULL) == (token_stdin == 0)) {
        return usage();
    }
    if (!name_ok(practice)) {
        fprintf(stderr, "dentsync setup: practice '%s': use letters, digits, '-', '_', '.'\n",
                practice);
        return DS_EXIT_USAGE;
    }
    if (!value_ok(url) || !value_ok(folder) || !name_ok(type)) {
        fputs("dentsync setup: the URL and the folder must be one line without ';' or '#'\n",
              stderr);
        return DS_EXIT_USAGE;
    }
    if (token_stdin) {
        if (read_token(token, sizeof(token)) != 0) {
            fputs("dentsync setup: no token on standard input\n", stderr);
            return DS_EXIT_USAGE;
        }
    }
    else if (snprintf(token, sizeof(token), "%s", token_arg) >= (int)sizeof(token)) {
        fputs("dentsync setup: the token is too long\n", stderr);
        return DS_EXIT_USAGE;
    }
    if (token[0] == '\0' || strpbrk(token, " \t\r\n") != NULL) {
        fputs("dentsync setup: the token is empty or has blanks in it\n", stderr);
        return DS_EXIT_USAGE;
    }
    if (dir_of(config_path, dir, sizeof(dir)) != 0 ||
        snprintf(token_path, sizeof(token_path), "%s/%s.token", dir, practice) >=
            (int)sizeof(token_path) ||
        snprintf(tmp_conf, sizeof(tmp_conf), "%s.new", config_path) >= (int)sizeof(tmp_conf)) {
        fputs("dentsync setup: the configuration's path is too long\n", stderr);
        return DS_EXIT_USAGE;
    }
    n = (int)strlen(token);
    if (n + 2 > (int)sizeof(token)) {
        fputs("dentsync setup: the token is too long\n", stderr);
        return DS_EXIT_USAGE;
    }
    token[n] = '\n';
    token[n + 1] = '\0';
    if (secure_default_dir(dir) != 0) {
        memset(token, 0, sizeof(token));
        return DS_EXIT_RUNTIME;
    }
    n = write_file(token_path, token);
    memset(token, 0, sizeof(token));
    if (n != 0) {
        return DS_EXIT_RUNTIME;
    }
    printf("%s: the practice's token, private to the agent\n", token_path);
    n = ds_os_open_read(config_path);
    if (n >= 0) {
        close(n);
    }
    if (n >= 0 || errno != ENOENT) {
        printf("%s exists: kept as it is\n", config_path);
        return DS_EXIT_OK;
    }
    n = snprintf(text, sizeof(text),
                 "; Written by `dentsync setup`; docs/config.md describes every key and\n"
                 "; the annotated default configuration shows them all.\n"
                 "[agent]\n"
                 "state_dir = %s/state\n"
                 "\n"
                 "[cloud]\n"
                 "url = %s\n"
                 "\n"
                 "[practice %s]\n"
                 "token_file = %s\n"
                 "\n"
                 "[folder export]\n"
                 "path = %s\n"
                 "practice = %s\n"
                 "import_type = %s\n"
                 "template = auto\n",
                 dir, url, practice, token_path, folder, practice, type);
    if (n < 0 || n >= (int)sizeof(text)) {
        fputs("dentsync setup: the configuration would be too long\n", stderr);
        return DS_EXIT_USAGE;
    }
    /* Checked before it takes the configuration's name. */
    if (write_file(tmp_conf, text) != 0) {
        return DS_EXIT_RUNTIME;
    }
    if (ds_config_load(tmp_conf, &cfg, stderr) != 0) {
        ds_os_unlink(tmp_conf);
        fputs("dentsync setup: the configuration has the problems above; nothing written\n",
              stderr);
        return DS_EXIT_CONFIG;
    }
    ds_config_free(&cfg);
    n = ds_os_rename(tmp_conf, config_path, 0); /* never over one written meanwhile */
    if (n != 0) {
        fprintf(stderr, "dentsync setup: cannot rename %s: %s\n", tmp_conf, strerror(n));
        ds_os_unlink(tmp_conf);
        return DS_EXIT_RUNTIME;
    }
    printf("%s: written; `dentsync check-config` checks it after a change\n", config_path);
    return DS_EXIT_OK;
}
