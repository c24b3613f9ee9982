/*
 * os_mem.h — zeroed memory for a large table that is read and written at
 * random places (a hash set of keys): on Linux an anonymous mapping
 * advised to take transparent huge pages, so that filling it costs a few
 * page faults instead of one per 4 KiB page and a lookup rarely misses the
 * TLB; on Windows pages committed by VirtualAlloc.
 *
 * Measured on preview --all of 200,000 appointments: the key set's growth
 * (65,536 to 524,288 slots) was 15 % of the time, mostly page faults, and
 * its lookups another 13 %; with huge pages the whole run took 0.26 s
 * instead of 0.31-0.32 (docs/performance.md).
 *
 * These blocks do not go through the counting allocator of
 * agent/core/alloc.h: a caller must treat NULL as it would from ds_calloc.
 */
#ifndef DS_OS_MEM_H
#define DS_OS_MEM_H

#include <stddef.h>

/* n bytes, zeroed; new: free with ds_os_table_free(p, n). NULL when n is 0
 * or the memory is not there. */
void *ds_os_table_alloc(size_t n);

/* Frees what ds_os_table_alloc(n) returned, given the same n. NULL-safe. */
void ds_os_table_free(void *p, size_t n);

/* 1 when this platform's tables of 2 MiB or more start on a 2 MiB boundary
 * and are advised to take huge pages (whether the kernel gives them is its
 * own setting), else 0. */
int ds_os_table_huge_pages(void);

#endif
