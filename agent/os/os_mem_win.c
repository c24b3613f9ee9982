/*
 * os_mem_win.c — large zeroed tables as committed pages (os_mem.h).
 *
 * Windows' large pages need the "Lock pages in memory" privilege, which
 * the service's account does not hold: these are ordinary pages,
 * committed at once and zeroed by the system.
 */
#include "agent/os/os_mem.h"

#include <windows.h>

void *ds_os_table_alloc(size_t n)
{
    if (n == 0) {
        return NULL;
    }
    return VirtualAlloc(NULL, n, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

void ds_os_table_free(void *p, size_t n)
{
    (void)n;
    if (p != NULL) {
        (void)VirtualFree(p, 0, MEM_RELEASE);
    }
}

int ds_os_table_huge_pages(void)
{
    return 0;
}
