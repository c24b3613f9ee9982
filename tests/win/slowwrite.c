/*
 * slowwrite.c — writes an export the way a practice program does when it
 * takes its time: DEST is created with CreateFileW and share mode
 * FILE_SHARE_WRITE only, so that no one may open it for reading while it
 * is written; the first part of SRC (up to a line end past its middle)
 * goes in, then the writer waits for a signal, writes the rest and closes.
 * For tests/win/e2e.sh: an export still held is not taken, and is taken
 * whole once let go.
 *
 *   slowwrite.exe SRC DEST GO   write the first part of SRC into DEST,
 *                               print "held BYTES", wait until the file GO
 *                               exists (at most 300 s), write the rest,
 *                               close, print "released"
 *   slowwrite.exe --try-read FILE
 *                               open FILE for reading as a reader sharing
 *                               everything would: exit 0 on a sharing
 *                               violation, 1 when it opened, 2 otherwise
 *                               (whether another process's share mode is
 *                               enforced here)
 */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* s as the UTF-16 path CreateFileW wants; NULL when it is not UTF-8. */
static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? calloc((size_t)n, sizeof(*w)) : NULL;

    if (w != NULL) {
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    }
    return w;
}

static int try_read(const char *file)
{
    wchar_t *path = wide(file);
    HANDLE h;
    DWORD e;

    if (path == NULL) {
        return 2;
    }
    h = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    e = GetLastError();
    free(path);
    if (h != INVALID_HANDLE_VALUE) {
        CloseHandle(h);
        printf("opened\n");
        return 1;
    }
    printf("error %lu\n", (unsigned long)e);
    return e == ERROR_SHARING_VIOLATION ? 0 : 2;
}

/* SRC's bytes, whole (a test's CSV: small). */
static char *slurp(const char *file, size_t *size)
{
    FILE *f = fopen(file, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *size = (size_t)n;
    }
    fclose(f);
    return buf;
}

static int put(HANDLE h, const char *p, size_t n)
{
    DWORD wrote = 0;

    return WriteFile(h, p, (DWORD)n, &wrote, NULL) && wrote == (DWORD)n && FlushFileBuffers(h);
}

int main(int argc, char **argv)
{
    wchar_t *dest;
    wchar_t *go;
    char *buf;
    size_t size = 0;
    size_t cut;
    HANDLE h;
    int waited = 0;

    if (argc == 3 && strcmp(argv[1], "--try-read") == 0) {
        return try_read(argv[2]);
    }
    if (argc != 4) {
        fputs("usage: slowwrite SRC DEST GO | slowwrite --try-read FILE\n", stderr);
        return 2;
    }
    buf = slurp(argv[1], &size);
    dest = wide(argv[2]);
    go = wide(argv[3]);
    if (buf == NULL || dest == NULL || go == NULL) {
        fprintf(stderr, "slowwrite: cannot read %s\n", argv[1]);
        return 2;
    }
    /* The first part ends at a line end, so that what a reader could see
     * would be a shorter file, not a cut row. */
    cut = size / 2;
    while (cut < size && buf[cut] != '\n') {
        cut++;
    }
    cut = cut < size ? cut + 1 : size;
    h = CreateFileW(dest, GENERIC_WRITE, FILE_SHARE_WRITE, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL,
                    NULL);
    if (h == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "slowwrite: cannot create %s (error %lu)\n", argv[2],
                (unsigned long)GetLastError());
        return 1;
    }
    if (!put(h, buf, cut)) {
        fprintf(stderr, "slowwrite: write failed (error %lu)\n", (unsigned long)GetLastError());
        return 1;
    }
    printf("held %lu\n", (unsigned long)cut);
    fflush(stdout);
    while (GetFileAttributesW(go) == INVALID_FILE_ATTRIBUTES && waited < 300 * 20) {
        Sleep(50);
        waited++;
    }
    if (!put(h, buf + cut, size - cut)) {
        fprintf(stderr, "slowwrite: write failed (error %lu)\n", (unsigned long)GetLastError());
        return 1;
    }
    CloseHandle(h);
    printf("released %lu\n", (unsigned long)size);
    free(buf);
    free(dest);
    free(go);
    return 0;
}
