/*
 * os_browser_win.c — os_open_url through ShellExecuteW (os_browser.h): the
 * user's default browser, as a click on the link would.
 */
#include "agent/os/os_browser.h"

#include <windows.h>

#include <shellapi.h>
#include <stdlib.h>

int os_open_url(const char *url)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, url, -1, NULL, 0);
    wchar_t *w;
    INT_PTR r;

    if (n <= 0) {
        return -1;
    }
    w = calloc((size_t)n, sizeof(*w));
    if (w == NULL) {
        return -1;
    }
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, url, -1, w, n);
    r = (INT_PTR)ShellExecuteW(NULL, L"open", w, NULL, NULL, SW_SHOWNORMAL);
    free(w);
    return r > 32 ? 0 : -1; /* above 32: success, as ShellExecute has it */
}
