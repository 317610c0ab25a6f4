/*
 * win.c - prim.h on Windows: VirtualAlloc reserves, commits, maps and
 * resets (MEM_RESET), VirtualFree decommits and releases, VirtualProtect
 * protects.
 */
#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <stdint.h>

#include "prim.h"

static size_t hk__prim_sys(int gran)
{
    static size_t page, alloc;       /* 0: not read yet (a race reads twice) */
    size_t p = __atomic_load_n(gran ? &alloc : &page, __ATOMIC_RELAXED);
    if (!p) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        p = gran ? (si.dwAllocationGranularity ? si.dwAllocationGranularity : HK__PRIM_GRAN)
                 : (si.dwPageSize ? si.dwPageSize : 4096);
        __atomic_store_n(gran ? &alloc : &page, p, __ATOMIC_RELAXED);
    }
    return p;
}

size_t hk__prim_page_size(void) { return hk__prim_sys(0); }
size_t hk__prim_granularity(void) { return hk__prim_sys(1); }

/* The one VirtualAlloc of a new range: its base is always aligned to the
 * allocation granularity, which covers every alignment prim.h promises. */
static void *hk__prim_valloc(size_t size, size_t align, DWORD type, DWORD prot)
{
    if (!size || (align & (align - 1)) || align > HK__PRIM_GRAN)
        return NULL;
    return VirtualAlloc(NULL, size, type, prot);
}

void *hk__prim_map(size_t size, size_t align)
{
    return hk__prim_valloc(size, align, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

void *hk__prim_reserve(size_t size, size_t align)
{
    return hk__prim_valloc(size, align, MEM_RESERVE, PAGE_NOACCESS);
}

void hk__prim_unmap(void *p, size_t size)
{
    (void)size;
    if (p)
        VirtualFree(p, 0, MEM_RELEASE);
}

int hk__prim_commit(void *p, size_t n)
{
    return VirtualAlloc(p, n, MEM_COMMIT, PAGE_READWRITE) ? HK_OK : HK_ERR_NO_MEMORY;
}

int hk__prim_decommit(void *p, size_t n)
{
    return VirtualFree(p, n, MEM_DECOMMIT) ? HK_OK : HK_ERR_INVALID_PARAMETER;
}

/* MEM_RESET: the pages leave the working set and are not written to the
 * paging file; they stay committed. */
void hk__prim_reset(void *p, size_t n)
{
    VirtualAlloc(p, n, MEM_RESET, PAGE_READWRITE);
}

int hk__prim_protect(void *p, size_t n, int access)
{
    DWORD prot, old;
    switch (access) {
    case HK__PRIM_NONE: prot = PAGE_NOACCESS; break;
    case HK__PRIM_READ: prot = PAGE_READONLY; break;
    case HK__PRIM_RW:   prot = PAGE_READWRITE; break;
    default: return HK_ERR_INVALID_PARAMETER;
    }
    return VirtualProtect(p, n, prot, &old) ? HK_OK : HK_ERR_INVALID_PARAMETER;
}

size_t hk__prim_commit_limit(void)
{
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    if (!GlobalMemoryStatusEx(&ms))
        return SIZE_MAX;
    return ms.ullTotalPageFile > SIZE_MAX ? SIZE_MAX : (size_t)ms.ullTotalPageFile;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int hk__prim_win_unused;
#endif /* _WIN32 */
