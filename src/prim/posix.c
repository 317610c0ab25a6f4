/*
 * posix.c - prim.h on POSIX: mmap maps and reserves (PROT_NONE +
 * MAP_NORESERVE), mprotect commits and protects, madvise(MADV_DONTNEED)
 * resets, munmap releases.
 */
#ifndef _WIN32

#if !defined(_DEFAULT_SOURCE)
#  define _DEFAULT_SOURCE 1
#endif

#include "prim.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__linux__)
#  include <sys/sysinfo.h>
#endif

#ifndef MAP_ANONYMOUS
#  define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MAP_NORESERVE
#  define MAP_NORESERVE 0
#endif

size_t hk__prim_page_size(void)
{
    static size_t page;              /* 0: not read yet (a race reads twice) */
    size_t p = __atomic_load_n(&page, __ATOMIC_RELAXED);
    if (!p) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&page, p, __ATOMIC_RELAXED);
    }
    return p;
}

size_t hk__prim_granularity(void) { return HK__PRIM_GRAN; }

/* The one mmap: over-map by align - page and trim both ends, so the
 * result is aligned without a second try. */
static void *hk__prim_mmap(size_t size, size_t align, int prot, int flags)
{
    size_t pg = hk__prim_page_size(), len;
    char *p, *a;
    if (!size || (align & (align - 1)) || align > HK__PRIM_GRAN)
        return NULL;
    if (align < pg)
        align = pg;
    if (size > SIZE_MAX - align)
        return NULL;
    len = size + align - pg;
    p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (p + len > a + size)
        munmap(a + size, (size_t)(p + len - (a + size)));
    return a;
}

/* Read/write from the start: no mprotect, which would split the area and
 * cost a call more; without MAP_NORESERVE, so overcommit accounting sees it. */
void *hk__prim_map(size_t size, size_t align)
{
    return hk__prim_mmap(size, align, PROT_READ | PROT_WRITE, 0);
}

void *hk__prim_reserve(size_t size, size_t align)
{
    return hk__prim_mmap(size, align, PROT_NONE, MAP_NORESERVE);
}

void hk__prim_unmap(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}

int hk__prim_protect(void *p, size_t n, int access)
{
    int prot;
    switch (access) {
    case HK__PRIM_NONE: prot = PROT_NONE; break;
    case HK__PRIM_READ: prot = PROT_READ; break;
    case HK__PRIM_RW:   prot = PROT_READ | PROT_WRITE; break;
    default: return HK_ERR_INVALID_PARAMETER;
    }
    return mprotect(p, n, prot) ? HK_ERR_INVALID_PARAMETER : HK_OK;
}

/* A reserve is MAP_NORESERVE, so making it writable charges nothing and
 * cannot fail for lack of memory here; the commit limit is the caller's
 * check (hk__prim_commit_limit). */
int hk__prim_commit(void *p, size_t n)
{
    return hk__prim_protect(p, n, HK__PRIM_RW) ? HK_ERR_NO_MEMORY : HK_OK;
}

int hk__prim_decommit(void *p, size_t n)
{
    if (madvise(p, n, MADV_DONTNEED))
        return HK_ERR_INVALID_PARAMETER;
    return hk__prim_protect(p, n, HK__PRIM_NONE);
}

void hk__prim_reset(void *p, size_t n)
{
    madvise(p, n, MADV_DONTNEED);
}

/* MAP_NORESERVE would let any size through overcommit; Linux's default
 * heuristic refuses more than RAM + swap, and so does this. */
size_t hk__prim_commit_limit(void)
{
#if defined(__linux__)
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        unsigned long long t = ((unsigned long long)si.totalram + si.totalswap) *
                               (si.mem_unit ? si.mem_unit : 1);
        return t > SIZE_MAX ? SIZE_MAX : (size_t)t;
    }
#endif
    {
        long pg = sysconf(_SC_PAGESIZE), np = sysconf(_SC_PHYS_PAGES);
        if (pg > 0 && np > 0 && (unsigned long long)np <= SIZE_MAX / (size_t)pg)
            return (size_t)np * (size_t)pg;
    }
    return SIZE_MAX;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int hk__prim_posix_unused;
#endif /* !_WIN32 */
