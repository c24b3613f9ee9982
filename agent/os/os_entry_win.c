/*
 * os_entry_win.c — main() on Windows: the arguments from the UTF-16 command
 * line (GetCommandLineW, split by CommandLineToArgvW), each turned into
 * UTF-8 for ds_main; the narrow argv the C runtime gives main is in the
 * ANSI code page and would lose a folder's name it cannot show. The
 * console prints UTF-8 too, and stderr (the log) is unbuffered.
 */
#include "agent/os/os_entry.h"

#include <windows.h>

#include <shellapi.h>
#include <stdio.h>
#include <stdlib.h>

/* One UTF-16 argument as a new UTF-8 string, or NULL. */
static char *to_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, NULL, 0, NULL, NULL);
    char *s;

    if (n <= 0) {
        return NULL;
    }
    s = malloc((size_t)n);
    if (s == NULL) {
        return NULL;
    }
    if (WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        return NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    wchar_t **wargv;
    char **uargv;
    int wargc = 0;
    int rc;

    (void)argc;
    (void)argv;
    wargv = CommandLineToArgvW(GetCommandLineW(), &wargc);
    if (wargv == NULL || wargc < 1) {
        fputs("dentsync: cannot read the command line\n", stderr);
        return 1;
    }
    uargv = calloc((size_t)wargc + 1, sizeof(*uargv));
    if (uargv == NULL) {
        fputs("dentsync: out of memory\n", stderr);
        LocalFree(wargv);
        return 1;
    }
    for (int i = 0; i < wargc; i++) {
        uargv[i] = to_utf8(wargv[i]);
        if (uargv[i] == NULL) {
            fprintf(stderr, "dentsync: argument %d is not valid text\n", i);
            for (int j = 0; j < i; j++) {
                free(uargv[j]);
            }
            free(uargv);
            LocalFree(wargv);
            return 2;
        }
    }
    LocalFree(wargv);
    SetConsoleOutputCP(CP_UTF8);
    /* The log goes to stderr a line at a time. Windows' C runtime buffers
     * stderr when it is a file or a pipe (4 KB), so a redirected log would
     * show an event long after it happened, or lose it at a kill; unbuffered,
     * as stderr is on POSIX. */
    setvbuf(stderr, NULL, _IONBF, 0);
    rc = ds_main(wargc, uargv);
    for (int i = 0; i < wargc; i++) {
        free(uargv[i]);
    }
    free(uargv);
    return rc;
}
