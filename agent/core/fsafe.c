/*
 * fsafe.c — what the link-proof calls share on every platform (fsafe.h):
 * the words for a refusal, the comparison of two identities and a write
 * of a whole buffer. The calls themselves are the platform layer's
 * (agent/os/os_fs_*.c).
 */
#include "agent/core/fsafe.h"

#include <errno.h>
#include <unistd.h>

const char *ds_fsafe_why_text(int why)
{
    switch (why) {
    case DS_FSAFE_GONE:
        return "no such file";
    case DS_FSAFE_LINK:
        return "a symbolic link";
    case DS_FSAFE_NOT_FILE:
        return "not a regular file";
    case DS_FSAFE_NOT_DIR:
        return "not a directory";
    case DS_FSAFE_NOT_OWNER:
        return "owned by another user or writable by others";
    case DS_FSAFE_ERROR:
        return "cannot be opened";
    case DS_FSAFE_BUSY:
        return "still held open by its writer";
    default:
        return "";
    }
}

int ds_fsafe_same(const struct ds_file_id *a, const struct ds_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

int ds_fsafe_write_all(int fd, const void *p, size_t n)
{
    const char *b = p;

    while (n > 0) {
        ssize_t k = write(fd, b, n);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            if (k == 0) {
                errno = EIO;
            }
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}
