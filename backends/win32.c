/*
 * win32.c - the "win32" backend: the Windows heap itself (HeapCreate,
 * HeapAlloc, HeapWalk, ...).  Windows only.
 *
 * Windows crashes or breaks into the debugger on a free of a bad pointer,
 * so free/size/realloc ask HeapValidate first: bad input must come back as
 * HK_ERR_INVALID_PARAMETER on every backend.  HeapSummary is never called:
 * in Wine 8 it is a stub that aborts the process.
 */
#include "../src/internal.h"

#ifdef _WIN32

#include <string.h>

static int hk__w32_error(int fallback)
{
    switch (GetLastError()) {
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:   return HK_ERR_NO_MEMORY;
    case ERROR_INVALID_HANDLE:     return HK_ERR_INVALID_HANDLE;
    case ERROR_INVALID_PARAMETER:  return HK_ERR_INVALID_PARAMETER;
    case ERROR_NO_MORE_ITEMS:      return HK_ERR_NO_MORE_ITEMS;
    case ERROR_CALL_NOT_IMPLEMENTED:
    case ERROR_NOT_SUPPORTED:      return HK_ERR_NOT_SUPPORTED;
    default:                       return fallback;
    }
}

static DWORD hk__w32_flags(unsigned flags)
{
    return flags & (HEAP_NO_SERIALIZE | HEAP_ZERO_MEMORY | HEAP_REALLOC_IN_PLACE_ONLY);
}

static int hk__w32_owns(HANDLE h, unsigned flags, const void *p)
{
    return HeapValidate(h, flags & HEAP_NO_SERIALIZE, p);
}

static int hk__w32_create(unsigned flags, size_t initial, size_t maximum, void **out)
{
    HANDLE h = HeapCreate(flags & HEAP_NO_SERIALIZE, initial, maximum);
    if (!h)
        return hk__w32_error(HK_ERR_NO_MEMORY);
    *out = h;
    return HK_OK;
}

static int hk__w32_destroy(void *bh)
{
    return HeapDestroy(bh) ? HK_OK : hk__w32_error(HK_ERR_INVALID_HANDLE);
}

static int hk__w32_alloc(void *bh, unsigned flags, size_t n, void **out)
{
    void *p = HeapAlloc(bh, hk__w32_flags(flags), n);
    if (!p)
        return HK_ERR_NO_MEMORY;
    *out = p;
    return HK_OK;
}

static int hk__w32_realloc(void *bh, unsigned flags, void *p, size_t n, void **out)
{
    void *q;
    if (!hk__w32_owns(bh, flags, p))
        return HK_ERR_INVALID_PARAMETER;
    q = HeapReAlloc(bh, hk__w32_flags(flags), p, n);
    if (!q)                      /* p is valid: the only failure is room */
        return HK_ERR_NO_MEMORY;
    *out = q;
    return HK_OK;
}

static int hk__w32_free(void *bh, unsigned flags, void *p)
{
    if (!hk__w32_owns(bh, flags, p))
        return HK_ERR_INVALID_PARAMETER;
    return HeapFree(bh, hk__w32_flags(flags), p) ? HK_OK
                                                : hk__w32_error(HK_ERR_INVALID_PARAMETER);
}

/* The fast entries (backend.h): the heap's own HEAP_NO_SERIALIZE is
 * Windows' (HeapCreate got it); any failure goes to the core's full path,
 * which asks the members above and says why. */
static void *hk__w32_fast_alloc(hk_heap *h, unsigned flags, size_t n, void *bh)
{
    void *p = HeapAlloc(bh, flags & (HEAP_NO_SERIALIZE | HEAP_ZERO_MEMORY), n);
    return p ? p : hk_alloc_full(h, flags, n);
}

static int hk__w32_fast_free(hk_heap *h, unsigned flags, void *p, void *bh)
{
    DWORD f = flags & HEAP_NO_SERIALIZE;
    if (p && hk__w32_owns(bh, f, p) && HeapFree(bh, f, p))
        return 1;
    return hk_free_full(h, flags, p);
}

static int hk__w32_size(void *bh, unsigned flags, const void *p, size_t *n)
{
    SIZE_T s;
    if (!hk__w32_owns(bh, flags, p))
        return HK_ERR_INVALID_PARAMETER;
    s = HeapSize(bh, hk__w32_flags(flags), p);
    if (s == (SIZE_T)-1)
        return HK_ERR_INVALID_PARAMETER;
    *n = s;
    return HK_OK;
}

static int hk__w32_validate(void *bh, unsigned flags, const void *p)
{
    if (HeapValidate(bh, flags & HEAP_NO_SERIALIZE, p))
        return HK_OK;
    return p ? HK_ERR_INVALID_PARAMETER : HK_ERR_HEAP_CORRUPT;
}

static int hk__w32_compact(void *bh, unsigned flags, size_t *largest)
{
    SetLastError(0);
    *largest = HeapCompact(bh, flags & HEAP_NO_SERIALIZE);
    if (*largest == 0 && GetLastError() != 0)
        return hk__w32_error(HK_ERR_NOT_SUPPORTED);
    return HK_OK;
}

static int hk__w32_lock(void *bh)
{
    return HeapLock(bh) ? HK_OK : hk__w32_error(HK_ERR_INVALID_HANDLE);
}

static int hk__w32_unlock(void *bh)
{
    return HeapUnlock(bh) ? HK_OK : hk__w32_error(HK_ERR_INVALID_PARAMETER);
}

/* hk_heap_entry and PROCESS_HEAP_ENTRY hold the same fields, ours wider,
 * so converting both ways loses nothing and HeapWalk finds its position. */
static void hk__w32_to_os(const hk_heap_entry *e, PROCESS_HEAP_ENTRY *pe)
{
    memset(pe, 0, sizeof *pe);
    pe->lpData = e->data;
    pe->cbData = (DWORD)e->size;
    pe->cbOverhead = (BYTE)e->overhead;
    pe->iRegionIndex = (BYTE)e->region_index;
    pe->wFlags = e->flags;
    if (e->flags & PROCESS_HEAP_REGION) {
        pe->Region.dwCommittedSize = (DWORD)e->u.region.committed;
        pe->Region.dwUnCommittedSize = (DWORD)e->u.region.uncommitted;
        pe->Region.lpFirstBlock = e->u.region.first_block;
        pe->Region.lpLastBlock = e->u.region.last_block;
    } else {
        pe->Block.hMem = e->u.block.mem;
        pe->Block.dwReserved[0] = (DWORD)(uintptr_t)e->u.block.reserved[0];
        pe->Block.dwReserved[1] = (DWORD)(uintptr_t)e->u.block.reserved[1];
        pe->Block.dwReserved[2] = (DWORD)(uintptr_t)e->u.block.reserved[2];
    }
}

static void hk__w32_from_os(const PROCESS_HEAP_ENTRY *pe, hk_heap_entry *e)
{
    memset(e, 0, sizeof *e);
    e->data = pe->lpData;
    e->size = pe->cbData;
    e->overhead = pe->cbOverhead;
    e->region_index = pe->iRegionIndex;
    /* Keep only the kind: MOVEABLE/DDESHARE belong to GlobalAlloc memory. */
    e->flags = pe->wFlags & (PROCESS_HEAP_REGION | PROCESS_HEAP_UNCOMMITTED_RANGE
                             | PROCESS_HEAP_ENTRY_BUSY);
    e->walk_state[0] = pe->wFlags;    /* the full flags, for the next step */
    if (pe->wFlags & PROCESS_HEAP_REGION) {
        e->u.region.committed = pe->Region.dwCommittedSize;
        e->u.region.uncommitted = pe->Region.dwUnCommittedSize;
        e->u.region.first_block = pe->Region.lpFirstBlock;
        e->u.region.last_block = pe->Region.lpLastBlock;
    } else {
        e->u.block.mem = pe->Block.hMem;
        e->u.block.reserved[0] = (void *)(uintptr_t)pe->Block.dwReserved[0];
        e->u.block.reserved[1] = (void *)(uintptr_t)pe->Block.dwReserved[1];
        e->u.block.reserved[2] = (void *)(uintptr_t)pe->Block.dwReserved[2];
    }
}

static int hk__w32_walk(void *bh, hk_heap_entry *e)
{
    PROCESS_HEAP_ENTRY pe;
    hk__w32_to_os(e, &pe);
    if (e->data)
        pe.wFlags = (WORD)e->walk_state[0];
    if (!HeapWalk(bh, &pe))
        return hk__w32_error(HK_ERR_INVALID_PARAMETER);
    hk__w32_from_os(&pe, e);
    return HK_OK;
}

static int hk__w32_process_heap(void **out)
{
    *out = GetProcessHeap();
    return *out ? HK_OK : HK_ERR_NO_MEMORY;
}

static size_t hk__w32_os_heaps(void **out, size_t n)
{
    DWORD cap = n > 0xFFFFu ? 0xFFFFu : (DWORD)n;
    return GetProcessHeaps(cap, (PHANDLE)out);
}

const hk_backend hk__backend_win32 = {
    HK_BACKEND_VERSION,
    "win32",
    HK_CAP_WALK_FREE | HK_CAP_WALK_UNCOMMITTED | HK_CAP_WALK_ITERATE
        | HK_CAP_FIXED_SIZE | HK_CAP_REALLOC_IN_PLACE | HK_CAP_ANY_THREAD
        | HK_CAP_VALIDATE | HK_CAP_OS_HEAP,
    hk__w32_create,
    hk__w32_destroy,
    hk__w32_alloc,
    hk__w32_realloc,
    hk__w32_free,
    hk__w32_size,
    hk__w32_validate,
    hk__w32_compact,
    hk__w32_lock,
    hk__w32_unlock,
    hk__w32_walk,
    NULL,                  /* visit: the core loops over walk */
    NULL, NULL,            /* mark/release: Win32 has none */
    hk__w32_process_heap,
    hk__w32_os_heaps,
    hk__w32_fast_alloc,
    hk__w32_fast_free,
};

#endif /* _WIN32 */
