/*
 * os_mem_posix.c — large zeroed tables as anonymous mappings (os_mem.h).
 *
 * A table of a huge page or more is placed on a huge-page boundary (the
 * mapping is made one huge page larger and trimmed), so that every huge
 * page of it can be one; the advice is only a hint, and a kernel without
 * transparent huge pages gives ordinary ones.
 */
#include "agent/os/os_mem.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* n rounded up to whole pages, or 0 when that overflows. */
static size_t whole_pages(size_t n)
{
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;

    if (n > SIZE_MAX - page) {
        return 0;
    }
    return (n + page - 1) / page * page;
}

void *ds_os_table_alloc(size_t n)
{
    size_t len = whole_pages(n);
    uintptr_t base;
    uintptr_t at;
    void *m;

    if (n == 0 || len == 0 || len > SIZE_MAX - HUGE_PAGE) {
        return NULL;
    }
    if (len < HUGE_PAGE) {
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return m == MAP_FAILED ? NULL : m;
    }
    m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        return NULL;
    }
    base = (uintptr_t)m;
    at = (base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (at > base) {
        (void)munmap(m, at - base);
    }
    /* The tail: what the lead did not take of the extra huge page (at is
     * less than a huge page past base, so there is always one). */
    (void)munmap((void *)(at + len), base + HUGE_PAGE - at);
#ifdef MADV_HUGEPAGE
    (void)madvise((void *)at, len, MADV_HUGEPAGE);
#endif
    return (void *)at;
}

void ds_os_table_free(void *p, size_t n)
{
    if (p != NULL) {
        (void)munmap(p, whole_pages(n));
    }
}

int ds_os_table_huge_pages(void)
{
#ifdef MADV_HUGEPAGE
    return 1;
#else
    return 0;
#endif
}
