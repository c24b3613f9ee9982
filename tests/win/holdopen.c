/*
 * holdopen.c — holds a file open the way a practice program does while it
 * writes an export: CreateFileW with share mode FILE_SHARE_WRITE only, so
 * that every other open for reading fails with a sharing violation, for N
 * seconds. For the Windows end-to-end checks (an export still held is not
 * taken, and is taken once let go).
 *
 *   holdopen.exe FILE SECONDS     create or open FILE, print "held", hold
 *                                 it SECONDS, close it, print "released"
 *   holdopen.exe --self-test FILE the same open, then a second open of
 *                                 FILE for reading must fail with
 *                                 ERROR_SHARING_VIOLATION; prints
 *                                 `N passed, N failed`
 */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* FILE as the UTF-16 path CreateFileW wants. */
static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? calloc((size_t)n, sizeof(*w)) : NULL;

    if (w != NULL) {
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    }
    return w;
}

static HANDLE hold(const wchar_t *path)
{
    return CreateFileW(path, GENERIC_WRITE, FILE_SHARE_WRITE, NULL, OPEN_ALWAYS,
                       FILE_ATTRIBUTE_NORMAL, NULL);
}

static int self_test(const wchar_t *path)
{
    int passed = 0;
    int failed = 0;
    HANDLE h = hold(path);
    HANDLE r;
    DWORD e;

    if (h == INVALID_HANDLE_VALUE) {
        printf("not ok - open with FILE_SHARE_WRITE only (error %lu)\n",
               (unsigned long)GetLastError());
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("ok - open with FILE_SHARE_WRITE only\n");
    passed++;
    r = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    e = GetLastError();
    if (r == INVALID_HANDLE_VALUE && e == ERROR_SHARING_VIOLATION) {
        printf("ok - a second open for reading: sharing violation\n");
        passed++;
    }
    else {
        printf("not ok - a second open for reading: %s (error %lu)\n",
               r == INVALID_HANDLE_VALUE ? "failed otherwise" : "succeeded", (unsigned long)e);
        failed++;
        if (r != INVALID_HANDLE_VALUE) {
            CloseHandle(r);
        }
    }
    CloseHandle(h);
    r = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL,
                    NULL);
    if (r != INVALID_HANDLE_VALUE) {
        printf("ok - once let go it opens for reading\n");
        passed++;
        CloseHandle(r);
    }
    else {
        printf("not ok - once let go it opens for reading (error %lu)\n",
               (unsigned long)GetLastError());
        failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    wchar_t *path;
    HANDLE h;
    char *end = NULL;
    long secs;

    if (argc == 3 && strcmp(argv[1], "--self-test") == 0) {
        path = wide(argv[2]);
        return path != NULL ? self_test(path) : 2;
    }
    if (argc != 3) {
        fputs("usage: holdopen FILE SECONDS | holdopen --self-test FILE\n", stderr);
        return 2;
    }
    secs = strtol(argv[2], &end, 10);
    path = wide(argv[1]);
    if (end == argv[2] || *end != '\0' || secs < 0 || path == NULL) {
        fputs("holdopen: SECONDS must be a whole number\n", stderr);
        return 2;
    }
    h = hold(path);
    if (h == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "holdopen: cannot open %s (error %lu)\n", argv[1],
                (unsigned long)GetLastError());
        return 1;
    }
    printf("held\n");
    fflush(stdout);
    Sleep((DWORD)secs * 1000);
    CloseHandle(h);
    printf("released\n");
    return 0;
}
