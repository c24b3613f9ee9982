/*
 * scratch_win.c — scratch.h on Windows: a directory under GetTempPathW
 * with a name from the process id, the tick count and a counter (CreateDirectoryW
 * fails on a name taken, so a clash is a retry, never a shared directory);
 * CreateSymbolicLinkW, checked to have made a link; the tree removed with
 * FindFirstFileW, a reparse point (a link) removed
 * itself, never entered.
 */
#include "tests/unit/scratch.h"

#include <windows.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

int ds_test_mkdtemp(const char *prefix, char *buf, size_t size)
{
    wchar_t tmp[MAX_PATH + 1];
    wchar_t path[MAX_PATH + 64];
    DWORD n = GetTempPathW(MAX_PATH + 1, tmp);

    if (n == 0 || n > MAX_PATH) {
        errno = ENOENT;
        return -1;
    }
    for (unsigned i = 0; i < 100; i++) {
        swprintf(path, sizeof(path) / sizeof(path[0]), L"%ls%hs-%lu-%lu-%u", tmp, prefix,
                 (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount(), i);
        if (CreateDirectoryW(path, NULL)) {
            if (WideCharToMultiByte(CP_UTF8, 0, path, -1, buf, (int)size, NULL, NULL) == 0) {
                RemoveDirectoryW(path);
                errno = ENAMETOOLONG;
                return -1;
            }
            return 0;
        }
        if (GetLastError() != ERROR_ALREADY_EXISTS) {
            break;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Not tmpfile(): Windows' C runtime makes it in the root of the drive,
 * which a user may not write. GetTempFileNameW makes a unique empty file;
 * "D" removes it when it is closed. */
FILE *ds_test_capture_open(void)
{
    wchar_t tmp[MAX_PATH + 1];
    wchar_t name[MAX_PATH + 1];
    DWORD n = GetTempPathW(MAX_PATH + 1, tmp);

    if (n == 0 || n > MAX_PATH || GetTempFileNameW(tmp, L"dst", 0, name) == 0) {
        errno = ENOENT;
        return NULL;
    }
    return _wfopen(name, L"w+bD");
}

char *ds_test_capture_text(FILE *f)
{
    char *text = NULL;
    long n;

    if (fflush(f) == 0 && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)n + 1);
        if (text != NULL) {
            text[fread(text, 1, (size_t)n, f)] = '\0';
        }
    }
    fclose(f);
    return text;
}

int ds_test_setenv(const char *name, const char *value)
{
    return _putenv_s(name, value != NULL ? value : "") == 0 ? 0 : -1;
}

int ds_test_symlink(const char *target, const char *link)
{
    wchar_t t[MAX_PATH + 1];
    wchar_t l[MAX_PATH + 1];
    DWORD attr;
    DWORD flags = SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE;

    if (MultiByteToWideChar(CP_UTF8, 0, target, -1, t, MAX_PATH + 1) == 0 ||
        MultiByteToWideChar(CP_UTF8, 0, link, -1, l, MAX_PATH + 1) == 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    attr = GetFileAttributesW(t);
    if (attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY)) {
        flags |= SYMBOLIC_LINK_FLAG_DIRECTORY;
    }
    if (!CreateSymbolicLinkW(l, t, flags)) {
        errno = GetLastError() == ERROR_PRIVILEGE_NOT_HELD ? EPERM : EIO;
        return -1;
    }
    /* Said and done? */
    attr = GetFileAttributesW(l);
    if (attr == INVALID_FILE_ATTRIBUTES || !(attr & FILE_ATTRIBUTE_REPARSE_POINT)) {
        errno = ENOSYS;
        return -1;
    }
    return 0;
}

static void rmtree_w(const wchar_t *dir)
{
    wchar_t pattern[MAX_PATH + 8];
    wchar_t path[MAX_PATH + 8];
    WIN32_FIND_DATAW fd;
    HANDLE h;

    swprintf(pattern, sizeof(pattern) / sizeof(pattern[0]), L"%ls\\*", dir);
    h = FindFirstFileW(pattern, &fd);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0) {
                continue;
            }
            swprintf(path, sizeof(path) / sizeof(path[0]), L"%ls\\%ls", dir, fd.cFileName);
            if ((fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) &&
                !(fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
                rmtree_w(path);
            }
            else if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
                RemoveDirectoryW(path);
            }
            else {
                SetFileAttributesW(path, FILE_ATTRIBUTE_NORMAL);
                DeleteFileW(path);
            }
        } while (FindNextFileW(h, &fd));
        FindClose(h);
    }
    RemoveDirectoryW(dir);
}

void ds_test_rmtree(const char *dir)
{
    wchar_t w[MAX_PATH + 1];

    if (MultiByteToWideChar(CP_UTF8, 0, dir, -1, w, MAX_PATH + 1) > 0) {
        rmtree_w(w);
    }
}
