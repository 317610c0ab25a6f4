/*
 * prim.h - heapkit's one layer between its allocators and the OS's virtual
 * memory (internal).  The tracker, the arena and the mimalloc backend's
 * side table take their memory through these calls only, so each
 * operation has one mmap/VirtualAlloc call site in the tree.
 *
 * posix.c (mmap, mprotect, madvise) and win.c (VirtualAlloc, VirtualFree,
 * VirtualProtect) each implement all of it and compile to nothing on the
 * other OS.  OS error codes stop here: callers get NULL or an HK_* result.
 * None of these calls sets heapkit's last error: the caller decides what
 * the failure means to its own caller.
 *
 * Addresses passed to commit, decommit, reset, protect and unmap must be
 * page aligned; their length is taken up to whole pages (both OSes act on
 * every page the range touches).
 */
#ifndef HK_PRIM_H
#define HK_PRIM_H

#include <stddef.h>

#include "heapkit.h"

/* The reservation step of the arena and the alignment hk__prim_map /
 * hk__prim_reserve can give: Windows' allocation granularity, which POSIX
 * builds imitate so that a heap lays out the same on both. */
#define HK__PRIM_GRAN ((size_t)0x10000)

/* Access for hk__prim_protect. */
#define HK__PRIM_NONE 0              /* any touch faults (guard page)     */
#define HK__PRIM_READ 1              /* read-only                          */
#define HK__PRIM_RW   2              /* read/write                         */

/* The OS page size (4 KiB on x86-64), read once; never fails. */
size_t hk__prim_page_size(void);

/* The alignment of what hk__prim_map/hk__prim_reserve return when asked
 * for HK__PRIM_GRAN: 64 KiB on both OSes (Windows' own granularity). */
size_t hk__prim_granularity(void);

/* size bytes of read/write, zero-filled memory (reserved and committed at
 * once), aligned to align: 0 or anything up to the page size means page
 * aligned; a power of two up to HK__PRIM_GRAN is honoured (POSIX over-maps
 * and trims, Windows is always 64 KiB aligned).  The OS's overcommit check
 * applies (no MAP_NORESERVE).  NULL if size is 0, align is not supported or
 * the OS refuses. */
void *hk__prim_map(size_t size, size_t align);

/* size bytes of address space, no access and no commit charge, aligned as
 * for hk__prim_map; hk__prim_commit makes parts of it usable.  NULL on
 * failure, as above. */
void *hk__prim_reserve(size_t size, size_t align);

/* Give back a mapping or reservation made above.  Windows releases the
 * whole of it (p must be what map/reserve returned, size is ignored);
 * POSIX unmaps exactly [p, p+size), which may also be a page-aligned tail
 * of one (the arena's large-block cache cuts mappings that way).  NULL is
 * ignored. */
void hk__prim_unmap(void *p, size_t size);

/* Make [p, p+n) of a reservation read/write.  Pages never committed (or
 * decommitted since) read as zero.  HK_OK, or HK_ERR_NO_MEMORY when the
 * OS refuses (commit limit, or a range outside any reservation). */
int hk__prim_commit(void *p, size_t n);

/* Give the pages of [p, p+n) back to the OS and make them inaccessible
 * (a later hk__prim_commit gives zeroed pages).  The range stays reserved.
 * HK_OK, or HK_ERR_INVALID_PARAMETER if the OS refuses the range. */
int hk__prim_decommit(void *p, size_t n);

/* Give the pages of [p, p+n) back to the OS but keep them committed and
 * usable: touched again they read as zero (POSIX) or as anything
 * (Windows' MEM_RESET).  Best effort: nothing to report. */
void hk__prim_reset(void *p, size_t n);

/* Set the access of committed pages [p, p+n) to one of HK__PRIM_*.
 * HK_OK, or HK_ERR_INVALID_PARAMETER (unknown access, or the OS refuses
 * the range). */
int hk__prim_protect(void *p, size_t n, int access);

/* Bytes the machine could ever commit: RAM plus swap (Linux; physical
 * memory elsewhere on POSIX), Windows' commit limit.  SIZE_MAX if it
 * cannot be told. */
size_t hk__prim_commit_limit(void);

#endif /* HK_PRIM_H */
